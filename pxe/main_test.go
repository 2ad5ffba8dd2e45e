package pxe_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/pxekit/pxekit/pxetest"
)

// TestMain skips ExampleServer where it cannot run: an example has no
// testing.T to skip with, and it needs root for its network namespace. In
// CI it always runs (and fails there if it cannot).
func TestMain(m *testing.M) {
	flag.Parse()
	if !pxetest.InCI() && os.Geteuid() != 0 {
		skip := "^ExampleServer$"
		if f := flag.Lookup("test.skip"); f != nil {
			if cur := f.Value.String(); cur != "" {
				skip = cur + "|" + skip
			}
			_ = f.Value.Set(skip)
		}
		fmt.Fprintln(os.Stderr, "pxe: skipping ExampleServer: root is missing (it serves in a network namespace); run the tests as root (sudo make test)")
	}
	os.Exit(m.Run())
}
