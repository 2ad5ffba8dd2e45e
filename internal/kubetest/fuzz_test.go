package kubetest

import (
	"bytes"
	"testing"
)

// The audit log reader takes any bytes: every line it returns an event
// for was a JSON object, and it never panics.
func FuzzParseAudit(f *testing.F) {
	f.Add([]byte(`{"stage":"ResponseComplete","verb":"list","user":{"username":"system:serviceaccount:lab:pxekit"},"objectRef":{"resource":"virtualmachines","apiGroup":"kubevirt.io"},"responseStatus":{"code":200}}` + "\n"))
	f.Add([]byte("{}\n\n{\"verb\":1}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		events, err := parseAudit(b)
		if err == nil && len(events) > bytes.Count(b, []byte("\n"))+1 {
			t.Fatalf("%d events from %d lines", len(events), bytes.Count(b, []byte("\n"))+1)
		}
		for _, e := range events {
			_ = e.Resource()
			_ = e.Code()
		}
	})
}

// SplitYAML takes any stream: it never panics, and every document it
// returns holds something.
func FuzzSplitYAML(f *testing.F) {
	f.Add([]byte("# only a comment\n---\napiVersion: v1\nkind: ConfigMap\n---\n"))
	f.Add([]byte("a: [\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, _ := SplitYAML(b)
		for _, d := range docs {
			if len(bytes.TrimSpace(d)) == 0 {
				t.Fatalf("an empty document: %q", b)
			}
		}
	})
}
