package vmspec

import (
	"strings"
	"testing"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// okDV is a DataVolume template CDI accepts: a DataSource clone of 30Gi.
func okDV() kubevirtv1.DataVolumeTemplateSpec {
	return kubevirtv1.DataVolumeTemplateSpec{Spec: cdiv1.DataVolumeSpec{
		SourceRef: &cdiv1.DataVolumeSourceRef{Kind: "DataSource", Name: "rhel9"},
		Storage:   &cdiv1.StorageSpec{Resources: k8sv1.VolumeResourceRequirements{Requests: k8sv1.ResourceList{k8sv1.ResourceStorage: resource.MustParse("30Gi")}}},
	}}
}

// The common templates' flavors: tiny 1/1Gi, small 1/2Gi, medium 1/4Gi,
// large 2/8Gi, as sockets of one core.
func TestFlavors(t *testing.T) {
	for _, tc := range []struct {
		f    Flavor
		cpus uint32
		mem  string
	}{{FlavorTiny, 1, "1Gi"}, {FlavorSmall, 1, "2Gi"}, {FlavorMedium, 1, "4Gi"}, {FlavorLarge, 2, "8Gi"}} {
		vm, err := NewVM("sized").WithFlavor(tc.f).WithPodNetwork().WithContainerDisk("root", "quay.io/containerdisks/fedora", Bootable()).Build()
		if err != nil {
			t.Fatal(err)
		}
		d := vm.Spec.Template.Spec.Domain
		if d.CPU.Sockets != tc.cpus || d.CPU.Cores != 1 || d.CPU.Threads != 1 {
			t.Errorf("%s: cpu %+v", tc.f, d.CPU)
		}
		if m := d.Resources.Requests[k8sv1.ResourceMemory]; m.String() != tc.mem {
			t.Errorf("%s: memory %s, want %s", tc.f, m.String(), tc.mem)
		}
		if vm.Spec.Template.ObjectMeta.Annotations[FlavorAnnotation] != string(tc.f) {
			t.Errorf("%s: annotations %v", tc.f, vm.Spec.Template.ObjectMeta.Annotations)
		}
	}
	if _, err := NewVM("x").WithFlavor(FlavorCustom).WithPodNetwork().Build(); err == nil || !strings.Contains(err.Error(), `Unsupported value: "Custom"`) {
		t.Errorf("Custom without sizes: %v", err)
	}
	vm, err := NewVM("x").WithCustomFlavor(3, "6Gi").WithPodNetwork().Build()
	if err != nil || vm.Spec.Template.Spec.Domain.CPU.Sockets != 3 {
		t.Errorf("custom: %v", err)
	}
	if _, err := NewVM("x").WithCustomFlavor(0, "6Gi").WithPodNetwork().Build(); err == nil {
		t.Error("zero CPUs accepted")
	}
}

func TestWorkloadProfiles(t *testing.T) {
	build := func(p WorkloadProfile) (*kubevirtv1.VirtualMachine, error) {
		// The profile comes before the disks: it applies to them all the same.
		return NewVM("w").WithFlavor(FlavorSmall).WithWorkloadProfile(p).WithPodNetwork().
			WithContainerDisk("root", "quay.io/containerdisks/fedora", Bootable()).
			WithCloudInitNoCloud("cloudinitdisk", "#cloud-config\n").Build()
	}
	vm, err := build(WorkloadDesktop)
	if err != nil {
		t.Fatal(err)
	}
	if in := vm.Spec.Template.Spec.Domain.Devices.Inputs; len(in) != 1 || in[0].Type != "tablet" || in[0].Bus != "virtio" {
		t.Errorf("desktop inputs %+v", in)
	}
	vm, err = build(WorkloadServer)
	if err != nil || len(vm.Spec.Template.Spec.Domain.Devices.Inputs) != 0 || vm.Spec.Template.Spec.Domain.CPU.DedicatedCPUPlacement {
		t.Errorf("server: %v %+v", err, vm.Spec.Template.Spec.Domain)
	}
	vm, err = build(WorkloadHighPerformance)
	if err != nil {
		t.Fatal(err)
	}
	d := vm.Spec.Template.Spec.Domain
	if !d.CPU.DedicatedCPUPlacement || d.IOThreadsPolicy == nil || *d.IOThreadsPolicy != kubevirtv1.IOThreadsPolicyShared {
		t.Errorf("highperformance domain %+v", d)
	}
	if dd := d.Devices.Disks; dd[0].DedicatedIOThread == nil || !*dd[0].DedicatedIOThread || dd[1].DedicatedIOThread != nil {
		t.Errorf("only the boot disk gets a dedicated I/O thread: %+v", dd)
	}
	if vm.Spec.Template.ObjectMeta.Annotations[WorkloadAnnotation] != "highperformance" {
		t.Errorf("annotations %v", vm.Spec.Template.ObjectMeta.Annotations)
	}
	if _, err := build("gaming"); err == nil {
		t.Error("unknown profile accepted")
	}
}

// The documented bootable-disk rule, per source.
func TestSourcesBootableDisk(t *testing.T) {
	tests := []struct {
		name string
		b    *VMBuilder
		errs []string
	}{
		{"PXE without disks", NewVM("p").WithSource(Source{Kind: SourcePXE}).WithPXENIC("pxe", "pxe-net-conf", "02:00:00:00:00:01"), nil},
		{"PXE with one bootable disk", NewVM("p").WithSource(Source{Kind: SourcePXE}).WithPXENIC("pxe", "pxe-net-conf", "02:00:00:00:00:01").WithPVC("root", "root", Bootable()), nil},
		{"PXE with a disk, none bootable", NewVM("p").WithSource(Source{Kind: SourcePXE}).WithPXENIC("pxe", "pxe-net-conf", "02:00:00:00:00:01").WithPVC("root", "root"),
			[]string{"spec.template.spec.domain.devices.disks: Invalid value: 0: exactly one disk must be bootable"}},
		{"PXE with two bootable disks", NewVM("p").WithSource(Source{Kind: SourcePXE}).WithPXENIC("pxe", "pxe-net-conf", "02:00:00:00:00:01").WithPVC("a", "a", Bootable()).WithPVC("b", "b", Bootable()),
			[]string{"spec.template.spec.domain.devices.disks: Invalid value: 2"}},
		{"PXE without a PXE NIC", NewVM("p").WithSource(Source{Kind: SourcePXE}).WithPodNetwork(),
			[]string{"spec.template.spec.domain.devices.interfaces: Required value: a PXE source needs a NIC"}},
		{"container", NewVM("c").WithSource(Source{Kind: SourceContainer, Image: "kubevirt/cirros-registry-disk-demo"}).WithPodNetwork(), nil},
		{"container image missing", NewVM("c").WithSource(Source{Kind: SourceContainer}).WithPodNetwork(), []string{"containerDisk.image: Required value"}},
		{"disk", NewVM("d").WithSource(Source{Kind: SourceDisk, ClaimName: "golden"}).WithPodNetwork(), nil},
		{"URL", NewVM("u").WithSource(Source{Kind: SourceURL, URL: "https://example.com/fedora.qcow2", Size: "20Gi"}).WithPodNetwork(), nil},
		{"URL without size", NewVM("u").WithSource(Source{Kind: SourceURL, URL: "https://example.com/fedora.qcow2"}).WithPodNetwork(),
			[]string{"spec.template.spec.volumes[0].dataVolume.storage: Invalid value: \"\"", "with a URL source, found 0"}},
		{"container plus another bootable disk", NewVM("c").WithSource(Source{Kind: SourceContainer, Image: "x/y"}).WithPVC("data", "data", Bootable()).WithPodNetwork(),
			[]string{"exactly one disk must be bootable (have a bootOrder) with a Container source, found 2"}},
		{"unknown source", NewVM("x").WithSource(Source{Kind: "ISO"}).WithPodNetwork(), []string{`Unsupported value: "ISO"`, "exactly one disk must be bootable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vm, err := tc.b.WithMemory("1Gi").Build()
			var got []string
			if err != nil {
				got = strings.Split(strings.Trim(err.Error(), "[]"), ", spec.")
			}
			if len(got) != len(tc.errs) {
				t.Fatalf("errors %v, want %v", err, tc.errs)
			}
			for _, w := range tc.errs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want %q", err, w)
				}
			}
			if tc.name == "URL" {
				dv := vm.Spec.DataVolumeTemplates
				if len(dv) != 1 || dv[0].Name != "u-rootdisk" || dv[0].Spec.Source.HTTP.URL != "https://example.com/fedora.qcow2" {
					t.Errorf("templates %+v", dv)
				}
			}
		})
	}
}

// Volume types and DataVolume template storage settings.
func TestVolumeRules(t *testing.T) {
	vm, err := NewVM("e").WithPodNetwork().WithEphemeralPVC("root", "golden", Bootable()).WithMemory("1Gi").Build()
	if err != nil || vm.Spec.Template.Spec.Volumes[0].Ephemeral.PersistentVolumeClaim.ClaimName != "golden" {
		t.Fatalf("ephemeral: %v", err)
	}
	if _, err := NewVM("e").WithPodNetwork().WithEphemeralPVC("root", "").WithMemory("1Gi").Build(); err == nil || !strings.Contains(err.Error(), "ephemeral.persistentVolumeClaim.claimName: Required value") {
		t.Errorf("ephemeral without claim: %v", err)
	}
	block, bad := k8sv1.PersistentVolumeBlock, k8sv1.PersistentVolumeMode("Raw")
	tests := []struct {
		name   string
		mutate func(*cdiv1.DataVolumeSpec)
		errs   []string
		warns  []string
	}{
		{"RWX block", func(s *cdiv1.DataVolumeSpec) {
			s.Storage.AccessModes = []k8sv1.PersistentVolumeAccessMode{k8sv1.ReadWriteMany}
			s.Storage.VolumeMode = &block
		}, nil, nil},
		// The schema's enums: refused, at paths without list indices.
		{"bad modes", func(s *cdiv1.DataVolumeSpec) {
			s.Storage.AccessModes = []k8sv1.PersistentVolumeAccessMode{"ReadWriteOncePod", "RWX"}
			s.Storage.VolumeMode = &bad
		}, []string{`spec.dataVolumeTemplates.spec.storage.accessModes: Unsupported value: "RWX"`, `spec.dataVolumeTemplates.spec.storage.volumeMode: Unsupported value: "Raw"`}, nil},
		{"no source", func(s *cdiv1.DataVolumeSpec) { s.SourceRef = nil }, []string{"spec.dataVolumeTemplate[0].source.sourceRef: Required value"}, nil},
		// KubeVirt takes a source beside a sourceRef and a sourceRef to any
		// kind; CDI decides.
		{"both sources", func(s *cdiv1.DataVolumeSpec) {
			s.Source = &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}}
		}, nil, nil},
		{"sourceRef kind", func(s *cdiv1.DataVolumeSpec) { s.SourceRef.Kind = "PVC" }, nil, []string{`spec.dataVolumeTemplates[0].spec.sourceRef.kind: "PVC": CDI clones from a DataSource only`}},
		{"populated by dataSourceRef", func(s *cdiv1.DataVolumeSpec) {
			s.SourceRef = nil
			s.Storage.DataSourceRef = &k8sv1.TypedObjectReference{Kind: "VolumeSnapshot", Name: "snap"}
		}, nil, nil},
		{"dataSourceRef and a source", func(s *cdiv1.DataVolumeSpec) {
			s.Storage.DataSourceRef = &k8sv1.TypedObjectReference{Kind: "VolumeSnapshot", Name: "snap"}
		}, []string{"spec.dataVolumeTemplate[0].source: Invalid value"}, nil},
		{"no storage", func(s *cdiv1.DataVolumeSpec) { s.Storage = nil }, []string{"spec.dataVolumeTemplate[0].PVC.Storage: Required value"}, nil},
		{"pvc without size", func(s *cdiv1.DataVolumeSpec) { s.Storage = nil; s.PVC = &k8sv1.PersistentVolumeClaimSpec{} }, nil,
			[]string{"spec.dataVolumeTemplates[0].spec.pvc.resources.requests.storage: a pvc without a size cannot be provisioned"}},
	}
	for _, tc := range tests {
		dv := okDV()
		dv.Name = "root"
		tc.mutate(&dv.Spec)
		vm, _ := NewVM("dv").WithPodNetwork().WithDataVolumeTemplate(dv).WithDataVolume("root", "root", Bootable()).WithMemory("1Gi").Build()
		errs, warns := ValidateVM(vm)
		t.Run(tc.name, func(t *testing.T) { checkRule(t, errs, warns, tc.errs, tc.warns) })
	}
}

// The documented supported NIC models and disk interfaces: others KubeVirt
// takes are warned about.
func TestWizardModelsAndBuses(t *testing.T) {
	tests := []struct {
		b     *VMBuilder
		warns []string
	}{
		{NewVM("a").WithPodNetwork(Model("virtio")).WithPVC("root", "root", Bus("sata")).WithBridgeNIC("lan", "lan", "02:00:00:00:00:05", Model("e1000e")), nil},
		{NewVM("b").WithPodNetwork(Model("rtl8139")), []string{"interfaces[0].model: model rtl8139 is accepted by KubeVirt but the supported NIC models are virtio and e1000e"}},
		{NewVM("c").WithPodNetwork().WithPVC("root", "root", Bus("usb")), []string{"disks[0].disk.bus: usb is accepted by KubeVirt but the supported disk interfaces are virtio, sata and scsi"}},
	}
	for _, tc := range tests {
		vm, _ := tc.b.WithMemory("1Gi").Build()
		errs, warns := ValidateVM(vm)
		checkRule(t, errs, warns, nil, tc.warns)
	}
}

// An unknown workload profile is reported at the template's annotation,
// where the profile is recorded.
func TestUnknownWorkloadProfile(t *testing.T) {
	_, err := NewVM("w").WithWorkloadProfile("gaming").WithPodNetwork().WithMemory("1Gi").Build()
	if err == nil || !strings.Contains(err.Error(), `spec.template.metadata.annotations[vm.kubevirt.io/workload]: Unsupported value: "gaming"`) {
		t.Errorf("VM: %v", err)
	}
	_, err = NewVMI("w").WithWorkloadProfile("gaming").WithPodNetwork().WithMemory("1Gi").Build()
	if err == nil || !strings.Contains(err.Error(), `metadata.annotations[vm.kubevirt.io/workload]: Unsupported value: "gaming"`) || strings.Contains(err.Error(), "spec.template") {
		t.Errorf("VMI: %v", err)
	}
}
