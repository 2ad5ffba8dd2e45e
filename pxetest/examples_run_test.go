package pxetest_test

import (
	"io"
	"os"
	"testing"

	"github.com/pxekit/pxekit/pxetest"
)

// stdout runs fn with os.Stdout going to a pipe and returns what it
// printed, as go test's example runner does.
func stdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stdout
	os.Stdout = w
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		got <- string(b)
	}()
	defer func() { os.Stdout = orig }()
	fn()
	os.Stdout = orig
	w.Close()
	return <-got
}

// TestExamples runs the examples that need root (and QEMU), which go
// test's example runner cannot, and checks what they print.
func TestExamples(t *testing.T) {
	t.Run("NewNetwork", func(t *testing.T) {
		pxetest.RequireRoot(t)
		if got, want := stdout(t, ExampleNewNetwork), "eth0 192.0.2.2/24 got \"hello from br0\"\n"; got != want {
			t.Errorf("ExampleNewNetwork printed %q, want %q", got, want)
		}
	})
	t.Run("bootPXE", func(t *testing.T) {
		pxetest.RequireFirmware(t, pxetest.BIOS)
		pxetest.RequireFile(t, pxetest.Busybox, "busybox-static")
		pxetest.RequireFile(t, pxetest.IPXEBIOS, "ipxe")
		pxetest.GuestKernel(t)
		if got, want := stdout(t, Example_bootPXE), "the guest's /init ran\nphone-home: ok\n"; got != want {
			t.Errorf("Example_bootPXE printed %q, want %q", got, want)
		}
	})
}
