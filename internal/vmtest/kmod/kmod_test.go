package kmod_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/internal/vmtest/kmod"
	"github.com/pxekit/pxekit/pxetest"
)

func TestParseModinfo(t *testing.T) {
	sec := []byte("license=GPL\x00\x00\x00depends=stp,llc\x00alias=rtnl-link-bridge\x00name=bridge\x00vermagic=6.1.0 SMP mod_unload \x00")
	info, err := kmod.ParseModinfo(sec)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "bridge" || !slices.Equal(info.Depends, []string{"stp", "llc"}) || len(info.Fields) != 5 {
		t.Errorf("got %+v", info)
	}
	// "depends=" empty: no dependencies. Dashes normalize.
	info, err = kmod.ParseModinfo([]byte("depends=\x00name=x\x00"))
	if err != nil || len(info.Depends) != 0 {
		t.Errorf("empty depends: %+v, %v", info, err)
	}
	info, _ = kmod.ParseModinfo([]byte("depends=vfio-pci-core,vfio"))
	if !slices.Equal(info.Depends, []string{"vfio_pci_core", "vfio"}) {
		t.Errorf("depends = %v", info.Depends)
	}
	_, err = kmod.ParseModinfo([]byte("license=GPL\x00garbage\x00"))
	if err == nil || !strings.Contains(err.Error(), "offset 12") {
		t.Errorf("want an error naming offset 12, got %v", err)
	}
}

func TestReadModinfoRejectsNonELF(t *testing.T) {
	if _, err := kmod.ReadModinfo(bytes.NewReader([]byte("not an ELF file at all"))); err == nil {
		t.Fatal("no error for a non-ELF file")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := kmod.ReadModinfo(f); err == nil || !strings.Contains(err.Error(), "no .modinfo") {
		t.Errorf("an ELF program without .modinfo: got %v", err)
	}
}

// checkOrder asserts every module comes after the modules it depends on.
func checkOrder(t *testing.T, mods []kmod.Module) {
	t.Helper()
	pos := map[string]int{}
	for i, m := range mods {
		if _, dup := pos[m.Name]; dup {
			t.Errorf("%s listed twice", m.Name)
		}
		pos[m.Name] = i
	}
	for i, m := range mods {
		for _, d := range m.Depends {
			if j, ok := pos[d]; ok && j > i {
				t.Errorf("%s (at %d) before its dependency %s (at %d)", m.Name, i, d, j)
			}
		}
	}
}

func names(mods []kmod.Module) []string {
	var out []string
	for _, m := range mods {
		out = append(out, m.Name)
	}
	return out
}

// TestResolveCloudKernel resolves the VLAN/bridge set on Debian's cloud
// kernel: 8021q needs garp and mrp, bridge needs stp and llc, per .modinfo.
func TestResolveCloudKernel(t *testing.T) {
	k := pxetest.GuestKernel(t)
	ix, err := kmod.Open(k.ModulesDir)
	if err != nil {
		t.Fatal(err)
	}
	mods, err := ix.Resolve("8021q", "bridge", "veth")
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, mods)
	got := names(mods)
	for _, want := range []string{"llc", "stp", "garp", "mrp", "8021q", "bridge", "veth"} {
		if !slices.Contains(got, want) {
			t.Errorf("resolved %v: %s missing", got, want)
		}
	}
	if got[len(got)-1] != "veth" {
		t.Errorf("resolved %v: the last requested module should come last", got)
	}
	// virtio_net's chain as the lab's initramfs loads it.
	mods, err = ix.Resolve("virtio_net", "virtio_pci")
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, mods)
	for _, want := range []string{"virtio", "virtio_ring", "failover", "net_failover", "virtio_net", "virtio_pci"} {
		if !slices.Contains(names(mods), want) {
			t.Errorf("resolved %v: %s missing", names(mods), want)
		}
	}
	if _, err := ix.Resolve("no_such_module"); err == nil || !strings.Contains(err.Error(), `"no_such_module"`) {
		t.Errorf("unknown module: got %v", err)
	}
}

// TestResolveBackportsXZ reads .ko.xz modules of the backports kernel: igb
// pulls in dca and i2c-algo-bit; "vfio-pci" and "vfio_pci" are the same.
func TestResolveBackportsXZ(t *testing.T) {
	k := pxetest.GuestKernelFlavor(t, "bpo")
	ix, err := kmod.Open(k.ModulesDir)
	if err != nil {
		t.Fatal(err)
	}
	mods, err := ix.Resolve("igb", "vfio-pci")
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, mods)
	got := names(mods)
	for _, want := range []string{"dca", "i2c_algo_bit", "igb", "vfio_pci_core", "vfio_pci"} {
		if !slices.Contains(got, want) {
			t.Errorf("resolved %v: %s missing", got, want)
		}
	}
	for _, m := range mods {
		if !strings.HasSuffix(m.Path, ".ko.xz") {
			continue
		}
		img, err := kmod.Image(m.Path)
		if err != nil {
			t.Fatalf("%s: %v", m.Path, err)
		}
		info, err := kmod.ReadModinfo(bytes.NewReader(img))
		if err != nil || info.Name != m.Name {
			t.Errorf("%s decompressed: name %q, %v; want %q", filepath.Base(m.Path), info.Name, err, m.Name)
		}
	}
}

func TestImageRejectsUnknownCompression(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.ko.zst")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := kmod.Image(p); err == nil {
		t.Fatal("no error for .ko.zst")
	}
}

func FuzzParseModinfo(f *testing.F) {
	f.Add([]byte("depends=stp,llc\x00name=bridge\x00"))
	f.Add([]byte("\x00\x00=\x00"))
	f.Add([]byte("depends=,,a-b\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := kmod.ParseModinfo(data)
		if err != nil {
			return
		}
		for _, d := range info.Depends {
			if d == "" || strings.ContainsAny(d, ",-\x00") {
				t.Errorf("bad dependency name %q", d)
			}
		}
	})
}

func FuzzReadModinfo(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("not elf"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = kmod.ReadModinfo(bytes.NewReader(data)) // must not panic
	})
}
