package labca_test

import (
	"fmt"
	"net/netip"

	"github.com/pxekit/pxekit/pxe/labca"
)

// A lab CA, the boot server's certificate for its address, and the CA as
// OVMF takes it (qemu -fw_cfg name=etc/edk2/https/cacerts,file=...).
func ExampleCA_Issue() {
	ca, err := labca.New("example lab CA")
	if err != nil {
		fmt.Println(err)
		return
	}
	crt, err := ca.Issue(netip.MustParseAddr("192.0.2.1"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("server:", crt.Leaf.IPAddresses, "issued by", crt.Leaf.Issuer.CommonName)
	certs, err := labca.Certificates(ca.SignatureList())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("cacerts:", len(certs), "X.509 certificate,", certs[0].Subject.CommonName)
	// Output:
	// server: [192.0.2.1] issued by example lab CA
	// cacerts: 1 X.509 certificate, example lab CA
}
