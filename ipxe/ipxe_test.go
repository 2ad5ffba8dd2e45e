package ipxe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// harvester builds the Harvester PXE install guide's profile for a mode ("create" or "join").
func harvester(mode string, fw Firmware) ([]byte, error) {
	cmd, err := ParseCmdline("ip=dhcp net.ifnames=1 rd.cos.disable rd.noverifyssl console=tty1")
	if err != nil {
		return nil, err
	}
	cmd.Set("root", "live:http://10.100.0.10/harvester/rootfs.squashfs").
		Set("harvester.install.automatic", "true").
		Set("harvester.install.config_url", "http://10.100.0.10/harvester/config-"+mode+".yaml")
	return NewScript().Linux(Linux{
		Kernel:  "harvester-<version>-vmlinuz",
		Initrds: []string{"harvester-<version>-initrd"},
		Cmdline: cmd,
	}, fw).Build()
}

func TestGoldenHarvester(t *testing.T) {
	for _, c := range []struct {
		mode, golden string
		fw           Firmware
	}{
		{"create", "harvester-create.ipxe", BIOS},
		{"join", "harvester-join.ipxe", BIOS},
		{"create", "harvester-create-efi.ipxe", EFI},
	} {
		want, err := os.ReadFile(filepath.Join("testdata", c.golden))
		if err != nil {
			t.Fatal(err)
		}
		got, err := harvester(c.mode, c.fw)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s:\n got: %q\nwant: %q", c.golden, got, want)
		}
		opts := []LintOption{ExpectInitrd()}
		if c.fw == EFI {
			opts = append(opts, ForEFI())
		}
		if probs := Lint(string(want), opts...); len(probs) != 0 {
			t.Errorf("the guide's script %s has lint problems: %v", c.golden, probs)
		}
	}
	// The BIOS script is what the guide warns about for UEFI.
	bios, _ := os.ReadFile(filepath.Join("testdata", "harvester-create.ipxe"))
	probs := Lint(string(bios), ForEFI())
	if len(probs) != 1 || probs[0].Line != 2 || !strings.Contains(probs[0].Msg, "initrd=harvester-<version>-initrd") {
		t.Errorf("BIOS script linted for EFI: %v", probs)
	}
}

func TestCmdlineRefusesInjection(t *testing.T) {
	for _, c := range []struct{ name, value, want string }{
		{"harvester.install.config_url", "http://x/c.yaml\nchain http://evil/", "newline"},
		{"hostname", "node1 init=/bin/sh", "whitespace"},
		{"token", "${net0/mac}", `"${"`},
		{"x", "a\tb", "whitespace"},
		{"x", `"a b"`, "double quote"},
		{"x", `a\nb`, "backslash"},
		{"x", "caf\xc3\xa9", "non-ASCII"},
		{"x", "a\x00b", "control character"},
		{"a=b", "c", "must not contain '='"},
		{"#x", "1", "must not start"},
		{"", "1", "must not be empty"},
	} {
		c := c
		cmd := NewCmdline().Set("ip", "dhcp").Set(c.name, c.value)
		err := cmd.Err()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "cmdline[1]") {
			t.Errorf("Set(%q, %q): err = %v, want %q at cmdline[1]", c.name, c.value, err, c.want)
		}
		_, err = NewScript().Kernel("vmlinuz", cmd).Boot().Build()
		if err == nil || !strings.Contains(err.Error(), "lines[1].kernel.cmdline[1]") {
			t.Errorf("script with bad arg %q: err = %v, want it at lines[1].kernel.cmdline[1]", c.value, err)
		}
	}
	// Values a boot profile really uses pass through.
	cmd := NewCmdline().Set("console", "ttyS1,115200n8").Set("ip", "eth1:dhcp").SetInt("rd.net.dhcp.retry", 3).
		Set("url", "http://10.100.0.10/c.yaml?mac=52:54:00:6b:13:e2&x=$y").Flag("quiet")
	if err := cmd.Err(); err != nil {
		t.Fatal(err)
	}
	if got := cmd.String(); got != "console=ttyS1,115200n8 ip=eth1:dhcp rd.net.dhcp.retry=3 url=http://10.100.0.10/c.yaml?mac=52:54:00:6b:13:e2&x=$y quiet" {
		t.Errorf("got %q", got)
	}
	if _, err := ParseCmdline(`ip=dhcp root="live:a b"`); err == nil {
		t.Error("kernel quoting accepted")
	}
}

func TestScriptBuilder(t *testing.T) {
	got, err := NewScript().
		DHCP(3).
		Echo("Booting node1").
		Menu("Harvester install").
		Item("create", "Create a new cluster").
		Item("join", "Join a cluster").
		Choose("mode", "create", 10*time.Second).
		Label("create").
		IsSet("next-server", "failed").
		Chain("http://10.100.0.10/harvester/ipxe-create").
		Label("join").
		Chain("http://10.100.0.10/harvester/ipxe-join").
		Label("failed").
		Echo("no boot server").
		Sleep(5).
		Set("user-class", "iPXE").
		Build()
	if err != nil {
		t.Fatal(err)
	}
	want := `#!ipxe
dhcp || dhcp || dhcp
echo Booting node1
menu Harvester install
item create Create a new cluster
item join Join a cluster
choose --default create --timeout 10000 mode && goto ${mode}
:create
isset ${next-server} || goto failed
chain http://10.100.0.10/harvester/ipxe-create
:join
chain http://10.100.0.10/harvester/ipxe-join
:failed
echo no boot server
sleep 5
set user-class iPXE
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if probs := Lint(string(got)); len(probs) != 0 {
		t.Errorf("lint: %v", probs)
	}

	_, err = NewScript().IsSet("a}b", "x").Choose("x y", "", 0).Build()
	for _, want := range []string{"lines[1].isset.setting: Invalid value: \"a}b\"", "lines[1].choose.setting"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	_, err = NewScript().Echo("hi\nreboot").Chain("http://x/${evil}").Item("-x", "y").Echo("a || reboot").Goto("").Build()
	for _, want := range []string{"lines[1].echo", "lines[1].chain.url", "lines[1].item.label", "lines[1].echo: Invalid value: \"a || reboot\"", "lines[1].goto: Required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestLint(t *testing.T) {
	script := "dhcp\nkernl http://x/vmlinuz\nkernel http://x/vmlinuz console=ttyS0\ngoto nowhere\n"
	probs := Lint(script, ExpectInitrd())
	want := []string{
		`line 1: missing "#!ipxe" magic line`,
		`line 2: unknown command "kernl"`,
		`line 3: kernel without an initrd`,
		`line 4: goto "nowhere": no such label`,
		`line 5: nothing boots`,
	}
	if len(probs) != len(want) {
		t.Fatalf("got %v, want %d problems", probs, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(probs[i].String(), w) {
			t.Errorf("problem %d = %q, want %q...", i, probs[i], w)
		}
	}
	ok := "#!ipxe\n:retry\ndhcp && isset ${filename} || goto retry\nkernel --name vmlinuz http://x/vmlinuz initrd=initrd.img quiet\ninitrd http://x/initrd.img?v=2\nboot || shell\n"
	if probs := Lint(ok, ExpectInitrd(), ForEFI()); len(probs) != 0 {
		t.Errorf("clean script: %v", probs)
	}
	if probs := Lint("#!gpxe\nchain\n"); len(probs) != 2 {
		t.Errorf("gpxe script: %v", probs)
	}
}

func TestLocateDebian(t *testing.T) {
	// Debian's ipxe package; CI installs it.
	requireFile(t, "/usr/lib/ipxe/ipxe.efi")
	found, err := Locate()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range Binaries() {
		if filepath.Dir(found[b]) != "/usr/lib/ipxe" {
			t.Errorf("%s found at %q", b, found[b])
		}
	}
	f, err := BinaryFS(found).Open("undionly.kpxe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 2)
	if _, err := f.Read(head); err != nil {
		t.Fatal(err)
	}
}

func TestLocateOtherLayouts(t *testing.T) {
	// A Fedora-style tree, built here: iPXE binaries are never committed.
	dir := t.TempDir()
	fedora := filepath.Join(dir, "usr", "share", "ipxe")
	if err := os.MkdirAll(fedora, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"undionly.kpxe", "ipxe-x86_64.efi", "ipxe-snponly-x86_64.efi"} {
		if err := os.WriteFile(filepath.Join(fedora, n), []byte("MZ"+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	found, err := Locate(filepath.Join(dir, "nothing"), fedora)
	if err != nil {
		t.Fatal(err)
	}
	if found[SNPOnlyEFI] != filepath.Join(fedora, "ipxe-snponly-x86_64.efi") || found[IPXEEFI] != filepath.Join(fedora, "ipxe-x86_64.efi") {
		t.Errorf("found %v", found)
	}
	b, err := readAll(BinaryFS(found), "ipxe.efi")
	if err != nil || string(b) != "MZipxe-x86_64.efi" {
		t.Errorf("BinaryFS ipxe.efi = %q, %v", b, err)
	}
	if _, err := BinaryFS(found).Open("../etc/passwd"); err == nil {
		t.Error("BinaryFS opened a path outside its names")
	}
	empty := t.TempDir()
	_, err = Locate(empty)
	if err == nil || !strings.Contains(err.Error(), "undionly.kpxe, ipxe.efi, snponly.efi") || !strings.Contains(err.Error(), empty) {
		t.Errorf("err = %v", err)
	}
}

func FuzzKernelArg(f *testing.F) {
	for _, s := range [][2]string{{"ip", "dhcp"}, {"url", "http://x/${net0/mac}"}, {"a", "b\nchain http://evil"},
		{"a", "b c"}, {"console", "ttyS0,115200n8"}, {"x", "$"}, {"x", "${"}, {"x", "\"q\""}, {"rd.cos.disable", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		cmd := NewCmdline().Set("ip", "dhcp").Set(name, value).Flag("quiet")
		script, err := NewScript().Kernel("http://10.100.0.10/vmlinuz", cmd).Boot().Build()
		if err != nil {
			if cmd.Err() == nil {
				t.Fatalf("script refused a valid cmdline: %v", err)
			}
			return
		}
		lines := strings.Split(strings.TrimSuffix(string(script), "\n"), "\n")
		if len(lines) != 3 || lines[2] != "boot" {
			t.Fatalf("value %q changed the script's lines: %q", value, script)
		}
		kernel := lines[1]
		if strings.Contains(kernel, "${") {
			t.Fatalf("kernel line carries an expansion: %q", kernel)
		}
		// iPXE splits on whitespace; the kernel gets the words back joined
		// by one space: each must be exactly one of our arguments.
		words := strings.Fields(kernel)
		want := []string{"kernel", "http://10.100.0.10/vmlinuz", "ip=dhcp", name + "=" + value, "quiet"}
		if len(words) != len(want) {
			t.Fatalf("kernel line %q has %d words, want %d", kernel, len(words), len(want))
		}
		for i := range want {
			if words[i] != want[i] {
				t.Fatalf("word %d = %q, want %q", i, words[i], want[i])
			}
		}
		if strings.ContainsAny(kernel, "\"\\") {
			t.Fatalf("kernel line %q has a quote or backslash", kernel)
		}
		if probs := Lint(string(script)); len(probs) != 0 {
			t.Fatalf("lint: %v", probs)
		}
	})
}

func FuzzEcho(f *testing.F) {
	for _, s := range []string{"Booting node1", "a\nreboot", "${x}", "a || shell", "# hi"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		script, err := NewScript().Echo(text).Chain("http://x/boot").Build()
		if err != nil {
			return
		}
		lines := strings.Split(strings.TrimSuffix(string(script), "\n"), "\n")
		if len(lines) != 3 || strings.Contains(lines[1], "${") || lines[2] != "chain http://x/boot" {
			t.Fatalf("echo %q produced %q", text, script)
		}
		if probs := Lint(string(script)); len(probs) != 0 {
			t.Fatalf("echo %q: lint %v", text, probs)
		}
	})
}

func BenchmarkRenderHarvester(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := harvester("create", EFI); err != nil {
			b.Fatal(err)
		}
	}
}
