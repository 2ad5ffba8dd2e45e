package grub_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/grub"
	"github.com/pxekit/pxekit/pxetest"
)

const (
	debianShim         = "/usr/lib/shim/shimx64.efi.signed"
	debianUnsignedShim = "/usr/lib/shim/shimx64.efi"
	debianGRUB         = "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed"
)

func TestLocateDebian(t *testing.T) {
	pxetest.RequireFile(t, debianShim, "shim-signed")
	pxetest.RequireFile(t, debianGRUB, "grub-efi-amd64-signed")
	found, err := grub.Locate()
	if err != nil {
		t.Fatal(err)
	}
	if found[grub.Shim] != debianShim || found[grub.GRUB] != debianGRUB {
		t.Fatalf("Locate = %v", found)
	}
	f, err := grub.BinaryFS(found).Open("grubx64.efi")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 2)
	if _, err := io.ReadFull(f, head); err != nil || string(head) != "MZ" {
		t.Errorf("grubx64.efi starts %q, %v; want a PE image", head, err)
	}
	if err := grub.CheckSBAT(debianShim, debianGRUB); err != nil {
		t.Errorf("Debian's shim refuses Debian's GRUB: %v", err)
	}
}

// A directory holding the unsigned shim (shim-unsigned, which shim-signed
// pulls in) under the served name is refused: the firmware would not run it.
func TestLocateRefusesUnsigned(t *testing.T) {
	pxetest.RequireFile(t, debianUnsignedShim, "shim-unsigned")
	pxetest.RequireFile(t, debianGRUB, "grub-efi-amd64-signed")
	dir := t.TempDir()
	copyFile(t, debianUnsignedShim, filepath.Join(dir, "shimx64.efi"))
	copyFile(t, debianGRUB, filepath.Join(dir, "grubx64.efi"))
	_, err := grub.Locate(dir)
	if err == nil || !strings.Contains(err.Error(), "shimx64.efi ("+filepath.Join(dir, "shimx64.efi")+"): it has no Authenticode signature") {
		t.Errorf("Locate(unsigned shim) = %v", err)
	}
	_, err = grub.Locate(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "not found: shimx64.efi, grubx64.efi") || !strings.Contains(err.Error(), "apt-get install shim-signed grub-efi-amd64-signed") {
		t.Errorf("Locate(empty) = %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
