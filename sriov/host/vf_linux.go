package host

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/sriov"
)

// Netlink opens a route-netlink handle in network namespace ns (the
// caller's own when ns is not open, i.e. netns.None()). Only
// NETLINK_ROUTE is opened: the library's default set also opens XFRM and
// NETFILTER sockets, which fail where those modules are not loaded.
func Netlink(ns netns.NsHandle) (*netlink.Handle, error) {
	if ns.IsOpen() {
		return netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	}
	return netlink.NewHandle(unix.NETLINK_ROUTE)
}

// VLAN protocols a VF VLAN can use.
const (
	VLANProto8021Q  = "802.1Q"
	VLANProto8021AD = "802.1ad"
)

// VFConfig is what to set on one VF; nil/empty fields are left alone.
// Field names follow SriovNetwork's spec.
type VFConfig struct {
	// MAC is the VF's MAC address.
	MAC net.HardwareAddr
	// VLAN 0..4094 (0 removes the tag) with QoS 0..7 and Proto
	// ("" = 802.1Q without sending the protocol attribute).
	VLAN  *int
	QoS   int
	Proto string
	// SpoofChk and Trust.
	SpoofChk *bool
	Trust    *bool
	// MinTxRate and MaxTxRate in Mbps (0 = no limit); set together.
	MinTxRate *int
	MaxTxRate *int
	// LinkState is "auto", "enable" or "disable".
	LinkState string
}

// Validate checks the configuration without touching a VF, with paths
// named as the Refusal fields are (vlan, vlanQoS, minTxRate): a 6-byte
// unicast MAC, VLAN 0..4094 with QoS 0..7 (a QoS needs the VLAN), a known
// VLAN protocol, rates not negative and min ≤ max when max is set, and a
// known link state.
func (c VFConfig) Validate() field.ErrorList {
	var errs field.ErrorList
	if c.MAC != nil {
		if len(c.MAC) != 6 {
			errs = append(errs, field.Invalid(field.NewPath("macAddress"), c.MAC.String(), macaddr.ErrLength.Error()))
		} else if !macaddr.IsUnicast(c.MAC) {
			errs = append(errs, field.Invalid(field.NewPath("macAddress"), c.MAC.String(), "a multicast MAC cannot be set on a VF"))
		}
	}
	if c.VLAN != nil && (*c.VLAN < 0 || *c.VLAN > 4094) {
		errs = append(errs, field.Invalid(field.NewPath("vlan"), *c.VLAN, "must be between 0 and 4094"))
	}
	switch {
	case c.QoS < 0 || c.QoS > 7:
		errs = append(errs, field.Invalid(field.NewPath("vlanQoS"), c.QoS, "must be between 0 and 7"))
	case c.QoS != 0 && c.VLAN == nil:
		errs = append(errs, field.Required(field.NewPath("vlan"), "a vlanQoS is set with its VLAN"))
	}
	switch c.Proto {
	case "", VLANProto8021Q, VLANProto8021AD:
		if c.Proto != "" && c.VLAN == nil {
			errs = append(errs, field.Required(field.NewPath("vlan"), "a vlanProto is set with its VLAN"))
		}
	default:
		errs = append(errs, field.NotSupported(field.NewPath("vlanProto"), c.Proto, []string{VLANProto8021Q, VLANProto8021AD}))
	}
	for _, r := range []struct {
		name string
		v    *int
	}{{"minTxRate", c.MinTxRate}, {"maxTxRate", c.MaxTxRate}} {
		if r.v != nil && *r.v < 0 {
			errs = append(errs, field.Invalid(field.NewPath(r.name), *r.v, "must be at least 0 (0: no limit)"))
		}
	}
	if c.MinTxRate != nil && c.MaxTxRate != nil && *c.MaxTxRate > 0 && *c.MinTxRate > *c.MaxTxRate {
		errs = append(errs, field.Invalid(field.NewPath("minTxRate"), *c.MinTxRate, fmt.Sprintf("must not exceed maxTxRate (%d)", *c.MaxTxRate)))
	}
	switch c.LinkState {
	case "", sriov.LinkStateAuto, sriov.LinkStateEnable, sriov.LinkStateDisable:
	default:
		errs = append(errs, field.NotSupported(field.NewPath("linkState"), c.LinkState, []string{sriov.LinkStateAuto, sriov.LinkStateEnable, sriov.LinkStateDisable}))
	}
	return errs
}

// VFConfigFromNetwork is the VF configuration the sriov CNI applies for a
// SriovNetwork (plus the pod's MAC, which the CNI gets from the runtime).
func VFConfigFromNetwork(n *sriov.SriovNetwork, mac net.HardwareAddr) VFConfig {
	c := VFConfig{MAC: mac, MinTxRate: n.Spec.MinTxRate, MaxTxRate: n.Spec.MaxTxRate, LinkState: n.Spec.LinkState}
	vlan := n.Spec.Vlan
	c.VLAN, c.QoS = &vlan, n.Spec.VlanQoS
	if n.Spec.VlanProto != "" {
		if strings.EqualFold(n.Spec.VlanProto, "802.1ad") {
			c.Proto = VLANProto8021AD
		} else {
			c.Proto = VLANProto8021Q
		}
	}
	onOff := func(s string) *bool {
		switch s {
		case sriov.On:
			b := true
			return &b
		case sriov.Off:
			b := false
			return &b
		}
		return nil
	}
	c.SpoofChk, c.Trust = onOff(n.Spec.SpoofChk), onOff(n.Spec.Trust)
	return c
}

// VFState is a VF's configuration as the PF reports it over netlink.
type VFState struct {
	// ID is the VF index.
	ID int
	// MAC, VLAN, QoS, Proto, SpoofChk, Trust, the rates (Mbps) and
	// LinkState are as VFConfig names them.
	MAC       net.HardwareAddr
	VLAN      int
	QoS       int
	Proto     string
	SpoofChk  bool
	Trust     bool
	MinTxRate int
	MaxTxRate int
	LinkState string
}

// Refusal is one VF setting that did not take effect.
type Refusal struct {
	// Field is the SriovNetwork spec name: macAddress, vlan, vlanQoS,
	// vlanProto, spoofChk, trust, minTxRate, maxTxRate, linkState.
	Field string
	// Want is the value asked for.
	Want string
	// Err is the kernel's answer, or a read-back mismatch.
	Err error
}

// VFError lists, per field, what the driver refused for one VF; the
// fields not listed took effect.
type VFError struct {
	// PF is the PF netdev.
	PF string
	// VF is the VF index.
	VF int
	// Refused lists what did not take effect.
	Refused []Refusal
}

// Error says what was asked, what the kernel answered and what is bound or
// set now.
func (e *VFError) Error() string {
	parts := make([]string, len(e.Refused))
	for i, r := range e.Refused {
		parts[i] = fmt.Sprintf("%s=%s: %v", r.Field, r.Want, r.Err)
	}
	return fmt.Sprintf("sriov/host: %s VF %d: the driver refused %s", e.PF, e.VF, strings.Join(parts, "; "))
}

// Field returns the refusal for field, if any.
func (e *VFError) Field(field string) (Refusal, bool) {
	for _, r := range e.Refused {
		if r.Field == field {
			return r, true
		}
	}
	return Refusal{}, false
}

// ReadVF reads VF vf of PF netdev pf.
func ReadVF(h *netlink.Handle, pf string, vf int) (VFState, error) {
	link, err := h.LinkByName(pf)
	if err != nil {
		return VFState{}, fmt.Errorf("sriov/host: PF %s: %w", pf, err)
	}
	return findVF(link, vf)
}

func findVF(link netlink.Link, vf int) (VFState, error) {
	for _, v := range link.Attrs().Vfs {
		if v.ID != vf {
			continue
		}
		st := VFState{ID: v.ID, MAC: v.Mac, VLAN: v.Vlan, QoS: v.Qos, SpoofChk: v.Spoofchk, Trust: v.Trust != 0,
			MinTxRate: int(v.MinTxRate), MaxTxRate: int(v.MaxTxRate)}
		if st.MaxTxRate == 0 {
			st.MaxTxRate = v.TxRate
		}
		switch v.VlanProto {
		case unix.ETH_P_8021AD:
			st.Proto = VLANProto8021AD
		default:
			st.Proto = VLANProto8021Q
		}
		switch v.LinkState {
		case netlink.VF_LINK_STATE_AUTO:
			st.LinkState = sriov.LinkStateAuto
		case netlink.VF_LINK_STATE_ENABLE:
			st.LinkState = sriov.LinkStateEnable
		case netlink.VF_LINK_STATE_DISABLE:
			st.LinkState = sriov.LinkStateDisable
		}
		return st, nil
	}
	return VFState{}, fmt.Errorf("sriov/host: PF %s has no VF %d (%d VFs reported)", link.Attrs().Name, vf, len(link.Attrs().Vfs))
}

// ConfigureVF sets cfg on VF vf of PF netdev pf, every field even when an
// earlier one fails, then reads the VF back. A cfg that Validate refuses
// is returned as that field.ErrorList aggregate, and nothing is set. It returns the state read
// back and, if anything did not take effect, a *VFError listing each
// refused field with the kernel's reason (igb, for one, refuses a rate
// while the link has no speed and has no link-state operation at all).
func ConfigureVF(h *netlink.Handle, pf string, vf int, cfg VFConfig) (VFState, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return VFState{}, errs.ToAggregate()
	}
	link, err := h.LinkByName(pf)
	if err != nil {
		return VFState{}, fmt.Errorf("sriov/host: PF %s: %w", pf, err)
	}
	var refused []Refusal
	try := func(field, want string, err error) {
		if err != nil {
			refused = append(refused, Refusal{Field: field, Want: want, Err: err})
		}
	}
	if cfg.MAC != nil {
		try("macAddress", cfg.MAC.String(), h.LinkSetVfHardwareAddr(link, vf, cfg.MAC))
	}
	if cfg.VLAN != nil {
		var err error
		switch cfg.Proto {
		case "":
			err = h.LinkSetVfVlanQos(link, vf, *cfg.VLAN, cfg.QoS)
		case VLANProto8021Q, VLANProto8021AD:
			proto := unix.ETH_P_8021Q
			if cfg.Proto == VLANProto8021AD {
				proto = unix.ETH_P_8021AD
			}
			err = h.LinkSetVfVlanQosProto(link, vf, *cfg.VLAN, cfg.QoS, proto)
		default:
			err = fmt.Errorf("unknown VLAN protocol %q", cfg.Proto)
		}
		if err != nil {
			try("vlan", fmt.Sprint(*cfg.VLAN), err)
			if cfg.QoS != 0 {
				try("vlanQoS", fmt.Sprint(cfg.QoS), err)
			}
			if cfg.Proto != "" {
				try("vlanProto", cfg.Proto, err)
			}
		}
	}
	if cfg.SpoofChk != nil {
		try("spoofChk", onOff(*cfg.SpoofChk), h.LinkSetVfSpoofchk(link, vf, *cfg.SpoofChk))
	}
	if cfg.Trust != nil {
		try("trust", onOff(*cfg.Trust), h.LinkSetVfTrust(link, vf, *cfg.Trust))
	}
	if cfg.MinTxRate != nil || cfg.MaxTxRate != nil {
		minR, maxR := 0, 0
		if cfg.MinTxRate != nil {
			minR = *cfg.MinTxRate
		}
		if cfg.MaxTxRate != nil {
			maxR = *cfg.MaxTxRate
		}
		if err := h.LinkSetVfRate(link, vf, minR, maxR); err != nil {
			// Both go in one message; find out which one the driver minds
			// by asking for the max rate alone (Intel refuses any min).
			maxErr := err
			if minR != 0 {
				maxErr = h.LinkSetVfRate(link, vf, 0, maxR)
				try("minTxRate", fmt.Sprint(minR), err)
			}
			if cfg.MaxTxRate != nil {
				try("maxTxRate", fmt.Sprint(maxR), maxErr)
			}
		}
	}
	if cfg.LinkState != "" {
		var st uint32
		var err error
		switch cfg.LinkState {
		case sriov.LinkStateAuto:
			st = netlink.VF_LINK_STATE_AUTO
		case sriov.LinkStateEnable:
			st = netlink.VF_LINK_STATE_ENABLE
		case sriov.LinkStateDisable:
			st = netlink.VF_LINK_STATE_DISABLE
		default:
			err = fmt.Errorf("unknown link state %q (auto, enable, disable)", cfg.LinkState)
		}
		if err == nil {
			err = h.LinkSetVfState(link, vf, st)
		}
		try("linkState", cfg.LinkState, err)
	}

	// Read back: a driver may accept a value and apply another.
	link, err = h.LinkByName(pf)
	if err != nil {
		return VFState{}, fmt.Errorf("sriov/host: PF %s: read back: %w", pf, err)
	}
	got, err := findVF(link, vf)
	if err != nil {
		return VFState{}, err
	}
	refusedField := map[string]bool{}
	for _, r := range refused {
		refusedField[r.Field] = true
	}
	mismatch := func(field, want, have string) {
		if !refusedField[field] && want != have {
			refused = append(refused, Refusal{Field: field, Want: want, Err: fmt.Errorf("accepted, but reads back %s", have)})
		}
	}
	if cfg.MAC != nil && !bytes.Equal(got.MAC, cfg.MAC) {
		mismatch("macAddress", cfg.MAC.String(), got.MAC.String())
	}
	if cfg.VLAN != nil {
		mismatch("vlan", fmt.Sprint(*cfg.VLAN), fmt.Sprint(got.VLAN))
		mismatch("vlanQoS", fmt.Sprint(cfg.QoS), fmt.Sprint(got.QoS))
	}
	if cfg.SpoofChk != nil {
		mismatch("spoofChk", onOff(*cfg.SpoofChk), onOff(got.SpoofChk))
	}
	if cfg.Trust != nil {
		mismatch("trust", onOff(*cfg.Trust), onOff(got.Trust))
	}
	if cfg.MaxTxRate != nil {
		mismatch("maxTxRate", fmt.Sprint(*cfg.MaxTxRate), fmt.Sprint(got.MaxTxRate))
	}
	if cfg.MinTxRate != nil {
		mismatch("minTxRate", fmt.Sprint(*cfg.MinTxRate), fmt.Sprint(got.MinTxRate))
	}
	if cfg.LinkState != "" {
		mismatch("linkState", cfg.LinkState, got.LinkState)
	}
	if len(refused) > 0 {
		return got, &VFError{PF: pf, VF: vf, Refused: refused}
	}
	return got, nil
}

// IsNotSupported reports whether a refusal means the driver has no such
// operation at all (EOPNOTSUPP), as opposed to refusing the value.
func IsNotSupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP)
}

func onOff(b bool) string {
	if b {
		return sriov.On
	}
	return sriov.Off
}
