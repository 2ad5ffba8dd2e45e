package netnsrun

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/pxekit/pxekit/pxetest"
)

func nsInode(t *testing.T) string {
	t.Helper()
	s, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Inside, fn sees the named namespace (its own inode, and only its own
// links); the caller's thread is where it was before and after.
func TestRunEntersAndLeaves(t *testing.T) {
	pxetest.RequireRoot(t)
	name := "pxk-nsrun"
	exec.Command("ip", "netns", "del", name).Run()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	path := "/var/run/netns/" + name
	want, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	target, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	wantInside := fmt.Sprintf("net:[%d]", target.Sys().(*syscall.Stat_t).Ino)
	var inside string
	var links []string
	if err := Run(path, func() error {
		inside = nsInode(t)
		ifs, err := net.Interfaces()
		for _, f := range ifs {
			links = append(links, f.Name)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if inside != wantInside {
		t.Errorf("fn ran in %s, want %s (%s; the caller's is %s)", inside, wantInside, path, want)
	}
	if got := nsInode(t); got != want {
		t.Errorf("caller's thread is in %s after Run, want %s", got, want)
	}
	if len(links) != 1 || links[0] != "lo" {
		t.Errorf("links inside the new namespace: %v, want only lo", links)
	}
}

func TestRunErrors(t *testing.T) {
	if err := Run("/nonexistent/netns", func() error { return nil }); err == nil || !strings.Contains(err.Error(), "/nonexistent/netns") {
		t.Errorf("missing namespace: %v, want an error naming the path", err)
	}
	called := false
	if err := Run("", func() error { called = true; return nil }); err != nil || !called {
		t.Errorf("empty path: %v, called %v", err, called)
	}
}
