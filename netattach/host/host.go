//go:build linux

package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/netattach"
)

// Host applies policies in one network namespace.
type Host struct {
	// NetNS is the network namespace to work in: a name under /run/netns
	// (as `ip netns add NAME` makes it) or a path to a namespace file such
	// as /proc/PID/ns/net. Empty means the calling thread's own namespace.
	NetNS string
	// Logger receives one record per step applied or undone; nil means
	// slog.Default(). To silence it, pass slog.New(slog.DiscardHandler).
	Logger *slog.Logger

	// beforeStep, when set (tests only), runs before step i of an Apply;
	// it lets a test make the kernel refuse a step mid-apply.
	beforeStep func(i int, st Step)
	// beforeLock, when set (tests only), runs just before Apply waits for
	// the namespace lock.
	beforeLock func()
	// lockBusy, when set (tests only), runs when another process holds the
	// namespace's flock.
	lockBusy func()
}

// Plan is the list of steps that brings a namespace to a policy.
type Plan struct {
	// NetNS is the namespace the plan was made for (Host.NetNS).
	NetNS string
	// Steps are the changes, in the order Apply makes them; empty when the
	// namespace already matches.
	Steps []Step

	// replan recomputes the steps from a fresh snapshot (Apply does so under
	// the namespace lock, so a plan applied twice, or racing another Apply,
	// still converges instead of failing on "file exists").
	replan func(*snapshot) ([]Step, field.ErrorList)
}

// Empty reports whether the namespace already matches the plan's policy.
func (p *Plan) Empty() bool { return len(p.Steps) == 0 }

// String lists the steps, one per line, numbered.
func (p *Plan) String() string {
	var b strings.Builder
	ns := p.NetNS
	if ns == "" {
		ns = "(current)"
	}
	if len(p.Steps) == 0 {
		fmt.Fprintf(&b, "netns %s: nothing to do\n", ns)
		return b.String()
	}
	fmt.Fprintf(&b, "netns %s: %d step(s)\n", ns, len(p.Steps))
	for i, st := range p.Steps {
		fmt.Fprintf(&b, "%3d. %s\n", i+1, st.String())
	}
	return b.String()
}

// session is one open netlink handle (plus a raw socket) in the namespace.
type session struct {
	h   *netlink.Handle
	raw *rawLink
	key nsKey
	ns  netns.NsHandle // kept open: Apply flocks it
}

// nsKey identifies a namespace by its nsfs inode, so two names or paths for
// one namespace share one lock.
type nsKey struct{ dev, ino uint64 }

// nsLocks serializes Apply calls per namespace within this process. It is
// package state because the thing it guards, a kernel namespace, is shared
// by every Host value in the process.
var nsLocks sync.Map // nsKey -> chan struct{} (capacity 1)

// flockPoll is how often Apply retries the namespace's flock while another
// process holds it (flock(2) itself cannot be interrupted by a context).
const flockPoll = 20 * time.Millisecond

// lock takes the namespace's lock: first the in-process one, then an
// exclusive flock(2) on the namespace file itself, which serializes Apply
// calls of other processes too (`hostnet apply` beside a node agent). The
// nsfs inode is the same whichever path opened it, so /run/netns/NAME and
// /proc/PID/ns/net lock together.
func (h *Host) lock(ctx context.Context, s *session) (unlock func(), err error) {
	v, _ := nsLocks.LoadOrStore(s.key, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	busy := false
	for {
		err := unix.Flock(int(s.ns), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			<-ch
			return nil, fmt.Errorf("lock network namespace %q: %w", h.NetNS, err)
		}
		if !busy && h.lockBusy != nil {
			h.lockBusy()
		}
		busy = true
		select {
		case <-time.After(flockPoll):
		case <-ctx.Done():
			<-ch
			return nil, ctx.Err()
		}
	}
	return func() {
		_ = unix.Flock(int(s.ns), unix.LOCK_UN)
		<-ch
	}, nil
}

func (h *Host) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// nsPath resolves Host.NetNS to a file ("" stays "").
func (h *Host) nsPath() string {
	switch {
	case h.NetNS == "":
		return ""
	case strings.ContainsRune(h.NetNS, '/'):
		return h.NetNS
	default:
		return filepath.Join("/run/netns", h.NetNS)
	}
}

func (h *Host) open() (*session, error) {
	var ns netns.NsHandle
	var err error
	path := h.nsPath()
	if path == "" {
		ns, err = netns.Get()
	} else {
		ns, err = netns.GetFromPath(path)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("network namespace %q not found (%s)", h.NetNS, path)
		}
		return nil, fmt.Errorf("open network namespace %q: %w", h.NetNS, kernelErr(err, nil))
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(ns), &st); err != nil {
		ns.Close()
		return nil, fmt.Errorf("stat network namespace %q: %w", h.NetNS, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(ns), &sfs); err != nil || sfs.Type != unix.NSFS_MAGIC {
		ns.Close()
		return nil, fmt.Errorf("%s is not a network namespace file (want a name under /run/netns or /proc/PID/ns/net)", path)
	}
	key := nsKey{dev: st.Dev, ino: st.Ino}
	// The caller's own namespace needs no setns (and no CAP_SYS_ADMIN).
	target := ns
	if path == "" {
		target = netns.None()
	}
	hd, err := netlink.NewHandleAt(target, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink handle in namespace %q: %w", h.NetNS, enterErr(err))
	}
	raw, err := openRaw(target)
	if err != nil {
		hd.Close()
		ns.Close()
		return nil, fmt.Errorf("netlink socket in namespace %q: %w", h.NetNS, enterErr(err))
	}
	return &session{h: hd, raw: raw, key: key, ns: ns}, nil
}

func enterErr(err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("permission denied: entering a network namespace needs CAP_SYS_ADMIN: %w", errors.Join(ErrPermission, err))
	}
	return err
}

func (s *session) close() {
	s.raw.close()
	s.h.Close()
	s.ns.Close()
}

// Plan reads the namespace's current state and returns the steps that would
// bring it to policy, with nmstate's semantics: bridges and VLAN links are
// created or (state: absent) deleted, a bridge's port list is exact, STP is
// set (on by default for a new bridge, as NetworkManager does), a port with
// VLAN settings turns VLAN filtering on and gets exactly its VLANs (VLAN 1
// goes), MTUs are set, ipv4/ipv6 sections make the address list exact
// (enabled: false removes every address of the family but the IPv6
// link-local ones the kernel manages), and links go up or down. Problems are reported together, each under its field path: invalid
// names (over 15 bytes), ports or NICs that do not exist, links of the
// wrong kind.
func (h *Host) Plan(ctx context.Context, policy netattach.State) (*Plan, error) {
	return h.plan(ctx, func(s *snapshot) ([]Step, field.ErrorList) { return planPolicy(policy, s) })
}

// PlanRemove returns the steps Remove would take.
func (h *Host) PlanRemove(ctx context.Context, policy netattach.State) (*Plan, error) {
	rm := removalPolicy(policy)
	return h.plan(ctx, func(s *snapshot) ([]Step, field.ErrorList) { return planPolicy(rm, s) })
}

// Remove undoes policy: it deletes the bridges and VLAN links the policy
// declares (their ports are released; NICs are left in place) and returns
// the steps it ran.
func (h *Host) Remove(ctx context.Context, policy netattach.State) ([]Step, error) {
	p, err := h.PlanRemove(ctx, policy)
	if err != nil {
		return nil, err
	}
	return h.Apply(ctx, p)
}

func (h *Host) plan(ctx context.Context, replan func(*snapshot) ([]Step, field.ErrorList)) (*Plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := h.open()
	if err != nil {
		return nil, err
	}
	defer s.close()
	snap, err := s.read()
	if err != nil {
		return nil, err
	}
	steps, errs := replan(snap)
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return &Plan{NetNS: h.NetNS, Steps: steps, replan: replan}, nil
}

// Apply brings the namespace to the plan's policy and returns the steps it
// ran. It holds the namespace's lock (concurrent Apply calls on one
// namespace, in this process or another, run one after the other) and
// re-reads the state first, so it
// runs only what is still needed: applying a policy already in place runs
// nothing. If a step fails, or ctx ends, the steps already run are undone in
// reverse order and the error is a *StepError naming the step and the
// kernel's answer.
func (h *Host) Apply(ctx context.Context, plan *Plan) ([]Step, error) {
	if plan == nil || plan.replan == nil {
		return nil, errors.New("host: Apply needs a plan made by Plan, PlanRemove or PlanAttach")
	}
	if plan.NetNS != h.NetNS {
		return nil, fmt.Errorf("host: plan was made for namespace %q, not %q", plan.NetNS, h.NetNS)
	}
	s, err := h.open()
	if err != nil {
		return nil, err
	}
	defer s.close()
	if h.beforeLock != nil {
		h.beforeLock()
	}
	unlock, err := h.lock(ctx, s)
	if err != nil {
		return nil, err
	}
	defer unlock()
	snap, err := s.read()
	if err != nil {
		return nil, err
	}
	steps, errs := plan.replan(snap)
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	log := h.logger().With("netns", h.NetNS)
	undos := make([]func(*session) error, 0, len(steps))
	for i, st := range steps {
		err := ctx.Err()
		if err == nil {
			if h.beforeStep != nil {
				h.beforeStep(i, st)
			}
			var undo func(*session) error
			undo, err = st.run(s)
			if err == nil {
				log.Info("applied", "step", i+1, "of", len(steps), "change", st.String())
				undos = append(undos, undo)
				continue
			}
		}
		se := &StepError{Index: i, Total: len(steps), Step: st, Err: err}
		var rbErrs []error
		for j := len(undos) - 1; j >= 0; j-- {
			if uerr := undos[j](s); uerr != nil {
				rbErrs = append(rbErrs, fmt.Errorf("undo %q: %w", steps[j].String(), uerr))
				log.Error("rollback failed", "change", steps[j].String(), "err", uerr)
				continue
			}
			se.RolledBack++
			log.Info("rolled back", "change", steps[j].String())
		}
		se.RollbackErr = errors.Join(rbErrs...)
		log.Error("apply failed", "step", i+1, "change", st.String(), "err", err)
		return nil, se
	}
	return steps, nil
}
