// Command vmlint checks Kubernetes manifests for network-booted KubeVirt VMs
// offline, before they reach a cluster: every document of every file is
// decoded strictly (unknown or misplaced fields, wrong types, YAML syntax)
// and validated by the pxekit package that owns its kind.
//
//	vmlint FILE... | -
//
// Each finding is printed as
//
//	FILE:DOC:LINE: PATH: MESSAGE
//	FILE:DOC:LINE: warning: PATH: MESSAGE
//
// where DOC is the 1-based document of a multi-document file and LINE the
// line in FILE (left out when unknown). Across all files, links between
// documents are checked as warnings: a VM's Multus network names a NAD of its
// namespace, a bridge NAD names a bridge a NodeNetworkConfigurationPolicy
// creates (each only when the files define objects of that kind). The exit status is 1 if any error
// was found, 0 for warnings only or clean files, 2 for a usage error.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/dpdk"
	"github.com/pxekit/pxekit/hco"
	"github.com/pxekit/pxekit/netattach"
	"github.com/pxekit/pxekit/sriov"
	"github.com/pxekit/pxekit/strictyaml"
	"github.com/pxekit/pxekit/validation"
	"github.com/pxekit/pxekit/vmspec"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// checkFunc decodes and validates one document of a kind: the errors, and
// the warnings every pxekit validator returns beside them.
type checkFunc func(doc []byte) (field.ErrorList, []validation.Warning)

// checkers is the dispatch table: kind → check. A package that can decode
// and validate a kind adds one line here.
func checkers() map[string]checkFunc {
	return map[string]checkFunc{
		"VirtualMachine":         checkKubeVirt,
		"VirtualMachineInstance": checkKubeVirt,
		netattach.NADKind:        checkNAD,
		netattach.NNCPKind:       checkPolicy,
		sriov.KindNodePolicy:     checkSriovNodePolicy,
		sriov.KindNetwork:        checkSriovNetwork,
		dpdk.ProfileKind:         checkProfile,
		dpdk.PoolKind:            checkPool,
		vmspec.KindService:       checkService,
		hco.Kind:                 checkHCO,
		"Namespace":              checkNamespace,
	}
}

// checkKubeVirt checks a VirtualMachine or VirtualMachineInstance
// (kubevirt.io/v1 or v1alpha3) with vmspec's strict decoder and KubeVirt's
// admission rules.
func checkKubeVirt(doc []byte) (field.ErrorList, []validation.Warning) {
	obj, errs := vmspec.Decode(doc)
	if obj == nil {
		return errs, nil
	}
	verrs, warns := vmspec.Validate(obj)
	return append(errs, verrs...), warns
}

// checkService checks a Service exposing a VM on its own (the VM it
// selects may be in another file).
func checkService(doc []byte) (field.ErrorList, []validation.Warning) {
	svc, errs := vmspec.DecodeService(doc)
	if svc == nil {
		return errs, nil
	}
	verrs := vmspec.ValidateService(svc, nil)
	return append(errs, verrs...), nil
}

// namespaceType: a Namespace's name is a DNS-1123 label.
var namespaceType = validation.ObjectType{Kind: "Namespace", APIVersions: []string{"v1"}, ClusterScoped: true, NameRule: k8svalidation.IsDNS1123Label}

// checkNamespace checks a Namespace a stream creates for its objects.
func checkNamespace(doc []byte) (field.ErrorList, []validation.Warning) {
	var ns corev1.Namespace
	errs := strictyaml.Decode(doc, &ns)
	return append(errs, namespaceType.Validate(ns.TypeMeta, &ns.ObjectMeta)...), nil
}

// checkHCO checks the HyperConverged CR's secondary DNS settings.
func checkHCO(doc []byte) (field.ErrorList, []validation.Warning) {
	hc, errs := hco.Decode(doc)
	verrs, warns := hco.Validate(hc)
	return append(errs, verrs...), warns
}

func checkNAD(doc []byte) (field.ErrorList, []validation.Warning) {
	nad, errs := netattach.DecodeNAD(doc)
	verrs, warns := netattach.NADValidator{Plugins: nadPlugins()}.Validate(nad)
	return append(errs, verrs...), warns
}

// nadPlugins are checks for NAD plugin types beyond bridge and tuning.
func nadPlugins() map[string]netattach.PluginValidator {
	return nil
}

func checkPolicy(doc []byte) (field.ErrorList, []validation.Warning) {
	p, errs := netattach.DecodePolicy(doc)
	return append(errs, netattach.ValidatePolicy(p)...), nil
}

func checkSriovNodePolicy(doc []byte) (field.ErrorList, []validation.Warning) {
	p, errs := sriov.DecodeNodePolicy(doc)
	verrs, warns := sriov.ValidateNodePolicy(p, sriov.Options{})
	return append(errs, verrs...), warns
}

func checkSriovNetwork(doc []byte) (field.ErrorList, []validation.Warning) {
	n, errs := sriov.DecodeNetwork(doc)
	verrs, warns := sriov.ValidateNetwork(n, sriov.Options{})
	return append(errs, verrs...), warns
}

func checkProfile(doc []byte) (field.ErrorList, []validation.Warning) {
	p, errs := dpdk.DecodeProfile(doc)
	verrs, warns := dpdk.ValidateProfile(p)
	return append(errs, verrs...), warns
}

func checkPool(doc []byte) (field.ErrorList, []validation.Warning) {
	p, errs := dpdk.DecodeMachineConfigPool(doc)
	return append(errs, dpdk.ValidateMachineConfigPool(p)...), nil
}

// finding is one line of output.
type finding struct {
	doc, line int
	warning   bool
	text      string // "path: message" or, without a path, "message"
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: vmlint FILE... | -   (validates VirtualMachine, VirtualMachineInstance, NetworkAttachmentDefinition,")
		fmt.Fprintln(stderr, "       NodeNetworkConfigurationPolicy, ... documents; exit 1 on errors)")
		return 2
	}
	type input struct {
		name     string
		findings []finding
	}
	var inputs []input
	failed := false
	r := &refs{}
	for _, name := range args {
		var data []byte
		var err error
		shown := name
		if name == "-" {
			shown = "<stdin>"
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			fmt.Fprintf(stdout, "%s: %v\n", shown, err)
			failed = true
			continue
		}
		inputs = append(inputs, input{shown, lint(data, func(d strictyaml.Document, kind string) { r.collect(shown, d, kind) })})
	}
	cross := r.check()
	for _, in := range inputs {
		fs := append(in.findings, cross[in.name]...)
		sort.SliceStable(fs, func(i, j int) bool {
			if fs[i].doc != fs[j].doc {
				return fs[i].doc < fs[j].doc
			}
			return fs[i].line < fs[j].line
		})
		for _, f := range fs {
			loc := fmt.Sprintf("%s:%d", in.name, f.doc)
			if f.line > 0 {
				loc += fmt.Sprintf(":%d", f.line)
			}
			if f.warning {
				fmt.Fprintf(stdout, "%s: warning: %s\n", loc, f.text)
			} else {
				failed = true
				fmt.Fprintf(stdout, "%s: %s\n", loc, f.text)
			}
		}
	}
	if failed {
		return 1
	}
	return 0
}

// lint checks every document of a stream and hands each document of a known
// kind to seen (for the checks across documents).
func lint(data []byte, seen func(strictyaml.Document, string)) []finding {
	table := checkers()
	var out []finding
	docs := strictyaml.SplitDocuments(data)
	if len(docs) == 0 {
		return []finding{{doc: 1, warning: true, text: "no YAML documents"}}
	}
	for _, d := range docs {
		out = append(out, lintDoc(table, d)...)
		if _, kind, err := strictyaml.TypeOf(d.Data); err == nil && table[kind] != nil {
			seen(d, kind)
		}
	}
	return out
}

func lintDoc(table map[string]checkFunc, d strictyaml.Document) []finding {
	fileLine := func(l int) int {
		if l == 0 {
			return 0
		}
		return d.Line + l - 1
	}
	n := d.Index + 1
	_, kind, err := strictyaml.TypeOf(d.Data)
	if err != nil {
		l := lineOf(err.Error())
		return []finding{{doc: n, line: fileLine(l), text: stripLine(err.Error(), l)}}
	}
	idx := strictyaml.IndexLines(d.Data)
	check := table[kind]
	if check == nil {
		kinds := make([]string, 0, len(table))
		for k := range table {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		return []finding{{doc: n, line: fileLine(idx.Line("kind")), text: fmt.Sprintf("kind: Unsupported value: %q: vmlint checks %s", kind, strings.Join(kinds, ", "))}}
	}
	errs, warns := check(d.Data)
	refine := func(path, detail string) int { return 0 }
	if kind == netattach.NADKind {
		refine = nadConfigLines(d.Data, idx)
	}
	var out []finding
	seen := map[string]bool{}
	for _, e := range errs {
		text := e.Error()
		line := idx.ErrorLine(e)
		if l := refine(e.Field, e.Detail); l > 0 {
			line = l
		}
		if e.Field == "" || e.Field == "<nil>" {
			// A syntax error: the line is printed in the location already.
			text = stripLine(e.Detail, line)
		}
		// A problem decode and validation both see (a config that is not
		// JSON) is printed once.
		if seen[text] {
			continue
		}
		seen[text] = true
		out = append(out, finding{doc: n, line: fileLine(line), text: text})
	}
	for _, w := range warns {
		line := idx.Line(w.Field)
		if l := refine(w.Field, w.Message); l > 0 {
			line = l
		}
		out = append(out, finding{doc: n, line: fileLine(line), warning: true, text: w.String()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}

// lineOf reads the line number of a "line N: ..." message (strictyaml's syntax
// errors), or 0.
func lineOf(msg string) int {
	var l int
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i:], "line %d", &l)
	}
	return l
}

// stripLine drops a leading "line N: " from msg when N is line (already
// printed as FILE:DOC:LINE).
func stripLine(msg string, line int) string {
	if line == 0 {
		return msg
	}
	prefix := fmt.Sprintf("line %d: ", line)
	if i := strings.Index(msg, prefix); i >= 0 {
		return msg[:i] + msg[i+len(prefix):]
	}
	return msg
}
