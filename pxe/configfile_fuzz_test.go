package pxe

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig holds the config decoder to never panicking and to
// report every problem with a path or a line: whatever the bytes, the
// errors print, and a file that passes converts and validates again the
// same way.
func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"harvester.yaml", "kubevirt-lab.yaml"} {
		if b, err := os.ReadFile(filepath.Join("..", "examples", "pxelab", "config", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: pxekit/v1alpha1\nkind: BootServer\ninterface: br0\nsubnets: [{pools: [{start: 192.0.2.1, end: 192.0.2.9}]}]\n"))
	f.Add([]byte("store: {etcd: {endpoints: ['http://[::1', x], tls: {certFile: a}}}\n"))
	f.Add([]byte("machines: [{mac: zz}]\nprofiles: {a: {}}\nshutdownGrace: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, errs := ParseConfig(data)
		if cfg == nil {
			t.Fatal("ParseConfig returned no config")
		}
		ce := &ConfigError{File: "f.yaml", Errors: errs, lines: cfg.lines}
		_ = ce.Error()
		for _, e := range errs {
			if e.Field == "" && ce.Line(e) == 0 {
				t.Errorf("error with neither a path nor a line: %v", e)
			}
		}
		if len(errs) == 0 {
			if again := cfg.Validate(); len(again) != 0 {
				t.Errorf("a valid file validates differently the second time: %v", again)
			}
			_, _ = cfg.convert()
		}
	})
}
