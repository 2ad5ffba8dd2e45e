package vmspec

// The annotations by which pxekit's boot server (package pxe/kubevirt)
// takes its machines from KubeVirt: a VirtualMachine, or a
// VirtualMachineInstance no VirtualMachine controls, whose PXE NIC has a
// MAC and a boot order is a machine, installed with the profile it names.
const (
	// AnnotationPXEProfile names the boot server's profile the machine
	// installs with; without it the machine gets nothing to boot.
	AnnotationPXEProfile = "pxekit.io/profile"
	// AnnotationPXEInstalled is what the boot server writes when the
	// machine's install has phoned home: the time, in RFC 3339. While it
	// is there the machine is answered with a local-boot script, so with
	// its NIC first in the boot order it starts the installed disk;
	// removing it installs again.
	AnnotationPXEInstalled = "pxekit.io/installed"
)

// WithPXEProfile annotates the object with the boot server's profile its
// PXE NIC installs with (AnnotationPXEProfile), so that pxe/kubevirt
// serves it without its MAC being typed into the server.
func (b *Builder[T]) WithPXEProfile(profile string) *Builder[T] {
	return b.WithAnnotations(map[string]string{AnnotationPXEProfile: profile})
}
