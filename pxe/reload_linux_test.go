package pxe_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"log/slog"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxetest"
)

// Real clients through reloads: three udhcpc hosts on the lab bridge hold
// leases and one host downloads an asset over and over with curl while the
// server is reloaded six times (a new pool, another DNS server, a new
// profile). Each renewal after a reload keeps its client's address and
// carries the new DNS server; every download is intact.
func TestReloadKeepsRealClientsLeases(t *testing.T) {
	curl := pxetest.RequireCmd(t, "curl", "curl")
	pxetest.RequireCmd(t, "udhcpc", "udhcpc")
	lnet := pxetest.TempNetwork(t, pxetest.NetworkConfig{})
	asset := make([]byte, 8<<20)
	rand.Read(asset)
	want := sha256.Sum256(asset)
	spec := pxe.InventorySpec{Default: "lab", Profiles: map[string]pxe.Profile{"lab": {Kernel: "vmlinuz", Args: []string{"rev=0"}}}}
	inv, err := pxe.NewStaticInventory(spec)
	if err != nil {
		t.Fatal(err)
	}
	subnet := func(rev int) []dhcp.Subnet {
		return []dhcp.Subnet{{
			Pools: []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.AddrFrom4([4]byte{192, 0, 2, byte(150 + rev)})}},
			DNS:   []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, byte(50 + rev)})}, LeaseTime: 10 * time.Minute}}
	}
	cfg := pxe.Config{
		Interface: lnet.Bridge,
		NetNS:     lnet.NS.Path(),
		Subnets:   subnet(0),
		HTTPPort:  8080,
		IPXE:      fstest.MapFS{"undionly.kpxe": {Data: []byte("an iPXE build")}},
		Assets:    fstest.MapFS{"vmlinuz": {Data: asset, ModTime: time.Now()}},
		Inventory: inv,
		Logger:    slog.New(slog.DiscardHandler),
	}
	srv, err := pxe.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pxetest.Serve(t, srv)

	var clients []*pxetest.DHCPClient
	leased := map[*pxetest.DHCPClient]netip.Addr{}
	for i := range 3 {
		h, err := lnet.AddHost("dhcp"+strconv.Itoa(i), netip.Prefix{})
		if err != nil {
			t.Fatal(err)
		}
		c := pxetest.StartUdhcpc(t, h.NS, h.Link, "-t", "10", "-T", "2")
		leased[c] = c.WaitEvent("bound", 30*time.Second).IP
		clients = append(clients, c)
	}
	dl, err := lnet.AddHost("curl", netip.MustParsePrefix("192.0.2.9/24"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		done               = make(chan struct{})
		intact, downloaded int
		kept               int
		bad                []string
	)
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			cmd := exec.Command(curl, "-sS", "--fail", "--limit-rate", "8M", srv.BaseURL()+pxe.PathAssets+"vmlinuz")
			var body bytes.Buffer
			cmd.Stdout = &body
			_, err := pxetest.Run(t, dl.NS, cmd)
			mu.Lock()
			downloaded++
			if err == nil && sha256.Sum256(body.Bytes()) == want {
				intact++
			} else {
				bad = append(bad, err.Error()+" "+strconv.Itoa(body.Len())+" bytes")
			}
			mu.Unlock()
		}
	})

	for rev := 1; rev <= 6; rev++ {
		next := cfg
		next.Subnets = subnet(rev)
		spec.Profiles = map[string]pxe.Profile{"lab": {Kernel: "vmlinuz", Args: []string{"rev=" + strconv.Itoa(rev)}}}
		if next.Inventory, err = pxe.NewStaticInventory(spec); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := srv.Reload(next); err != nil {
			t.Fatal(err)
		}
		t.Logf("reload %d took %v", rev, time.Since(start))
		dns := "192.0.2." + strconv.Itoa(50+rev)
		for i, c := range clients {
			before := len(c.Events())
			if err := c.Renew(); err != nil {
				t.Fatal(err)
			}
			var ev pxetest.LeaseEvent
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if evs := c.Events(); len(evs) > before && evs[len(evs)-1].Reason != "deconfig" {
					ev = evs[len(evs)-1]
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("client %d: no lease event after the renewal of reload %d: %v", i, rev, c.Events())
				}
			}
			if ev.IP != leased[c] || !strings.Contains(ev.DNS, dns) {
				t.Errorf("client %d after reload %d: %s, want its address %s and the new DNS %s", i, rev, ev, leased[c], dns)
				continue
			}
			kept++
		}
	}
	close(done)
	wg.Wait()
	t.Logf("through 6 reloads: %d of %d udhcpc renewals kept their address and got the new DNS; %d of %d curl downloads of 8 MiB intact",
		kept, 6*len(clients), intact, downloaded)
	if intact != downloaded || downloaded == 0 {
		t.Errorf("downloads during the reloads: %d of %d intact: %v", intact, downloaded, bad)
	}
}
