package harvester

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxetest"
)

// readGuide reads a file of the Harvester PXE install guide (testdata/install-guide).
func readGuide(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "install-guide", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var guideRelease = Release{Version: "v1.1.0"}

// The install guide's three scripts, with <version> filled in and its
// file-name slips corrected, are exactly what Script builds. The
// corrections are the guide's errors: its kernel, initrd and rootfs names (harvester-<v>-vmlinuz,
// harvester-<v>-initrd, rootfs.squashfs) are not the names of the files it
// tells you to download (…-vmlinuz-amd64, …-initrd-amd64,
// harvester-<v>-rootfs-amd64.squashfs), so its scripts would 404.
func TestScriptsMatchGuideCorrected(t *testing.T) {
	v := guideRelease.Version
	fix := strings.NewReplacer(
		"harvester-<version>-vmlinuz", guideRelease.Kernel(),
		"harvester-<version>-initrd", guideRelease.Initrd(),
		"/harvester/rootfs.squashfs", "/harvester/"+guideRelease.RootFS(),
	)
	for _, tc := range []struct {
		file, config string
		fw           ipxe.Firmware
	}{
		{"ipxe-create", "config-create.yaml", ipxe.BIOS},
		{"ipxe-join", "config-join.yaml", ipxe.BIOS},
		{"ipxe-create-efi", "config-create.yaml", ipxe.EFI},
	} {
		t.Run(tc.file, func(t *testing.T) {
			guide := readGuide(t, tc.file)
			got, err := Script(guideRelease, tc.fw, ScriptOptions{
				AssetURL:  "http://10.100.0.10/harvester/",
				ConfigURL: "http://10.100.0.10/harvester/" + tc.config,
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := fix.Replace(guide); string(got) != want {
				t.Errorf("script:\n%s\nwant (the guide's, corrected):\n%s", got, want)
			}
			if strings.Contains(string(got), "/rootfs.squashfs") || strings.Contains(string(got), "-vmlinuz ") {
				t.Errorf("script names a file the release does not ship:\n%s", got)
			}
			if problems := ipxe.Lint(string(got), ipxe.ExpectInitrd()); len(problems) > 0 {
				t.Errorf("lint: %v", problems)
			}
			if tc.fw == ipxe.EFI {
				if problems := ipxe.Lint(string(got), ipxe.ForEFI()); len(problems) > 0 {
					t.Errorf("EFI lint: %v", problems)
				}
			}
			pxetest.CheckGolden(t, tc.file+"-"+v, got)
		})
	}
}

func TestKernelArgsOptions(t *testing.T) {
	c, err := KernelArgs("http://192.0.2.1/r.squashfs", "http://192.0.2.1/c.yaml",
		BootOptions{DHCPRetry: 5, BootInterface: "eth1", Mode: ModeJoin, Extra: []string{"console=ttyS0,115200"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "ip=eth1:dhcp net.ifnames=1 rd.cos.disable rd.noverifyssl console=tty1 rd.net.dhcp.retry=5 " +
		"root=live:http://192.0.2.1/r.squashfs harvester.install.automatic=true " +
		"harvester.install.config_url=http://192.0.2.1/c.yaml harvester.install.mode=join console=ttyS0,115200"
	if c.String() != want {
		t.Errorf("got  %s\nwant %s", c, want)
	}
	bad := []struct {
		name string
		o    BootOptions
		want string
	}{
		{"second ip=", BootOptions{Extra: []string{"ip=eth0:dhcp"}}, "boot.extra[0]"},
		{"mode", BootOptions{Mode: "upgrade"}, "boot.mode"},
		{"retry", BootOptions{DHCPRetry: -1}, "boot.dhcpRetry"},
		{"iface", BootOptions{BootInterface: "eth0:dhcp"}, "boot.bootInterface"},
		{"injection", BootOptions{Extra: []string{"a=b\nshell"}}, "boot"},
	}
	for _, b := range bad {
		if _, err := KernelArgs("http://x/r", "http://x/c", b.o); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: err %v, want one naming %s", b.name, err, b.want)
		}
	}
}

// The install guide's configs (indentation restored) parse, validate, and
// are what the cluster plan of the same two nodes produces.
func TestGuideConfigsFromPlan(t *testing.T) {
	cl := loadCluster(t)
	plan, err := cl.Plan()
	if err != nil {
		t.Fatal(err)
	}
	for i, file := range []string{"config-create.yaml", "config-join.yaml"} {
		guide, err := Parse([]byte(readGuide(t, file)))
		if err != nil {
			t.Fatal(err)
		}
		if errs := guide.Validate(); len(errs) > 0 {
			t.Errorf("%s: %v", file, errs)
		}
		n := plan.Nodes[i]
		if n.ConfigFile != file {
			t.Errorf("node %s serves %s, want %s", n.Hostname, n.ConfigFile, file)
		}
		if !reflect.DeepEqual(*guide, n.Config) {
			t.Errorf("%s:\nplan  %+v\nguide %+v", file, n.Config, *guide)
		}
		out, err := RenderConfig(n, "http://10.100.0.10", false)
		if err != nil {
			t.Fatal(err)
		}
		pxetest.CheckGolden(t, file, out)
		back, err := Parse(out)
		if err != nil || !reflect.DeepEqual(*back, n.Config) {
			t.Errorf("%s does not round-trip: %v", file, err)
		}
	}
}

// The guide's config as printed (flattened, with a note as
// management_interface's value) is refused with the field it breaks, not
// half-read.
func TestGuideConfigAsPrintedRejected(t *testing.T) {
	_, err := Parse([]byte(strings.ReplaceAll(readGuide(t, "config-create.as-printed.yaml"), "<version>", "v1.1.0")))
	// Flattened, install's "mode: create" and bond_options' "mode:
	// balance-tlb" land in one map: YAML refuses the duplicate key.
	if err == nil || !strings.Contains(err.Error(), `line 19: key "mode" already set`) {
		t.Fatalf("flattened config: %v", err)
	}
}

func TestParseRejectsUnknownKey(t *testing.T) {
	_, err := Parse([]byte("token: t\ninstall:\n  mode: create\n  vip_mod: static\n"))
	if err == nil || !strings.Contains(err.Error(), "vip_mod") {
		t.Errorf("misspelt key: %v", err)
	}
}

func validCreate() Config {
	return Config{
		SchemeVersion: 1, Token: "tok", OS: OS{Hostname: "node1", Password: "pw"},
		Install: Install{Mode: ModeCreate, Device: "/dev/sda", ISOURL: "http://192.0.2.1/h.iso", VIP: "192.0.2.99", VIPMode: VIPStatic},
	}
}

func TestValidate(t *testing.T) {
	if c := validCreate(); len(c.Validate()) > 0 {
		errs := c.Validate()
		t.Fatalf("valid config: %v", errs)
	}
	cases := []struct {
		name  string
		edit  func(*Config)
		paths []string
	}{
		{"join without server_url", func(c *Config) {
			c.Install.Mode, c.Install.VIP, c.Install.VIPMode = ModeJoin, "", ""
		}, []string{"server_url"}},
		{"join with vip", func(c *Config) { c.Install.Mode, c.ServerURL = ModeJoin, "https://192.0.2.99:443" }, []string{"install.vip", "install.vip_mode"}},
		{"join server_url not https", func(c *Config) {
			c.Install.Mode, c.Install.VIP, c.Install.VIPMode, c.ServerURL = ModeJoin, "", "", "192.0.2.99:443"
		}, []string{"server_url"}},
		{"create without vip_mode", func(c *Config) { c.Install.VIPMode = "" }, []string{"install.vip_mode"}},
		{"static without vip", func(c *Config) { c.Install.VIP = "" }, []string{"install.vip"}},
		{"static with hw addr", func(c *Config) { c.Install.VIPHwAddr = "52:54:00:ec:0e:0b" }, []string{"install.vip_hw_addr"}},
		{"dhcp without hw addr", func(c *Config) { c.Install.VIPMode = VIPDHCP }, []string{"install.vip_hw_addr"}},
		{"bad hw addr", func(c *Config) { c.Install.VIPMode, c.Install.VIPHwAddr = VIPDHCP, "52:54:00" }, []string{"install.vip_hw_addr"}},
		{"vip not an address", func(c *Config) { c.Install.VIP = "vip.example" }, []string{"install.vip"}},
		{"unknown vip_mode", func(c *Config) { c.Install.VIPMode = "arp" }, []string{"install.vip_mode"}},
		{"no device", func(c *Config) { c.Install.Device = "" }, []string{"install.device"}},
		{"relative device", func(c *Config) { c.Install.Device = "sda" }, []string{"install.device"}},
		{"data disk = device", func(c *Config) { c.Install.DataDisk = "/dev/sda" }, []string{"install.data_disk"}},
		{"iso_url not a URL", func(c *Config) { c.Install.ISOURL = "harvester.iso" }, []string{"install.iso_url"}},
		{"no token, no password", func(c *Config) { c.Token, c.OS.Password = "", "" }, []string{"token", "os.password"}},
		{"no mode", func(c *Config) { c.Install.Mode = "" }, []string{"install.mode"}},
		{"bad dns", func(c *Config) { c.OS.DNSNameservers = []string{"1.1.1.1", "dns.example"} }, []string{"os.dns_nameservers[1]"}},
		{"bad hostname", func(c *Config) { c.OS.Hostname = "Node_1" }, []string{"os.hostname"}},
		{"static mgmt without ip", func(c *Config) {
			c.Install.ManagementInterface = &Network{Interfaces: []NetworkInterface{{Name: "ens5"}}, Method: "static"}
		}, []string{"install.management_interface.ip", "install.management_interface.subnet_mask", "install.management_interface.gateway"}},
		{"mgmt bad bond, mtu, vlan, iface", func(c *Config) {
			c.Install.ManagementInterface = &Network{Interfaces: []NetworkInterface{{HwAddr: "zz"}}, Method: "dhcp",
				BondOptions: &BondOptions{Mode: "fastest"}, MTU: 100000, VlanID: 4095}
		}, []string{"install.management_interface.interfaces[0].hwAddr", "install.management_interface.bond_options.mode",
			"install.management_interface.mtu", "install.management_interface.vlan_id"}},
		{"mgmt no interfaces, bad mask", func(c *Config) {
			c.Install.ManagementInterface = &Network{Method: "static", IP: "192.0.2.5", SubnetMask: "255.0.255.0", Gateway: "192.0.2.1"}
		}, []string{"install.management_interface.interfaces", "install.management_interface.subnet_mask"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validCreate()
			tc.edit(&c)
			errs := c.Validate()
			got := map[string]bool{}
			for _, e := range errs {
				got[e.Field] = true
			}
			for _, p := range tc.paths {
				if !got[p] {
					t.Errorf("no error at %s; got %v", p, errs)
				}
			}
			if len(errs) != len(tc.paths) {
				t.Errorf("got %d errors, want %d: %v", len(errs), len(tc.paths), errs)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	c := validCreate()
	c.Token, c.OS.Password = "tok-SECRET-1", "pw-SECRET-2"
	out, err := func() ([]byte, error) { r := c.Redacted(); return r.YAML() }()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.Secrets() {
		if strings.Contains(string(out), s) {
			t.Errorf("redacted YAML has %q:\n%s", s, out)
		}
	}
	if strings.Count(string(out), Redaction) != 2 || c.Token != "tok-SECRET-1" {
		t.Errorf("redaction:\n%s", out)
	}
}
