package dpdk

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/strictyaml"
)

func TestGuestTuningRHELDPDKVM(t *testing.T) {
	vm, err := NewVM(RHELDPDKVMName, RHELDPDKVMConfig()).Build()
	if err != nil {
		t.Fatal(err)
	}
	g, err := GuestTuningFor(vm)
	if err != nil {
		t.Fatal(err)
	}
	if g.VCPUs != 10 {
		t.Errorf("vCPUs = %d, want 10 (1 socket x 5 cores x 2 threads)", g.VCPUs)
	}
	if iso, _ := g.IsolatedCores(); iso != "2-9" {
		t.Errorf("isolated_cores = %s, want 2-9", iso)
	}
	cmds, err := g.Commands()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(readUpstream(t, "guest-commands.txt"))), "\n")
	if strings.Join(cmds, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\ndocumented:\n%s", strings.Join(cmds, "\n"), strings.Join(want, "\n"))
	}
	ud, err := g.UserData()
	if err != nil {
		t.Fatal(err)
	}
	pxetest.CheckGolden(t, "guest-tuning.cloud-config", []byte(ud))
	if !strings.HasPrefix(ud, "#cloud-config\n") || len(ud) > NoCloudUserDataLimit {
		t.Errorf("user data (%d bytes) not an inline #cloud-config", len(ud))
	}
	var doc struct {
		RunCmd     []string          `json:"runcmd"`
		PowerState map[string]string `json:"power_state"`
	}
	if err := yaml.UnmarshalStrict([]byte(ud), &doc); err != nil {
		t.Fatal(err)
	}
	if strings.Join(doc.RunCmd, "\n") != strings.Join(want, "\n") || doc.PowerState["mode"] != "reboot" {
		t.Errorf("cloud-config runcmd %q power_state %v", doc.RunCmd, doc.PowerState)
	}
	// The documentation's 8 1G pages in an 8Gi guest leave the OS nothing.
	if w := g.Warnings(vm.Spec.Template.Spec.Domain.Memory.Guest); len(w) != 1 || w[0].Field != "hugepages" || !strings.Contains(w[0].Message, "hugepages=8") {
		t.Errorf("warnings = %v", w)
	}
}

func TestIsolatedCoresFollowVCPUs(t *testing.T) {
	for _, c := range []struct {
		cores, threads uint32
		want           string
	}{{1, 2, ""}, {2, 2, "2-3"}, {8, 2, "2-15"}, {4, 1, "1-3"}} {
		cfg := RHELDPDKVMConfig()
		cfg.Cores, cfg.Threads = c.cores, c.threads
		vm, err := NewVM("v", cfg).Build()
		if err != nil {
			t.Fatal(err)
		}
		g, _ := GuestTuningFor(vm)
		got, err := g.IsolatedCores()
		if c.want == "" {
			if err == nil {
				t.Errorf("%dx%d: isolated %s, want an error (nothing left to isolate)", c.cores, c.threads, got)
			}
			continue
		}
		if got != c.want || err != nil {
			t.Errorf("%dx%d: isolated %q, %v; want %s", c.cores, c.threads, got, err, c.want)
		}
	}
}

func TestGuestTuningOverLimitGoesToSecret(t *testing.T) {
	vm, err := NewVM(RHELDPDKVMName, RHELDPDKVMConfig()).WithNamespace("dpdk-checkup-ns").Build()
	if err != nil {
		t.Fatal(err)
	}
	g, _ := GuestTuningFor(vm)
	for i := 0; i < 40; i++ {
		g.PCIAddresses = append(g.PCIAddresses, fmt.Sprintf("0000:%02x:00.0", 8+i))
	}
	ud, err := g.UserData()
	if err != nil {
		t.Fatal(err)
	}
	if len(ud) <= NoCloudUserDataLimit {
		t.Fatalf("test needs user data over the limit, has %d bytes", len(ud))
	}
	if _, err := AttachUserData(vm, ud, ""); err == nil {
		t.Error("over-limit user data without a secret name accepted")
	}
	sec, err := AttachUserData(vm, ud, "rhel-dpdk-vm-tuning")
	if err != nil || sec == nil {
		t.Fatalf("secret %v, %v", sec, err)
	}
	if sec.Name != "rhel-dpdk-vm-tuning" || sec.Namespace != "dpdk-checkup-ns" || sec.StringData["userdata"] != ud || sec.Kind != "Secret" {
		t.Errorf("secret = %+v", sec)
	}
	vols := vm.Spec.Template.Spec.Volumes
	if len(vols) != 1 || vols[0].CloudInitNoCloud == nil || vols[0].CloudInitNoCloud.UserData != "" ||
		vols[0].CloudInitNoCloud.UserDataSecretRef == nil || vols[0].CloudInitNoCloud.UserDataSecretRef.Name != "rhel-dpdk-vm-tuning" {
		t.Errorf("volumes = %+v", vols)
	}
	// Serialized, it is the secretRef field KubeVirt reads.
	out := mustYAML(t, vm)
	if !strings.Contains(string(out), "- cloudInitNoCloud:\n          secretRef:\n            name: rhel-dpdk-vm-tuning\n") {
		t.Errorf("no secretRef in\n%s", out)
	}
	var back kubevirtv1.VirtualMachine
	if errs := strictyaml.Decode(out, &back); len(errs) > 0 {
		t.Error(errs)
	}
	// Attaching again replaces the volume rather than adding one.
	if _, err := AttachUserData(vm, "#cloud-config\n", ""); err != nil || len(vm.Spec.Template.Spec.Volumes) != 1 || len(vm.Spec.Template.Spec.Domain.Devices.Disks) != 1 {
		t.Errorf("re-attach: %v, volumes %d", err, len(vm.Spec.Template.Spec.Volumes))
	}
}

func TestGuestTuningErrors(t *testing.T) {
	for name, g := range map[string]GuestTuningConfig{
		"no vcpus":      {},
		"housekeeping":  {VCPUs: 4, HousekeepingCPUs: 4},
		"bad pci":       {VCPUs: 4, PCIAddresses: []string{"0000:07:00.0; reboot"}},
		"negative huge": {VCPUs: 4, Hugepages: -1},
	} {
		if ud, err := g.UserData(); err == nil {
			t.Errorf("%s: accepted:\n%s", name, ud)
		}
	}
}

// TestGuestTuningCloudInitSchema has cloud-init itself check the user data
// against its schema (runcmd, power_state), for the documented VM and for a large
// configuration that goes into a Secret.
func TestGuestTuningCloudInitSchema(t *testing.T) {
	ci := pxetest.RequireCmd(t, "cloud-init", "cloud-init")
	check := func(name, userData string) (string, error) {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(userData), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(ci, "schema", "-c", path).CombinedOutput()
		return string(out), err
	}
	documented := GuestTuningConfig{VCPUs: 10, Hugepages: 8, PCIAddresses: []string{RHELDPDKPCIAddress}}
	big := GuestTuningConfig{VCPUs: 64, HousekeepingCPUs: 4, Hugepages: 48, ExtraRunCmd: []string{"systemctl enable --now dpdk-app"}}
	for i := 0; i < 40; i++ {
		big.PCIAddresses = append(big.PCIAddresses, fmt.Sprintf("0000:%02x:00.0", 8+i))
	}
	for name, g := range map[string]GuestTuningConfig{"documented": documented, "big": big} {
		ud, err := g.UserData()
		if err != nil {
			t.Fatal(err)
		}
		if out, err := check(name, ud); err != nil || !strings.Contains(out, "Valid cloud-config") {
			t.Errorf("%s: cloud-init schema: %v\n%s\n%s", name, err, out, ud)
		}
	}
	// The checker does reject a broken power_state, so the check means something.
	if out, err := check("broken", "#cloud-config\npower_state: {mode: sleep}\n"); err == nil {
		t.Errorf("cloud-init accepted mode: sleep:\n%s", out)
	}
}
