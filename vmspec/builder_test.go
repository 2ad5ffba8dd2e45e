package vmspec

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/yaml"
)

// pxeBootVMI builds the documented vmi-pxe-boot template.
func pxeBootVMI() *VMIBuilder { return pxeBoot(NewVMI("vmi-pxe-boot")) }

func pxeBoot[T Kind](b *Builder[T]) *Builder[T] {
	return b.
		WithAPIVersion(APIVersionV1Alpha3).
		WithLabels(map[string]string{"special": "vmi-pxe-boot"}).
		WithPodNetwork().
		WithPXENIC("pxe-net", "pxe-net-conf", "de:00:00:00:00:de").
		WithContainerDisk("containerdisk", "kubevirt/fedora-cloud-container-disk-demo", Bootable()).
		WithCloudInitNoCloud("cloudinitdisk", "#!/bin/bash\necho \"fedora\" | passwd fedora --stdin\n").
		WithMachineType("").
		WithMemory("1024M").
		WithTerminationGracePeriod(0)
}

// semantic turns YAML into a generic JSON tree for comparison. Fields that
// mean "not set" to the API server are dropped so that only meaning is
// compared: nulls (creationTimestamp: null), and an empty status, resources
// or acpi, which the typed Go structs always print (features.acpi: {} is
// ACPI's default state, enabled).
func semantic(t *testing.T, y []byte) any {
	t.Helper()
	js, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	var tree any
	if err := json.Unmarshal(js, &tree); err != nil {
		t.Fatal(err)
	}
	var norm func(v any) any
	norm = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				e = norm(e)
				if m, ok := e.(map[string]any); e == nil || (ok && len(m) == 0 && (k == "status" || k == "resources" || k == "acpi")) {
					delete(x, k)
					continue
				}
				x[k] = e
			}
		case []any:
			for i := range x {
				x[i] = norm(x[i])
			}
		}
		return v
	}
	return norm(tree)
}

func assertSameAsDoc(t *testing.T, obj any, file string) {
	t.Helper()
	documented, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ToYAML(obj)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := semantic(t, got), semantic(t, documented); !reflect.DeepEqual(g, w) {
		gj, _ := json.MarshalIndent(g, "", " ")
		wj, _ := json.MarshalIndent(w, "", " ")
		t.Errorf("builder output differs from %s\n--- built:\n%s\n--- documented:\n%s", file, gj, wj)
	}
}

func TestPXEBootVMIReproduced(t *testing.T) {
	vmi, err := pxeBootVMI().Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	assertSameAsDoc(t, vmi, "testdata/vmi-pxe-boot.yaml")
	// The documentation's own YAML decodes strictly and passes admission.
	b, _ := os.ReadFile("testdata/vmi-pxe-boot.yaml")
	obj, errs := Decode(b)
	if len(errs) != 0 {
		t.Fatalf("Decode: %v", errs)
	}
	if errs, warns := Validate(obj); len(errs)+len(warns) != 0 {
		t.Errorf("Validate = %v, %v", errs, warns)
	}
	if !reflect.DeepEqual(obj, vmi) {
		t.Errorf("decoded documented and built VMI differ:\n%#v\n%#v", obj, vmi)
	}
}

// The documented DPDK VM, with its slips corrected, from the builder.
func TestRHELDPDKVMReproduced(t *testing.T) {
	vm, err := NewVM("rhel-dpdk-vm").
		WithRunning(true).
		WithTemplateAnnotations(map[string]string{"cpu-load-balancing.crio.io": "disable"}).
		WithTemplateAnnotations(map[string]string{"cpu-quota.crio.io": "disable"}).
		WithTemplateAnnotations(map[string]string{"irq-load-balancing.crio.io": "disable"}).
		WithCPUTopology(1, 5, 2).
		WithDedicatedCPUs(true).
		WithPodNetwork().
		WithSRIOVNIC("nic-east", "dpdk-net", Model("virtio"), PCIAddress("0000:07:00.0")).
		WithNetworkInterfaceMultiqueue().
		WithRNG().
		WithHugepages("1Gi").
		WithGuestMemory("8Gi").Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	assertSameAsDoc(t, vm, "testdata/rhel-dpdk-vm.fixed.yaml")
}

// The documented RHEL 9 VM (placeholders filled in) from the builder: a
// DataVolume cloned from a DataSource, UEFI with SMM, LiveMigrate.
func TestRHELVMReproduced(t *testing.T) {
	ns := "openshift-virtualization-os-images"
	dv := kubevirtv1.DataVolumeTemplateSpec{
		TypeMeta:   metav1.TypeMeta{APIVersion: "cdi.kubevirt.io/v1beta1", Kind: "DataVolume"},
		ObjectMeta: metav1.ObjectMeta{Name: "rhel9-vm"},
		Spec: cdiv1.DataVolumeSpec{
			SourceRef: &cdiv1.DataVolumeSourceRef{Kind: "DataSource", Name: "rhel9", Namespace: &ns},
			Storage: &cdiv1.StorageSpec{Resources: k8sv1.VolumeResourceRequirements{
				Requests: k8sv1.ResourceList{k8sv1.ResourceStorage: resource.MustParse("30Gi")},
			}},
		},
	}
	smm := true
	vm, err := NewVM("rhel9-vm").
		WithLabels(map[string]string{"app": "rhel9-vm"}).
		WithRunning(false).
		WithDataVolumeTemplate(dv).
		WithTemplateLabels(map[string]string{"kubevirt.io/domain": "rhel9-vm"}).
		WithCPUTopology(2, 1, 1).
		WithDataVolume("rootdisk", "rhel9-vm").
		WithCloudInitNoCloud("cloudinitdisk", "#cloud-config\nuser: cloud-user\npassword: 'changeme'\nchpasswd: { expire: False }").
		WithPodNetwork().
		WithRNG().
		WithMemory("8Gi").
		WithEvictionStrategy(kubevirtv1.EvictionStrategyLiveMigrate).
		// The documentation writes efi: {} (secure boot by default) and
		// enables SMM itself; an Option writes exactly that.
		With(func(vmi *kubevirtv1.VirtualMachineInstance) field.ErrorList {
			vmi.Spec.Domain.Features = &kubevirtv1.Features{SMM: &kubevirtv1.FeatureState{Enabled: &smm}}
			vmi.Spec.Domain.Firmware = &kubevirtv1.Firmware{Bootloader: &kubevirtv1.Bootloader{EFI: &kubevirtv1.EFI{}}}
			return nil
		}).Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	assertSameAsDoc(t, vm, "testdata/rhel-vm.filled.yaml")
}

func TestBootOrderAssignment(t *testing.T) {
	// Disks added before NICs still boot after them; explicit numbers are
	// kept and skipped.
	vmi, err := NewVMI("boot").
		WithContainerDisk("root", "img", Bootable()).
		WithEmptyDisk("scratch", "1Gi", DiskBootOrder(2)).
		WithContainerDisk("data", "img", Bootable()).
		WithPodNetwork().
		WithPXENIC("pxe0", "net0", "de:00:00:00:00:01").
		WithPXENIC("pxe1", "net1", "de:00:00:00:00:02").WithMemory("1Gi").Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	orders := map[string]uint{}
	for _, d := range vmi.Spec.Domain.Devices.Disks {
		if d.BootOrder != nil {
			orders[d.Name] = *d.BootOrder
		}
	}
	for _, i := range vmi.Spec.Domain.Devices.Interfaces {
		if i.BootOrder != nil {
			orders[i.Name] = *i.BootOrder
		}
	}
	want := map[string]uint{"pxe0": 1, "pxe1": 3, "scratch": 2, "root": 4, "data": 5}
	if !reflect.DeepEqual(orders, want) {
		t.Errorf("boot orders = %v, want %v", orders, want)
	}
}

func TestBuildReportsEveryProblemOnce(t *testing.T) {
	_, err := NewVM("Bad_Name").
		WithMemory("lots").
		WithPXENIC("pxe", "", "de:00:00:00:00", NICBootOrder(1)).
		WithContainerDisk("root", "img", DiskBootOrder(1), Bus("ide")).
		WithEmptyDisk("scratch", "").Build()
	if err == nil {
		t.Fatal("Build accepted a broken VM")
	}
	msg := err.Error()
	for _, want := range []string{
		`spec.template.spec.domain.resources.requests.memory: Invalid value: "lots"`,
		`metadata.name: Invalid value: "Bad_Name"`,
		`spec.template.spec.networks[0]: Required value: a multus network needs networkName`,
		`spec.template.spec.domain.devices.interfaces[0].macAddress: Invalid value: "de:00:00:00:00"`,
		`spec.template.spec.domain.devices.disks[0].disk.bus: Unsupported value: "ide"`,
		`spec.template.spec.domain.devices.interfaces[0].bootOrder: Invalid value: 1: boot order already set for another device`,
		`spec.template.spec.volumes[1].emptyDisk.capacity: Required value`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestVMBuildDefaults(t *testing.T) {
	vm, err := NewVM("vm1").WithNamespace("lab").WithLabels(map[string]string{"app": "x"}).WithTemplateLabels(map[string]string{"special": "key"}).
		WithPodNetwork(Ports(TCP(22))).WithMemory("1Gi").WithContainerDisk("root", "img", Bootable()).
		WithUEFI(false).WithNICModel("e1000e").Build()
	if err != nil {
		t.Fatal(err)
	}
	if vm.APIVersion != APIVersionV1 || vm.Kind != "VirtualMachine" || vm.Namespace != "lab" {
		t.Errorf("type/meta: %+v %+v", vm.TypeMeta, vm.ObjectMeta)
	}
	if vm.Spec.RunStrategy == nil || *vm.Spec.RunStrategy != kubevirtv1.RunStrategyAlways || vm.Spec.Running != nil {
		t.Errorf("run strategy: %v running %v", vm.Spec.RunStrategy, vm.Spec.Running)
	}
	if vm.Spec.Template.ObjectMeta.Labels["special"] != "key" || vm.Labels["app"] != "x" || vm.Spec.Template.ObjectMeta.Labels["app"] != "" {
		t.Errorf("labels: vm %v template %v", vm.Labels, vm.Spec.Template.ObjectMeta.Labels)
	}
	tpl := vm.Spec.Template.Spec
	if tpl.Domain.Devices.Interfaces[0].Model != "e1000e" || tpl.Domain.Devices.Interfaces[0].Ports[0].Port != 22 {
		t.Errorf("interface: %+v", tpl.Domain.Devices.Interfaces[0])
	}
	if efi := tpl.Domain.Firmware.Bootloader.EFI; efi == nil || *efi.SecureBoot {
		t.Errorf("firmware: %+v", tpl.Domain.Firmware.Bootloader)
	}
	// Building twice gives equal objects: the builder keeps no state from a build.
	vm2, _ := NewVM("vm1").WithNamespace("lab").WithLabels(map[string]string{"app": "x"}).WithTemplateLabels(map[string]string{"special": "key"}).
		WithPodNetwork(Ports(TCP(22))).WithMemory("1Gi").WithContainerDisk("root", "img", Bootable()).
		WithUEFI(false).WithNICModel("e1000e").Build()
	if !reflect.DeepEqual(vm, vm2) {
		t.Error("two identical builds differ")
	}
}

// An Option edits the VMI (a VM's template) after the builder's own
// settings; what it sets is validated, and what it reports comes back at
// the field's path in the object built.
func TestOptions(t *testing.T) {
	hostname := func(h string) Option {
		return func(vmi *kubevirtv1.VirtualMachineInstance) field.ErrorList {
			vmi.Spec.Hostname = h
			return nil
		}
	}
	vmi, err := pxeBootVMI().With(hostname("pxe-client")).Build()
	if err != nil || vmi.Spec.Hostname != "pxe-client" {
		t.Fatalf("option not applied: %v %q", err, vmi.Spec.Hostname)
	}
	_, err = pxeBootVMI().With(hostname("Not_A_Label")).Build()
	if err == nil || !strings.Contains(err.Error(), "spec.hostname") {
		t.Errorf("option's result not validated: %v", err)
	}
	complain := func(vmi *kubevirtv1.VirtualMachineInstance) field.ErrorList {
		if vmi.Labels["special"] != "vmi-pxe-boot" || vmi.Name != "vmi-pxe-boot" {
			t.Errorf("the option sees labels %v, name %q", vmi.Labels, vmi.Name)
		}
		vmi.Annotations = map[string]string{"added": "by option"}
		return field.ErrorList{
			field.Invalid(field.NewPath("spec", "domain", "cpu", "cores"), 0, "from the option"),
			field.Invalid(field.NewPath("metadata", "annotations"), "x", "from the option"),
		}
	}
	_, err = pxeBootVMI().With(complain).Build()
	if err == nil || !strings.Contains(err.Error(), "spec.domain.cpu.cores: Invalid value: 0: from the option") {
		t.Errorf("a VMI's option error: %v", err)
	}
	vm, err := pxeBoot(NewVM("vmi-pxe-boot")).WithTemplateLabels(map[string]string{"special": "vmi-pxe-boot"}).With(complain).Build()
	for _, want := range []string{"spec.template.spec.domain.cpu.cores: Invalid value: 0: from the option", "spec.template.metadata.annotations: Invalid value"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a VM's option error: %v, want %q", err, want)
		}
	}
	if vm.Spec.Template.ObjectMeta.Annotations["added"] != "by option" || vm.Annotations != nil {
		t.Errorf("the option's annotation belongs on the template: %v / %v", vm.Spec.Template.ObjectMeta.Annotations, vm.Annotations)
	}
}

func TestCloudInitNetworkData(t *testing.T) {
	nd := "version: 2\nethernets:\n  eth1:\n    dhcp4: true\n"
	vmi, err := NewVMI("ci").WithPodNetwork().WithMemory("1Gi").WithCloudInitNetworkData(nd).Build()
	if err != nil {
		t.Fatal(err)
	}
	if v := vmi.Spec.Volumes[0]; v.Name != "cloudinitdisk" || v.CloudInitNoCloud.NetworkData != nd || vmi.Spec.Domain.Devices.Disks[0].Name != "cloudinitdisk" {
		t.Errorf("cloud-init volume: %+v", vmi.Spec.Volumes)
	}
}
