// Package abusebench is the comparison's abuse part: the rate a
// well-behaved client gets from pxekit's servers, quiet and while an
// attacker floods them from one socket as fast as it sends, as a
// percentage of the quiet rate (target ≥ 90 %).
//
// Servers, clients and attackers run in this process on loopback
// (127.0.0.0/8): the lab's pools (192.0.2.0/24) are only data here. Each
// attack gets a fresh server. Quiet and attacked windows alternate
// (Rounds of each) so the machine's load drifts into both alike.
package abusebench

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/report"
)

// Target is the share of its quiet rate a well-behaved client keeps
// during each attack.
const Target = 0.9

// Options are the part's windows.
type Options struct {
	Window time.Duration // one quiet or attacked measurement
	Rounds int           // quiet/attacked pairs per attack
}

// Run measures every attack with the harness's settings: 2 s windows,
// 3 rounds (quick: 500 ms, 1 round). It needs no namespace: loopback.
func Run(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	o := Options{Window: 2 * time.Second, Rounds: 3}
	if h.Quick {
		o = Options{Window: 500 * time.Millisecond, Rounds: 1}
	}
	return Measure(ctx, o)
}

// Measure runs every attack with o.
func Measure(ctx context.Context, o Options) ([]report.Row, error) {
	var rows []report.Row
	for _, run := range []func(context.Context, Options) ([]report.Row, error){dhcpRows, tftpRows, httpRows} {
		rs, err := run(ctx, o)
		rows = append(rows, rs...)
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// attack is one flood: it sends until ctx ends and counts what it sent.
type attack func(ctx context.Context, sent *atomic.Uint64) error

// client is one well-behaved client's loop: it completes exchanges until
// ctx ends and counts them.
type client func(ctx context.Context, done *atomic.Uint64)

// figures is one attack measured: the good client's rate quiet and under
// attack, and the attacker's send rate.
type figures struct {
	quiet, attacked, sendRate float64
}

// measure alternates quiet and attacked windows of the good client.
func measure(ctx context.Context, o Options, good client, bad attack) (figures, error) {
	var f figures
	var quietN, badN uint64
	var quietT, badT time.Duration
	for range o.Rounds {
		n, d := window(ctx, o.Window, good)
		quietN, quietT = quietN+n, quietT+d

		actx, stop := context.WithCancel(ctx)
		var sent atomic.Uint64
		errc := make(chan error, 1)
		go func() { errc <- bad(actx, &sent) }()
		time.Sleep(50 * time.Millisecond) // the flood is in full swing before the window opens
		s0 := sent.Load()
		n, d = window(ctx, o.Window, good)
		s1 := sent.Load()
		stop()
		if err := <-errc; err != nil {
			return f, err
		}
		badN, badT = badN+n, badT+d
		f.sendRate += float64(s1-s0) / d.Seconds() / float64(o.Rounds)
		if ctx.Err() != nil {
			return f, ctx.Err()
		}
	}
	if quietN == 0 {
		return f, fmt.Errorf("the well-behaved client completed nothing with no attack")
	}
	f.quiet = float64(quietN) / quietT.Seconds()
	f.attacked = float64(badN) / badT.Seconds()
	return f, nil
}

func window(ctx context.Context, d time.Duration, good client) (uint64, time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n atomic.Uint64
	start := time.Now()
	good(wctx, &n)
	return n.Load(), time.Since(start)
}

// row is one attack's result: the attacked rate beside the quiet one as
// its "peer", so the ratio is the share kept.
func row(group, name, unit string, f figures, note string) report.Row {
	return report.Row{Group: group, Case: name, Unit: unit, Peer: "quiet", PeerV: f.quiet, Pxekit: f.attacked,
		Target: Target, Note: fmt.Sprintf("%s; attacker sent %.0f/s from one socket", note, f.sendRate)}
}

// paced names how the well-behaved client ran: what it did ("client
// starts") at rate a second, or closed-loop as fast as answered (rate
// 0). A closed loop shares the machine's cores with the server and the
// attacker, so it shows the CPU the attack takes, not whether the server
// keeps answering: it has no target.
func paced(r report.Row, rate float64, who string) report.Row {
	if rate > 0 {
		r.Case += fmt.Sprintf(" (%s %.0f/s)", who, rate)
	} else {
		r.Case += " (client as fast as answered)"
		r.Target = 0
	}
	return r
}

// flooder sends batches from one socket (sendmmsg, 64 datagrams a call:
// as fast as one socket sends) until ctx ends; fill rewrites message i
// before each call.
func flooder(src string, dst net.Addr, fill func(i int, b []byte) []byte) attack {
	return func(ctx context.Context, sent *atomic.Uint64) error {
		c, err := net.ListenPacket("udp4", src)
		if err != nil {
			return err
		}
		defer c.Close()
		pc := ipv4.NewPacketConn(c)
		const n = 64
		ms := make([]ipv4.Message, n)
		bufs := make([][]byte, n)
		for i := range ms {
			bufs[i] = make([]byte, 0, 16<<10)
			ms[i].Addr = dst
		}
		for ctx.Err() == nil {
			for i := range ms {
				bufs[i] = fill(i, bufs[i][:0])
				ms[i].Buffers = [][]byte{bufs[i]}
			}
			k, err := pc.WriteBatch(ms, 0)
			if k > 0 {
				sent.Add(uint64(k))
			}
			if err != nil {
				// A full socket buffer (ENOBUFS) is the flood at its
				// limit, not a failure.
				time.Sleep(time.Microsecond)
			}
		}
		return nil
	}
}
