package pxetest

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// UpdateEnv is the environment variable that makes CheckGolden rewrite the
// golden files instead of comparing: PXETEST_UPDATE=1 go test ./...
const UpdateEnv = "PXETEST_UPDATE"

// CheckGolden compares got with testdata/golden/name (relative to the test's
// package directory, where go test runs) and reports a difference as an
// error. With PXETEST_UPDATE=1 in the environment, or when the test binary
// defines a boolean -update flag and it is set, it writes got to the file
// first. pxetest registers no flag itself, so it never clashes with a
// test's own -update.
func CheckGolden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", "golden", name)
	if updateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (%s=1 go test creates it)", err, UpdateEnv)
	}
	if string(want) != string(got) {
		tb.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func updateGolden() bool {
	if v := os.Getenv(UpdateEnv); v != "" && v != "0" {
		return true
	}
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return false
	}
	b, ok := g.Get().(bool)
	return ok && b
}
