package roles

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/bench/internal/dhcpload"
	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/stormclient"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxetest"
)

// The test binary runs the roles the tests start, as the comparison's
// binary does.
func TestMain(m *testing.M) { RunTests(m) }

func TestMainErrors(t *testing.T) {
	var stderr bytes.Buffer
	if code := Main("nope", nil, &bytes.Buffer{}, &stderr); code != 1 || !strings.Contains(stderr.String(), `unknown role "nope"`) {
		t.Errorf("unknown role: exit %d, %q", code, stderr.String())
	}
	if code := Main(TFTP, []string{"-no-such-flag"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	if code := Main(Storm, []string{"-want", "garbage"}, &bytes.Buffer{}, &stderr); code != 1 {
		t.Errorf("a bad -want: exit %d", code)
	}
	if _, ok := Child([]string{"compare", "-only", "tftp"}); ok {
		t.Error("Child took the comparison's own flags for a role")
	}
}

// Every role, as the parts run them: the servers in the servers'
// namespace, the clients in the clients'.
func TestRoles(t *testing.T) {
	h := harness.Setup(t)
	pxetest.RequireCmd(t, "atftp", "atftp")
	ctx := context.Background()

	t.Run("tftp", func(t *testing.T) {
		dir := t.TempDir()
		data := make([]byte, 100_000)
		_, _ = rand.Read(data)
		if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := h.StartSelf(h.Srv, TFTP, "-dir", dir)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		got := filepath.Join(t.TempDir(), "got")
		if err := harness.WaitReady(ctx, func() error {
			_, err := harness.Run(ctx, h.Cli, "atftp", "--get", "-r", "f", "-l", got, "--option", "windowsize 8", harness.ServerIP)
			return err
		}, p); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(got); !bytes.Equal(b, data) {
			t.Errorf("atftp got %d bytes, not the file's %d", len(b), len(data))
		}
	})

	t.Run("dhcp and dhcpload", func(t *testing.T) {
		p, err := h.StartSelf(h.Srv, DHCP, "-iface", h.SrvIf, "-dir", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		var rep dhcpload.Report
		load := func(rate string) error {
			cmd := h.SelfCmd(ctx, DHCPLoad, "-rate", rate, "-secs", "1", "-clients", "20", "-drop", "1s")
			var out bytes.Buffer
			cmd.Stdout = &out
			if err := h.Cli.Run(cmd); err != nil {
				return err
			}
			rep = dhcpload.Report{}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				return err
			}
			if rep.Acks == 0 {
				return os.ErrNotExist
			}
			return nil
		}
		if err := harness.WaitReady(ctx, func() error { return load("10") }, p); err != nil {
			t.Fatal(err)
		}
		if err := load("100"); err != nil {
			t.Fatal(err)
		}
		if rep.Discovers != 100 || rep.Acks != 100 {
			t.Errorf("dhcpload against the dhcp role: %+v", rep)
		}
	})

	t.Run("pxe and storm", func(t *testing.T) {
		found, err := ipxe.Locate()
		if found[ipxe.IPXEEFI] == "" {
			pxetest.Missing(t, "ipxe.efi", "apt-get install ipxe")
		}
		efi, err := os.ReadFile(found[ipxe.IPXEEFI])
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "assets"), 0o755); err != nil {
			t.Fatal(err)
		}
		want := map[string]stormclient.File{string(ipxe.IPXEEFI): {Size: int64(len(efi)), CRC: crc32.ChecksumIEEE(efi)}}
		for name, n := range map[string]int{"vmlinuz": 200_001, "initrd.gz": 50_001} {
			b := make([]byte, n)
			_, _ = rand.Read(b)
			if err := os.WriteFile(filepath.Join(dir, "assets", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
			want[name] = stormclient.File{Size: int64(n), CRC: crc32.ChecksumIEEE(b)}
		}
		remove, err := h.AddPool(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = remove() }()
		stats := filepath.Join(dir, "stats.json")
		p, err := h.StartSelf(h.Srv, PXE, "-iface", h.SrvIf, "-dir", dir, "-stats", stats)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		if err := harness.WaitReady(ctx, harness.DialTCP(h.Cli, harness.ServerIP+":80"), p); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "storm.json")
		cmd := h.SelfCmd(ctx, Storm, "-clients", "4", "-want", stormclient.FormatWant(want), "-out", out)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := h.Cli.Run(cmd); err != nil {
			t.Fatalf("storm role: %v: %s", err, stderr.String())
		}
		var rep stormclient.Report
		if b, err := os.ReadFile(out); err != nil || json.Unmarshal(b, &rep) != nil {
			t.Fatalf("storm report: %v", err)
		}
		if len(rep.Clients) != 4 {
			t.Fatalf("%d machines in the report", len(rep.Clients))
		}
		for _, m := range rep.Clients {
			if m.Step != "" {
				t.Errorf("%s failed at %s: %s", m.MAC, m.Step, m.Err)
			}
		}
		p.Stop() // writes -stats
		var st PXEStats
		if b, err := os.ReadFile(stats); err != nil || json.Unmarshal(b, &st) != nil {
			t.Fatalf("pxe role's stats: %v", err)
		}
		if st.DHCP.Acks != 8 || st.DHCP.Releases != 4 || st.Events[pxe.EventTFTPSent] != 4 || st.Events[pxe.EventScriptServed] != 4 || st.Events[pxe.EventAssetSent] != 8 {
			t.Errorf("pxe role counted %+v, events %v; want 8 ACKs, 4 releases, 4 TFTP transfers, 4 scripts, 8 assets", st.DHCP, st.Events)
		}
	})
}

func TestStormProfile(t *testing.T) {
	s, err := pxe.RenderScript(pxe.Machine{Profile: "storm"}, StormProfile(), "http://192.0.2.1", ipxe.EFI)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(s), "/assets/vmlinuz") || !strings.Contains(string(s), "/assets/initrd.gz") || !strings.Contains(string(s), "pxekit.phonehome=http://192.0.2.1/phonehome") {
		t.Errorf("the storm profile renders as\n%s", s)
	}
}
