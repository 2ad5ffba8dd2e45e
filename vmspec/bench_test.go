package vmspec

import (
	"os"
	"testing"
)

func BenchmarkDecodePXEBootVMI(b *testing.B) {
	doc, err := os.ReadFile("testdata/vmi-pxe-boot.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, errs := Decode(doc); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// The error path builds the index of where every field name belongs.
func BenchmarkDecodeMisplacedDPDK(b *testing.B) {
	doc, err := os.ReadFile("testdata/rhel-dpdk-vm.stage2.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, errs := Decode(doc); len(errs) != 4 {
			b.Fatal(errs)
		}
	}
}

func BenchmarkBuildAndValidatePXEBootVMI(b *testing.B) {
	for b.Loop() {
		if _, err := pxeBootVMI().Build(); err != nil {
			b.Fatal(err)
		}
	}
}
