//go:build !linux

package main

import (
	"fmt"
	"os"
)

// hostnet drives Linux netlink; elsewhere it only says so.
func main() {
	fmt.Fprintln(os.Stderr, "hostnet: Linux bridges and VLANs need Linux (netlink)")
	os.Exit(1)
}
