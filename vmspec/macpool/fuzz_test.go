package macpool

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzFileStore: whatever the pool file holds, New either refuses it with
// an error or gives a pool whose allocations stay unique.
func FuzzFileStore(f *testing.F) {
	f.Add([]byte(`{"lab/web/default":"02:00:00:00:00:01","lab/web/pxe":"02:00:00:00:00:02"}`))
	f.Add([]byte(`{"a":"02:00:00:00:00:01","b":"02:00:00:00:00:01"}`))
	f.Add([]byte(`{"a":"zz"}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "pool.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := New("02:00:00:00:00:00", "02:00:00:00:00:07", FileStore{Path: path})
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, k := range []string{"x", "y", "z"} {
			m, err := p.AllocateMAC("ns", "vm", k)
			if err != nil {
				continue
			}
			if seen[m.String()] {
				t.Fatalf("%s handed out twice", m)
			}
			seen[m.String()] = true
		}
	})
}
