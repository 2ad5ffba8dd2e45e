package pxetest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/grub"
)

// The Debian kernel loses its signature, as sbverify (sbsigntool) sees it,
// byte for byte as sbattach --remove strips it.
func TestStripSignature(t *testing.T) {
	sbverify := RequireCmd(t, "sbverify", "sbsigntool")
	sbattach := RequireCmd(t, "sbattach", "sbsigntool")
	k := GuestKernel(t)
	signed, err := os.ReadFile(k.Vmlinuz)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, err := exec.Command(sbverify, "--list", k.Vmlinuz).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "signature 1") {
		t.Fatalf("the guest kernel is not signed (sbverify --list: %v)\n%s", err, out)
	}
	unsigned, err := StripSignature(signed)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "vmlinuz-unsigned")
	if err := os.WriteFile(p, unsigned, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command(sbverify, "--list", p).CombinedOutput()
	if !strings.Contains(string(out), "No signature table present") {
		t.Errorf("sbverify --list of the stripped kernel:\n%s", out)
	}
	if ok, err := grub.Signed(p); err != nil || ok {
		t.Errorf("grub.Signed(stripped) = %v, %v", ok, err)
	}
	theirs := filepath.Join(dir, "vmlinuz-sbattach")
	if err := os.WriteFile(theirs, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sbattach, "--remove", theirs).CombinedOutput(); err != nil {
		t.Fatalf("sbattach --remove: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(theirs); !bytes.Equal(b, unsigned) {
		t.Errorf("StripSignature (%d bytes) differs from sbattach --remove (%d bytes)", len(unsigned), len(b))
	}
	if _, err := StripSignature(unsigned); err == nil {
		t.Error("stripped an unsigned image again")
	}
	if _, err := StripSignature([]byte("not a PE file, no MZ")); err == nil {
		t.Error("stripped a non-PE file")
	}
}
