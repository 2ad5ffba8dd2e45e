// Command pxelab is a lab boot server and a one-command network-boot demo.
//
//	pxelab serve --interface IF --pool START-END [--kernel K --initrd I --cmdline C]
//	             [--ipxe-dir D] [--state DIR] [--http-port N] [--machine MAC=PROFILE]...
//	             [--profile NAME=CMDLINE]... [--deny-unknown] [--netns NAME]
//	             [--kubeconfig PATH [--namespace NS | --all-namespaces] [--profiles-configmap NAME]]
//	             [--etcd URLS [--etcd-prefix P] [--etcd-ca F --etcd-cert F --etcd-key F]
//	              [--etcd-user U --etcd-password-file F] [--etcd-member ID]] [--lease-time D]
//	             [--secure-boot [--secure-boot-dir D]] [--tls-cert F --tls-key F | --tls-lab-ca DIR]
//	             [--https-port N] [--https-boot] [--files-https-only]
//	pxelab serve -c FILE [flags that override it]
//	pxelab demo  [--firmware bios|uefi|uefi-http|uefi-secureboot|uefi-secureboot-http] [--mac M] [--kernel-dir D]
//	pxelab inventory get|apply [-f FILE] --etcd URLS [--etcd-... as serve]
//
// serve -c runs the boot server from a config file (pxe.ConfigFile; examples
// in config/) as a service: SIGHUP or a change of the file reloads it (a file
// with errors is refused and the old config keeps serving), SIGTERM stops it
// gracefully, systemd hears READY=1/RELOADING=1/STOPPING=1 (sd_notify) and may
// pass its sockets (socket activation; units in systemd/). It serves
// /metrics, /healthz, /readyz and a live dashboard at /.
//
// serve answers real clients on IF (the server address is IF's); demo makes a
// network namespace with a bridge and a tap, builds a busybox initramfs,
// serves it with Debian's cloud kernel and boots QEMU with real firmware,
// printing the boot events and the guest's console until the guest phones
// home. Both print one boot event per line on stdout as JSON. With --etcd,
// serve shares its leases and inventory with the other servers on the same
// etcd prefix; inventory reads and writes that inventory. With
// --kubeconfig, serve takes its machines from KubeVirt (package
// pxe/kubevirt): the VMs and VMIs whose PXE NIC has a MAC and a bootOrder
// and whose pxekit.io/profile annotation names one of its profiles;
// once a machine's install phones home it boots its disk.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  pxelab serve --interface IF --pool START-END [flags]   serve real clients on IF
  pxelab serve -c FILE [flags]                          serve from a config file, as a service
  pxelab demo [--firmware bios|uefi|uefi-http|uefi-secureboot|uefi-secureboot-http] [--mac M]
                                                          boot a QEMU VM in a lab netns
  pxelab inventory get|apply [-f FILE] --etcd URLS         the inventory in etcd, as YAML
run "pxelab serve -h" or "pxelab demo -h" for flags`

// run is main without the process: tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "demo":
		return demo(ctx, args[1:], stdout, stderr)
	case "inventory":
		return inventory(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "pxelab: unknown command %q\n%s\n", args[0], usage)
	return 2
}
