package host

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/sriov"
)

// ApplyOptions tune ApplyNodePolicy.
type ApplyOptions struct {
	// Validation is passed to sriov.ValidateNodePolicy and decides which
	// NIC models are supported.
	Validation sriov.Options
	// Netlink sets the MTU of the PF and its VF netdevs; a policy with an
	// mtu needs it.
	Netlink *netlink.Handle
	// NodeLabels, when non-nil, are this node's labels: a policy whose
	// nodeSelector does not match them is not applied.
	NodeLabels map[string]string
	// Logger receives one record per change made (numVfs, a VF's driver,
	// an MTU); nil means slog.Default(). To silence it, pass
	// slog.New(slog.DiscardHandler).
	Logger *slog.Logger
}

func (o ApplyOptions) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// AppliedPF is one PF a policy selected, as read after applying it.
type AppliedPF struct {
	// PF is the PF as read back.
	PF PF
	// Selected are the VF indexes the policy owns (its pfNames range, or
	// all).
	Selected []int
}

// SelectPFs returns the PFs of this host that nicSelector selects, with
// the webhook's per-NIC rules: every given criterion must match, and the
// NIC model must be supported (unless opts.DevMode). It reports at their
// field paths a pfNames entry and a rootDevices entry that name
// different devices — they must point at the same one.
func SelectPFs(pfs []PF, sel sriov.NicSelector, opts sriov.Options) ([]PF, field.ErrorList) {
	var errs field.ErrorList
	np := field.NewPath("spec", "nicSelector")
	if sel.NetFilter != "" {
		return nil, field.ErrorList{field.Invalid(np.Child("netFilter"), sel.NetFilter, "selects cloud (OpenStack/AWS) networks, which a bare host cannot match")}
	}
	names := make([]string, len(sel.PfNames))
	for i, p := range sel.PfNames {
		names[i], _, _ = strings.Cut(p, "#")
	}
	byName := map[string]PF{}
	byAddr := map[string]PF{}
	for _, pf := range pfs {
		byAddr[pf.PCIAddress] = pf
		for _, n := range pf.Netdevs {
			byName[n] = pf
		}
	}
	if len(sel.PfNames) > 0 && len(sel.RootDevices) > 0 {
		for i, n := range names {
			if pf, ok := byName[n]; ok && !slices.Contains(sel.RootDevices, pf.PCIAddress) {
				errs = append(errs, field.Invalid(np.Child("pfNames").Index(i), sel.PfNames[i],
					fmt.Sprintf("%s is PCI device %s, which rootDevices does not list: pfNames and rootDevices must name the same devices", n, pf.PCIAddress)))
			}
		}
		for i, a := range sel.RootDevices {
			if pf, ok := byAddr[a]; ok && !slices.ContainsFunc(pf.Netdevs, func(n string) bool { return slices.Contains(names, n) }) {
				errs = append(errs, field.Invalid(np.Child("rootDevices").Index(i), a,
					fmt.Sprintf("%s is %v, which pfNames does not list: pfNames and rootDevices must name the same devices", a, pf.Netdevs)))
			}
		}
	}
	var out []PF
	var skipped []string
	for _, pf := range pfs {
		if sel.Vendor != "" && !strings.EqualFold(sel.Vendor, pf.Vendor) {
			continue
		}
		if sel.DeviceID != "" && !strings.EqualFold(sel.DeviceID, pf.Device) {
			continue
		}
		if len(sel.RootDevices) > 0 && !slices.Contains(sel.RootDevices, pf.PCIAddress) {
			continue
		}
		if len(names) > 0 && !slices.ContainsFunc(pf.Netdevs, func(n string) bool { return slices.Contains(names, n) }) {
			continue
		}
		if !opts.DevMode {
			if _, ok := sriov.LookupNIC(opts.SupportedNICs, pf.Vendor, pf.Device); !ok {
				skipped = append(skipped, fmt.Sprintf("%s (%s:%s)", pf.PCIAddress, pf.Vendor, pf.Device))
				continue
			}
		}
		out = append(out, pf)
	}
	if len(out) == 0 && len(errs) == 0 {
		detail := "no SR-IOV NIC on this host matches"
		if len(skipped) > 0 {
			detail += "; matching but unsupported models: " + strings.Join(skipped, ", ")
		}
		errs = append(errs, field.Invalid(np, fmt.Sprintf("%+v", sel), detail))
	}
	return out, errs
}

// ApplyNodePolicy applies p on this host the way the operator's config
// daemon does on a node: it validates p, selects the PFs, checks numVfs
// against each PF's sriov_totalvfs, sets numVfs (through 0 when it
// changes), sets the MTU, and binds the VFs the policy owns to vfio-pci
// (deviceType vfio-pci) or back to their default driver (netdevice). With
// externallyManaged it creates nothing and checks that enough VFs exist.
// It does every PF it can and returns what it applied with one error for
// everything that failed.
func ApplyNodePolicy(s Sysfs, p *sriov.SriovNetworkNodePolicy, opts ApplyOptions) ([]AppliedPF, error) {
	if errs, _ := sriov.ValidateNodePolicy(p, opts.Validation); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	if opts.NodeLabels != nil {
		for k, v := range p.Spec.NodeSelector {
			if got, ok := opts.NodeLabels[k]; !ok || got != v {
				return nil, fmt.Errorf("sriov/host: policy %s does not select this node: nodeSelector %s=%q, node has %q", p.Name, k, v, got)
			}
		}
	}
	all, err := s.ListPFs()
	if err != nil {
		return nil, err
	}
	pfs, ferrs := SelectPFs(all, p.Spec.NicSelector, opts.Validation)
	if len(ferrs) > 0 {
		return nil, ferrs.ToAggregate()
	}
	if p.Spec.Mtu > 0 && opts.Netlink == nil {
		return nil, errors.New("sriov/host: the policy sets an mtu: ApplyOptions.Netlink is needed")
	}
	var errs []error
	var out []AppliedPF
	for _, pf := range pfs {
		a, err := applyPF(s, p, pf, opts)
		if err != nil {
			errs = append(errs, err)
		}
		if a != nil {
			out = append(out, *a)
		}
	}
	return out, errors.Join(errs...)
}

func applyPF(s Sysfs, p *sriov.SriovNetworkNodePolicy, pf PF, opts ApplyOptions) (*AppliedPF, error) {
	spec := &p.Spec
	log := opts.logger().With("policy", p.Name, "pf", pf.PCIAddress)
	if spec.NumVfs > pf.TotalVFs {
		return nil, &NumVFsError{PF: pf.PCIAddress, Want: spec.NumVfs, Total: pf.TotalVFs, Got: pf.NumVFs}
	}
	if spec.ExternallyManaged {
		if spec.NumVfs > pf.NumVFs {
			return nil, fmt.Errorf("sriov/host: %s: externally managed PF has %d VFs, the policy needs %d", pf.PCIAddress, pf.NumVFs, spec.NumVfs)
		}
	} else if err := s.SetNumVFs(pf.PCIAddress, spec.NumVfs); err != nil {
		return nil, err
	} else if pf.NumVFs != spec.NumVfs {
		log.Info("set numvfs", "from", pf.NumVFs, "to", spec.NumVfs)
	}
	cur, err := s.PF(pf.PCIAddress)
	if err != nil {
		return nil, err
	}
	// The VF range this policy owns on this PF.
	rng := sriov.PFName{}
	for _, e := range spec.NicSelector.PfNames {
		if parsed, err := sriov.ParsePFName(e, 0); err == nil && slices.Contains(cur.Netdevs, parsed.Name) {
			rng = parsed
		}
	}
	var errs []error
	if spec.Mtu > 0 {
		for _, n := range cur.Netdevs {
			if err := setMTUAtLeast(opts.Netlink, n, spec.Mtu, log); err != nil {
				errs = append(errs, err)
			}
		}
	}
	var selected []int
	for _, vf := range cur.VFs {
		if !rng.Contains(vf.Index) || vf.Index >= spec.NumVfs {
			continue
		}
		selected = append(selected, vf.Index)
		switch spec.DeviceType {
		case sriov.DeviceTypeVfioPCI:
			if err := s.BindDriver(vf.PCIAddress, VfioPCI); err != nil {
				errs = append(errs, err)
			} else if vf.Driver != VfioPCI {
				log.Info("bound VF", "vf", vf.PCIAddress, "driver", VfioPCI, "was", vf.Driver)
			}
		default:
			if vf.Driver == "" || vf.Driver == VfioPCI {
				if err := s.BindDefaultDriver(vf.PCIAddress); err != nil {
					errs = append(errs, err)
				} else {
					log.Info("bound VF to its default driver", "vf", vf.PCIAddress, "driver", s.Driver(vf.PCIAddress), "was", vf.Driver)
				}
			}
		}
	}
	if spec.Mtu > 0 && spec.DeviceType != sriov.DeviceTypeVfioPCI {
		after, err := s.PF(pf.PCIAddress)
		if err == nil {
			for _, vf := range after.VFs {
				if !slices.Contains(selected, vf.Index) {
					continue
				}
				for _, n := range vf.Netdevs {
					if err := setMTU(opts.Netlink, n, spec.Mtu); err != nil {
						errs = append(errs, err)
					} else {
						log.Info("set mtu", "link", n, "mtu", spec.Mtu)
					}
				}
			}
		}
	}
	final, err := s.PF(pf.PCIAddress)
	if err != nil {
		return nil, err
	}
	return &AppliedPF{PF: final, Selected: selected}, errors.Join(errs...)
}

// setMTUAtLeast raises a PF's MTU to mtu (a VF cannot exceed its PF's).
func setMTUAtLeast(h *netlink.Handle, name string, mtu int, log *slog.Logger) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("sriov/host: %s: %w", name, err)
	}
	if l.Attrs().MTU >= mtu {
		return nil
	}
	if err := h.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("sriov/host: %s: mtu %d refused: %w", name, mtu, err)
	}
	log.Info("raised PF mtu", "link", name, "from", l.Attrs().MTU, "to", mtu)
	return nil
}

func setMTU(h *netlink.Handle, name string, mtu int) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("sriov/host: %s: %w", name, err)
	}
	if err := h.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("sriov/host: %s: mtu %d refused: %w", name, mtu, err)
	}
	return nil
}
