package kubevirt_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/internal/kubetest"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxe/kubevirt"
	"github.com/pxekit/pxekit/pxe/kubevirt/rbac"
	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/vmspec"
)

const ns = "lab"

var (
	vmGVR  = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}
	vmiGVR = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachineinstances"}
)

// lab is a cluster with the boot server's service account set up from
// rbac.Objects, and a source running as that account.
type lab struct {
	t   testing.TB
	c   *kubetest.Cluster
	src *kubevirt.Source
	ctx context.Context
}

func newLab(t testing.TB, ctx context.Context, opts rbac.Options, profiles map[string]pxe.Profile) *lab {
	c := kubetest.Start(t, kubetest.Config{Audit: true, CRDs: []string{"kubevirt.io_virtualmachines.yaml", "kubevirt.io_virtualmachineinstances.yaml"}})
	c.CreateNamespace(ctx, ns)
	applyRBAC(t, ctx, c.Clientset(), opts)
	cfg := c.REST(c.ServiceAccountToken(ctx, ns, rbac.DefaultName))
	src, err := kubevirt.New(kubevirt.Config{REST: cfg, Namespace: ns, AllNamespaces: opts.AllNamespaces, Profiles: profiles,
		ProfilesConfigMap: opts.ProfilesConfigMap, Logger: pxetest.Logger(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	pxetest.Serve(t, src)
	return &lab{t: t, c: c, src: src, ctx: ctx}
}

// applyRBAC creates what rbac.Objects returns, as an administrator would
// apply kubevirt-pxe --rbac's output.
func applyRBAC(t testing.TB, ctx context.Context, cs kubernetes.Interface, opts rbac.Options) {
	t.Helper()
	objs, err := rbac.Objects(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.ServiceAccount:
			_, err = cs.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			_, err = cs.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = cs.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRole:
			_, err = cs.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
		default:
			err = fmt.Errorf("unexpected %T", o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// create creates objects built with vmspec, as an administrator with
// kubectl would.
func (l *lab) create(objs ...any) {
	l.t.Helper()
	var stream []byte
	for _, o := range objs {
		y, err := vmspec.ToYAML(o)
		if err != nil {
			l.t.Fatal(err)
		}
		stream = append(append(stream, "---\n"...), y...)
	}
	if _, err := l.c.Create(l.ctx, stream); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) vm(name, mac string, profile string) *kubevirtv1.VirtualMachine {
	l.t.Helper()
	b := vmspec.NewVM(name).WithNamespace(ns).WithPodNetwork().WithPXENIC("pxe", "pxe-net", mac).
		WithContainerDisk("disk", "quay.io/containerdisks/fedora:41", vmspec.Bootable()).WithMemory("1Gi").WithRunStrategy(kubevirtv1.RunStrategyHalted)
	if profile != "" {
		b.WithPXEProfile(profile)
	}
	vm, err := b.Build()
	if err != nil {
		l.t.Fatal(err)
	}
	return vm
}

// patch merge-patches an object as an administrator.
func (l *lab) patch(gvr schema.GroupVersionResource, name, patch string) {
	l.t.Helper()
	if _, err := l.c.Dynamic().Resource(gvr).Namespace(ns).Patch(l.ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) delete(gvr schema.GroupVersionResource, name string) {
	l.t.Helper()
	if err := l.c.Dynamic().Resource(gvr).Namespace(ns).Delete(l.ctx, name, metav1.DeleteOptions{}); err != nil {
		l.t.Fatal(err)
	}
}

// until waits for what the source answers for mac to satisfy cond and
// returns how long that took.
func (l *lab) until(what, mac string, cond func(pxe.Machine, pxe.Profile, error) bool) time.Duration {
	l.t.Helper()
	hw := mustMAC(mac)
	start := time.Now()
	deadline := start.Add(time.Minute) // a bound for a lost watch, not a timing check
	for {
		m, p, err := l.src.Lookup(hw)
		if cond(m, p, err) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%s: Lookup(%s) = %+v, %+v, %v", what, mac, m, p, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func profileIs(name string) func(pxe.Machine, pxe.Profile, error) bool {
	return func(m pxe.Machine, _ pxe.Profile, err error) bool { return err == nil && m.Profile == name }
}

func deniedWith(substr string) func(pxe.Machine, pxe.Profile, error) bool {
	return func(_ pxe.Machine, _ pxe.Profile, err error) bool {
		return err != nil && strings.Contains(err.Error(), substr)
	}
}

// events waits until the object's Events include every reason of want and
// returns their "Type Reason: message" lines.
func (l *lab) events(kind, name string, want ...string) []string {
	l.t.Helper()
	cs := l.c.Clientset()
	deadline := time.Now().Add(time.Minute)
	for {
		list, err := cs.CoreV1().Events(ns).List(l.ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name})
		if err != nil {
			l.t.Fatal(err)
		}
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].FirstTimestamp.Before(&list.Items[j].FirstTimestamp) })
		var lines []string
		reasons := map[string]bool{}
		for _, e := range list.Items {
			lines = append(lines, fmt.Sprintf("%s %s (x%d, source %s): %s", e.Type, e.Reason, e.Count, e.Source.Component, e.Message))
			reasons[e.Reason] = true
		}
		missing := slices.DeleteFunc(slices.Clone(want), func(r string) bool { return reasons[r] })
		if len(missing) == 0 {
			return lines
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("events of %s %s lack %v:\n%s", kind, name, missing, strings.Join(lines, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var installProfile = map[string]pxe.Profile{"install": {Kernel: "vmlinuz", Initrd: "initrd.gz", Args: []string{"console=ttyS0"}}}

// The source against a real API server, as the service account the
// printed Role and RoleBinding make: machines from VMs and bare VMIs,
// their profiles from annotations and a ConfigMap, the refusals, the
// install recorded on the VM and answered with the local boot, Events,
// a watch that outlives an API server restart, and an audit log showing
// that the server used every right the Role grants and asked for no other.
func TestSource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l := newLab(t, ctx, rbac.Options{Namespace: ns, ProfilesConfigMap: "pxe-profiles"}, installProfile)
	cs := l.c.Clientset()

	const mac1, mac2, mac3, mac4 = "52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03", "52:54:00:00:00:04"
	t.Run("VMIsAMachine", func(t *testing.T) {
		l.create(l.vm("vm1", mac1, "install"))
		took := l.until("vm1 created", mac1, profileIs("install"))
		t.Logf("a new VM was seen after %v", took)
		m, p, _ := l.src.Lookup(mustMAC(mac1))
		if m.Hostname != "vm1" || m.Vars["namespace"] != ns || m.Vars["kind"] != "VirtualMachine" || p.Kernel != "vmlinuz" {
			t.Errorf("machine %+v, profile %+v", m, p)
		}
		if got := l.src.Machines(); len(got) != 1 || got[0].Hostname != "vm1" {
			t.Errorf("Machines() = %+v", got)
		}
	})

	t.Run("Refusals", func(t *testing.T) {
		l.create(l.vm("vm2", mac2, ""))
		l.until("VM without the annotation", mac2, deniedWith("has no pxekit.io/profile annotation"))
		l.patch(vmGVR, "vm2", `{"metadata":{"annotations":{"pxekit.io/profile":"nope"}}}`)
		l.until("VM with a profile the server lacks", mac2, deniedWith(`names profile "nope"`))
		if _, _, err := l.src.Lookup(mustMAC("52:54:00:00:00:99")); !errors.Is(err, pxe.ErrUnknownMachine) {
			t.Errorf("unknown MAC: err = %v, want ErrUnknownMachine", err)
		}
		// A second object on vm1's MAC: neither boots until one is gone.
		l.create(l.vm("vm1-copy", mac1, "install"))
		l.until("MAC claimed twice", mac1, deniedWith("VirtualMachine lab/vm1, VirtualMachine lab/vm1-copy"))
		l.delete(vmGVR, "vm1-copy")
		l.until("the copy deleted", mac1, profileIs("install"))
	})

	t.Run("BareVMI", func(t *testing.T) {
		vmi, err := vmspec.NewVMI("vmi3").WithNamespace(ns).WithPXENIC("pxe", "pxe-net", mac3).
			WithContainerDisk("disk", "quay.io/containerdisks/fedora:41", vmspec.Bootable()).WithMemory("1Gi").WithPXEProfile("install").Build()
		if err != nil {
			t.Fatal(err)
		}
		l.create(vmi)
		l.until("bare VMI", mac3, profileIs("install"))
		// A VMI that vm1 controls is vm1's machine, not another claim.
		owned, err := vmspec.NewVMI("vm1").WithNamespace(ns).WithPXENIC("pxe", "pxe-net", mac1).WithMemory("1Gi").Build()
		if err != nil {
			t.Fatal(err)
		}
		vm, err := l.c.Dynamic().Resource(vmGVR).Namespace(ns).Get(ctx, "vm1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm1", UID: vm.GetUID(), Controller: ptr.To(true)}}
		l.create(owned)
		time.Sleep(500 * time.Millisecond) // what would go wrong would show by then
		l.until("the VMI of vm1", mac1, profileIs("install"))
	})

	t.Run("ProfilesConfigMap", func(t *testing.T) {
		l.create(l.vm("vm4", mac4, "rescue"))
		l.until("profile not there yet", mac4, deniedWith(`names profile "rescue"`))
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pxe-profiles", Namespace: ns},
			Data: map[string]string{"rescue": "kernel: rescue-vmlinuz\nargs: [rescue]\n"}}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		l.until("profile from the ConfigMap", mac4, func(m pxe.Machine, p pxe.Profile, err error) bool {
			return err == nil && p.Kernel == "rescue-vmlinuz"
		})
		cm.Data["rescue"] = "kernal: typo\n"
		if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		lines := l.events("ConfigMap", "pxe-profiles", kubevirt.ReasonInvalidProfiles)
		if !strings.Contains(strings.Join(lines, "\n"), `data[rescue].kernal: Forbidden: unknown field "kernal"`) {
			t.Errorf("ConfigMap events:\n%s", strings.Join(lines, "\n"))
		}
		if _, p, err := l.src.Lookup(mustMAC(mac4)); err != nil || p.Kernel != "rescue-vmlinuz" {
			t.Errorf("after a refused change: %+v %v, want the previous profile", p, err)
		}
	})

	t.Run("InstallThenLocalBoot", func(t *testing.T) {
		lease := netip.MustParseAddr("192.0.2.101")
		report := pxe.PhoneHomeReport{Time: time.Now(), MAC: mustMAC(mac1), Addr: lease, LeaseMAC: mustMAC(mac2)}
		if err := l.src.PhoneHome(ctx, report); !errors.Is(err, pxe.ErrPhoneHomeRefused) {
			t.Errorf("phone home from another machine's lease: err = %v, want refused", err)
		}
		report.LeaseMAC = mustMAC(mac1)
		report.Status = "started"
		if err := l.src.PhoneHome(ctx, report); err != nil {
			t.Fatal(err)
		}
		if _, p, _ := l.src.Lookup(mustMAC(mac1)); p.Kernel != "vmlinuz" {
			t.Errorf("a progress report marked the install done: %+v", p)
		}
		report.Status = ""
		if err := l.src.PhoneHome(ctx, report); err != nil {
			t.Fatal(err)
		}
		// At once, before the watch brings the change back.
		if m, p, err := l.src.Lookup(mustMAC(mac1)); err != nil || m.Profile != pxe.LocalBootProfile || p.Script != pxe.LocalBoot().Script {
			t.Errorf("right after the phone-home: %+v %+v %v, want the local boot", m, p, err)
		}
		vm, err := l.c.Dynamic().Resource(vmGVR).Namespace(ns).Get(ctx, "vm1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339, vm.GetAnnotations()[vmspec.AnnotationPXEInstalled])
		if err != nil || at.Sub(report.Time).Abs() > 2*time.Second {
			t.Errorf("installed annotation %q (%v), want the report's time %v", vm.GetAnnotations()[vmspec.AnnotationPXEInstalled], err, report.Time)
		}
		// The bare VMI's install is recorded on the VMI.
		report.MAC, report.LeaseMAC = mustMAC(mac3), mustMAC(mac3)
		if err := l.src.PhoneHome(ctx, report); err != nil {
			t.Fatal(err)
		}
		vmi, err := l.c.Dynamic().Resource(vmiGVR).Namespace(ns).Get(ctx, "vmi3", metav1.GetOptions{})
		if err != nil || vmi.GetAnnotations()[vmspec.AnnotationPXEInstalled] == "" {
			t.Errorf("VMI not annotated: %v %v", vmi.GetAnnotations(), err)
		}
		// Removing the annotation installs again.
		l.patch(vmGVR, "vm1", `{"metadata":{"annotations":{"pxekit.io/installed":null}}}`)
		took := l.until("installed annotation removed", mac1, profileIs("install"))
		t.Logf("the removed annotation was seen after %v", took)
	})

	t.Run("Events", func(t *testing.T) {
		events := make(chan pxe.Event, 16)
		done := make(chan struct{})
		go func() { l.src.RecordEvents(events); close(done) }()
		m1 := mustMAC(mac1)
		for _, e := range []pxe.Event{
			{Kind: pxe.EventDiscovered, MAC: m1, Detail: "iPXE arch=0"},
			{Kind: pxe.EventDiscovered, MAC: m1, Detail: "iPXE arch=0"}, // the same again: a count, patched
			{Kind: pxe.EventScriptServed, MAC: m1, Detail: "profile=install firmware=bios"},
			{Kind: pxe.EventAssetSent, MAC: m1, Detail: "/assets/initrd.gz 100 bytes (status 200)"}, // not the kernel
			{Kind: pxe.EventAssetSent, MAC: m1, Detail: "/assets/vmlinuz 100 bytes (status 200)"},
			{Kind: pxe.EventDenied, MAC: mustMAC(mac2), Detail: "dhcp: nothing to boot"},
			{Kind: pxe.EventDenied, MAC: mustMAC("52:54:00:00:00:99"), Detail: "nobody's"},
			// vmi3 is installed: its firmware is offered no boot file.
			{Kind: pxe.EventOffered, MAC: mustMAC(mac3), Detail: "192.0.2.103"},
			{Kind: pxe.EventOffered, MAC: m1, Detail: "192.0.2.101 boot=http://192.0.2.1/boot.ipxe"},
		} {
			events <- e
		}
		close(events)
		<-done
		lines := l.events("VirtualMachine", "vm1", kubevirt.ReasonDiscovered, kubevirt.ReasonScriptServed, kubevirt.ReasonKernelSent, kubevirt.ReasonInstalled)
		all := strings.Join(lines, "\n")
		t.Logf("kubectl describe vm vm1 would show:\n%s", all)
		for _, want := range []string{
			"Normal Discovered (x2, source pxekit): DHCP discover from 52:54:00:00:00:01 (iPXE arch=0)",
			"Normal ScriptServed (x1, source pxekit): iPXE script served: profile=install firmware=bios",
			"Normal KernelSent (x1, source pxekit): kernel sent: /assets/vmlinuz 100 bytes (status 200)",
			"Normal PhonedHome (x1, source pxekit): phoned home from 192.0.2.101 with status \"started\"",
			"Normal Installed (x1, source pxekit): install of profile install phoned home from 192.0.2.101; annotated pxekit.io/installed=",
		} {
			if !strings.Contains(all, want) {
				t.Errorf("events lack %q", want)
			}
		}
		if strings.Contains(all, "initrd.gz") {
			t.Errorf("the initrd recorded as the kernel:\n%s", all)
		}
		if lines := l.events("VirtualMachineInstance", "vmi3", kubevirt.ReasonLocalBoot); !strings.Contains(strings.Join(lines, "\n"), "offered 192.0.2.103 and no boot file") {
			t.Errorf("vmi3 events:\n%s", strings.Join(lines, "\n"))
		}
		if strings.Contains(all, "LocalBoot") {
			t.Errorf("an install offer recorded as a local boot:\n%s", all)
		}
		if lines := l.events("VirtualMachine", "vm2", kubevirt.ReasonBootDenied); !strings.Contains(strings.Join(lines, "\n"), "Warning BootDenied (x1, source pxekit): dhcp: nothing to boot") {
			t.Errorf("vm2 events:\n%s", strings.Join(lines, "\n"))
		}
	})

	t.Run("WatchResumesAfterRestart", func(t *testing.T) {
		l.c.Restart()
		l.patch(vmGVR, "vm2", `{"metadata":{"annotations":{"pxekit.io/profile":"install"}}}`)
		took := l.until("a change after the API server restarted", mac2, profileIs("install"))
		t.Logf("after the restart, the change was seen %v after it was made", took)
	})

	t.Run("LeastPrivilege", func(t *testing.T) {
		checkAudit(t, l.c, "system:serviceaccount:"+ns+":"+rbac.DefaultName, rbac.Options{Namespace: ns, ProfilesConfigMap: "pxe-profiles"})
	})

	// A second server, in a namespace of its own, serves every namespace
	// with the ClusterRole the printed objects give it.
	t.Run("AllNamespaces", func(t *testing.T) {
		opts := rbac.Options{Namespace: "pxe-system", Name: "pxekit-all", AllNamespaces: true}
		l.c.CreateNamespace(ctx, opts.Namespace)
		applyRBAC(t, ctx, cs, opts)
		src, err := kubevirt.New(kubevirt.Config{REST: l.c.REST(l.c.ServiceAccountToken(ctx, opts.Namespace, opts.Name)),
			Namespace: opts.Namespace, AllNamespaces: true, Profiles: installProfile, Logger: pxetest.Logger(t, 0)})
		if err != nil {
			t.Fatal(err)
		}
		pxetest.Serve(t, src)
		other := &lab{t: t, c: l.c, src: src, ctx: ctx}
		l.c.CreateNamespace(ctx, "team-b")
		vm := l.vm("vm5", "52:54:00:00:00:05", "install")
		vm.Namespace = "team-b"
		l.create(vm)
		other.until("a VM of another namespace", "52:54:00:00:00:05", profileIs("install"))
		other.until("a VM of the first namespace", mac1, profileIs("install"))
		if m, _, _ := src.Lookup(mustMAC("52:54:00:00:00:05")); m.Vars["namespace"] != "team-b" {
			t.Errorf("machine %+v, want namespace team-b", m)
		}
		vmi, err := vmspec.NewVMI("vmi6").WithNamespace("team-b").WithPXENIC("pxe", "pxe-net", "52:54:00:00:00:06").
			WithMemory("1Gi").WithPXEProfile("install").Build()
		if err != nil {
			t.Fatal(err)
		}
		l.create(vmi)
		other.until("a bare VMI of another namespace", "52:54:00:00:00:06", profileIs("install"))
		for _, mac := range []string{"52:54:00:00:00:05", "52:54:00:00:00:06"} {
			report := pxe.PhoneHomeReport{Time: time.Now(), MAC: mustMAC(mac), LeaseMAC: mustMAC(mac), Addr: netip.MustParseAddr("192.0.2.105")}
			if err := src.PhoneHome(ctx, report); err != nil {
				t.Fatal(err)
			}
		}
		events := make(chan pxe.Event, 2)
		events <- pxe.Event{Kind: pxe.EventDiscovered, MAC: mustMAC("52:54:00:00:00:05"), Detail: "iPXE arch=0"}
		events <- pxe.Event{Kind: pxe.EventDiscovered, MAC: mustMAC("52:54:00:00:00:05"), Detail: "iPXE arch=0"}
		close(events)
		src.RecordEvents(events)
		deadline := time.Now().Add(time.Minute)
		for {
			list, err := cs.CoreV1().Events("team-b").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=vm5,reason=Discovered"})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Items) == 1 && list.Items[0].Count == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("events of team-b/vm5: %+v", list.Items)
			}
			time.Sleep(50 * time.Millisecond)
		}
		checkAudit(t, l.c, "system:serviceaccount:"+opts.Namespace+":"+opts.Name, opts)
	})
}

// checkAudit compares what the audit log saw user do with what the Role
// grants: every kind of request allowed, and every granted verb on every
// granted resource used. A request refused while a restarted API server's
// authorizer still syncs (it answers 403 for a moment after /readyz is
// ok) and granted on its retry is not a missing right; one never granted
// is.
func checkAudit(t *testing.T, c *kubetest.Cluster, user string, opts rbac.Options) {
	t.Helper()
	objs, err := rbac.Objects(opts)
	if err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, o := range objs {
		var rules []rbacv1.PolicyRule
		switch o := o.(type) {
		case *rbacv1.Role:
			rules = o.Rules
		case *rbacv1.ClusterRole:
			rules = o.Rules
		}
		for _, r := range rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					if g != "" {
						res += "." + g
					}
					for _, v := range r.Verbs {
						granted[v+" "+res] = true
					}
				}
			}
		}
	}
	events, err := c.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	forbidden := map[string]string{}
	for _, e := range events {
		if e.User.Username != user || e.Stage != "ResponseComplete" && e.Stage != "ResponseStarted" {
			continue
		}
		req := e.Verb + " " + e.Resource()
		if e.Code() == 403 {
			forbidden[req] = e.RequestURI
			continue
		}
		if !granted[req] {
			t.Errorf("a request the Role does not grant: %s (%s, %d)", req, e.RequestURI, e.Code())
		}
		used[req] = true
	}
	for req, uri := range forbidden {
		if !used[req] {
			t.Errorf("forbidden, and never granted: %s (%s)", req, uri)
		}
	}
	for g := range granted {
		if !used[g] {
			t.Errorf("granted but never used: %s", g)
		}
	}
	t.Logf("requests made, all granted: %v", slices.Sorted(maps.Keys(used)))
}

func mustMAC(s string) net.HardwareAddr {
	m, err := macaddr.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}
