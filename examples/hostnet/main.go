//go:build linux

// Command hostnet sets up a Linux bridge and VLANs on this host, or in a
// network namespace, from the same nmstate policy a cluster gets as a
// NodeNetworkConfigurationPolicy (OpenShift Virtualization's br1-eth1-policy,
// say):
//
//	hostnet plan   -f policy.yaml [-netns NAME]   print the steps
//	hostnet apply  -f policy.yaml [-netns NAME]   make them (rolled back on failure)
//	hostnet remove -f policy.yaml [-netns NAME]   delete the policy's bridges and VLAN links
//	hostnet nncp   -f policy.yaml [-name NAME]    print the NodeNetworkConfigurationPolicy
//	hostnet attach -bridge BR -port P [-vlan N] [-preserve-default-vlan=false] [-trunk 300-301,400] [-netns NAME]
//	                                              attach a port the way the bridge CNI (cnv-bridge) does
//
// -v logs every step applied or rolled back on stderr.
//
// policy.yaml is an NNCP's desiredState (interfaces: ...), or a whole
// NodeNetworkConfigurationPolicy, so an existing NNCP can be fed in.
// apply and remove need CAP_NET_ADMIN.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/netattach"
	"github.com/pxekit/pxekit/netattach/host"
	"github.com/pxekit/pxekit/strictyaml"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := runContext(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  hostnet plan   -f policy.yaml [-netns NAME]
  hostnet apply  -f policy.yaml [-netns NAME]
  hostnet remove -f policy.yaml [-netns NAME]
  hostnet nncp   -f policy.yaml [-name NAME]
  hostnet attach -bridge BR -port P [-vlan N] [-preserve-default-vlan=false] [-trunk 300-301,400] [-mtu N] [-netns NAME]
policy.yaml: an nmstate desiredState (interfaces: ...) or a whole NodeNetworkConfigurationPolicy
`

// run is the command: exit status 0 on success, 1 when planning or applying
// fails, 2 for bad usage or a bad policy file.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd := args[0]
	switch cmd {
	case "plan", "apply", "remove", "nncp", "attach":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "hostnet: unknown command %q\n%s", cmd, usage)
		return 2
	}
	fs := flag.NewFlagSet("hostnet "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "policy file: a desiredState or a NodeNetworkConfigurationPolicy (YAML)")
	nsName := fs.String("netns", "", "network namespace (a name under /run/netns or a path); empty: this process's")
	name := fs.String("name", "", "nncp: the policy's metadata.name (default: the file's, if it is an NNCP)")
	verbose := fs.Bool("v", false, "log each step applied or rolled back on stderr")
	var att host.PortAttachment
	var preserve bool
	var trunk string
	if cmd == "attach" {
		fs.StringVar(&att.Bridge, "bridge", "", "attach: the existing bridge")
		fs.StringVar(&att.Port, "port", "", "attach: the existing link to attach (a VM's veth or tap)")
		fs.IntVar(&att.VLAN, "vlan", 0, "attach: access VLAN (PVID, untagged); 0: none")
		fs.BoolVar(&preserve, "preserve-default-vlan", true, "attach: keep VLAN 1 on the port (the CNI's preserveDefaultVlan)")
		fs.StringVar(&trunk, "trunk", "", "attach: tagged VLANs, e.g. 300-301,400 (the CNI's vlanTrunk)")
		fs.IntVar(&att.MTU, "mtu", 0, "attach: port MTU; 0 leaves it")
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hostnet %s: unexpected arguments %q\n", cmd, fs.Args())
		return 2
	}
	h := &host.Host{NetNS: *nsName, Logger: slog.New(slog.DiscardHandler)}
	if *verbose {
		h.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if cmd == "attach" {
		att.PreserveDefaultVLAN = &preserve
		att.Up = true
		ranges, err := parseTrunk(trunk)
		if err != nil {
			fmt.Fprintf(stderr, "hostnet attach: -trunk: %v\n", err)
			return 2
		}
		att.Trunk = ranges
		if errs := att.Validate(); len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintf(stderr, "hostnet attach: -%v\n", e)
			}
			return 2
		}
		plan, err := h.PlanAttach(ctx, att)
		if err != nil {
			fmt.Fprintf(stderr, "hostnet attach: %v\n", err)
			return 1
		}
		return apply(ctx, h, plan, stdout, stderr, "", nil)
	}
	if *file == "" {
		fmt.Fprintf(stderr, "hostnet %s: -f policy.yaml is required\n", cmd)
		return 2
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintf(stderr, "hostnet: %v\n", err)
		return 2
	}
	pf, errs := loadPolicy(data)
	if len(errs) > 0 {
		printErrors(stderr, *file, pf, errs)
		return 2
	}

	if cmd == "nncp" {
		return printNNCP(stdout, stderr, *file, pf, *name)
	}
	var plan *host.Plan
	if cmd == "remove" {
		plan, err = h.PlanRemove(ctx, pf.state)
	} else {
		plan, err = h.Plan(ctx, pf.state)
	}
	if err != nil {
		printErr(stderr, *file, pf, err)
		return 1
	}
	if cmd == "plan" {
		fmt.Fprint(stdout, plan)
		return 0
	}
	return apply(ctx, h, plan, stdout, stderr, *file, pf)
}

// apply prints the plan, applies it and says how it went.
func apply(ctx context.Context, h *host.Host, plan *host.Plan, stdout, stderr io.Writer, file string, pf *policyFile) int {
	fmt.Fprint(stdout, plan)
	steps, err := h.Apply(ctx, plan)
	if err != nil {
		if pf != nil {
			printErr(stderr, file, pf, err)
		} else {
			fmt.Fprintf(stderr, "hostnet: %v\n", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "applied %d step(s)\n", len(steps))
	return 0
}

// parseTrunk reads "300-301,400" into VLAN ranges.
func parseTrunk(s string) ([]host.VLANRange, error) {
	var out []host.VLANRange
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("%q: not a VLAN id or range", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("%q: not a VLAN id or range", part)
			}
		}
		out = append(out, host.VLANRange{Min: a, Max: b})
	}
	return out, nil
}

// policyFile is a decoded policy file.
type policyFile struct {
	state netattach.State
	// nncp is the whole object when the file held one.
	nncp *netattach.NodeNetworkConfigurationPolicy
	// prefix is where the desiredState sits in the file ("" or
	// "spec.desiredState"), for mapping field paths to lines.
	prefix string
	doc    []byte
}

// loadPolicy decodes a policy file strictly: one YAML document, either a
// NodeNetworkConfigurationPolicy or its desiredState alone. Problems come
// with their field paths (relative to the file's root).
func loadPolicy(data []byte) (*policyFile, field.ErrorList) {
	docs := strictyaml.SplitDocuments(data)
	switch {
	case len(docs) == 0:
		return &policyFile{doc: data}, field.ErrorList{field.Required(field.NewPath("interfaces"), "the file is empty")}
	case len(docs) > 1:
		return &policyFile{doc: data}, field.ErrorList{field.Invalid(field.NewPath(""), fmt.Sprintf("%d documents", len(docs)),
			"one policy per file (the second starts on line "+fmt.Sprint(docs[1].Line)+")")}
	}
	doc := docs[0].Data
	pf := &policyFile{doc: doc}
	if _, kind, err := strictyaml.TypeOf(doc); err == nil {
		if kind != "NodeNetworkConfigurationPolicy" {
			return pf, field.ErrorList{field.NotSupported(field.NewPath("kind"), kind, []string{"NodeNetworkConfigurationPolicy"})}
		}
		nncp, errs := netattach.DecodePolicy(doc)
		pf.nncp, pf.prefix = nncp, "spec.desiredState"
		pf.state = nncp.Spec.DesiredState
		if len(errs) == 0 {
			errs = netattach.ValidatePolicy(nncp)
		}
		return pf, errs
	}
	errs := strictyaml.Decode(doc, &pf.state)
	if len(errs) == 0 {
		errs = pf.state.Validate()
	}
	if len(errs) == 0 && len(pf.state.Interfaces) == 0 {
		errs = field.ErrorList{field.Required(field.NewPath("interfaces"), "a desiredState lists its interfaces")}
	}
	return pf, errs
}

// printErrors prints field errors as file:line: error, one a line.
func printErrors(w io.Writer, file string, pf *policyFile, errs field.ErrorList) {
	var idx *strictyaml.LineIndex
	if pf != nil {
		idx = strictyaml.IndexLines(pf.doc)
	}
	for _, e := range errs {
		line := 0
		if idx != nil {
			line = idx.ErrorLine(e)
		}
		if line > 0 {
			fmt.Fprintf(w, "%s:%d: %v\n", file, line, e)
		} else {
			fmt.Fprintf(w, "%s: %v\n", file, e)
		}
	}
}

// printErr prints a Plan/Apply error; field errors from planning (paths
// relative to the desiredState) get the file's prefix and their line.
func printErr(w io.Writer, file string, pf *policyFile, err error) {
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) {
		var fe field.ErrorList
		for _, e := range agg.Errors() {
			var f *field.Error
			if !errors.As(e, &f) {
				fe = nil
				break
			}
			c := *f
			if pf.prefix != "" {
				c.Field = pf.prefix + "." + c.Field
			}
			fe = append(fe, &c)
		}
		if fe != nil {
			printErrors(w, file, pf, fe)
			return
		}
	}
	fmt.Fprintf(w, "hostnet: %v\n", err)
}

func printNNCP(stdout, stderr io.Writer, file string, pf *policyFile, name string) int {
	nncp := pf.nncp
	if nncp == nil {
		nncp = &netattach.NodeNetworkConfigurationPolicy{
			TypeMeta: metav1.TypeMeta{APIVersion: netattach.NMStateAPIVersion, Kind: "NodeNetworkConfigurationPolicy"},
			Spec:     netattach.NNCPSpec{DesiredState: pf.state},
		}
	}
	if name != "" {
		nncp.Name = name
	}
	if nncp.Name == "" {
		fmt.Fprintf(stderr, "hostnet nncp: %s holds only a desiredState: give the policy a name with -name\n", file)
		return 2
	}
	if errs := netattach.ValidatePolicy(nncp); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, "hostnet nncp:", strings.TrimSpace(e.Error()))
		}
		return 2
	}
	out, err := yaml.Marshal(nncp)
	if err != nil {
		fmt.Fprintf(stderr, "hostnet nncp: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, string(out))
	return 0
}
