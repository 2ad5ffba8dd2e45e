package peers_test

import (
	"fmt"
	"strings"

	"github.com/pxekit/pxekit/bench/internal/peers"
)

// The storm's dnsmasq: firmware gets ipxe.efi from the TFTP server
// beside it, iPXE gets the script's URL.
func ExampleDnsmasq_Args() {
	d := peers.Dnsmasq{Interface: "eth0", Dir: "/run/peer", PoolStart: "192.0.2.10", PoolEnd: "192.0.2.250",
		Boot: &peers.DnsmasqBoot{EFI: "ipxe.efi", NextServer: "192.0.2.1", Script: "http://192.0.2.1/boot.ipxe"}}
	for _, a := range d.Args() {
		if strings.HasPrefix(a, "--dhcp-") || a == "--no-ping" {
			fmt.Println(a)
		}
	}
	// Output:
	// --dhcp-range=192.0.2.10,192.0.2.250,1h
	// --dhcp-leasefile=/run/peer/dnsmasq.leases
	// --dhcp-lease-max=1000
	// --no-ping
	// --dhcp-userclass=set:ipxe,iPXE
	// --dhcp-match=set:efi64,option:client-arch,7
	// --dhcp-boot=tag:ipxe,http://192.0.2.1/boot.ipxe
	// --dhcp-boot=tag:!ipxe,tag:efi64,ipxe.efi,,192.0.2.1
}
