package strictyaml

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

func TestSplitDocuments(t *testing.T) {
	in := "# leading comment\n---\na: 1\nb: 2\n---\n# only a comment\n\n--- \nkind: X\n...\n---\n--- {c: 3}\n"
	docs := SplitDocuments([]byte(in))
	want := []struct {
		line int
		data string
	}{
		{3, "a: 1\nb: 2\n"},
		{9, "kind: X\n"},
		{12, "{c: 3}\n"},
	}
	if len(docs) != len(want) {
		t.Fatalf("got %d documents, want %d: %+v", len(docs), len(want), docs)
	}
	for i, w := range want {
		if docs[i].Index != i || docs[i].Line != w.line || string(docs[i].Data) != w.data {
			t.Errorf("doc %d = {Index %d, Line %d, %q}, want {%d, %d, %q}", i, docs[i].Index, docs[i].Line, docs[i].Data, i, w.line, w.data)
		}
	}
	if got := SplitDocuments([]byte("a: 1\n")); len(got) != 1 || got[0].Line != 1 {
		t.Errorf("single document without separator: %+v", got)
	}
	if got := SplitDocuments([]byte("---\n---\n# x\n")); len(got) != 0 {
		t.Errorf("empty stream gave %+v", got)
	}
	// "----" is not a separator.
	if got := SplitDocuments([]byte("a: |\n  ----\n")); len(got) != 1 {
		t.Errorf("---- split the document: %+v", got)
	}
}

func TestTypeOf(t *testing.T) {
	tests := []struct {
		doc, apiVersion, kind, err string
	}{
		{"apiVersion: kubevirt.io/v1\nkind: VirtualMachine\n", "kubevirt.io/v1", "VirtualMachine", ""},
		{"apiVersion: \"k8s.cni.cncf.io/v1\"\nkind: NetworkAttachmentDefinition\n", "k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition", ""},
		{"kind: X\n", "", "X", "apiVersion: Required value"},
		{"apiVersion: v1\nkind: 3\n", "v1", "", "kind: Invalid value"},
		{"- a\n- b\n", "", "", "not a YAML mapping"},
		{"a: b: c\n", "", "", "line 1: mapping values are not allowed"},
	}
	for _, tc := range tests {
		av, k, err := TypeOf([]byte(tc.doc))
		if av != tc.apiVersion || k != tc.kind {
			t.Errorf("TypeOf(%q) = %q, %q; want %q, %q", tc.doc, av, k, tc.apiVersion, tc.kind)
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("TypeOf(%q): unexpected error %v", tc.doc, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("TypeOf(%q): error %v, want it to contain %q", tc.doc, err, tc.err)
		}
	}
}

// Test types exercising what Kubernetes API types use.
type inner struct {
	Port     int32              `json:"port"`
	Name     string             `json:"name,omitempty"`
	Enabled  *bool              `json:"enabled,omitempty"`
	Ratio    float64            `json:"ratio,omitempty"`
	Target   intstr.IntOrString `json:"target,omitempty"`
	Capacity *resource.Quantity `json:"capacity,omitempty"`
	Raw      []byte             `json:"raw,omitempty"`
	Count    uint8              `json:"count,omitempty"`
}

// textOnly decodes itself from text only, like many small value types.
type textOnly struct{ v string }

func (x *textOnly) UnmarshalText(b []byte) error {
	if string(b) == "bad" {
		return errors.New("bad text")
	}
	x.v = string(b)
	return nil
}

type withText struct {
	T  textOnly  `json:"t"`
	TP *textOnly `json:"tp,omitempty"`
}

func TestDecodeTextUnmarshaler(t *testing.T) {
	var o withText
	if errs := Decode([]byte("t: good\ntp: fine\n"), &o); len(errs) != 0 || o.T.v != "good" || o.TP.v != "fine" {
		t.Fatalf("errs %v, value %+v", errs, o)
	}
	errs := Decode([]byte("t: bad\ntp: 3\n"), &withText{})
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), `t: Invalid value: "bad": bad text`) ||
		!strings.Contains(errs[1].Error(), `tp: Invalid value: "3": must be of type string, got number`) {
		t.Errorf("got %v", errs)
	}
}

type Embedded struct {
	Extra string `json:"extra,omitempty"`
}

type testObj struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Embedded
	Items   []inner           `json:"items,omitempty"`
	ByName  map[string]inner  `json:"byName,omitempty"`
	Any     any               `json:"any,omitempty"`
	When    metav1.Time       `json:"when,omitempty"`
	Ignored string            `json:"-"`
	Labels  map[string]string `json:"labels,omitempty"`
}

func TestDecodeValid(t *testing.T) {
	doc := `apiVersion: test/v1
kind: T
metadata:
  name: x
  creationTimestamp: null
  labels:
    app: demo
extra: inline works
items:
- port: 80
  name: http
  enabled: true
  ratio: 0.5
  target: http
  capacity: 10Gi
  raw: aGVsbG8=
  count: 255
- port: 443
  target: 8443
byName:
  a: {port: 1}
any: {whatever: [1, 2]}
when: "2024-01-02T03:04:05Z"
`
	var o testObj
	if errs := Decode([]byte(doc), &o); len(errs) != 0 {
		t.Fatalf("Decode: %v", errs)
	}
	if o.Kind != "T" || o.Name != "x" || o.Labels != nil || o.ObjectMeta.Labels["app"] != "demo" || o.Extra != "inline works" {
		t.Errorf("meta/inline not filled: %+v", o)
	}
	if len(o.Items) != 2 || o.Items[0].Port != 80 || o.Items[0].Capacity.String() != "10Gi" || string(o.Items[0].Raw) != "hello" ||
		o.Items[1].Target.IntValue() != 8443 || o.Items[0].Target.String() != "http" || o.ByName["a"].Port != 1 {
		t.Errorf("items not filled: %+v", o.Items)
	}
	if o.When.Year() != 2024 {
		t.Errorf("time not filled: %v", o.When)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // each must appear in one error, in this order
	}{
		{"unknown field, typo of a local field",
			"items:\n- port: 1\n  nmae: x\n",
			[]string{`items[0].nmae: Forbidden: unknown field "nmae"; did you mean "name"?`}},
		{"case mismatch",
			"items:\n- Port: 1\n",
			[]string{`items[0].Port: Forbidden: unknown field "Port"; did you mean "port"?`}},
		{"misplaced field says where it belongs",
			"metadata:\n  port: 1\n",
			[]string{`metadata.port: Forbidden: unknown field "port" (it belongs at items[i].port or byName[*].port)`}},
		{"every unknown field, not just the first",
			"bogus: 1\nitems:\n- port: 1\n  zzz: 2\nmetadata:\n  nam: x\n",
			[]string{`bogus: Forbidden: unknown field "bogus"`, `items[0].zzz: Forbidden`, `metadata.nam: Forbidden: unknown field "nam"; did you mean "name"?`}},
		{"type mismatches",
			"items:\n- port: eighty\n  enabled: \"yes\"\n  name: [a]\n  ratio: x\nlabels: [a]\n",
			[]string{`items[0].port: Invalid value: "eighty": must be of type integer, got string`,
				`items[0].enabled: Invalid value: "yes": must be of type boolean, got string`,
				`items[0].name: Invalid value: "array": must be of type string, got array`,
				`items[0].ratio: Invalid value: "x": must be of type number`,
				`labels: Invalid value: "array": must be of type object, got array`}},
		{"integer out of range and not integral",
			"items:\n- port: 4294967296\n  count: 256\n- port: 1.5\n",
			[]string{`items[0].port: Invalid value: "4294967296": must be an integer that fits in 32 bits`, `items[0].count: Invalid value: "256"`, `items[1].port: Invalid value: "1.5"`}},
		{"custom unmarshalers are leaves checked by their own rules",
			"items:\n- port: 1\n  capacity: lots\n  raw: '***'\nwhen: yesterday\n",
			[]string{`items[0].capacity: Invalid value: "lots"`, `items[0].raw: Invalid value: "***": must be base64-encoded`, `when: Invalid value: "yesterday"`}},
		{"syntax error names the line",
			"metadata:\n  name: x\nitems:\n- port: 1\n  name: a: b\n",
			[]string{`line 5: mapping values are not allowed in this context`}},
		{"bad indentation names the line",
			"metadata:\n  name: x\n    labels: {}\n",
			[]string{`line 3: mapping values are not allowed in this context`}},
		{"duplicate keys",
			"metadata:\n  name: a\n  name: b\n",
			[]string{`metadata.name: Duplicate value: "name": key "name" is repeated in the same mapping (lines 2 and 3)`}},
		{"not a mapping", "- 1\n", []string{`Invalid value: "array": must be of type object`}},
		{"empty document", "# nothing\n", []string{"the document is empty"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o testObj
			errs := Decode([]byte(tc.doc), &o)
			if len(errs) != len(tc.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(errs), len(tc.want), joinErrs(errs))
			}
			for i, w := range tc.want {
				if i >= len(errs) {
					break
				}
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}

func joinErrs(errs field.ErrorList) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("  " + e.Error() + "\n")
	}
	return b.String()
}

func TestDecodeFillsDespiteErrors(t *testing.T) {
	var o testObj
	errs := Decode([]byte("metadata:\n  name: keep\n  bogus: 1\nitems:\n- port: x\n  name: kept\n"), &o)
	if len(errs) != 2 {
		t.Fatalf("want 2 errors, got %v", errs)
	}
	if o.Name != "keep" || len(o.Items) != 1 || o.Items[0].Name != "kept" || o.Items[0].Port != 0 {
		t.Errorf("object not filled best-effort: %+v", o)
	}
}

func TestDecodeBadTarget(t *testing.T) {
	var o testObj
	for _, into := range []any{nil, o, (*testObj)(nil)} {
		if errs := Decode([]byte("a: 1\n"), into); len(errs) != 1 || errs[0].Type != field.ErrorTypeInternal {
			t.Errorf("Decode into %T: %v", into, errs)
		}
	}
}

// The hint a KubeVirt user needs most: bootOrder written on the disk target
// instead of the disk, or in the wrong case.
func TestDecodeKubeVirtHints(t *testing.T) {
	doc := `apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: vmi
spec:
  domain:
    devices:
      disks:
      - name: containerdisk
        disk:
          bus: virtio
          bootOrder: 2
      - name: other
        bootorder: 3
      interfaces:
      - name: default
        masquerade: {}
    resources:
      requests:
        memory: 1024M
    bootOrder: 1
  networks:
  - name: default
    pod: {}
`
	var vmi kubevirtv1.VirtualMachineInstance
	errs := Decode([]byte(doc), &vmi)
	want := []string{
		`spec.domain.devices.disks[0].disk.bootOrder: Forbidden: unknown field "bootOrder" (it belongs at spec.domain.devices.disks[i].bootOrder or spec.domain.devices.interfaces[i].bootOrder`,
		`spec.domain.devices.disks[1].bootorder: Forbidden: unknown field "bootorder"; did you mean "bootOrder"?`,
		`spec.domain.bootOrder: Forbidden: unknown field "bootOrder" (it belongs at spec.domain.devices.`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(want), joinErrs(errs))
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("error %d = %q\nwant it to contain %q", i, errs[i].Error(), w)
		}
	}
	if vmi.Spec.Domain.Resources.Requests.Memory().String() != "1024M" || len(vmi.Spec.Domain.Devices.Disks) != 2 {
		t.Errorf("VMI not decoded: %+v", vmi.Spec.Domain)
	}
	// Every error maps back to the line it is about.
	lines := IndexLines([]byte(doc))
	for i, wantLine := range []int{12, 14, 21} {
		if got := lines.ErrorLine(errs[i]); got != wantLine {
			t.Errorf("line of %s = %d, want %d", errs[i].Field, got, wantLine)
		}
	}
}

// A field pasted at the wrong level is pointed to where a user writes it,
// never to the server-written status.
func TestDecodeHintSkipsStatus(t *testing.T) {
	doc := "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\ninterfaces: []\n"
	errs := Decode([]byte(doc), &kubevirtv1.VirtualMachineInstance{})
	want := `interfaces: Forbidden: unknown field "interfaces" (it belongs at spec.domain.devices.interfaces)`
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("got %v\nwant %s", errs, want)
	}
}

func TestLineIndex(t *testing.T) {
	doc := `# comment
apiVersion: v1
metadata:
  name: x # trailing comment
  annotations:
    k8s.v1.cni.cncf.io/networks: pxe-net
    "quoted key": |
      block: scalar
      - not an item
spec:
  list:
  - a
  - name: second
    value: >-
      folded
  -   name: third
      nested:
        - deep: 1
        - [flow, list]
        - {flow: map,
           continued: here}
        - after: flow
  flow: {a: 1}
  key: "multi
    line"
  last: 1
`
	x := IndexLines([]byte(doc))
	tests := []struct {
		path string
		line int
	}{
		{"apiVersion", 2},
		{"metadata", 3},
		{"metadata.name", 4},
		{"metadata.annotations[k8s.v1.cni.cncf.io/networks]", 6},
		{"metadata.annotations[quoted key]", 7},
		{"spec", 10},
		{"spec.list", 11},
		{"spec.list[0]", 12},
		{"spec.list[1]", 13},
		{"spec.list[1].name", 13},
		{"spec.list[1].value", 14},
		{"spec.list[2].name", 16},
		{"spec.list[2].nested[0].deep", 18},
		{"spec.list[2].nested[1]", 19},
		{"spec.list[2].nested[2].flow", 20}, // inside flow: the item's line
		{"spec.list[2].nested[3].after", 22},
		{"spec.flow.a", 23},
		{"spec.key", 24},
		{"spec.last", 26},
		{"spec.list[2].missing", 16},
		{"nothing.here", 0},
		{"", 0},
	}
	for _, tc := range tests {
		if got := x.Line(tc.path); got != tc.line {
			t.Errorf("Line(%q) = %d, want %d", tc.path, got, tc.line)
		}
	}
	var nilIndex *LineIndex
	if nilIndex.Line("a") != 0 || x.ErrorLine(nil) != 0 {
		t.Error("nil receivers must give 0")
	}
}

func TestSyntaxErrorLineInStream(t *testing.T) {
	stream := "a: 1\n---\nkind: X\nspec:\n  a: 1\n   b: 2\n"
	docs := SplitDocuments([]byte(stream))
	errs := Decode(docs[1].Data, &testObj{})
	if len(errs) != 1 || errs[0].Origin != OriginSyntax {
		t.Fatalf("want one syntax error, got %v", errs)
	}
	l := IndexLines(docs[1].Data).ErrorLine(errs[0])
	if got := docs[1].Line + l - 1; got != 6 {
		t.Errorf("syntax error on stream line %d, want 6 (%v)", got, errs[0])
	}
}
