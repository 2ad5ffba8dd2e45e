package main

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/netattach"
	"github.com/pxekit/pxekit/strictyaml"
	"github.com/pxekit/pxekit/vmspec"
)

// A stream applied together must hang together: a VM's Multus network names a
// NAD, in the VM's namespace (or "namespace/name"); a bridge NAD names a node
// bridge that an nmstate policy creates. refs collects what the documents of
// all files define and use, so those links can be checked across files.
type refs struct {
	nads    []nadRef
	bridges map[string]int // bridges created by the policies → their MTU (0: unset)
	nncps   int
	uses    []networkUse
	brUses  []bridgeUse
}

type source struct {
	file string
	doc  strictyaml.Document
	idx  *strictyaml.LineIndex
}

func (s source) finding(path string, format string, args ...any) (string, finding) {
	l := s.idx.Line(path)
	if l > 0 {
		l += s.doc.Line - 1
	}
	return s.file, finding{doc: s.doc.Index + 1, line: l, warning: true, text: path + ": " + fmt.Sprintf(format, args...)}
}

type nadRef struct{ namespace, name string }

// networkUse is a VM/VMI Multus network.
type networkUse struct {
	src         source
	path        string
	vmNamespace string
	networkName string
}

// bridgeUse is a bridge NAD's node bridge.
type bridgeUse struct {
	src    source
	path   string
	bridge string
	mtu    int
}

// collect records what one document defines and uses. Documents that do not
// decode are skipped: their errors are already reported.
func (r *refs) collect(file string, d strictyaml.Document, kind string) {
	src := source{file: file, doc: d, idx: strictyaml.IndexLines(d.Data)}
	switch kind {
	case netattach.NADKind:
		nad, errs := netattach.DecodeNAD(d.Data)
		if len(errs) > 0 {
			return
		}
		r.nads = append(r.nads, nadRef{nad.Namespace, nad.Name})
		nc, err := netattach.ParseConfig(nad.Spec.Config)
		if err != nil {
			return
		}
		for i, p := range nc.Plugins {
			if p.Bridge == nil || p.Bridge.Bridge == "" {
				continue
			}
			path := field.NewPath("spec", "config")
			if nc.IsList {
				path = path.Child("plugins").Index(i)
			}
			r.brUses = append(r.brUses, bridgeUse{src, path.Child("bridge").String(), p.Bridge.Bridge, p.Bridge.MTU})
		}
	case netattach.NNCPKind:
		p, errs := netattach.DecodePolicy(d.Data)
		if len(errs) > 0 {
			return
		}
		r.nncps++
		for _, in := range p.Spec.DesiredState.Interfaces {
			if in.Type == netattach.TypeLinuxBridge && in.State != netattach.StateAbsent {
				if r.bridges == nil {
					r.bridges = map[string]int{}
				}
				r.bridges[in.Name] = in.MTU
			}
		}
	case "VirtualMachine", "VirtualMachineInstance":
		obj, errs := vmspec.Decode(d.Data)
		if len(errs) > 0 {
			return
		}
		var ns string
		var spec *kubevirtv1.VirtualMachineInstanceSpec
		base := field.NewPath("spec")
		switch o := obj.(type) {
		case *kubevirtv1.VirtualMachine:
			ns = o.Namespace
			if o.Spec.Template != nil {
				spec = &o.Spec.Template.Spec
				base = base.Child("template", "spec")
			}
		case *kubevirtv1.VirtualMachineInstance:
			ns, spec = o.Namespace, &o.Spec
		}
		if spec == nil {
			return
		}
		for i, n := range spec.Networks {
			if n.Multus != nil && n.Multus.NetworkName != "" {
				path := base.Child("networks").Index(i).Child("multus", "networkName").String()
				r.uses = append(r.uses, networkUse{src, path, ns, n.Multus.NetworkName})
			}
		}
	}
}

// check returns warnings per file. A link is only checked when the files
// define objects of the target kind at all: linting a VM on its own says
// nothing about NADs that already exist in the cluster.
func (r *refs) check() map[string][]finding {
	out := map[string][]finding{}
	add := func(file string, f finding) { out[file] = append(out[file], f) }
	if len(r.nads) > 0 {
		for _, u := range r.uses {
			ns, name, qualified := strings.Cut(u.networkName, "/")
			if !qualified {
				ns, name = u.vmNamespace, u.networkName
			}
			found, elsewhere := false, ""
			for _, n := range r.nads {
				if n.name != name {
					continue
				}
				if n.namespace == ns || n.namespace == "" || ns == "" {
					found = true
					break
				}
				elsewhere = n.namespace
			}
			switch {
			case found:
			case elsewhere != "":
				add(u.src.finding(u.path, "NetworkAttachmentDefinition %q is in namespace %q, not the VM's %q: a NAD must be in the VM's namespace (or write %q)", name, elsewhere, ns, elsewhere+"/"+name))
			default:
				add(u.src.finding(u.path, "no NetworkAttachmentDefinition %q in the files checked: it must already exist in the cluster", name))
			}
		}
	}
	if r.nncps > 0 {
		for _, u := range r.brUses {
			mtu, ok := r.bridges[u.bridge]
			switch {
			case !ok:
				add(u.src.finding(u.path, "no NodeNetworkConfigurationPolicy in the files checked creates bridge %q: it must already exist on the nodes", u.bridge))
			case mtu > 0 && u.mtu > mtu:
				// Jumbo frames: the VM's side cannot be larger
				// than the bridge, or large frames are dropped
				// there.
				mp := strings.TrimSuffix(u.path, "bridge") + "mtu"
				add(u.src.finding(mp, "%d is larger than the mtu %d of bridge %q in its NodeNetworkConfigurationPolicy: frames larger than %d cannot cross the bridge", u.mtu, mtu, u.bridge, mtu))
			}
		}
	}
	return out
}
