package sriov

import (
	"fmt"
	"strconv"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Annotations the operator puts on the NAD it renders.
const (
	// AnnotationResourceName tells Multus which device plugin resource the
	// pod needs: <prefix>/<resourceName>.
	AnnotationResourceName = "k8s.v1.cni.cncf.io/resourceName"
	// AnnotationOwnerRef names the SriovNetwork that owns the NAD.
	AnnotationOwnerRef = "sriovnetwork.openshift.io/owner-ref"
)

// RenderOptions tune RenderNAD to a cluster. The zero value is OpenShift.
type RenderOptions struct {
	// ResourcePrefix is the operator's RESOURCE_PREFIX
	// (DefaultResourcePrefix when empty).
	ResourcePrefix string
	// Validation is passed to ValidateNetwork.
	Validation Options
}

// RenderNAD renders the NetworkAttachmentDefinition the operator creates
// for a SriovNetwork: same name, in spec.networkNamespace (or the object's
// own namespace), annotated with the resource, with the sriov CNI config
// written byte for byte as the operator's template writes it. An invalid
// network is not rendered: the error lists every problem.
func RenderNAD(n *SriovNetwork, opts RenderOptions) (*nadv1.NetworkAttachmentDefinition, error) {
	// What ValidateNetwork only warns about breaks the rendering too.
	if errs, later, _ := validateNetwork(n, opts.Validation); len(errs)+len(later) > 0 {
		return nil, append(errs, later...).ToAggregate()
	}
	cfg, err := RenderCNIConfig(n)
	if err != nil {
		return nil, err
	}
	prefix := opts.ResourcePrefix
	if prefix == "" {
		prefix = DefaultResourcePrefix
	}
	ns := n.Spec.NetworkNamespace
	if ns == "" {
		ns = n.Namespace
	}
	return &nadv1.NetworkAttachmentDefinition{
		TypeMeta: metav1.TypeMeta{APIVersion: "k8s.cni.cncf.io/v1", Kind: "NetworkAttachmentDefinition"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      n.Name,
			Namespace: ns,
			Annotations: map[string]string{
				AnnotationResourceName: prefix + "/" + n.Spec.ResourceName,
				AnnotationOwnerRef:     KindNetwork + ".sriovnetwork.openshift.io/" + n.Namespace + "/" + n.Name,
			},
		},
		Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: cfg},
	}, nil
}

// RenderCNIConfig returns the sriov CNI config (the NAD's spec.config) the
// operator renders for n. The operator fills a text template that sits
// inside a single-quoted YAML scalar, so the result is what YAML's line
// folding makes of it: "{ "cniVersion":"1.0.0", "name":"x","type":"sriov",...
// "ipam":{...} }". The same folding is applied here, by the same kind of
// parser, so that the bytes match.
func RenderCNIConfig(n *SriovNetwork) (string, error) {
	s := &n.Spec
	var b strings.Builder
	b.WriteString("{\n  \"cniVersion\":\"1.0.0\",\n  \"name\":\"" + n.Name + "\",")
	meta := s.MetaPluginsConfig != ""
	if meta {
		b.WriteString("\"plugins\": [\n    {")
	}
	b.WriteString(`"type":"sriov",`)
	b.WriteString(`"vlan":` + strconv.Itoa(s.Vlan) + `,`)
	if s.SpoofChk == On || s.SpoofChk == Off {
		b.WriteString(`"spoofchk":"` + s.SpoofChk + `",`)
	}
	if s.Trust == On || s.Trust == Off {
		b.WriteString(`"trust":"` + s.Trust + `",`)
	}
	if s.VlanQoS >= 0 && s.VlanQoS <= 7 {
		b.WriteString(`"vlanQoS":` + strconv.Itoa(s.VlanQoS) + `,`)
	}
	if s.VlanProto != "" {
		b.WriteString(`"vlanProto":"` + s.VlanProto + `",`)
	}
	if s.MinTxRate != nil && *s.MinTxRate >= 0 {
		b.WriteString(`"min_tx_rate":` + strconv.Itoa(*s.MinTxRate) + `,`)
	}
	if s.MaxTxRate != nil && *s.MaxTxRate >= 0 {
		b.WriteString(`"max_tx_rate":` + strconv.Itoa(*s.MaxTxRate) + `,`)
	}
	if s.Capabilities != "" {
		b.WriteString(`"capabilities":` + s.Capabilities + `,`)
	}
	switch s.LinkState {
	case LinkStateEnable, LinkStateDisable, LinkStateAuto:
		b.WriteString(`"link_state":"` + s.LinkState + `",`)
	}
	if s.LogLevel != "" {
		b.WriteString(`"logLevel":"` + s.LogLevel + `",`)
	}
	if s.LogFile != "" {
		b.WriteString(`"logFile":"` + s.LogFile + `",`)
	}
	if s.IPAM != "" {
		// The operator squeezes all whitespace out of ipam, even inside
		// JSON strings.
		b.WriteString(`"ipam":` + strings.Join(strings.Fields(s.IPAM), ""))
	} else {
		b.WriteString(`"ipam":{}`)
	}
	b.WriteString("\n}")
	if meta {
		b.WriteString(",\n  " + s.MetaPluginsConfig + "\n  ]\n}")
	}
	raw := b.String()
	if strings.Contains(raw, "'") {
		return "", fmt.Errorf("spec: a single quote in ipam, capabilities, metaPlugins or logFile breaks the operator's single-quoted YAML template")
	}
	var out struct {
		Config string `json:"config"`
	}
	if err := yaml.Unmarshal([]byte("config: '"+raw+"'\n"), &out); err != nil {
		return "", fmt.Errorf("spec: the operator's template cannot render this network: %w", err)
	}
	return out.Config, nil
}

// MarshalYAML writes any of this package's objects (or the NAD) as YAML
// that `kubectl apply -f` takes.
func MarshalYAML(obj any) ([]byte, error) { return yaml.Marshal(obj) }
