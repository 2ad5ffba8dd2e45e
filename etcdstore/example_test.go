package etcdstore_test

import (
	"fmt"

	"github.com/pxekit/pxekit/etcdstore"
	"github.com/pxekit/pxekit/macaddr"
)

// Every server computes the same owner for a client from the same member
// list; when a member goes, only its clients move.
func ExampleOwner() {
	mac, _ := macaddr.Parse("52:54:00:00:00:01")
	three := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}
	owner := etcdstore.Owner(three, mac)
	var rest []string
	for _, id := range three {
		if id != owner {
			rest = append(rest, id)
		}
	}
	fmt.Println(etcdstore.Owner(three, mac) == owner, etcdstore.Owner(rest, mac) != owner)
	// Output: true true
}
