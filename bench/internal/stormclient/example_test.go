package stormclient_test

import (
	"fmt"

	"github.com/pxekit/pxekit/bench/internal/stormclient"
)

// The harness tells the storm role what every file must be on its
// command line.
func ExampleFormatWant() {
	want := map[string]stormclient.File{"vmlinuz": {Size: 10 << 20, CRC: 0x1badb002}, "ipxe.efi": {Size: 850528, CRC: 0xcafe}}
	arg := stormclient.FormatWant(want)
	fmt.Println(arg)
	back, _ := stormclient.ParseWant(arg)
	fmt.Println(back["vmlinuz"].Size)
	// Output:
	// ipxe.efi=850528:0000cafe,vmlinuz=10485760:1badb002
	// 10485760
}
