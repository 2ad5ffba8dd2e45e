package iscdhcp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
)

func load(t testing.TB, name string) *Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	node1   = net.HardwareAddr{0x52, 0x54, 0x00, 0x6b, 0x13, 0xe2}
	node2   = net.HardwareAddr{0x52, 0x54, 0x00, 0x69, 0xd5, 0x92}
	unknown = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
)

// iscExpect is what ISC dhcpd answers under the Harvester PXE install
// guide's files, written
// down from reading them with ISC's rules, independent of the parser:
//
//   - a client whose MAC matches no host declaration gets only the global
//     and subnet scopes, which set no filename: no boot file;
//   - "exists user-class and option user-class = \"iPXE\"" holds for iPXE
//     (which sends the bare string iPXE in option 77);
//   - "option architecture-type = 00:07" compares option 93's two bytes
//     with 00 07: only arch 7 matches — arch 9 (EFI BC, x86-64 UEFI on some
//     firmware) and 16 (x86-64 UEFI HTTP) fall to the else branches;
//   - the elsif (httpboot file, create group only) holds when option 60's
//     first ten bytes are "HTTPClient", and also sends option 60
//     "HTTPClient" back.
func iscExpect(file string, mac net.HardwareAddr, arch int, ipxe bool, vendor string) (filename, vendorClass string) {
	var group string
	switch mac.String() {
	case node1.String():
		group = "create"
	case node2.String():
		group = "join"
	default:
		return "", ""
	}
	if ipxe {
		if arch == 7 {
			return "http://10.100.0.10/harvester/ipxe-" + group + "-efi", ""
		}
		return "http://10.100.0.10/harvester/ipxe-" + group, ""
	}
	if file == "harvester-dhcpd-httpboot.conf" && group == "create" && vendor == "HTTPClient" {
		return "http://10.100.0.10/harvester/ipxe.efi", "HTTPClient"
	}
	if arch == 7 {
		return "ipxe.efi", ""
	}
	return "undionly.kpxe", ""
}

// Every combination of MAC (group 1, group 2, unknown) × arch (0, 7, 9,
// 16) × iPXE user class or not × vendor class PXEClient / HTTPClient gets
// the filename (and option 60) ISC dhcpd gives, for both of the guide's
// configurations.
func TestHarvesterGuideTable(t *testing.T) {
	for _, file := range []string{"harvester-dhcpd.conf", "harvester-dhcpd-httpboot.conf"} {
		c := load(t, file)
		policy := c.Policy(nil)
		n := 0
		for _, mac := range []net.HardwareAddr{node1, node2, unknown} {
			for _, arch := range []int{0, 7, 9, 16} {
				for _, ipxe := range []bool{false, true} {
					for _, vendor := range []string{"PXEClient", "HTTPClient"} {
						n++
						cl := dhcp.Client{
							MAC:         mac,
							Archs:       []dhcp.Arch{dhcp.Arch(arch)},
							VendorClass: fmt.Sprintf("%s:Arch:%05d:UNDI:003001", vendor, arch),
						}
						if ipxe {
							cl.UserClasses = []string{"iPXE"}
						}
						wantFile, wantVC := iscExpect(file, mac, arch, ipxe, vendor)
						d := policy(cl)
						if d.Filename != wantFile || d.VendorClass != wantVC {
							t.Errorf("%s: %s arch=%d iPXE=%v %s: got %q (opt60 %q), want %q (opt60 %q)",
								file, mac, arch, ipxe, vendor, d.Filename, d.VendorClass, wantFile, wantVC)
						}
					}
				}
			}
		}
		if n != 48 {
			t.Fatalf("%d combinations", n)
		}
	}
}

// A few rows spelled out, as a reader of the guide would check them.
func TestHarvesterGuideSpotChecks(t *testing.T) {
	c := load(t, "harvester-dhcpd-httpboot.conf")
	for _, tc := range []struct {
		cl   dhcp.Client
		want string
	}{
		{dhcp.Client{MAC: node1, Archs: []dhcp.Arch{7}, UserClasses: []string{"iPXE"}}, "http://10.100.0.10/harvester/ipxe-create-efi"},
		{dhcp.Client{MAC: node2, Archs: []dhcp.Arch{0}, UserClasses: []string{"iPXE"}}, "http://10.100.0.10/harvester/ipxe-join"},
		{dhcp.Client{MAC: node1, Archs: []dhcp.Arch{16}, VendorClass: "HTTPClient:Arch:00016:UNDI:003001"}, "http://10.100.0.10/harvester/ipxe.efi"},
		// The guide's slip: the join group has no HTTPClient branch, so a
		// UEFI HTTP client there is handed the BIOS loader.
		{dhcp.Client{MAC: node2, Archs: []dhcp.Arch{16}, VendorClass: "HTTPClient:Arch:00016:UNDI:003001"}, "undionly.kpxe"},
		// ...and so is an x86-64 UEFI that reports arch 9.
		{dhcp.Client{MAC: node1, Archs: []dhcp.Arch{9}, VendorClass: "PXEClient:Arch:00009:UNDI:003001"}, "undionly.kpxe"},
		// No option 93 at all: the 00:07 test is false, so BIOS.
		{dhcp.Client{MAC: node1, VendorClass: "PXEClient"}, "undionly.kpxe"},
		{dhcp.Client{MAC: unknown, Archs: []dhcp.Arch{7}, UserClasses: []string{"iPXE"}}, ""},
	} {
		if got := c.Evaluate(tc.cl, netip.Addr{}).Filename; got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.cl, got, tc.want)
		}
	}
}

func TestHarvesterGuideSubnetAndInventory(t *testing.T) {
	c := load(t, "harvester-dhcpd.conf")
	sn, err := c.DHCPSubnet(netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if sn.Prefix.String() != "10.100.0.0/24" || len(sn.Pools) != 1 || sn.Pools[0].Start.String() != "10.100.0.100" ||
		sn.Pools[0].End.String() != "10.100.0.253" || fmt.Sprint(sn.Routers) != "[10.100.0.10]" || fmt.Sprint(sn.DNS) != "[192.168.2.1]" {
		t.Errorf("subnet %+v", sn)
	}
	if len(c.Hosts) != 2 || c.Hosts[0].Name != "node1" || c.Hosts[0].Group != 0 || c.Hosts[1].Group != 1 {
		t.Fatalf("hosts %+v", c.Hosts)
	}
	profiles := map[string]pxe.Profile{"ipxe-create": {Kernel: "k"}, "ipxe-join": {Kernel: "k"}}
	inv, err := c.Inventory(profiles)
	if err != nil {
		t.Fatal(err)
	}
	m, _, _ := inv.Lookup(node2)
	if m.Profile != "ipxe-join" || m.Hostname != "node2" {
		t.Errorf("node2 → %+v", m)
	}
	if _, err := c.Inventory(map[string]pxe.Profile{"ipxe-create": {Kernel: "k"}}); err == nil || !strings.Contains(err.Error(), "ipxe-join") {
		t.Errorf("missing profile: %v", err)
	}
	// The guide gives TFTP file names with no next-server: reported.
	if len(c.Warnings) == 0 || !strings.Contains(c.Warnings[0].String(), "next-server") {
		t.Errorf("warnings %v", c.Warnings)
	}
}

// Unsupported or broken input is reported with its line, every problem at
// once, and nothing is returned.
func TestUnsupportedReportedWithLine(t *testing.T) {
	src := `option architecture-type code 93 = unsigned integer 16;
ddns-update-style none;
subnet 10.0.0.0 netmask 255.255.255.0 {
  range 10.0.1.1 10.0.1.9;
  option routers gateway.example;
}
class "pxe" { match if substring(option vendor-class-identifier, 0, 9) = "PXEClient"; }
group {
  if option architecture-type = 7 { filename "x"; }
  if binary-to-ascii(16, 8, ":", hardware) = "1:2" { filename "y"; }
  host a { hardware token-ring 01:02:03:04:05:06; }
  host b { hardware ethernet 52:54:00:00:00:01; fixed-address 10.0.0.5; }
  host c { hardware ethernet 52:54:00:00:00:01; }
  option pxe-foo 1;
}
`
	_, err := Parse([]byte(src))
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("err %v", err)
	}
	want := map[int]string{
		2:  `"ddns-update-style"`,
		4:  "not inside subnet",
		5:  "routers",
		7:  `"class"`,
		9:  "data expression",
		10: "binary-to-ascii",
		11: "hardware",
		13: "also host b",
		14: "pxe-foo",
	}
	got := map[int]string{}
	for _, p := range perr.Problems {
		got[p.Line] += p.Msg + " | "
	}
	for line, frag := range want {
		if !strings.Contains(got[line], frag) {
			t.Errorf("line %d: want a problem mentioning %s; got %q", line, frag, got[line])
		}
	}
	for line := range got {
		if _, ok := want[line]; !ok {
			t.Errorf("unexpected problem at line %d: %s", line, got[line])
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		src  string
		line int
	}{
		{"group {\n  filename \"a\";\n", 3},
		{"filename \"unterminated;\n", 1},
		{"subnet 10.0.0.1 netmask 255.255.255.0 { }\n", 1},
		{"subnet 10.0.0.0 netmask 255.0.255.0 { }\n", 1},
		{"}\n", 1},
		{"if exists user-class {\n filename \"x\"\n}\n", 3},
	} {
		_, err := Parse([]byte(tc.src))
		var perr *Error
		if !errors.As(err, &perr) || perr.Problems[0].Line != tc.line {
			t.Errorf("%q: %v, want a problem at line %d", tc.src, err, tc.line)
		}
	}
}

// Semantics beyond the guide's files: ISC's != with a missing option, or/not,
// substring past the end, next-server, lease time, fixed-address, and a
// host's own filename overriding its group's.
func TestSemantics(t *testing.T) {
	src := `default-lease-time 600;
option client-arch code 93 = unsigned integer 16;
subnet 192.0.2.0 netmask 255.255.255.0 {
  range 192.0.2.100 192.0.2.200;
  next-server 192.0.2.1;
  option domain-name "lab.example";
}
group {
  if option vendor-class-identifier != "x" and not exists user-class { filename "a"; }
  elsif substring(option vendor-class-identifier, 20, 5) = "" or option client-arch = 00:0b { filename "b"; }
  else if exists host-name { filename "c"; } else { filename "d"; }
  host h1 { hardware ethernet 52:54:00:00:00:01; }
  host h2 { hardware ethernet 52:54:00:00:00:02; fixed-address 192.0.2.7; filename "own"; }
}
`
	c, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	h1 := net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1}
	h2 := net.HardwareAddr{0x52, 0x54, 0, 0, 0, 2}
	for _, tc := range []struct {
		cl   dhcp.Client
		want string
	}{
		{dhcp.Client{MAC: h1}, "a"}, // missing option != "x" is true in ISC
		{dhcp.Client{MAC: h1, UserClasses: []string{"iPXE"}, VendorClass: "short"}, "b"},
		{dhcp.Client{MAC: h1, UserClasses: []string{"iPXE"}, Archs: []dhcp.Arch{11}}, "b"},
		{dhcp.Client{MAC: h1, UserClasses: []string{"iPXE"}, Hostname: "n"}, "c"},
		{dhcp.Client{MAC: h1, UserClasses: []string{"iPXE"}}, "d"},
		{dhcp.Client{MAC: h2}, "own"},
	} {
		r := c.Evaluate(tc.cl, netip.Addr{})
		if r.Filename != tc.want || r.NextServer.String() != "192.0.2.1" {
			t.Errorf("%+v: %q next-server %s, want %q", tc.cl, r.Filename, r.NextServer, tc.want)
		}
	}
	sn, err := c.DHCPSubnet(netip.MustParseAddr("192.0.2.50"))
	if err != nil || sn.LeaseTime != 600*time.Second || sn.DomainName != "lab.example" {
		t.Errorf("subnet %+v %v", sn, err)
	}
	if r := c.Reservations(); len(r) != 1 || r[0].IP.String() != "192.0.2.7" || r[0].Hostname != "h2" {
		t.Errorf("reservations %+v", r)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings with a next-server: %v", c.Warnings)
	}
}
