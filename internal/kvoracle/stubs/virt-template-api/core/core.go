// Package core holds the names kubevirt.io/kubevirt's informer factory
// reads from the virt-template API group: the only part of that module the
// admission code links against.
package core

// Names of the VirtualMachineTemplate resource.
const (
	GroupName            = "template.kubevirt.io"
	SingularResourceName = "virtualmachinetemplate"
	PluralResourceName   = "virtualmachinetemplates"
)
