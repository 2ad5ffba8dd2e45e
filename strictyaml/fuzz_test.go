package strictyaml

import (
	"bytes"
	"testing"

	kubevirtv1 "kubevirt.io/api/core/v1"
)

// FuzzDecode feeds arbitrary streams through everything the package offers:
// none of it may panic, and every line it reports must be in the document.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: a\nspec:\n  domain:\n    devices:\n      disks:\n      - name: d\n        bootOrder: 1\n        disk: {bus: virtio}\n",
		"items:\n- port: 1\n  nmae: x\n  capacity: 1Gi\n  target: 80\n---\nmetadata:\n  name: a\n  name: b\n",
		"a: b: c\n",
		"- [1, {a: 2}]\n- &x {b: 1}\n- *x\n",
		"key: |\n  text\n  - x\nother: \"q\n  r\"\n",
		"--- {c: 3}\n...\n%YAML 1.1\n---\n",
		"items:\n- port: 4294967296\n  raw: '***'\nwhen: yesterday\n",
		"'quoted '' key': 1\n\"d\\\"q\": 2\n? complex\n: value\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 8<<10 {
			return // big inputs only slow the fuzzer down
		}
		n := bytes.Count(data, []byte("\n")) + 1
		for _, d := range SplitDocuments(data) {
			if d.Line < 1 || d.Line > n {
				t.Fatalf("document line %d outside 1..%d", d.Line, n)
			}
			_, _, _ = TypeOf(d.Data)
			lines := IndexLines(d.Data)
			dn := bytes.Count(d.Data, []byte("\n")) + 1
			var o testObj
			var vmi kubevirtv1.VirtualMachineInstance
			errs := append(Decode(d.Data, &o), Decode(d.Data, &vmi)...)
			for _, e := range errs {
				if e == nil {
					t.Fatal("nil error in list")
				}
				_ = e.Error()
				if l := lines.ErrorLine(e); l < 0 || l > dn {
					t.Fatalf("line %d outside 1..%d for %v", l, dn, e)
				}
			}
		}
	})
}
