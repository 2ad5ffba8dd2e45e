// Package netnsrun runs a function inside a Linux network namespace, for
// the servers that open their sockets in a lab or pod namespace while the
// process stays where it is (a socket keeps the namespace it was made in).
package netnsrun

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Run calls fn on a locked OS thread inside the network namespace at path
// (/var/run/netns/NAME, /proc/PID/ns/net), or directly when path is empty.
// fn runs on a goroutine of its own, so the caller's thread never changes
// namespace; if that thread cannot switch back it stays locked, and the
// runtime retires it with its goroutine instead of letting other
// goroutines run in the wrong namespace.
func Run(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- runLocked(path, fn)
	}()
	return <-errc
}

// runLocked does Run's work on the locked thread and unlocks it only when
// the thread is back in its own namespace.
func runLocked(path string, fn func() error) error {
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	target, err := os.Open(path)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: %w", path, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: %w", path, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("leave netns %s: %w", path, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
