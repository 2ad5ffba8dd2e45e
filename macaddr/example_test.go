package macaddr_test

import (
	"fmt"

	"github.com/pxekit/pxekit/macaddr"
)

// iPXE writes ${net0/mac:hexhyp} with hyphens; a lease and an inventory key
// are the same address.
func ExampleParse() {
	mac, err := macaddr.Parse("52-54-00-12-34-56")
	fmt.Println(mac, err)
	_, err = macaddr.Parse("02:00:5e:10:00:00:00:01")
	fmt.Println(err)
	// Output:
	// 52:54:00:12:34:56 <nil>
	// "02:00:5e:10:00:00:00:01" has 8 bytes: not a 6-byte Ethernet address
}
