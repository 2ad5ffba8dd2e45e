package netattach

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// CNI plugin types for a VM bridge network. OpenShift Virtualization ships the
// upstream bridge and tuning plugins renamed cnv-bridge and cnv-tuning;
// upstream clusters use bridge and tuning.
const (
	PluginCNVBridge = "cnv-bridge"
	PluginBridge    = "bridge"
	PluginCNVTuning = "cnv-tuning"
	PluginTuning    = "tuning"
)

// DefaultCNIVersion is the cniVersion OpenShift Virtualization's NADs declare.
const DefaultCNIVersion = "0.3.1"

// IsBridgePlugin reports whether t names the Linux bridge CNI plugin.
func IsBridgePlugin(t string) bool { return t == PluginCNVBridge || t == PluginBridge }

// IsTuningPlugin reports whether t names the tuning CNI plugin.
func IsTuningPlugin(t string) bool { return t == PluginCNVTuning || t == PluginTuning }

// BridgeNetConf is the bridge (cnv-bridge) CNI plugin's configuration, with
// the keys of containernetworking/plugins' bridge NetConf. Fields whose
// plugin default is not the zero value are pointers, so that an explicit
// false (preserveDefaultVlan: false) survives a round trip.
type BridgeNetConf struct {
	// CNIVersion and Name are set on a single-plugin config; in a conflist
	// they belong to the list.
	CNIVersion string `json:"cniVersion,omitempty"`
	Name       string `json:"name,omitempty"`
	// Type is PluginCNVBridge or PluginBridge.
	Type string `json:"type"`
	// Bridge is the Linux bridge on the node (the plugin defaults to cni0).
	Bridge string `json:"bridge,omitempty"`
	// IsGateway, IsDefaultGateway, ForceAddress and IPMasq give the bridge
	// an address from IPAM and route through it: pod networking, not VMs.
	IsGateway        bool `json:"isGateway,omitempty"`
	IsDefaultGateway bool `json:"isDefaultGateway,omitempty"`
	ForceAddress     bool `json:"forceAddress,omitempty"`
	IPMasq           bool `json:"ipMasq,omitempty"`
	// HairpinMode lets frames go back out of the port they came in on.
	HairpinMode bool `json:"hairpinMode,omitempty"`
	// PromiscMode puts the bridge in promiscuous mode.
	PromiscMode bool `json:"promiscMode,omitempty"`
	// MTU of the veth pair; 0 keeps the kernel's choice.
	MTU int `json:"mtu,omitempty"`
	// VLAN makes the bridge port an access port of that VLAN (0 = none).
	VLAN int `json:"vlan,omitempty"`
	// VLANTrunk makes the port a trunk; exclusive with VLAN.
	VLANTrunk []VLANTrunk `json:"vlanTrunk,omitempty"`
	// PreserveDefaultVLAN keeps VLAN 1 on the port as well (plugin default true).
	PreserveDefaultVLAN *bool `json:"preserveDefaultVlan,omitempty"`
	// MACSpoofChk lets only the interface's own MAC leave (nftables on the node).
	MACSpoofChk *bool `json:"macspoofchk,omitempty"`
	// EnableDAD runs IPv6 duplicate address detection on the interface.
	EnableDAD bool `json:"enabledad,omitempty"`
	// DisableContainerInterface leaves the pod end of the veth down.
	DisableContainerInterface bool `json:"disableContainerInterface,omitempty"`
	// PortIsolation stops ports of the bridge from talking to each other.
	PortIsolation bool `json:"portIsolation,omitempty"`
	// IPAM is the free-form IPAM section; "{}" means L2 only, no addresses.
	IPAM json.RawMessage `json:"ipam,omitempty"`
}

// VLANTrunk is one vlanTrunk entry: a single id, or an inclusive
// minID..maxID range (both required together).
type VLANTrunk struct {
	// MinID and MaxID bound an inclusive range (1..4094).
	MinID *int `json:"minID,omitempty"`
	MaxID *int `json:"maxID,omitempty"`
	// ID is a single VLAN (1..4094).
	ID *int `json:"id,omitempty"`
}

// TrunkID returns a vlanTrunk entry for one VLAN id.
func TrunkID(id int) VLANTrunk { return VLANTrunk{ID: &id} }

// TrunkRange returns a vlanTrunk entry for the inclusive range min..max.
func TrunkRange(min, max int) VLANTrunk { return VLANTrunk{MinID: &min, MaxID: &max} }

// TuningNetConf is the tuning (cnv-tuning) CNI plugin's configuration. It is
// a chained plugin: it changes the interface the previous plugin created
// (chained after the bridge, it applies a VM's custom MAC address).
type TuningNetConf struct {
	// CNIVersion and Name are set on a single-plugin config only.
	CNIVersion string `json:"cniVersion,omitempty"`
	Name       string `json:"name,omitempty"`
	// Type is PluginCNVTuning or PluginTuning.
	Type string `json:"type"`
	// Mac sets the interface's MAC address.
	Mac string `json:"mac,omitempty"`
	// MTU sets the interface's MTU (0 = unchanged).
	MTU int `json:"mtu,omitempty"`
	// SysCtl sets net.* sysctls in the pod's network namespace.
	SysCtl map[string]string `json:"sysctl,omitempty"`
	// Promisc, Allmulti and TxQLen set the interface's promiscuous mode,
	// all-multicast mode and transmit queue length.
	Promisc  bool  `json:"promisc,omitempty"`
	Allmulti *bool `json:"allmulti,omitempty"`
	TxQLen   *int  `json:"txQLen,omitempty"`
}

// Keys every CNI plugin configuration may carry (CNI spec "network
// configuration" and runtime-injected keys); the plugins ignore the rest.
var commonCNIKeys = []string{"cniVersion", "cniVersions", "name", "type", "capabilities", "runtimeConfig", "args", "prevResult", "dns", "ipam"}

var bridgeKeys = []string{"bridge", "isGateway", "isDefaultGateway", "forceAddress", "ipMasq", "ipMasqBackend", "hairpinMode", "promiscMode", "mtu", "vlan", "vlanTrunk", "preserveDefaultVlan", "macspoofchk", "enabledad", "disableContainerInterface", "portIsolation"}

var tuningKeys = []string{"mac", "mtu", "sysctl", "promisc", "allmulti", "txQLen", "dataDir"}

// Plugin is one plugin of a parsed NAD config: its type, its raw JSON and,
// for the types pxekit knows, the typed configuration.
type Plugin struct {
	// Type is the plugin's CNI type.
	Type string
	// Raw is the plugin's JSON as libcni produced it.
	Raw []byte
	// Bridge is set for bridge and cnv-bridge plugins.
	Bridge *BridgeNetConf
	// Tuning is set for tuning and cnv-tuning plugins.
	Tuning *TuningNetConf
	// UnknownKeys are keys the plugin type does not define (sorted); the
	// plugin ignores them, so they are usually typos.
	UnknownKeys []string
	// TypeErrors are keys whose value has the wrong JSON type, with paths
	// relative to the config ("plugins[0].vlan").
	TypeErrors field.ErrorList
}

// NetConf is a NAD's spec.config parsed the way Multus does with libcni: a
// configuration list ("plugins") or a single plugin configuration.
type NetConf struct {
	// Name and CNIVersion are the network's (the list's, for a conflist).
	Name       string
	CNIVersion string
	// IsList is true for a conflist (a "plugins" key).
	IsList bool
	// Plugins are the network's plugins in the order they run.
	Plugins []Plugin
}

// ConfigError is a spec.config that is not a CNI configuration: invalid JSON
// (with the line and column inside the config string) or rejected by libcni.
type ConfigError struct {
	// Line and Column locate a JSON syntax error (1-based; 0 if unknown).
	Line, Column int
	// Near is the config text around a syntax error.
	Near string
	// Msg says what is wrong.
	Msg string
}

// Error returns the message with its position.
func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d column %d near %q: %s", e.Line, e.Column, e.Near, e.Msg)
	}
	return e.Msg
}

// ParseConfig parses a NAD spec.config with libcni (ConfListFromBytes for a
// conflist, ConfFromBytes for a single plugin, as Multus does) and decodes
// the bridge and tuning plugins into their typed configs.
func ParseConfig(config string) (*NetConf, error) {
	return parseConfig(config, nil)
}

// parseConfig is ParseConfig with the plugins' type errors rooted at root.
func parseConfig(config string, root *field.Path) (*NetConf, error) {
	data := []byte(config)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, jsonError(data, err)
	}
	if top == nil {
		return nil, &ConfigError{Msg: "must be a JSON object, not null"}
	}
	nc := &NetConf{}
	if _, ok := top["plugins"]; ok {
		list, err := libcni.ConfListFromBytes(data)
		if err != nil {
			return nil, &ConfigError{Msg: err.Error()}
		}
		nc.IsList, nc.Name, nc.CNIVersion = true, list.Name, list.CNIVersion
		for i, p := range list.Plugins {
			nc.Plugins = append(nc.Plugins, typedPlugin(p.Network.Type, p.Bytes, root.Child("plugins").Index(i)))
		}
		return nc, nil
	}
	conf, err := libcni.ConfFromBytes(data)
	if err != nil {
		return nil, &ConfigError{Msg: err.Error()}
	}
	nc.Name, nc.CNIVersion = conf.Network.Name, conf.Network.CNIVersion
	nc.Plugins = []Plugin{typedPlugin(conf.Network.Type, conf.Bytes, root)}
	return nc, nil
}

// typedPlugin decodes raw into the typed config for its type, key by key so
// that a value of the wrong JSON type is reported under its own path while the
// other keys still decode.
func typedPlugin(typ string, raw []byte, path *field.Path) Plugin {
	p := Plugin{Type: typ, Raw: raw}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(raw, &keys) // libcni already parsed raw as an object
	switch {
	case IsBridgePlugin(typ):
		var c BridgeNetConf
		p.TypeErrors = decodeKeys(keys, &c, path)
		p.Bridge = &c
		p.UnknownKeys = unknownKeys(keys, bridgeKeys)
	case IsTuningPlugin(typ):
		var c TuningNetConf
		p.TypeErrors = decodeKeys(keys, &c, path)
		p.Tuning = &c
		p.UnknownKeys = unknownKeys(keys, tuningKeys)
	}
	return p
}

// decodeKeys unmarshals each key of keys into into on its own, reporting a
// wrong JSON type at the key's path (and, for arrays of objects such as
// vlanTrunk, at the element's index).
func decodeKeys(keys map[string]json.RawMessage, into any, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		obj, _ := json.Marshal(map[string]json.RawMessage{k: keys[k]})
		err := json.Unmarshal(obj, into)
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			continue
		}
		p, val := path.Child(k), keys[k]
		var elems []json.RawMessage
		if json.Unmarshal(keys[k], &elems) == nil && len(elems) > 0 {
			// Find the element at fault: the first one that fails on its own.
			for i, e := range elems {
				one, _ := json.Marshal(map[string][]json.RawMessage{k: {e}})
				var ie *json.UnmarshalTypeError
				if errors.As(json.Unmarshal(one, into), &ie) {
					p, te, val = p.Index(i), ie, e
					if sub := strings.TrimPrefix(ie.Field, k+"."); sub != ie.Field && sub != "" {
						p = p.Child(sub)
					}
					break
				}
			}
		}
		errs = append(errs, field.Invalid(p, jsonValue(val), fmt.Sprintf("must be %s, not %s", jsonKind(te.Type), te.Value)))
	}
	return errs
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// jsonValue returns a scalar as its Go value (printed as the user wrote it)
// and anything else as its JSON text, cut to keep messages readable.
func jsonValue(raw json.RawMessage) any {
	var v any
	if json.Unmarshal(raw, &v) == nil {
		switch v.(type) {
		case string, float64, bool:
			return v
		}
	}
	s := string(raw)
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

func unknownKeys(keys map[string]json.RawMessage, known []string) []string {
	var out []string
	for k := range keys {
		if !slices.Contains(commonCNIKeys, k) && !slices.Contains(known, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// jsonError turns a JSON error into a ConfigError with a line and column and,
// where the offending text looks like a documentation callout left in the
// JSON (`"cnv-tuning" (1)` or `"cnv-bridge", 4`, as the documentation's
// pages render them), says so.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &ConfigError{Msg: fmt.Sprintf("must be a JSON object, not %s", te.Value)}
		}
		return &ConfigError{Msg: err.Error()}
	}
	// Offset is just past the offending byte.
	off := int(se.Offset) - 1
	if off < 0 {
		off = 0
	}
	if off > len(data) {
		off = len(data)
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(data[:off], '\n')
	msg := "invalid JSON: " + se.Error()
	if hint := calloutAt(data, off); hint != "" {
		msg += fmt.Sprintf(" (%q looks like a documentation callout marker left in the JSON; remove it)", hint)
	}
	lo, hi := max(off-20, 0), min(off+10, len(data))
	return &ConfigError{Line: line, Column: col, Near: string(data[lo:hi]), Msg: msg}
}

// calloutAt returns the callout marker at data[off:] ("(1)" or "4"), if any.
func calloutAt(data []byte, off int) string {
	rest := data[off:]
	i := 0
	paren := i < len(rest) && rest[i] == '('
	if paren {
		i++
	}
	start := i
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == start || i-start > 3 {
		return ""
	}
	if paren {
		if i >= len(rest) || rest[i] != ')' {
			return ""
		}
		i++
	}
	// A callout is followed by the next JSON token or the end. (YAML folds a
	// single-quoted multi-line config into one line, so the end of a
	// line cannot be relied on.)
	j := i
	for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\r' || rest[j] == '\n') {
		j++
	}
	if j == i && j < len(rest) {
		return ""
	}
	if j < len(rest) && !bytes.ContainsRune([]byte("\"}],"), rune(rest[j])) {
		return ""
	}
	return string(rest[:i])
}
