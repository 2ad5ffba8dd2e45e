package dpdk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

func readUpstream(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "upstream", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// errAt reports whether errs has an error at path whose text contains sub.
func errAt(errs field.ErrorList, path, sub string) bool {
	for _, e := range errs {
		if e.Field == path && strings.Contains(e.Error(), sub) {
			return true
		}
	}
	return false
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mustPool is the built custom pool for role.
func mustPool(tb testing.TB, role string) *MachineConfigPool {
	tb.Helper()
	p, err := NewMachineConfigPool(role).Build()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
