package netattach

import (
	"os"
	"testing"
)

// BenchmarkValidateNAD: libcni parse plus every rule, on the documented NAD.
func BenchmarkValidateNAD(b *testing.B) {
	nad, err := pxeNetConfNAD().Build()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if errs, _ := ValidateNAD(nad); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkDecodeNAD: strict YAML decode of the documented NAD (as vmlint runs
// it).
func BenchmarkDecodeNAD(b *testing.B) {
	doc, err := os.ReadFile("testdata/pxe-net-conf.clean.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := DecodeNAD(doc); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkDecodeValidatePolicy: the documented policy, decoded and validated.
func BenchmarkDecodeValidatePolicy(b *testing.B) {
	doc, err := os.ReadFile("testdata/br1-eth1-policy.clean.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p, errs := DecodePolicy(doc)
		if len(errs) > 0 || len(ValidatePolicy(p)) > 0 {
			b.Fatal(errs)
		}
	}
}
