package ra_test

import (
	"fmt"
	"net/netip"

	"github.com/pxekit/pxekit/ra"
)

// A Router Solicitation as iPXE sends it while it configures IPv6: from its
// link-local address, with its MAC as source link-layer address option.
func ExampleParseSolicitation() {
	msg := []byte{
		133, 0, 0, 0, 0, 0, 0, 0, // type 133, code 0, checksum, reserved
		1, 1, 0x52, 0x54, 0x00, 0x6b, 0x13, 0xe2, // source link-layer address
	}
	src := netip.MustParseAddr("fe80::5054:ff:fe6b:13e2")
	s, why := ra.ParseSolicitation(msg, src, 255)
	fmt.Println(s.Source, s.LinkAddr, why == "")
	_, why = ra.ParseSolicitation(msg, src, 64) // it crossed a router
	fmt.Println(why)
	// Output:
	// fe80::5054:ff:fe6b:13e2 52:54:00:6b:13:e2 true
	// hop-limit
}

// A responder for an isolated boot network's bridge inside a lab network
// namespace; Serve(ctx) would run it.
func ExampleNew() {
	r, err := ra.New(ra.Config{Interface: "br0", NetNS: "/var/run/netns/pxe"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Stats().Advertisements)
	// Output: 0
}
