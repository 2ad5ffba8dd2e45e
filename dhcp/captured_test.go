package dhcp

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// readCorpus reads the packet of a go-fuzz corpus file written by the
// firmware tests' capture (PXEKIT_DHCP_CAPTURE).
func readCorpus(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s: not a corpus file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// Requests captured from real firmware in QEMU (SeaBIOS + iPXE ROM, OVMF
// PXE, OVMF HTTP boot)
// classify and get the boot file of the design's table.
func TestCapturedFirmwareRequests(t *testing.T) {
	files, _ := filepath.Glob("testdata/fuzz/FuzzHandle/*")
	if len(files) == 0 {
		t.Fatal("no captured requests in testdata/fuzz/FuzzHandle")
	}
	s := newTestServer(t, nil)
	for _, f := range files {
		p, err := dhcpv4.FromBytes(readCorpus(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		c := ClientFromPacket(p)
		b := s.cfg.Boot(c)
		name := filepath.Base(f)
		switch {
		case strings.HasPrefix(name, "seabios-ipxe"):
			if !c.IsIPXE() || c.Arch() != ArchBIOS || c.IsUEFI() || b.Filename != "http://192.0.2.1/boot.ipxe?mac="+c.MAC.String() {
				t.Errorf("%s: %+v → %q", name, c, b.Filename)
			}
		case strings.HasPrefix(name, "ovmf-httpboot"):
			if !c.IsHTTPClient() || c.Arch() != ArchEFIx64HTTP || !c.IsUEFI() || b.Filename != "http://192.0.2.1/ipxe.efi" || b.VendorClass != "HTTPClient" {
				t.Errorf("%s: %+v → %+v", name, c, b)
			}
		case strings.HasPrefix(name, "ovmf-pxe"):
			if c.IsIPXE() || c.Arch() != ArchEFIx64 || !c.IsUEFI() || !strings.HasPrefix(c.VendorClass, "PXEClient:Arch:00007:UNDI:") ||
				len(c.UUID) != 17 || b.Filename != "ipxe.efi" {
				t.Errorf("%s: %+v → %q", name, c, b.Filename)
			}
		}
		if p.MessageType() == dhcpv4.MessageTypeDiscover {
			o, why := s.handle(inbound{data: readCorpus(t, f)}, t0)
			if why != "" || o.reply.BootFileName != b.Filename {
				t.Errorf("%s: %q %v", name, why, o.reply)
			}
			if got := o.reply.GetOneOption(dhcpv4.OptionClientMachineIdentifier); string(got) != string(c.UUID) {
				t.Errorf("%s: option 97 not copied back", name)
			}
		}
	}
}
