package dhcp

import (
	"net"
	"net/netip"
	"testing"
)

func TestSecureBootPolicy(t *testing.T) {
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	srv := netip.MustParseAddr("192.0.2.1")
	p := SecureBootPolicy{TFTPServer: srv, HTTPBootURL: "https://192.0.2.1:8443/secureboot/{mac}.img"}
	for _, tt := range []struct {
		name   string
		client Client
		ok     bool
		want   BootDecision
	}{
		{"OVMF PXE", Client{MAC: mac, Archs: []Arch{ArchEFIx64}, VendorClass: "PXEClient:Arch:00007:UNDI:003000"}, true,
			BootDecision{Filename: "shimx64.efi", NextServer: srv}},
		{"EFI BC", Client{MAC: mac, VendorClass: "PXEClient:Arch:00009:UNDI:003000"}, true,
			BootDecision{Filename: "shimx64.efi", NextServer: srv}},
		{"OVMF HTTP", Client{MAC: mac, Archs: []Arch{ArchEFIx64HTTP}, VendorClass: "HTTPClient:Arch:00016:UNDI:003000"}, true,
			BootDecision{Filename: "https://192.0.2.1:8443/secureboot/52:54:00:12:34:56.img", VendorClass: "HTTPClient"}},
		{"BIOS keeps iPXE", Client{MAC: mac, Archs: []Arch{ArchBIOS}, VendorClass: "PXEClient:Arch:00000:UNDI:002001"}, false, BootDecision{}},
		{"iPXE", Client{MAC: mac, Archs: []Arch{ArchEFIx64}, UserClasses: []string{"iPXE"}}, false, BootDecision{}},
		{"ARM64", Client{MAC: mac, Archs: []Arch{ArchEFIARM64}, VendorClass: "PXEClient:Arch:00011:UNDI:003000"}, false, BootDecision{}},
		{"not PXE", Client{MAC: mac}, false, BootDecision{}},
	} {
		got, ok := p.Decide(tt.client)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: Decide = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := (SecureBootPolicy{}).Decide(Client{MAC: mac, Archs: []Arch{ArchEFIx64HTTP}, VendorClass: "HTTPClient"}); ok {
		t.Error("HTTP boot answered without HTTPBootURL")
	}
}
