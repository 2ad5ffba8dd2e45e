package pxe

import (
	"context"
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

	"github.com/pxekit/pxekit/dhcp6"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxetest"
)

// IPv6-only network boot with real firmware, on a lab bridge that has
// 2001:db8::1/64 and no IPv4 at all: no DHCPv4 server runs.
//
// What this OVMF (Debian 12's 2022.11) and this iPXE (Debian's
// 1.0.0+git-20190125) do here under TCG, from earlier runs of the same
// recipe (times from QEMU start; about ±30 % on a loaded host):
//   - With fw_cfg opt/org.tianocore/IPv4Support=n OVMF's boot options are
//     PXEv6, then HTTPv6. PXE over IPv6 starts at 5–9 s; without the switch
//     PXEv4 and HTTPv4 would each wait 60 s for a DHCPv4 server first.
//   - OVMF's PXEv6 sends arch 7, vendor class PXEClient:Arch:00007 and a
//     DUID-LLT of its MAC, asks for options 59, 60, 23, 16, and boots the
//     tftp://[…] URL of option 59.
//   - OVMF's HTTPv6 fails at once (no DHCPv6 sent) when it is the first
//     network attempt. So the HTTP VM is offered no boot file URL while it
//     tries PXEv6; that attempt gives up after about 13.7 s
//     ("PXE-E21: Remote boot cancelled"), HTTPv6 starts, and its offer has
//     the http:// URL with option 16 "HTTPClient" (edk2 ignores an offer
//     without it).
//   - OVMF's IPv6 stack runs a second DHCPv6 client of its own (asking for
//     DNS only): it is no network-boot client and gets no URL.
//   - iPXE waits about 15 s for a DHCPv4 server that never answers, takes
//     its address from DHCPv6 (DUID-UUID from the SMBIOS UUID, which
//     pxetest makes random per VM) once the router advertisement says M,
//     and fetches the script URL of option 59 over HTTP. This iPXE needs
//     initrd=<name> on an EFI kernel line, which the EFI script has.
//   - The guest's busybox has no DHCPv6 client: it takes over the
//     machine's leased address from the kernel command line
//     (pxekit.ip6={{.ClientAddr}}/64) and phones home over IPv6.
// Both VMs boot at once; a boot is bounded by 6 minutes (a hang guard).

// TestBootIPv6 boots OVMF's PXE over IPv6 and OVMF's UEFI HTTP boot over
// IPv6 to the guest's /init, each through iPXE's own DHCPv6 and its script
// fetch over IPv6, and checks the whole path from the console and the
// event stream, and that the phone-home came from the DHCPv6 lease of the
// machine's MAC.
func TestBootIPv6(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	pxetest.RequireFile(t, pxetest.IPXEEFI, "ipxe")
	lab := pxetest.NewBootLabOn(t, pxetest.Initramfs{}, pxetest.NetworkConfig{Server6: pxetest.DefaultServer6(), NoIPv4: true})
	pxe6 := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x66, 0x00, 0x01}, Hostname: "pxe6", Profile: "v6"}
	http6 := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x66, 0x00, 0x02}, Hostname: "http6", Profile: "v6"}
	inv, err := NewStaticInventory(InventorySpec{Machines: []Machine{pxe6, http6}, Profiles: map[string]Profile{
		"v6": {Kernel: "vmlinuz", Initrd: "initrd.gz", Args: []string{"console=ttyS0", "panic=-1", "quiet",
			pxetest.IPv6Arg + "={{.ClientAddr}}/64", pxetest.DefaultPhoneHomeArg + "={{.BaseURL}}/phonehome"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	policy := dhcp6.DefaultPolicy{
		UEFIURL:      "tftp://[2001:db8::1]/ipxe.efi",
		HTTPBootURL:  "{base}/ipxe/ipxe.efi",
		ScriptURL:    "{base}/boot.ipxe?mac={mac}",
		ScriptURLEFI: "{base}/boot.ipxe?mac={mac}&fw=efi",
	}
	srv, err := New(Config{
		Interface: lab.Bridge,
		NetNS:     lab.NS.Path(),
		Subnets6: []dhcp6.Subnet{{Pools: []dhcp6.Range{{Start: netip.MustParseAddr("2001:db8::100"), End: netip.MustParseAddr("2001:db8::1ff")}},
			LeaseTime: 10 * time.Minute}},
		LeaseFile: filepath.Join(t.TempDir(), "leases.db"),
		HTTPPort:  8080,
		Assets: fstest.MapFS{
			"vmlinuz":   {Data: lab.Vmlinuz, ModTime: time.Now()},
			"initrd.gz": {Data: lab.Initrd, ModTime: time.Now()},
		},
		Inventory: inv,
		// Without an advertisement saying M, iPXE never asks DHCPv6.
		RouterAdvertisement: true,
		// The default IPv6 policy, except that the HTTP VM's PXE attempt
		// gets no URL, so OVMF moves on to HTTP boot (see above).
		Boot6: func(c dhcp6.Client) dhcp6.BootDecision {
			if macaddr.Equal(c.MAC, http6.MAC) && !c.IsHTTPClient() && !c.IsIPXE() {
				return dhcp6.BootDecision{}
			}
			return policy.Decide(c)
		},
		Logger: pxetest.Logger(t, slog.LevelWarn),
	})
	if err != nil {
		t.Fatal(err)
	}
	if srv.DHCP() != nil {
		t.Fatal("an IPv6-only server runs DHCPv4")
	}
	var events pxetest.Recorder[Event]
	go events.Record(srv.Subscribe(ctx))
	pxetest.Serve(t, srv)

	var wg sync.WaitGroup
	for _, c := range []struct {
		m  Machine
		fw pxetest.Firmware
	}{{pxe6, pxetest.UEFIPXE6}, {http6, pxetest.UEFIHTTP6}} {
		wg.Go(func() {
			t.Run(c.fw.String(), func(t *testing.T) { boot6(t, ctx, lab, srv, &events, c.m, c.fw) })
		})
	}
	wg.Wait()
	if t.Failed() {
		for _, e := range events.All() {
			t.Logf("event %s %s %s", e.MAC, e.Kind, e.Detail)
		}
	}
	if st := srv.DHCP6().Stats(); st.Binds < 4 || st.ActiveLeases != 2 {
		t.Errorf("DHCPv6 stats %+v: want the two machines' leases only (their firmware, IPv6 stack and iPXE share each)", st)
	}
}

func boot6(t *testing.T, ctx context.Context, lab *pxetest.BootLab, srv *Server, events *pxetest.Recorder[Event], m Machine, fw pxetest.Firmware) {
	vm := lab.StartVM(t, ctx, pxetest.VMConfig{MAC: m.MAC, Firmware: fw, OnLine: func(l string) { t.Logf("%s: %s", m.Hostname, l) }})
	steps := []string{`>>Start PXE over IPv6`}
	if fw == pxetest.UEFIHTTP6 {
		steps = append(steps, `>>Start HTTP Boot over IPv6`, `URI: http://\[2001:db8::1\]:8080/ipxe/ipxe\.efi`)
	}
	steps = append(steps, "^"+pxetest.MarkerStart+"$")
	for _, s := range steps {
		if _, err := vm.WaitFor(ctx, regexp.MustCompile(s)); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %s: %q at %v", fw, m.MAC, s, time.Since(vm.Started()).Round(100*time.Millisecond))
	}
	got, err := vm.WaitFor(ctx, pxetest.CmdlineRE)
	if err != nil {
		t.Fatal(err)
	}
	lease, ok := srv.DHCP6().LeaseByMAC(m.MAC)
	if !ok {
		t.Fatalf("no DHCPv6 lease for %s", m.MAC)
	}
	if want := pxetest.IPv6Arg + "=" + lease.IP.String() + "/64"; !strings.Contains(got[1], want) ||
		!strings.Contains(got[1], "initrd=initrd.gz") || !strings.Contains(got[1], pxetest.DefaultPhoneHomeArg+"=http://[2001:db8::1]:8080/phonehome") {
		t.Errorf("/proc/cmdline %q: want %s, initrd=initrd.gz and the IPv6 phone-home URL", got[1], want)
	}
	ph, err := vm.WaitFor(ctx, pxetest.PhoneHomeRE)
	if err != nil {
		t.Fatal(err)
	}
	if ph[1] != "ok" {
		t.Fatalf("guest phone-home %s (%s)", ph[1], ph[2])
	}
	t.Logf("%s %s: power-on to phone-home in %v", fw, m.MAC, time.Since(vm.Started()).Round(100*time.Millisecond))
	if err := vm.Wait(ctx); err != nil {
		t.Errorf("QEMU after power-off: %v", err)
	}
	want := []EventKind{EventDiscovered, EventOffered, EventAcked}
	// The firmware's own download (TFTP or HTTP) is the machine's by its
	// DHCPv6 lease, which OVMF's IPv6 stack released for its own client
	// just before (dhcp6 keeps it for the PXE client that bound it last).
	if fw == pxetest.UEFIPXE6 {
		want = append(want, EventTFTPSent)
	} else {
		want = append(want, EventAssetSent)
	}
	want = append(want, EventScriptServed, EventAssetSent, EventAssetSent, EventPhonedHome)
	waitKinds(t, ctx, events, m.MAC, want)
	firmware := map[string]bool{}
	for _, e := range events.All() {
		if !macaddr.Equal(e.MAC, m.MAC) {
			continue
		}
		if e.Kind == EventDiscovered {
			firmware[e.Firmware] = true
		}
		if e.Kind == EventPhonedHome && !strings.Contains(e.Detail, "from "+lease.IP.String()) {
			t.Errorf("phoned home %q, not from its DHCPv6 lease %s", e.Detail, lease.IP)
		}
	}
	wantFW := "uefi"
	if fw == pxetest.UEFIHTTP6 {
		wantFW = "uefi-http"
	}
	if !firmware[wantFW] || !firmware["ipxe"] {
		t.Errorf("DHCPv6 clients seen for %s: %v, want %s and ipxe", m.MAC, firmware, wantFW)
	}
}
