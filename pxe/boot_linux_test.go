package pxe

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxetest"
)

// bootLab is the project's own boot server in a lab netns, with a kernel
// and busybox initramfs as assets, recording every boot event.
type bootLab struct {
	lab    *pxetest.BootLab
	srv    *Server
	dhcp   *dhcpCapture
	events pxetest.Recorder[Event]
}

// labProfiles are two profiles whose kernel arguments differ, so a test can
// tell from the guest's /proc/cmdline which one it booted.
func labProfiles() map[string]Profile {
	common := []string{"console=ttyS0", "panic=-1", "quiet", pxetest.DefaultPhoneHomeArg + "={{.BaseURL}}/phonehome"}
	return map[string]Profile{
		"alpha": {Kernel: "vmlinuz", Initrd: "initrd.gz", Args: append([]string{"pxekit.profile=alpha"}, common...)},
		"beta":  {Kernel: "vmlinuz", Initrd: "initrd.gz", Args: append([]string{"pxekit.profile=beta", "pxekit.host={{.Hostname}}"}, common...)},
	}
}

func startBootLab(t *testing.T, ctx context.Context, machines []Machine) *bootLab {
	t.Helper()
	return startBootLabOn(t, ctx, machines, pxetest.NetworkConfig{})
}

// startBootLabOn is startBootLab on the network cfg describes.
func startBootLabOn(t *testing.T, ctx context.Context, machines []Machine, cfg pxetest.NetworkConfig) *bootLab {
	t.Helper()
	pxetest.RequireFile(t, pxetest.IPXEEFI, "ipxe")
	lab := pxetest.NewBootLabOn(t, pxetest.Initramfs{}, cfg)
	bl := &bootLab{lab: lab}
	inv, err := NewStaticInventory(InventorySpec{Machines: machines, Profiles: labProfiles()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Interface: lab.Bridge,
		NetNS:     lab.NS.Path(),
		Subnets: []dhcp.Subnet{{
			Pools:     []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.199")}},
			LeaseTime: 10 * time.Minute,
		}},
		LeaseFile: filepath.Join(t.TempDir(), "leases.db"),
		HTTPPort:  8080,
		Assets: fstest.MapFS{
			"vmlinuz":   {Data: lab.Vmlinuz, ModTime: time.Now()},
			"initrd.gz": {Data: lab.Initrd, ModTime: time.Now()},
		},
		Inventory: inv,
		// The lab bridge has no IPv6 router: answering iPXE's router
		// solicitation spares its IPv6 autoconfiguration wait.
		RouterAdvertisement: true,
		Logger:              pxetest.Logger(t, slog.LevelWarn),
	})
	if err != nil {
		t.Fatal(err)
	}
	bl.srv = srv
	bl.dhcp = captureDHCP(t, lab.NS, lab.Bridge)
	go bl.events.Record(srv.Subscribe(ctx))
	pxetest.Serve(t, srv)
	return bl
}

// kindsFor returns the kinds of the events recorded for mac, in order.
func kindsFor(events *pxetest.Recorder[Event], mac net.HardwareAddr) []EventKind {
	var kinds []EventKind
	for _, e := range events.All() {
		if macaddr.Equal(e.MAC, mac) {
			kinds = append(kinds, e.Kind)
		}
	}
	return kinds
}

func (bl *bootLab) dump(t *testing.T) {
	for _, e := range bl.events.All() {
		t.Logf("event %s %s %s", e.MAC, e.Kind, e.Detail)
	}
}

// boot powers on one VM and checks, from its console, that /init ran with
// exactly the profile's kernel arguments and phoned home, and from the event
// stream that the whole boot path was walked for its MAC.
func (bl *bootLab) boot(t *testing.T, ctx context.Context, fw pxetest.Firmware, m Machine) {
	t.Helper()
	vm := bl.lab.StartVM(t, ctx, pxetest.VMConfig{MAC: m.MAC, Firmware: fw,
		OnLine: func(l string) { t.Logf("%s: %s", m.Hostname, l) }})
	defer func() {
		if t.Failed() {
			bl.dump(t)
		}
	}()
	if _, err := vm.WaitFor(ctx, regexp.MustCompile(pxetest.MarkerStart+"$")); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s: power-on to /init in %v", fw, m.MAC, time.Since(vm.Started()).Round(100*time.Millisecond))
	checkGuest(t, ctx, vm, wantCmdline(t, bl.srv.BaseURL(), m, fw))
	// The phone-home must come from the address the DHCP server leased to
	// this MAC: the server ties it to the machine, not the guest's claim.
	lease, ok := bl.srv.DHCP().LeaseByMAC(m.MAC)
	if !ok {
		t.Fatalf("no lease for %s", m.MAC)
	}
	wantKinds := []EventKind{EventDiscovered, EventOffered, EventAcked}
	if fw == pxetest.UEFIPXE {
		wantKinds = append(wantKinds, EventTFTPSent)
	}
	wantKinds = append(wantKinds, EventScriptServed, EventAssetSent, EventAssetSent, EventPhonedHome)
	waitEvents(t, ctx, &bl.events, m.MAC, wantKinds)
	for _, e := range bl.events.All() {
		if macaddr.Equal(e.MAC, m.MAC) && e.Kind == EventPhonedHome && !strings.Contains(e.Detail, lease.IP.String()) {
			t.Errorf("phoned home %q, not from its lease %s", e.Detail, lease.IP)
		}
		if macaddr.Equal(e.MAC, m.MAC) && e.Kind == EventTFTPSent {
			// edk2's PXE asks for windowsize 4 (PcdPxeTftpWindowSize);
			// the default TFTPWindowSize grants it.
			t.Logf("%s: %s", e.Kind, e.Detail)
			if !strings.Contains(e.Detail, "windowsize 4)") {
				t.Errorf("OVMF's TFTP transfer %q was not windowed", e.Detail)
			}
		}
	}
	bl.checkFastIPXE(t, m.MAC)
}

// checkGuest checks, from the guest's console, that /init ran with exactly
// the kernel command line want and phoned home, and that the guest then
// powered off.
func checkGuest(t *testing.T, ctx context.Context, vm *pxetest.VM, want string) {
	t.Helper()
	got, err := vm.WaitFor(ctx, pxetest.CmdlineRE)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(got[1]) != want {
		t.Errorf("/proc/cmdline = %q\nwant the profile's %q", strings.TrimSpace(got[1]), want)
	}
	ph, err := vm.WaitFor(ctx, pxetest.PhoneHomeRE)
	if err != nil {
		t.Fatal(err)
	}
	if ph[1] != "ok" {
		t.Fatalf("guest phone-home %s (%s)", ph[1], ph[2])
	}
	if err := vm.Wait(ctx); err != nil {
		t.Errorf("QEMU after power-off: %v", err)
	}
}

// checkFastIPXE checks, as a user would, that this machine's iPXE was told
// not to wait: the router-advertisement responder answered a solicitation
// from the machine (its MAC, or its EUI-64 link-local address), and the
// DHCPOFFER on the wire that gave iPXE its script carried 175.176
// (no-pxedhcp), while no other offer did (OVMF's PXE before iPXE, the
// booted Linux's udhcpc).
func (bl *bootLab) checkFastIPXE(t *testing.T, mac net.HardwareAddr) {
	t.Helper()
	ll := eui64LinkLocal(mac)
	var answered bool
	for _, e := range bl.events.All() {
		if e.Kind == EventRouterAdvert && (macaddr.Equal(e.MAC, mac) || strings.Contains(e.Detail, "solicited by "+ll.String()+",")) {
			answered = true
		}
	}
	if !answered {
		t.Errorf("no router advertisement answered %s (%s); RA stats %+v", mac, ll, bl.srv.RA().Stats())
	}
	var toIPXE, others int
	for _, r := range bl.dhcp.offers(mac) {
		has := bytes.Equal(r.Options.Get(dhcpv4.GenericOptionCode(175)), []byte{176, 1, 1})
		script := strings.Contains(r.BootFileName, PathScript)
		switch {
		case script && has:
			toIPXE++
		case script:
			t.Errorf("OFFER of the iPXE script %q to %s lacks option 175.176", r.BootFileName, mac)
		case has:
			t.Errorf("OFFER of %q to %s (not iPXE) carries 175.176", r.BootFileName, mac)
		default:
			others++
		}
	}
	if toIPXE == 0 {
		bl.dhcp.mu.Lock()
		n := len(bl.dhcp.replies)
		bl.dhcp.mu.Unlock()
		t.Errorf("no DHCPOFFER with 175.176 to %s's iPXE captured on the bridge (%d DHCP replies captured in all)", mac, n)
	}
	t.Logf("%s: %d offers to iPXE with 175.176, %d others without; RA stats %+v", mac, toIPXE, others, bl.srv.RA().Stats())
}

// eui64LinkLocal is the link-local address a host without privacy
// addresses (iPXE) derives from its MAC.
func eui64LinkLocal(mac net.HardwareAddr) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	copy(a[8:], []byte{mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]})
	return netip.AddrFrom16(a)
}

// dhcpCapture records the DHCP replies the server puts on the lab bridge,
// read with a packet socket as tcpdump would.
type dhcpCapture struct {
	mu      sync.Mutex
	replies []*dhcpv4.DHCPv4
}

func captureDHCP(t *testing.T, ns *pxetest.NetNS, ifname string) *dhcpCapture {
	t.Helper()
	c := &dhcpCapture{}
	captureIPv4(t, ns, ifname, func(p []byte) {
		if r := dhcpReply(p); r != nil {
			c.mu.Lock()
			c.replies = append(c.replies, r)
			c.mu.Unlock()
		}
	})
	return c
}

// captureIPv4 hands each IPv4 packet seen on ifname in ns (sent or
// received) to seen, from a packet socket as tcpdump reads, until the test
// ends.
func captureIPv4(t *testing.T, ns *pxetest.NetNS, ifname string, seen func(p []byte)) {
	t.Helper()
	var fd int
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		// ETH_P_ALL: a socket bound to one protocol is not shown the
		// frames the host itself sends.
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL))); err != nil {
			return err
		}
		// A read timeout lets the reader notice the test has ended; a
		// large buffer keeps a burst of frames from being lost.
		tv := unix.Timeval{Usec: 200000}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20); err != nil {
			unix.Close(fd)
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("capture on %s: %v", ifname, err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		defer unix.Close(fd)
		buf := make([]byte, 65536)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, err := unix.Read(fd, buf)
			if err != nil || n <= 0 {
				continue // timeout (EAGAIN) or EINTR
			}
			// An Ethernet frame: IPv4 is EtherType 0x0800.
			if n < 14 || binary.BigEndian.Uint16(buf[12:]) != unix.ETH_P_IP {
				continue
			}
			seen(buf[14:n])
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// dhcpReply decodes an IPv4 packet that is a UDP datagram from port 67.
func dhcpReply(p []byte) *dhcpv4.DHCPv4 {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_UDP {
		return nil
	}
	ihl := int(p[0]&0xf) * 4
	if len(p) < ihl+8 || binary.BigEndian.Uint16(p[ihl:]) != 67 {
		return nil
	}
	r, err := dhcpv4.FromBytes(p[ihl+8:])
	if err != nil || r.OpCode != dhcpv4.OpcodeBootReply {
		return nil
	}
	return r
}

// offers are the captured DHCPOFFERs to mac.
func (c *dhcpCapture) offers(mac net.HardwareAddr) []*dhcpv4.DHCPv4 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*dhcpv4.DHCPv4
	for _, r := range c.replies {
		if bytes.Equal(r.ClientHWAddr, mac) && r.MessageType() == dhcpv4.MessageTypeOffer {
			out = append(out, r)
		}
	}
	return out
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// wantCmdline renders the profile's arguments as the guest must see them.
// Under UEFI, iPXE hands the EFI stub load options that start with the
// image's name, then initrd=<name> (the stub loads the initrd by that name);
// the kernel keeps both in /proc/cmdline.
func wantCmdline(t *testing.T, base string, m Machine, fw pxetest.Firmware) string {
	p := labProfiles()[m.Profile]
	var args []string
	if fw != pxetest.BIOS {
		args = append(args, ipxe.ImageName(p.Kernel), "initrd="+ipxe.ImageName(p.Initrd))
	}
	for _, a := range p.Args {
		v, err := execTemplate("want", a, ScriptData{MAC: m.MAC.String(), Hostname: m.Hostname, BaseURL: base})
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, v)
	}
	return strings.Join(args, " ")
}

// waitEvents waits until mac's events contain want as a subsequence.
func waitEvents(t *testing.T, ctx context.Context, events *pxetest.Recorder[Event], mac net.HardwareAddr, want []EventKind) {
	t.Helper()
	for {
		got := kindsFor(events, mac)
		i := 0
		for _, k := range got {
			if i < len(want) && k == want[i] {
				i++
			}
		}
		if i == len(want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("events for %s: %v\nwant in order: %v", mac, got, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestBootBIOS: SeaBIOS with QEMU's iPXE ROM. Two machines with different
// profiles boot at once; each gets its own kernel arguments.
func TestBootBIOS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	a := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x0a, 0x00, 0x01}, Hostname: "alpha1", Profile: "alpha"}
	b := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x0b, 0x00, 0x02}, Hostname: "beta2", Profile: "beta"}
	bl := startBootLab(t, ctx, []Machine{a, b})
	var wg sync.WaitGroup
	for _, m := range []Machine{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(m.Hostname, func(t *testing.T) { bl.boot(t, ctx, pxetest.BIOS, m) })
		}()
	}
	wg.Wait()
}

// TestBootUEFIPXE: OVMF's own PXE (no iPXE ROM) → TFTP ipxe.efi → iPXE →
// HTTP script, kernel and initrd.
func TestBootUEFIPXE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x6b, 0x13, 0xe2}, Hostname: "node1", Profile: "beta"}
	startBootLab(t, ctx, []Machine{m}).boot(t, ctx, pxetest.UEFIPXE, m)
}

// TestBootUEFIHTTP: OVMF's UEFI HTTP boot; DHCP answers HTTPClient with
// the ipxe.efi URL.
func TestBootUEFIHTTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x69, 0xd5, 0x92}, Hostname: "node2", Profile: "alpha"}
	startBootLab(t, ctx, []Machine{m}).boot(t, ctx, pxetest.UEFIHTTP, m)
}
