package stormclient

import (
	"context"
	"crypto/rand"
	"hash/crc32"
	"log/slog"
	"maps"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/tftp"
)

func TestWant(t *testing.T) {
	want := map[string]File{"ipxe.efi": {Size: 851968, CRC: 0x0badcafe}, "vmlinuz": {Size: 10 << 20, CRC: 7}}
	s := FormatWant(want)
	if s != "ipxe.efi=851968:0badcafe,vmlinuz=10485760:00000007" {
		t.Errorf("FormatWant = %q", s)
	}
	got, err := ParseWant(s)
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("ParseWant(%q) = %v, %v", s, got, err)
	}
	for _, bad := range []string{"vmlinuz", "vmlinuz=12", "vmlinuz=x:00", "vmlinuz=12:xyz", "vmlinuz=-1:00", "vmlinuz=1:100000000"} {
		if _, err := ParseWant(bad); err == nil {
			t.Errorf("ParseWant(%q) took it", bad)
		}
	}
}

func TestParseScript(t *testing.T) {
	const u = "http://192.0.2.1/boot.ipxe?mac=02:50:58:00:00:01"
	// What pxekit renders for the storm's profile, and a hand-written one.
	sc, err := parseScript(u, []byte("#!ipxe\nkernel http://192.0.2.1/assets/vmlinuz console=ttyS0 initrd=initrd.gz\ninitrd http://192.0.2.1/assets/initrd.gz\nboot\n"))
	if err != nil || sc.kernel != "http://192.0.2.1/assets/vmlinuz" || len(sc.initrds) != 1 || sc.initrds[0] != "http://192.0.2.1/assets/initrd.gz" {
		t.Errorf("pxekit's script: %+v, %v", sc, err)
	}
	sc, err = parseScript(u, []byte("#!ipxe\n  imgexec --name k /assets/linux quiet\nmodule -n a a.img\nmodule b.img\n"))
	if err != nil || sc.kernel != "http://192.0.2.1/assets/linux" || strings.Join(sc.initrds, " ") != "http://192.0.2.1/a.img http://192.0.2.1/b.img" {
		t.Errorf("options and relative URLs: %+v, %v", sc, err)
	}
	sc, err = parseScript(u, []byte("#!ipxe\ndhcp\nchain --autofree next.ipxe\n"))
	if err != nil || sc.kernel != "" || sc.chain != "http://192.0.2.1/next.ipxe" {
		t.Errorf("a chain: %+v, %v", sc, err)
	}
	for name, body := range map[string]string{
		"not iPXE":     "<html>",
		"no kernel":    "#!ipxe\necho hello\nboot\n",
		"bare options": "#!ipxe\nkernel --name x\n",
		"bad URL":      "#!ipxe\nkernel http://[::1\n",
	} {
		if _, err := parseScript(u, []byte(body)); err == nil {
			t.Errorf("%s: taken", name)
		}
	}
}

func TestOACKBlockSize(t *testing.T) {
	for _, c := range []struct {
		opts        []tftp.Option
		blk, window int
		ok          bool
	}{
		{nil, 512, 1, true},
		{[]tftp.Option{{Name: "blksize", Value: "1468"}, {Name: "tsize", Value: "100"}}, 1468, 1, true},
		{[]tftp.Option{{Name: "blksize", Value: "1468"}, {Name: "windowsize", Value: "4"}}, 1468, 4, true},
		{[]tftp.Option{{Name: "windowsize", Value: "2"}}, 512, 2, true},
		{[]tftp.Option{{Name: "windowsize", Value: "16"}}, 0, 0, false}, // more than asked for
		{[]tftp.Option{{Name: "windowsize", Value: "0"}}, 0, 0, false},
		{[]tftp.Option{{Name: "tsize", Value: "99"}}, 0, 0, false},
		{[]tftp.Option{{Name: "blksize", Value: "7"}}, 0, 0, false},
		{[]tftp.Option{{Name: "blksize", Value: "x"}}, 0, 0, false},
	} {
		blk, window, err := oackBlockSize(c.opts, 100)
		if (err == nil) != c.ok || blk != c.blk || window != c.window {
			t.Errorf("%+v: %d %d, %v", c.opts, blk, window, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	got := Config{Clients: -1, Spread: -1}.Validate().ToAggregate().Error()
	for _, f := range []string{"server", "relay", "clients", "spread", "deadline", "want"} {
		if !strings.Contains(got, f+":") && !strings.Contains(got, f+" ") {
			t.Errorf("no error for %s in %s", f, got)
		}
	}
	if _, err := Run(context.Background(), Config{}); err == nil {
		t.Error("Run took an empty config")
	}
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// A storm against pxekit's boot server across the harness's veth: every
// machine boots, the server saw each of them twice and got every address
// back; and a file that is not what it should be fails every machine at
// that step.
func TestStormAgainstPxekit(t *testing.T) {
	h := harness.Setup(t)
	ctx := context.Background()
	remove, err := h.AddPool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = remove() }()
	// Not multiples of 1468 or of 512, so every transfer ends in a short block.
	efi, kernel, initrd := random(t, 200_003), random(t, 300_001), random(t, 100_001)
	inv, err := pxe.NewStaticInventory(pxe.InventorySpec{
		Profiles: map[string]pxe.Profile{"storm": {Kernel: "vmlinuz", Initrd: "initrd.gz", Args: []string{"console=ttyS0"}}},
		Default:  "storm",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pxe.New(pxe.Config{
		Interface: h.SrvIf,
		NetNS:     "/var/run/netns/" + h.Srv.Name(),
		Addr:      netip.MustParseAddr(harness.ServerIP),
		Subnets: []dhcp.Subnet{{Prefix: netip.MustParsePrefix(harness.Prefix), LeaseTime: time.Hour,
			Pools: []dhcp.Range{{Start: netip.MustParseAddr(harness.PoolStart), End: netip.MustParseAddr(harness.PoolEnd)}}}},
		IPXE:      fstest.MapFS{"ipxe.efi": {Data: efi}},
		Assets:    fstest.MapFS{"vmlinuz": {Data: kernel}, "initrd.gz": {Data: initrd}},
		Inventory: inv,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	harness.Serve(t, srv.Serve)
	if err := harness.WaitReady(ctx, harness.DialTCP(h.Cli, harness.ServerIP+":80")); err != nil {
		t.Fatal(err)
	}
	file := func(b []byte) File { return File{Size: int64(len(b)), CRC: crc32.ChecksumIEEE(b)} }
	want := map[string]File{"ipxe.efi": file(efi), "vmlinuz": file(kernel), "initrd.gz": file(initrd)}
	cfg := Config{Server: netip.MustParseAddr(harness.ServerIP), Relay: netip.MustParseAddr(harness.ClientIP),
		Clients: 8, Spread: 200 * time.Millisecond, Deadline: time.Minute, Want: want, Do: h.Cli.Do}

	acks0 := srv.DHCP().Stats().Acks
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Clients) != 8 || rep.MaxInFlight < 1 || rep.MaxLeased < 1 {
		t.Fatalf("report: %d machines, %d in flight, %d leased", len(rep.Clients), rep.MaxInFlight, rep.MaxLeased)
	}
	ips := map[string]bool{}
	for _, m := range rep.Clients {
		if m.Step != "" {
			t.Errorf("%s failed at %s: %s", m.MAC, m.Step, m.Err)
			continue
		}
		for _, step := range []string{StepDHCP, StepTFTP, StepIPXE, StepScript, StepKernel, StepInitrd} {
			if _, ok := m.Times[step]; !ok {
				t.Errorf("%s booted without a time for %s: %v", m.MAC, step, m.Times)
			}
		}
		if !strings.HasPrefix(m.IP, "192.0.2.") || m.Tries < 1 || m.Naks != 0 {
			t.Errorf("%s: ip %q, %d DISCOVERs, %d NAKs", m.MAC, m.IP, m.Tries, m.Naks)
		}
		ips[m.IP] = true
	}
	if len(ips) != 8 {
		t.Errorf("8 machines on %d addresses", len(ips))
	}
	// RELEASE gets no answer: wait for the server to have counted them.
	deadline := time.Now().Add(time.Minute)
	for srv.DHCP().Stats().Releases < 8 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := srv.DHCP().Stats(); st.Acks-acks0 != 16 || st.Releases != 8 || st.ActiveLeases != 0 {
		t.Errorf("server: %d ACKs, %d releases, %d leases active; want 16, 8, 0", st.Acks-acks0, st.Releases, st.ActiveLeases)
	}

	for _, c := range []struct{ file, step string }{{"ipxe.efi", StepTFTP}, {"vmlinuz", StepKernel}} {
		bad := maps.Clone(want)
		f := bad[c.file]
		f.CRC++
		bad[c.file] = f
		cfg.Want, cfg.Clients = bad, 3
		rep, err := Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range rep.Clients {
			if m.Step != c.step || !strings.Contains(m.Err, "crc") {
				t.Errorf("a wrong %s: %s failed at %q (%s), want %s", c.file, m.MAC, m.Step, m.Err, c.step)
			}
		}
	}
}

// FuzzParseWant: what ParseWant takes, FormatWant writes back the same.
func FuzzParseWant(f *testing.F) {
	f.Add("ipxe.efi=851968:0badcafe,vmlinuz=10485760:00000007")
	f.Add("a=1:1,,b=2:2")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseWant(s)
		if err != nil {
			return
		}
		for name, file := range m {
			if file.Size < 0 || strings.ContainsAny(name, ",=") {
				t.Fatalf("%q gave %q: %+v", s, name, file)
			}
		}
		again, err := ParseWant(FormatWant(m))
		if err != nil || !maps.Equal(again, m) {
			t.Fatalf("%q: %v came back as %v (%v)", s, m, again, err)
		}
	})
}

// FuzzParseScript: whatever a server serves as the script, the client
// never panics and follows only absolute URLs.
func FuzzParseScript(f *testing.F) {
	f.Add([]byte("#!ipxe\nkernel http://192.0.2.1/assets/vmlinuz console=ttyS0\ninitrd /assets/initrd.gz\nboot\n"))
	f.Add([]byte("#!ipxe\nchain --autofree ../x.ipxe?mac=${net0/mac}\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		sc, err := parseScript("http://192.0.2.1/boot.ipxe", body)
		if err != nil {
			return
		}
		for _, u := range append([]string{sc.kernel, sc.chain}, sc.initrds...) {
			if u != "" && !strings.Contains(u, ":") {
				t.Fatalf("relative URL %q from %q", u, body)
			}
		}
	})
}

// FuzzOACK: whatever OACK arrives, the block size taken is a legal one.
func FuzzOACK(f *testing.F) {
	f.Add([]byte("\x00\x06blksize\x001468\x00tsize\x00100\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		opts, err := tftp.ParseOACK(b)
		if err != nil {
			return
		}
		blk, window, err := oackBlockSize(opts, 100)
		if err == nil && (blk < tftp.MinBlockSize || blk > tftp.MaxBlockSize || window < 1 || window > 4) {
			t.Fatalf("block size %d, window %d from %q", blk, window, b)
		}
	})
}
