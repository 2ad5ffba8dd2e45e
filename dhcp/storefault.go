package dhcp

import (
	"errors"
	"syscall"
	"time"
)

// commitLogInterval paces the failed-commit log line: a full disk under a
// boot storm fails every commit, and one line per commit would bury the
// cause (and fill the same disk through the journal).
const commitLogInterval = time.Minute

// commitFaults is the committer's record of failing commits. Only the
// committer goroutine touches it; Stats reads counters.commitErrors.
type commitFaults struct {
	since    int       // failed commits since the last success
	withheld int       // replies withheld since the last success
	logged   time.Time // when a failure was last logged (kept across recoveries: a flapping store still logs once per interval)
	unpaired bool      // a failure line was written and no recovery line since
	first    error
}

// commitFailed counts a failed commit of leases (replies withheld) and
// logs it at most once per commitLogInterval. The replies are not sent:
// a client is never acknowledged a lease the store did not record, and
// it retransmits, so it is served once the store writes again.
func (s *Server) commitFailed(f *commitFaults, err error, leases, replies int) {
	s.cnt.commitErrors.Add(1)
	for range replies {
		s.cnt.drop(DropStoreError)
	}
	if f.since == 0 {
		f.first = err
	}
	f.since++
	f.withheld += replies
	now := time.Now()
	if !f.logged.IsZero() && now.Sub(f.logged) < commitLogInterval {
		return
	}
	f.logged, f.unpaired = now, true
	msg := "dhcp: lease commit failed; replies withheld until the store writes again"
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		msg = "dhcp: lease store is out of space; replies withheld until the store writes again"
	}
	s.log.Error(msg, "err", err, "leases", leases, "failedCommits", f.since, "withheldReplies", f.withheld)
}

// commitOK notes a successful commit, logging the recovery once for each
// failure line.
func (s *Server) commitOK(f *commitFaults) {
	if f.since == 0 {
		return
	}
	if f.unpaired {
		s.log.Info("dhcp: lease commits succeed again", "failedCommits", f.since, "withheldReplies", f.withheld, "firstErr", f.first)
	}
	*f = commitFaults{logged: f.logged}
}
