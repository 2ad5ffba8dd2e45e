package iscdhcp

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/pxekit/pxekit/dhcp"
)

// FuzzParse: any text is imported or refused with line-numbered problems,
// never a panic; an imported config evaluates for any client.
func FuzzParse(f *testing.F) {
	for _, n := range []string{"harvester-dhcpd.conf", "harvester-dhcpd-httpboot.conf"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("if not (exists user-class or option user-class != 1:2:3) { filename \"x\"; } else if substring(option host-name, 70000, 1) = \"\" { }"))
	f.Add([]byte("subnet 10.0.0.0 netmask 255.255.255.0 { range 10.0.0.9 10.0.0.1; next-server 10.0.0.1; host h { hardware ethernet 1:2:3:4:5:6; fixed-address 10.0.0.3; } }"))
	f.Add([]byte("\"\\"))
	clients := []dhcp.Client{
		{},
		{MAC: []byte{1, 2, 3, 4, 5, 6}, Archs: []dhcp.Arch{7, 0}, UserClasses: []string{"iPXE", "x"}, VendorClass: "HTTPClient:Arch:00016", Hostname: "h"},
		{MAC: []byte{0x52, 0x54, 0, 0x6b, 0x13, 0xe2}, Archs: []dhcp.Arch{16}, VendorClass: "HTTPClient"},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if e, ok := err.(*Error); !ok || len(e.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			for _, p := range err.(*Error).Problems {
				if p.Line < 1 {
					t.Fatalf("problem without a line: %v", p)
				}
			}
			return
		}
		pol := c.Policy(nil)
		for _, cl := range clients {
			_ = pol(cl)
			_ = c.Evaluate(cl, netip.MustParseAddr("10.0.0.5"))
		}
		for _, h := range c.Hosts {
			_ = c.ScriptName(h)
		}
		_, _ = c.DHCPSubnet(netip.Addr{})
	})
}
