//go:build linux

package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pxekit/pxekit/netattach"
)

// TestBr1Eth1Policy applies the documented br1-eth1-policy to a veth named
// eth1 in a fresh namespace: bridge up, STP off, eth1 enslaved, no IPv4; a
// second apply does nothing; Remove leaves the namespace as it was.
func TestBr1Eth1Policy(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "eth1", "eth1peer")
	before := links(t, ns)
	policy := loadBr1Eth1Policy(t)
	h := &Host{NetNS: ns}
	ctx := context.Background()

	plan, err := h.Plan(ctx, policy)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"create-bridge br1", "set-master eth1 -> br1", "set-up eth1", "set-up br1"}
	if got := actions(plan.Steps); !slices.Equal(got, want) {
		t.Fatalf("plan:\n%s\nwant steps %q", plan, want)
	}
	applied, err := h.Apply(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(want) {
		t.Errorf("applied %d steps, want %d", len(applied), len(want))
	}

	after := links(t, ns)
	br, ok := after["br1"]
	if !ok {
		t.Fatalf("no br1 after apply: %v", after)
	}
	if br.LinkInfo == nil || br.LinkInfo.InfoKind != "bridge" {
		t.Errorf("br1 is not a bridge: %+v", br.LinkInfo)
	} else if stp := br.LinkInfo.InfoData["stp_state"]; stp != float64(0) {
		t.Errorf("br1 stp_state = %v, want 0", stp)
	}
	if !br.up() {
		t.Errorf("br1 not up: %v", br.Flags)
	}
	for _, a := range br.AddrInfo {
		if a.Family == "inet" {
			t.Errorf("br1 has IPv4 address %s/%d; policy says ipv4 enabled: false", a.Local, a.PrefixLen)
		}
	}
	if e := after["eth1"]; e.Master != "br1" || !e.up() {
		t.Errorf("eth1: master %q up %v, want master br1 and up", e.Master, e.up())
	}

	// Idempotent: planning again finds nothing, applying again does nothing.
	again, err := h.Plan(ctx, policy)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Empty() {
		t.Errorf("second plan not empty:\n%s", again)
	}
	if steps, err := h.Apply(ctx, plan); err != nil || len(steps) != 0 {
		t.Errorf("re-applying the first plan ran %q, err %v; want nothing", actions(steps), err)
	}

	removed, err := h.Remove(ctx, policy)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(removed); !slices.Equal(got, []string{"delete br1 bridge"}) {
		t.Errorf("remove ran %q", got)
	}
	end := links(t, ns)
	if len(end) != len(before) {
		t.Errorf("links after remove: %v, before apply: %v", keys(end), keys(before))
	}
	for name, l := range end {
		b, ok := before[name]
		if !ok {
			t.Errorf("link %s left behind", name)
			continue
		}
		if l.Master != b.Master || l.MTU != b.MTU || len(l.AddrInfo) != len(b.AddrInfo) {
			t.Errorf("%s after remove: master %q mtu %d addrs %d; before: master %q mtu %d addrs %d",
				name, l.Master, l.MTU, len(l.AddrInfo), b.Master, b.MTU, len(b.AddrInfo))
		}
	}
	if steps, err := h.Remove(ctx, policy); err != nil || len(steps) != 0 {
		t.Errorf("second remove ran %q, err %v", actions(steps), err)
	}
}

func keys(m map[string]ipLink) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestBr1Eth1PolicyConvergesExistingBridge: a br1 someone made by hand, with STP
// on, an IPv4 address and a stray port, is brought to the documentation policy.
func TestBr1Eth1PolicyConvergesExistingBridge(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "eth1", "eth1peer")
	addVeth(t, ns, "stray", "straypeer")
	ipIn(t, ns, "link", "add", "br1", "type", "bridge", "stp_state", "1")
	ipIn(t, ns, "addr", "add", "192.0.2.1/24", "dev", "br1")
	ipIn(t, ns, "link", "set", "stray", "master", "br1")
	h := &Host{NetNS: ns}
	ctx := context.Background()
	plan, err := h.Plan(ctx, loadBr1Eth1Policy(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"set-stp br1 off", "set-master eth1 -> br1", "release-port stray from br1",
		"del-address br1 192.0.2.1/24", "set-up eth1", "set-up br1"}
	if got := actions(plan.Steps); !slices.Equal(got, want) {
		t.Fatalf("plan:\n%s\nwant %q", plan, want)
	}
	if _, err := h.Apply(ctx, plan); err != nil {
		t.Fatal(err)
	}
	l := links(t, ns)
	if stp := l["br1"].LinkInfo.InfoData["stp_state"]; stp != float64(0) {
		t.Errorf("stp_state = %v, want 0", stp)
	}
	if len(l["br1"].AddrInfo) != 0 {
		for _, a := range l["br1"].AddrInfo {
			if a.Family == "inet" {
				t.Errorf("br1 kept %s/%d", a.Local, a.PrefixLen)
			}
		}
	}
	if l["stray"].Master != "" || l["eth1"].Master != "br1" {
		t.Errorf("stray master %q, eth1 master %q", l["stray"].Master, l["eth1"].Master)
	}
	if p, err := h.Plan(ctx, loadBr1Eth1Policy(t)); err != nil || !p.Empty() {
		t.Errorf("not converged: %v %v", p, err)
	}
}

// TestJumboMTUAndAddresses: the documented jumbo frames on a bridge over eth1
// (MTU 9000 on both), a static lab address, STP default (on, as
// NetworkManager creates bridges).
func TestJumboMTUAndAddresses(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "eth1", "eth1peer")
	policy := netattach.State{Interfaces: []netattach.Interface{
		{Name: "eth1", Type: netattach.TypeEthernet, State: netattach.StateUp, MTU: 9000},
		{Name: "br1", Type: netattach.TypeLinuxBridge, State: netattach.StateUp, MTU: 9000,
			IPv4:   &netattach.IPConfig{Enabled: true, Address: []netattach.IPAddress{{IP: "192.0.2.1", PrefixLength: 24}}},
			Bridge: &netattach.BridgeConfig{Port: []netattach.BridgePort{{Name: "eth1"}}}},
	}}
	h := &Host{NetNS: ns}
	ctx := context.Background()
	plan, err := h.Plan(ctx, policy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Apply(ctx, plan); err != nil {
		t.Fatalf("%v\nplan:\n%s", err, plan)
	}
	l := links(t, ns)
	if l["eth1"].MTU != 9000 || l["br1"].MTU != 9000 {
		t.Errorf("MTU eth1 %d br1 %d, want 9000", l["eth1"].MTU, l["br1"].MTU)
	}
	if stp := l["br1"].LinkInfo.InfoData["stp_state"]; stp == float64(0) {
		t.Errorf("a new bridge without stp options should have STP on (NetworkManager's default)")
	}
	var v4 []string
	for _, a := range l["br1"].AddrInfo {
		if a.Family == "inet" {
			v4 = append(v4, a.Local)
		}
	}
	if !slices.Equal(v4, []string{"192.0.2.1"}) {
		t.Errorf("br1 IPv4 %v, want [192.0.2.1]", v4)
	}
	if p, err := h.Plan(ctx, policy); err != nil || !p.Empty() {
		t.Errorf("not idempotent: %v %v", p, err)
	}
}

// TestPlanErrors: what a user gets for a missing port and a bridge name
// that is already another kind of link — every problem, with its path.
func TestPlanErrors(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "eth1", "eth1peer")
	h := &Host{NetNS: ns}
	policy := netattach.State{Interfaces: []netattach.Interface{
		{Name: "br1", Type: netattach.TypeLinuxBridge, Bridge: &netattach.BridgeConfig{
			Port: []netattach.BridgePort{{Name: "eth1"}, {Name: "eth9"}}}},
		{Name: "eth1peer", Type: netattach.TypeLinuxBridge},
		{Name: "eth7", Type: netattach.TypeEthernet, MTU: 9000},
	}}
	_, err := h.Plan(context.Background(), policy)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`interfaces[0].bridge.port[1].name: Not found: "eth9"`,
		`interfaces[1].name: Invalid value: "eth1peer": exists as a veth link, not a linux bridge`,
		`interfaces[2].name: Not found: "eth7"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	if _, err := (&Host{NetNS: ns + "-nonexistent"}).Plan(context.Background(), policy); err == nil ||
		!strings.Contains(err.Error(), "not found") {
		t.Errorf("missing namespace: %v", err)
	}
	if _, err := (&Host{NetNS: "/etc/hostname"}).Plan(context.Background(), policy); err == nil ||
		!strings.Contains(err.Error(), "/etc/hostname is not a network namespace file") {
		t.Errorf("a file that is not a namespace: %v", err)
	}
}

// TestRollback makes a step fail mid-apply the way it happens in life — a
// port vanishes between plan and apply — and checks the kernel's answer is
// named and the earlier steps (eth1's MTU, the new bridge, eth1's
// enslavement) are undone.
func TestRollback(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "eth1", "eth1peer")
	addVeth(t, ns, "eth2", "eth2peer")
	before := links(t, ns)
	policy := netattach.State{Interfaces: []netattach.Interface{
		{Name: "eth1", Type: netattach.TypeEthernet, MTU: 9000},
		{Name: "br1", Type: netattach.TypeLinuxBridge, Bridge: &netattach.BridgeConfig{
			Options: &netattach.BridgeOptions{STP: &netattach.STPOptions{Enabled: false}},
			Port:    []netattach.BridgePort{{Name: "eth1"}, {Name: "eth2"}}}},
	}}
	var logs bytes.Buffer
	h := &Host{NetNS: ns, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	h.beforeStep = func(i int, st Step) {
		if st.String() == "set-master eth2 -> br1" {
			ipIn(t, ns, "link", "del", "eth2")
		}
	}
	ctx := context.Background()
	plan, err := h.Plan(ctx, policy)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Apply(ctx, plan)
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("Apply error %v (%T), want *StepError", err, err)
	}
	if !errors.Is(err, unix.ENODEV) {
		t.Errorf("error %q does not carry the kernel's ENODEV", err)
	}
	if se.Step.String() != "set-master eth2 -> br1" || se.RolledBack != 3 || se.RollbackErr != nil {
		t.Errorf("failed step %q rolled back %d (%v); want set-master eth2 -> br1 after 3 steps", se.Step, se.RolledBack, se.RollbackErr)
	}
	if !strings.Contains(err.Error(), `step 4/`) || !strings.Contains(err.Error(), "set-master eth2 -> br1") {
		t.Errorf("error does not name the step: %q", err)
	}
	// The logger saw each step applied, the failure, and each undo.
	if l := logs.String(); strings.Count(l, "msg=applied") != 3 || strings.Count(l, `msg="rolled back"`) != 3 ||
		!strings.Contains(l, `msg="apply failed" netns=`+ns+` step=4`) {
		t.Errorf("log:\n%s", l)
	}
	after := links(t, ns)
	if _, ok := after["br1"]; ok {
		t.Error("br1 survived the rollback")
	}
	if e := after["eth1"]; e.MTU != before["eth1"].MTU || e.Master != "" {
		t.Errorf("eth1 after rollback: mtu %d master %q, want %d and none", e.MTU, e.Master, before["eth1"].MTU)
	}
}

// TestConcurrentApply: a second Apply on the same namespace (through another
// Host value) that starts while the first is mid-way waits for it, then
// finds nothing left to do. Without the per-namespace lock it would read a
// half-applied namespace and fail creating br1 again ("file exists").
func TestConcurrentApply(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "eth1", "eth1peer")
	policy := loadBr1Eth1Policy(t)
	ctx := context.Background()
	plan, err := (&Host{NetNS: ns}).Plan(ctx, policy)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		steps []Step
		err   error
	}
	second := make(chan result, 1)
	waiting := make(chan struct{})
	b := &Host{NetNS: ns, beforeLock: func() { close(waiting) }}
	a := &Host{NetNS: ns}
	var once sync.Once
	a.beforeStep = func(i int, _ Step) {
		if i != 1 {
			return
		}
		// A has created br1 and holds the lock: start B and let A go on
		// only once B is about to take the lock.
		once.Do(func() {
			go func() {
				steps, err := b.Apply(ctx, plan)
				second <- result{steps, err}
			}()
			<-waiting
		})
	}
	stepsA, err := a.Apply(ctx, plan)
	if err != nil {
		t.Fatalf("first Apply: %v", err)
	}
	rb := <-second
	if rb.err != nil {
		t.Fatalf("second Apply: %v", rb.err)
	}
	if len(stepsA) != len(plan.Steps) || len(rb.steps) != 0 {
		t.Errorf("first ran %q, second ran %q; want the plan once, then nothing", actions(stepsA), actions(rb.steps))
	}
	if l := links(t, ns); l["eth1"].Master != "br1" {
		t.Errorf("eth1 master %q", l["eth1"].Master)
	}
}

// TestApplyWaitsForOtherProcess: while another process holds the
// namespace's flock (here: another open file description of the namespace
// file, which flock(2) treats exactly like another process's), Apply waits
// without touching anything, gives up when its context ends, and runs once
// the lock is released.
func TestApplyWaitsForOtherProcess(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "eth1", "eth1peer")
	other, err := os.Open("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := unix.Flock(int(other.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	busy := make(chan struct{}, 2)
	h := &Host{NetNS: ns, lockBusy: func() { busy <- struct{}{} }}
	plan, err := h.Plan(ctx, loadBr1Eth1Policy(t))
	if err != nil {
		t.Fatal(err)
	}

	// Cancelled while waiting: an error, nothing done.
	cctx, cancel := context.WithCancel(ctx)
	cancelled := make(chan error, 1)
	go func() {
		_, err := h.Apply(cctx, plan)
		cancelled <- err
	}()
	<-busy
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Apply: %v", err)
	}

	type result struct {
		steps []Step
		err   error
	}
	done := make(chan result, 1)
	go func() {
		steps, err := h.Apply(ctx, plan)
		done <- result{steps, err}
	}()
	<-busy
	if _, ok := links(t, ns)["br1"]; ok {
		t.Fatal("Apply ran while another process held the namespace lock")
	}
	if err := unix.Flock(int(other.Fd()), unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || len(r.steps) != len(plan.Steps) {
		t.Fatalf("Apply after the lock was released: %q %v", actions(r.steps), r.err)
	}
	if l := links(t, ns); l["eth1"].Master != "br1" {
		t.Errorf("eth1 master %q", l["eth1"].Master)
	}
}

// TestRemoveRollbackRecreates: when a Remove fails part-way, the bridge it
// had already deleted comes back as it was — STP, address, MTU, port, up.
func TestRemoveRollbackRecreates(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "eth1", "eth1peer")
	addVeth(t, ns, "eth2", "eth2peer")
	ipIn(t, ns, "link", "add", "br1", "type", "bridge", "stp_state", "1")
	ipIn(t, ns, "link", "set", "br1", "mtu", "1400")
	ipIn(t, ns, "addr", "add", "192.0.2.1/24", "dev", "br1")
	ipIn(t, ns, "link", "set", "eth1", "master", "br1")
	ipIn(t, ns, "link", "set", "br1", "up")
	ipIn(t, ns, "link", "add", "br2", "type", "bridge")
	policy := netattach.State{Interfaces: []netattach.Interface{
		{Name: "br1", Type: netattach.TypeLinuxBridge},
		{Name: "br2", Type: netattach.TypeLinuxBridge},
	}}
	h := &Host{NetNS: ns}
	h.beforeStep = func(i int, st Step) {
		if st.String() == "delete br2 bridge" {
			ipIn(t, ns, "link", "del", "br2")
		}
	}
	_, err := h.Remove(context.Background(), policy)
	var se *StepError
	if !errors.As(err, &se) || se.RolledBack != 1 || se.RollbackErr != nil {
		t.Fatalf("Remove: %v; want step 2 failing and step 1 rolled back", err)
	}
	l := links(t, ns)
	br, ok := l["br1"]
	if !ok || br.LinkInfo == nil || br.LinkInfo.InfoKind != "bridge" {
		t.Fatalf("br1 not recreated: %+v", br)
	}
	if stp := br.LinkInfo.InfoData["stp_state"]; stp == float64(0) {
		t.Error("br1 recreated with STP off")
	}
	if br.MTU != 1400 || !br.up() || l["eth1"].Master != "br1" {
		t.Errorf("br1 recreated with mtu %d up %v, eth1 master %q; want 1400, up, br1", br.MTU, br.up(), l["eth1"].Master)
	}
	var v4 []string
	for _, a := range br.AddrInfo {
		if a.Family == "inet" {
			v4 = append(v4, fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
		}
	}
	if !slices.Equal(v4, []string{"192.0.2.1/24"}) {
		t.Errorf("br1 recreated with IPv4 %v", v4)
	}
}
