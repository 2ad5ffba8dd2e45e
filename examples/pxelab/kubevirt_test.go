package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/internal/kubetest"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/netattach"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxe/kubevirt"
	"github.com/pxekit/pxekit/pxe/kubevirt/rbac"
	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/vmspec"
)

var vmGVR = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}

// diskMarker is what the boot sector of the test's "installed disk"
// prints on the serial console.
const diskMarker = "PXEKIT-DISK-BOOTED"

// bootDisk is a raw disk image whose boot sector writes diskMarker to the
// first serial port (COM1, I/O port 0x3f8) and halts: a machine that boots
// it has booted from its disk. Hand-assembled real-mode code, loaded by
// the BIOS at 0000:7c00:
//
//	cld; xor ax,ax; mov ds,ax; mov si,msg; mov dx,0x3f8
//	next: lodsb; test al,al; jz done; out dx,al; jmp next
//	done: cli; hlt; jmp done
//	msg: db "PXEKIT-DISK-BOOTED", 13, 10, 0
func bootDisk(t *testing.T) string {
	t.Helper()
	code := []byte{0xfc, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x17, 0x7c, 0xba, 0xf8, 0x03,
		0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xfa, 0xf4, 0xeb, 0xfc}
	img := make([]byte, 1<<20)
	copy(img, code)
	copy(img[len(code):], diskMarker+"\r\n\x00")
	img[510], img[511] = 0x55, 0xaa
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The loop closed against a real API server: a VM built with vmspec
// (PXE NIC bootOrder 1, disk bootOrder 2, pxekit.io/profile: install) is
// served by `pxelab serve --kubeconfig` running in the lab namespace as
// the service account of the printed Role and RoleBinding; a QEMU VM with
// its MAC, standing in for the VMI's launcher, installs and phones home;
// the VM gets the installed annotation and Events; rebooted, it gets the
// local-boot script and boots its disk; after an API server restart the
// annotation is deleted and it installs again. A MAC no VM names, and a
// VM without the annotation, get nothing to boot and a denied event.
func TestKubeVirtInstallThenDisk(t *testing.T) {
	pxetest.RequireFirmware(t, pxetest.BIOS)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	lab := pxetest.NewBootLab(t, pxetest.Initramfs{})
	c := kubetest.Start(t, kubetest.Config{NS: lab.NS, CRDs: []string{
		"kubevirt.io_virtualmachines.yaml", "kubevirt.io_virtualmachineinstances.yaml", "k8s.cni.cncf.io_network-attachment-definitions.yaml"}})
	t.Logf("API server up in the lab namespace after %v", time.Since(start).Round(time.Millisecond))
	const ns = "lab"
	c.CreateNamespace(ctx, ns)

	// What the administrator applies: kubevirt-pxe --rbac's objects.
	opts := rbac.Options{Namespace: ns, ProfilesConfigMap: "pxe-profiles"}
	objs, err := rbac.Objects(opts)
	if err != nil {
		t.Fatal(err)
	}
	var stream []byte
	for _, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(append(stream, "---\n"...), y...)
	}
	// The profiles, in the ConfigMap the server watches: the install
	// boots the lab's kernel and busybox initramfs, which phones home.
	stream = append(stream, `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: pxe-profiles
  namespace: lab
data:
  install: |
    kernel: vmlinuz
    initrd: initrd.gz
    args: [console=ttyS0, panic=-1, "`+pxetest.DefaultPhoneHomeArg+`={{.BaseURL}}/phonehome"]
`...)
	// The NAD and the VMs, built with the declare half.
	nad, err := netattach.NewBridgeNAD("pxe-net", "br1").WithNamespace(ns).Build()
	if err != nil {
		t.Fatal(err)
	}
	const macInstall, macNoProfile, macUnknown = "52:54:00:5e:00:01", "52:54:00:5e:00:02", "52:54:00:5e:00:99"
	vm := func(name, mac, profile string) any {
		b := vmspec.NewVM(name).WithNamespace(ns).WithPXENIC("pxe", "pxe-net", mac).
			WithPVC("rootdisk", name+"-root", vmspec.Bootable()).WithMemory("1Gi").WithRunStrategy(kubevirtv1.RunStrategyAlways)
		if profile != "" {
			b.WithPXEProfile(profile)
		}
		v, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		if nic := v.Spec.Template.Spec.Domain.Devices.Interfaces[0]; *nic.BootOrder != 1 || *v.Spec.Template.Spec.Domain.Devices.Disks[0].BootOrder != 2 {
			t.Fatalf("boot order: NIC %d, disk %d, want 1 and 2", *nic.BootOrder, *v.Spec.Template.Spec.Domain.Devices.Disks[0].BootOrder)
		}
		return v
	}
	for _, o := range []any{nad, vm("vm-install", macInstall, "install"), vm("vm-noprofile", macNoProfile, "")} {
		y, err := vmspec.ToYAML(o)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(append(stream, "---\n"...), y...)
	}
	if _, err := c.Create(ctx, stream); err != nil {
		t.Fatal(err)
	}
	kubeconfig := c.Kubeconfig(c.ServiceAccountToken(ctx, ns, rbac.DefaultName), ns)

	// pxelab serve, a process in the lab namespace, as that account.
	dir := t.TempDir()
	for name, data := range map[string][]byte{"vmlinuz": lab.Vmlinuz, "initrd.gz": lab.Initrd} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, logs pxetest.Buffer
	bin, err := pxelabBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--interface", lab.Bridge, "--pool", "192.0.2.100-192.0.2.150",
		"--kernel", filepath.Join(dir, "vmlinuz"), "--initrd", filepath.Join(dir, "initrd.gz"), "--ipv6-ra",
		"--kubeconfig", kubeconfig, "--profiles-configmap", "pxe-profiles")
	cmd.Stdout, cmd.Stderr = &out, &logs
	serve := pxetest.Start(t, lab.NS, cmd)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pxelab serve's log:\n%s", logs.String())
		}
	})
	waitScript(t, ctx, lab, serve, &logs, macInstall, "kernel http://192.0.2.1/assets/vmlinuz")

	disk := bootDisk(t)
	boot := func(what, mac string, withDisk bool) *pxetest.VM {
		t.Helper()
		cfg := pxetest.VMConfig{Firmware: pxetest.BIOS, MAC: mustMAC(t, mac), NICBootIndex: 1}
		if withDisk {
			cfg.ExtraArgs = []string{"-drive", "file=" + disk + ",format=raw,if=none,id=d0,snapshot=on", "-device", "virtio-blk-pci,drive=d0,bootindex=2"}
		}
		t.Logf("%s: powering on %s", what, mac)
		return lab.StartVM(t, ctx, cfg)
	}
	wait := func(what string, vm *pxetest.VM, re *regexp.Regexp) []string {
		t.Helper()
		m, err := vm.WaitFor(ctx, re)
		if err != nil {
			t.Fatalf("%s: %v\nconsole:\n%s", what, err, vm.Console())
		}
		return m
	}

	// The first boot installs, while the two machines that must get
	// nothing try too.
	bootStart := time.Now()
	first := boot("install", macInstall, true)
	unknown := boot("a MAC no VM names", macUnknown, false)
	noProfile := boot("a VM without the annotation", macNoProfile, false)
	if m := wait("install", first, pxetest.PhoneHomeRE); m[1] != "ok" {
		t.Fatalf("install phone-home %s (%s)\nconsole:\n%s", m[1], m[2], first.Console())
	}
	if err := first.Wait(ctx); err != nil {
		t.Fatalf("install: the guest did not power off: %v", err)
	}
	t.Logf("install: power-on to phone-home and power-off in %v", time.Since(bootStart).Round(time.Millisecond))
	installedAt := annotation(t, ctx, c, ns, "vm-install")
	if _, err := time.Parse(time.RFC3339, installedAt); err != nil {
		t.Fatalf("installed annotation %q: %v", installedAt, err)
	}
	for _, mac := range []string{macUnknown, macNoProfile} {
		waitEvent(t, ctx, &out, func(e pxe.Event) bool {
			return e.Kind == pxe.EventDenied && e.MAC.String() == mac && strings.HasPrefix(e.Detail, "dhcp: nothing to boot")
		}, "denied for "+mac)
	}
	for _, e := range events(t, out.String()) {
		if mac := e.MAC.String(); (mac == macUnknown || mac == macNoProfile) && (e.Kind == pxe.EventScriptServed || e.Kind == pxe.EventAssetSent) {
			t.Errorf("%s got something to boot: %+v", mac, e)
		}
	}
	unknown.Stop()
	noProfile.Stop()
	waitK8sEvents(t, ctx, c, ns, "vm-noprofile", kubevirt.ReasonBootDenied)
	lines := waitK8sEvents(t, ctx, c, ns, "vm-install", kubevirt.ReasonDiscovered, kubevirt.ReasonScriptServed, kubevirt.ReasonKernelSent, kubevirt.ReasonInstalled)
	t.Logf("kubectl describe vm vm-install, after the install:\n%s", strings.Join(lines, "\n"))

	// The reboot: the local-boot script, then the installed disk.
	bootStart = time.Now()
	second := boot("reboot", macInstall, true)
	wait("reboot", second, regexp.MustCompile(diskMarker))
	t.Logf("reboot: power-on to the disk's boot sector in %v", time.Since(bootStart).Round(time.Millisecond))
	second.Stop()
	if strings.Contains(second.Console(), pxetest.MarkerStart) {
		t.Errorf("the reboot ran the installer again:\n%s", second.Console())
	}
	waitEvent(t, ctx, &out, func(e pxe.Event) bool {
		return e.Kind == pxe.EventScriptServed && e.MAC.String() == macInstall && strings.Contains(e.Detail, "profile="+pxe.LocalBootProfile)
	}, "the local-boot script served")
	waitK8sEvents(t, ctx, c, ns, "vm-install", kubevirt.ReasonLocalBoot)

	// The watch breaks and resumes by itself; then deleting the
	// annotation installs again.
	c.Restart()
	if _, err := c.Dynamic().Resource(vmGVR).Namespace(ns).Patch(ctx, "vm-install", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"`+vmspec.AnnotationPXEInstalled+`":null}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitScript(t, ctx, lab, serve, &logs, macInstall, "kernel http://192.0.2.1/assets/vmlinuz")
	third := boot("reinstall", macInstall, true)
	if m := wait("reinstall", third, pxetest.PhoneHomeRE); m[1] != "ok" {
		t.Fatalf("reinstall phone-home %s (%s)", m[1], m[2])
	}
	if got := annotation(t, ctx, c, ns, "vm-install"); got == "" {
		t.Error("the reinstall was not recorded")
	}
	t.Logf("end to end in %v", time.Since(start).Round(time.Millisecond))
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := macaddr.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitScript waits until the server, as a client in the lab would ask,
// answers mac's script with a line containing want: it is up and has seen
// the cluster's latest.
func waitScript(t *testing.T, ctx context.Context, lab *pxetest.BootLab, serve *pxetest.Process, logs *pxetest.Buffer, mac, want string) {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := lab.NS.Do(func() error {
			var err error
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}}}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Minute) // a bound for a hung server
	var last string
	for {
		if serve.Exited() {
			t.Fatalf("pxelab serve exited:\n%s", logs.String())
		}
		resp, err := hc.Get("http://192.0.2.1/boot.ipxe?mac=" + mac)
		if err == nil {
			b := make([]byte, 4096)
			n, _ := resp.Body.Read(b)
			resp.Body.Close()
			last = fmt.Sprintf("%s: %s", resp.Status, b[:n])
			if resp.StatusCode == 200 && strings.Contains(string(b[:n]), want) {
				return
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("script of %s: %s, want %q\nlog:\n%s", mac, last, want, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitEvent waits for a boot event on pxelab's stdout.
func waitEvent(t *testing.T, ctx context.Context, out *pxetest.Buffer, match func(pxe.Event) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if slices.ContainsFunc(events(t, out.String()), match) {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("no event: %s; events:\n%s", what, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// annotation waits for the VM's installed annotation and returns it.
func annotation(t *testing.T, ctx context.Context, c *kubetest.Cluster, ns, name string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		vm, err := c.Dynamic().Resource(vmGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			if v := vm.GetAnnotations()[vmspec.AnnotationPXEInstalled]; v != "" {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("VM %s/%s has no %s annotation (%v)", ns, name, vmspec.AnnotationPXEInstalled, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitK8sEvents waits until the VM's Events include every reason of want,
// and returns them as kubectl describe lists them.
func waitK8sEvents(t *testing.T, ctx context.Context, c *kubetest.Cluster, ns, name string, want ...string) []string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		list, err := c.Clientset().CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=VirtualMachine,involvedObject.name=" + name})
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		have := map[string]bool{}
		for _, e := range list.Items {
			lines = append(lines, fmt.Sprintf("  %-7s %-13s %s (x%d)  %s", e.Type, e.Reason, e.Source.Component, e.Count, e.Message))
			have[e.Reason] = true
		}
		missing := slices.DeleteFunc(slices.Clone(want), func(r string) bool { return have[r] })
		if len(missing) == 0 {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("events of VM %s lack %v:\n%s", name, missing, strings.Join(lines, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The cluster flags refuse what contradicts them, and a kubeconfig that
// cannot be read is an error naming the flag.
func TestKubeFlags(t *testing.T) {
	base := []string{"serve", "--interface", "lo", "--pool", "192.0.2.1-192.0.2.9", "--kernel", "/etc/hostname"}
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--namespace", "lab"}, 2, "need --kubeconfig"},
		{[]string{"--profiles-configmap", "p"}, 2, "need --kubeconfig"},
		{[]string{"-A"}, 2, "need --kubeconfig"},
		{[]string{"--kubeconfig", "/nonexistent", "--machine", "52:54:00:00:00:01=default"}, 2, "the machines come from the cluster"},
		{[]string{"--kubeconfig", "/nonexistent"}, 1, "--kubeconfig: "},
		{[]string{"--kubeconfig", "/nonexistent", "-c", "/nonexistent.yaml"}, 2, "do not mix"},
		{[]string{"--kubeconfig", "/nonexistent", "--etcd", "http://127.0.0.1:2379"}, 2, "do not mix"},
	} {
		var out, errb strings.Builder
		code := run(context.Background(), append(slices.Clone(base), tt.args...), &out, &errb)
		if code != tt.code || !strings.Contains(errb.String(), tt.msg) {
			t.Errorf("pxelab serve %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, errb.String(), tt.code, tt.msg)
		}
	}
}
