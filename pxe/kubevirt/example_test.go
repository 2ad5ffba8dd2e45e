package kubevirt_test

import (
	"context"
	"log"
	"net/netip"
	"os"
	"os/signal"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxe/kubevirt"
)

// A boot server whose machines are the KubeVirt VMs of namespace lab, as
// pxelab serve --kubeconfig runs it: the source first (Serve, then Ready),
// then the boot server with the source as its inventory, and the boot
// events recorded on the VMs. It needs a cluster, so it is compiled, not
// run.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rest, err := clientcmd.BuildConfigFromFlags("", os.Getenv("HOME")+"/.kube/config")
	if err != nil {
		log.Fatal(err)
	}
	src, err := kubevirt.New(kubevirt.Config{REST: rest, Namespace: "lab", Profiles: map[string]pxe.Profile{
		"install": {Kernel: "vmlinuz", Initrd: "initrd.gz", Args: []string{"console=ttyS0", "pxekit.phonehome={{.BaseURL}}/phonehome"}},
	}})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = src.Serve(ctx) }()
	select {
	case <-src.Ready():
	case <-ctx.Done():
		return
	}
	srv, err := pxe.New(pxe.Config{
		Interface: "br1",
		Subnets:   []dhcp.Subnet{{Pools: []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.150")}}}},
		Assets:    os.DirFS("/srv/pxe"),
		Inventory: src, // and the phone-home handler
	})
	if err != nil {
		log.Fatal(err)
	}
	go src.RecordEvents(srv.Subscribe(ctx))
	if err := srv.Serve(ctx); err != nil {
		log.Fatal(err)
	}
}
