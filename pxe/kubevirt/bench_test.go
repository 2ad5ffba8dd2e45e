package kubevirt_test

import (
	"context"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxe/kubevirt/rbac"
)

// How long a change to a VM takes to reach the boot server's answers: a
// patch of its profile annotation, through the API server and the watch,
// until Lookup returns the new profile (make bench; the figure the README
// quotes for "changes are seen within 1 s").
func BenchmarkChangeSeen(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l := newLab(b, ctx, rbac.Options{Namespace: ns}, map[string]pxe.Profile{
		"a": {Kernel: "a"}, "b": {Kernel: "b"},
	})
	const mac = "52:54:00:00:00:01"
	l.create(l.vm("vm1", mac, "a"))
	l.until("vm1 created", mac, profileIs("a"))
	b.ResetTimer()
	for i := range b.N {
		want := []string{"b", "a"}[i%2]
		l.patch(vmGVR, "vm1", `{"metadata":{"annotations":{"pxekit.io/profile":"`+want+`"}}}`)
		l.until("profile changed", mac, profileIs(want))
	}
}
