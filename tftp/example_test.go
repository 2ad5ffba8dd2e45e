package tftp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing/fstest"

	pin "github.com/pin/tftp/v3"

	"github.com/pxekit/pxekit/tftp"
)

// Serve iPXE to firmware: the server runs on a socket the caller opened
// (Config.Conn), knows client MACs from the DHCP leases, and reports each
// transfer.
func ExampleServer_Serve() {
	root := fstest.MapFS{"ipxe.efi": {Data: make([]byte, 100000)}}
	leases := map[netip.Addr]net.HardwareAddr{
		netip.MustParseAddr("127.0.0.1"): {0x52, 0x54, 0x00, 0x6b, 0x13, 0xe2},
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	events := make(chan tftp.Event, 4)
	srv, err := tftp.New(tftp.Config{
		Conn:    conn,
		Root:    root,
		Logger:  slog.New(slog.DiscardHandler),
		OnEvent: func(e tftp.Event) { events <- e },
		MACForIP: func(a netip.Addr) (net.HardwareAddr, bool) {
			mac, ok := leases[a]
			return mac, ok
		},
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx) }()

	// A client, as UEFI firmware would ask: blksize 1468.
	c, _ := pin.NewClient(conn.LocalAddr().String())
	c.SetBlockSize(1468)
	wt, err := c.Receive("/ipxe.efi", "octet")
	if err != nil {
		panic(err)
	}
	n, _ := wt.WriteTo(io.Discard)
	e := <-events
	fmt.Println(n, e.Kind, e.File, e.Bytes, e.BlockSize, e.MAC)

	// A traversal attempt gets an access violation.
	_, err = c.Receive("../../etc/passwd", "octet")
	fmt.Println(err != nil)
	e = <-events
	fmt.Println(e.Kind, e.Reason, e.Code, e.Err)

	cancel()
	fmt.Println(<-done, srv.Stats().Sent, srv.Stats().Dropped)
	// Output:
	// 100000 sent ipxe.efi 100000 1468 52:54:00:6b:13:e2
	// true
	// refused path-refused 2 path refused: "../../etc/passwd" climbs out with ".."
	// <nil> 1 map[path-refused:1]
}

func ExampleCleanPath() {
	for _, name := range []string{"/pxelinux.0", `\EFI\BOOT\grubx64.efi`, "../etc/shadow"} {
		p, err := tftp.CleanPath(name)
		fmt.Printf("%q %v\n", p, err)
	}
	// Output:
	// "pxelinux.0" <nil>
	// "EFI/BOOT/grubx64.efi" <nil>
	// "" path refused: "../etc/shadow" climbs out with ".."
}
