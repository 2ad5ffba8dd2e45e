//go:build linux

package host

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Sentinel errors a caller can test with errors.Is. The step errors that
// carry them also unwrap to the kernel's errno.
var (
	// ErrNoVLANFiltering means the running kernel refused bridge VLAN
	// filtering (a kernel built without CONFIG_BRIDGE_VLAN_FILTERING).
	ErrNoVLANFiltering = errors.New("kernel lacks bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)")
	// ErrNo8021Q means the running kernel cannot create 802.1Q VLAN links
	// (no 8021q module: CONFIG_VLAN_8021Q).
	ErrNo8021Q = errors.New("kernel lacks 802.1Q VLAN links (CONFIG_VLAN_8021Q, module 8021q)")
	// ErrPermission means the kernel refused a change because the caller
	// lacks CAP_NET_ADMIN (or CAP_SYS_ADMIN to enter a named namespace).
	ErrPermission = errors.New("permission denied: changing network links needs CAP_NET_ADMIN (run as root)")
)

// StepError reports the step of an Apply that failed, the kernel's answer,
// and how the rollback of the steps already applied went.
type StepError struct {
	// Index is the failed step's position in the applied plan (0-based).
	Index int
	// Total is the number of steps the plan had.
	Total int
	// Step is the step that failed.
	Step Step
	// Err is the kernel's answer (an errno, possibly wrapped with one of the
	// sentinel errors of this package).
	Err error
	// RolledBack is how many earlier steps were undone.
	RolledBack int
	// RollbackErr is non-nil when undoing some earlier step failed too; the
	// namespace may then be left half-applied.
	RollbackErr error
}

// Error names the step, the kernel's answer and the rollback outcome.
func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %d/%d %q failed: %v", e.Index+1, e.Total, e.Step.String(), e.Err)
	if e.RollbackErr != nil {
		fmt.Fprintf(&b, "; rollback FAILED, namespace may be half-applied: %v", e.RollbackErr)
	} else {
		fmt.Fprintf(&b, " (rolled back %d earlier step(s))", e.RolledBack)
	}
	return b.String()
}

// Unwrap gives access to the kernel's answer and sentinel errors.
func (e *StepError) Unwrap() error { return e.Err }

// kernelErr wraps a netlink answer with what the user can do about it.
// feature names the kernel feature the operation needs (a sentinel above)
// for the EOPNOTSUPP case.
func kernelErr(err error, feature error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: kernel: %w", ErrPermission, err)
	case feature != nil && (errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPROTONOSUPPORT)):
		return fmt.Errorf("%w: kernel: %w", feature, err)
	}
	return fmt.Errorf("kernel: %w", err)
}
