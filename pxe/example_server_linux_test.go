package pxe_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxetest"
)

// A boot server on a lab bridge inside a network namespace: the inventory
// knows one machine, and that machine's iPXE script is fetched over HTTP
// from inside the namespace, as iPXE would after DHCP, while the server's
// events are watched. (It needs root; see TestMain.)
func ExampleServer() {
	lnet, err := pxetest.NewNetwork(pxetest.NetworkConfig{Name: "pxeex"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lnet.Close()

	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	inv, err := pxe.NewStaticInventory(pxe.InventorySpec{
		Machines: []pxe.Machine{{MAC: mac, Hostname: "node1", Profile: "live"}},
		Profiles: map[string]pxe.Profile{"live": {
			Kernel: "vmlinuz", Initrd: "initrd.img",
			Args: []string{"console=ttyS0", "hostname={{.Hostname}}"},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := pxe.New(pxe.Config{
		Interface: lnet.Bridge,
		NetNS:     lnet.NS.Path(),
		Subnets: []dhcp.Subnet{{Pools: []dhcp.Range{{
			Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.199")}}}},
		HTTPPort:  8080,
		IPXE:      fstest.MapFS{"undionly.kpxe": {Data: []byte("an iPXE build")}},
		Inventory: inv,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := srv.Subscribe(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		fmt.Println(err)
		return
	}

	status, body, err := nsGet(lnet.NS, srv.BaseURL()+pxe.PathScript+"?mac="+mac.String())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(status)
	fmt.Print(body)
	e := <-events
	fmt.Println(e.Kind, e.MAC, e.Detail)

	cancel()
	fmt.Println("stopped:", <-done)
	// Output:
	// 200 OK
	// #!ipxe
	// kernel http://192.0.2.1:8080/assets/vmlinuz console=ttyS0 hostname=node1
	// initrd http://192.0.2.1:8080/assets/initrd.img
	// boot
	// script-served 52:54:00:12:34:56 profile=live firmware=bios
	// stopped: <nil>
}

// nsGet fetches rawURL with HTTP/1.1 from inside ns. The connection is
// dialled on the namespace's thread: http.Client would dial from another
// goroutine, in the caller's namespace.
func nsGet(ns *pxetest.NetNS, rawURL string) (string, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", err
	}
	var conn net.Conn
	err = ns.Do(func() error {
		var err error
		conn, err = net.DialTimeout("tcp", u.Host, 10*time.Second)
		return err
	})
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		return "", "", err
	}
	req.Close = true
	if err := req.Write(conn); err != nil {
		return "", "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.Status, string(b), err
}
