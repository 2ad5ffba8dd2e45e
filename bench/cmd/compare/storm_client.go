package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/pxekit/pxekit/bench/internal/harness"
)

// The storm's client side (role "storm"): N simulated machines, each
// booting the way UEFI firmware and then iPXE do — DHCP, TFTP of the boot
// file, DHCP again as iPXE, HTTP of the script, HTTP of what the script
// names — all at once, against whatever server answers on 192.0.2.1.
//
// The client namespace is not on the servers' broadcast domain in the
// sense firmware needs (no raw sockets here), so DHCP goes the way a relay
// agent forwards it (giaddr 192.0.2.2, one socket on 192.0.2.2:67, replies
// demultiplexed by xid), as perfdhcp does. Everything after DHCP is sent
// from the leased address, which the harness put on the client's veth, so
// the server sees 1,000 distinct machines as it would on a real segment.

// Steps of one boot, as counted in failures and timings.
const (
	stormStepDHCP    = "dhcp"      // firmware DORA (after a free address was found)
	stormStepWait    = "wait"      // DISCOVERs unanswered because the pool was full
	stormStepTFTP    = "tftp"      // the boot file
	stormStepIPXE    = "dhcp-ipxe" // iPXE's own DORA
	stormStepScript  = "script"    // HTTP boot script
	stormStepKernel  = "kernel"    // HTTP kernel
	stormStepInitrd  = "initrd"    // HTTP initrd(s)
	stormStepRelease = "release"
)

// stormFile is what a fetched file must be: its size and CRC-32 (IEEE; cheap
// enough to check 12 GB of downloads on a shared machine).
type stormFile struct {
	Size int64
	CRC  uint32
}

// parseStormWant reads "name=size:crc,name=size:crc" (crc in hex).
func parseStormWant(s string) (map[string]stormFile, error) {
	m := map[string]stormFile{}
	for _, kv := range strings.Split(s, ",") {
		if kv == "" {
			continue
		}
		name, v, ok := strings.Cut(kv, "=")
		sz, c, ok2 := strings.Cut(v, ":")
		if !ok || !ok2 {
			return nil, fmt.Errorf("want %q: not name=size:crc", kv)
		}
		n, err := strconv.ParseInt(sz, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want %q: size: %w", kv, err)
		}
		x, err := strconv.ParseUint(c, 16, 32)
		if err != nil {
			return nil, fmt.Errorf("want %q: crc: %w", kv, err)
		}
		m[name] = stormFile{Size: n, CRC: uint32(x)}
	}
	return m, nil
}

func formatStormWant(m map[string]stormFile) string {
	var parts []string
	for name, f := range m {
		parts = append(parts, fmt.Sprintf("%s=%d:%08x", name, f.Size, f.CRC))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// stormClient is one machine's outcome. Durations are nanoseconds.
type stormClient struct {
	MAC    string                   `json:"mac"`
	IP     string                   `json:"ip,omitempty"`
	Step   string                   `json:"failedStep,omitempty"` // empty: booted
	Err    string                   `json:"err,omitempty"`
	Times  map[string]time.Duration `json:"times"`     // by step (stormStep*), steps it finished
	Total  time.Duration            `json:"total"`     // power-on to kernel and initrd fetched
	Tries  int                      `json:"discovers"` // DISCOVERs sent before the first OFFER
	Resent int                      `json:"resent"`    // REQUESTs and TFTP packets sent again
	// Naks counts NAKs to a REQUEST (each sent the machine back to
	// DISCOVER); FirstNak says what the first was.
	Naks     int    `json:"naks,omitempty"`
	FirstNak string `json:"firstNak,omitempty"`
}

// stormReport is what the storm role writes for the harness.
type stormReport struct {
	Clients     []stormClient `json:"clients"`
	Elapsed     time.Duration `json:"elapsed"`
	MaxInFlight int64         `json:"maxInFlight"` // machines booting at once
	MaxLeased   int64         `json:"maxLeased"`   // machines holding an address at once
	Stray       int64         `json:"stray"`       // DHCP replies nobody waited for
	Overflow    int64         `json:"overflow"`    // DHCP replies dropped, their exchange's queue full
}

// stormOpts are the storm role's settings.
type stormOpts struct {
	server   netip.Addr
	relay    netip.Addr
	clients  int
	spread   time.Duration // power-on spread of the rack
	deadline time.Duration // per machine
	want     map[string]stormFile
}

// runStorm boots o.clients machines at once and returns their outcomes.
func runStorm(ctx context.Context, o stormOpts) (*stormReport, error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(o.relay, 67)))
	if err != nil {
		return nil, fmt.Errorf("relay socket: %w", err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	r := &stormRelay{conn: conn, server: netip.AddrPortFrom(o.server, 67), wait: map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4{}}
	go r.run()
	defer conn.Close()

	st := &storm{o: o, relay: r, holders: map[netip.Addr]string{}}
	rep := &stormReport{Clients: make([]stormClient, o.clients)}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The rack powers on over o.spread, not in one instant.
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(o.spread) + 1))):
			case <-ctx.Done():
			}
			cctx, cancel := context.WithTimeout(ctx, o.deadline)
			defer cancel()
			rep.Clients[i] = st.boot(cctx, i)
		}()
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	rep.MaxInFlight, rep.MaxLeased, rep.Stray, rep.Overflow = st.maxFlight.Load(), st.maxLeased.Load(), r.stray.Load(), r.overflow.Load()
	return rep, nil
}

// stormRelay is the one relay-agent socket every machine's DHCP goes
// through; replies are handed to the exchange waiting for their xid.
type stormRelay struct {
	conn   *net.UDPConn
	server netip.AddrPort
	mu     sync.Mutex
	wait   map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4
	stray  atomic.Int64
	// overflow counts replies dropped because their exchange had not read
	// the ones before.
	overflow atomic.Int64
}

func (r *stormRelay) run() {
	buf := make([]byte, 2048)
	for {
		n, _, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p, err := dhcpv4.FromBytes(bytes.Clone(buf[:n]))
		if err != nil {
			r.stray.Add(1)
			continue
		}
		r.mu.Lock()
		ch := r.wait[p.TransactionID]
		r.mu.Unlock()
		if ch == nil {
			r.stray.Add(1)
			continue
		}
		select {
		case ch <- p:
		default: // the exchange has 16 unread replies: a server answering retransmits late
			r.overflow.Add(1)
		}
	}
}

func (r *stormRelay) register(xid dhcpv4.TransactionID) chan *dhcpv4.DHCPv4 {
	ch := make(chan *dhcpv4.DHCPv4, 16)
	r.mu.Lock()
	r.wait[xid] = ch
	r.mu.Unlock()
	return ch
}

func (r *stormRelay) unregister(xid dhcpv4.TransactionID) {
	r.mu.Lock()
	delete(r.wait, xid)
	r.mu.Unlock()
}

func (r *stormRelay) send(p *dhcpv4.DHCPv4) error {
	_, err := r.conn.WriteToUDPAddrPort(p.ToBytes(), r.server)
	return err
}

type storm struct {
	o                    stormOpts
	relay                *stormRelay
	inFlight, leased     atomic.Int64
	maxFlight, maxLeased atomic.Int64

	mu      sync.Mutex
	holders map[netip.Addr]string // address → the MAC holding it now
}

// hold records that mac holds ip and returns who else did, if anyone: two
// machines on one address is a lease the server lost.
func (st *storm) hold(ip netip.Addr, mac net.HardwareAddr) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if other, ok := st.holders[ip]; ok && other != mac.String() {
		return other
	}
	st.holders[ip] = mac.String()
	return ""
}

// unhold forgets mac's hold on ip, before the RELEASE leaves, so the next
// holder the server picks is never reported as a clash.
func (st *storm) unhold(ip netip.Addr, mac net.HardwareAddr) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.holders[ip] == mac.String() {
		delete(st.holders, ip)
	}
}

// stormRaiseMax keeps hi at the largest v seen.
func stormRaiseMax(hi *atomic.Int64, v int64) {
	for {
		m := hi.Load()
		if v <= m || hi.CompareAndSwap(m, v) {
			return
		}
	}
}

// stormStepErr is a failure at one step of the boot.
type stormStepErr struct {
	step string
	err  error
}

func (e *stormStepErr) Error() string { return e.step + ": " + e.err.Error() }

func stormFail(step string, format string, a ...any) error {
	return &stormStepErr{step: step, err: fmt.Errorf(format, a...)}
}

// boot runs one machine from power-on to a fetched kernel and initrd.
func (st *storm) boot(ctx context.Context, i int) (res stormClient) {
	stormRaiseMax(&st.maxFlight, st.inFlight.Add(1))
	defer st.inFlight.Add(-1)
	mac := net.HardwareAddr{0x02, 0x50, 0x58, byte(i >> 16), byte(i >> 8), byte(i)}
	uuid := make([]byte, 16)
	binary.BigEndian.PutUint64(uuid[8:], uint64(i)+1)
	copy(uuid, "pxekit-s")
	res = stormClient{MAC: mac.String(), Times: map[string]time.Duration{}}
	start := time.Now()
	err := st.bootSteps(ctx, mac, uuid, &res)
	res.Total = time.Since(start)
	if err != nil {
		var se *stormStepErr
		if errors.As(err, &se) {
			res.Step = se.step
		} else {
			res.Step = "?"
		}
		res.Err = err.Error()
	}
	return res
}

func (st *storm) bootSteps(ctx context.Context, mac net.HardwareAddr, uuid []byte, res *stormClient) error {
	// 1. Firmware DHCP: PXE-shaped, answered with the boot file.
	l, err := st.dora(ctx, mac, uuid, false, res)
	if err != nil {
		return err
	}
	res.IP = l.ip.String()
	stormRaiseMax(&st.maxLeased, st.leased.Add(1))
	defer st.leased.Add(-1)
	released := false
	defer func() {
		if !released {
			_ = st.release(mac, l) // best effort, so a failed machine frees its address too
		}
	}()
	if other := st.hold(l.ip, mac); other != "" {
		return stormFail(stormStepDHCP, "%s ACKed while %s still holds it", l.ip, other)
	}
	if l.file == "" || strings.Contains(l.file, "://") {
		return stormFail(stormStepDHCP, "firmware offer has boot file %q, want a TFTP path", l.file)
	}
	next := l.next
	if !next.IsValid() || next.IsUnspecified() {
		next = l.server
	}

	// 2. TFTP the boot file.
	t := time.Now()
	if err := st.tftpFile(ctx, l.ip, next, l.file, res); err != nil {
		return err
	}
	res.Times[stormStepTFTP] = time.Since(t)

	// 3. iPXE's DHCP: the same machine, now asking for its script.
	l2, err := st.dora(ctx, mac, uuid, true, res)
	if err != nil {
		return err
	}
	if l2.ip != l.ip {
		return stormFail(stormStepIPXE, "iPXE got %s, firmware had %s", l2.ip, l.ip)
	}
	if !strings.HasPrefix(l2.file, "http://") {
		return stormFail(stormStepIPXE, "iPXE offer has boot file %q, want an http:// script URL", l2.file)
	}

	// 4. The script, and what it names.
	hc := &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(l.ip, 0)), Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   1,
		DisableCompression:    true,
		ResponseHeaderTimeout: 30 * time.Second,
	}}
	defer hc.CloseIdleConnections()
	t = time.Now()
	kernel, initrds, err := st.script(ctx, hc, l2.file)
	if err != nil {
		return err
	}
	res.Times[stormStepScript] = time.Since(t)
	t = time.Now()
	if err := st.fetch(ctx, hc, stormStepKernel, kernel); err != nil {
		return err
	}
	res.Times[stormStepKernel] = time.Since(t)
	if len(initrds) > 0 {
		t = time.Now()
		for _, u := range initrds {
			if err := st.fetch(ctx, hc, stormStepInitrd, u); err != nil {
				return err
			}
		}
		res.Times[stormStepInitrd] = time.Since(t)
	}

	// 5. Give the address back: the pool is smaller than the rack.
	released = true
	if err := st.release(mac, l); err != nil {
		return stormFail(stormStepRelease, "%v", err)
	}
	return nil
}

// stormLease is what an ACK gave.
type stormLease struct {
	ip, server, next netip.Addr
	file             string
}

func stormAddr4(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip.To4())
	return a
}

// wait returns the next reply of type want on ch, nil on timeout. A NAK
// is returned whatever was wanted.
func stormWaitReply(ctx context.Context, ch chan *dhcpv4.DHCPv4, want dhcpv4.MessageType, d time.Duration) (*dhcpv4.DHCPv4, error) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	for {
		select {
		case p := <-ch:
			if mt := p.MessageType(); mt == want || mt == dhcpv4.MessageTypeNak {
				return p, nil
			}
		case <-tm.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// dora gets a lease the way firmware does. A NAK to the REQUEST sends it
// back to DISCOVER (RFC 2131 4.4.1: a server that does not hold its
// offers may have offered the same address twice) after 1–2 s, as a boot
// manager retrying its PXE entry would, for as long as the machine's
// deadline allows (restarting at once turns a NAK into a flood that a
// single-threaded server drops REQUESTs under). The NAKs are counted, and
// the harness decides what one means for the server under test.
func (st *storm) dora(ctx context.Context, mac net.HardwareAddr, uuid []byte, ipxe bool, res *stormClient) (stormLease, error) {
	first := time.Now()
	for {
		l, nak, err := st.doraOnce(ctx, mac, uuid, ipxe, first, res)
		if !nak {
			return l, err
		}
		res.Naks++
		if res.FirstNak == "" {
			res.FirstNak = err.Error()
		}
		select {
		case <-time.After(time.Second + rand.N(time.Second)):
		case <-ctx.Done():
			var se *stormStepErr
			errors.As(err, &se)
			return l, stormFail(se.step, "%v (%d NAKs, out of time)", se.err, res.Naks)
		}
	}
}

// doraOnce runs one DISCOVER-OFFER-REQUEST-ACK; nak says it ended in a
// NAK. A DISCOVER nobody answers (the pool is full until other machines
// release) is sent again after 1 s, 2 s, 4 s, 4 s … as firmware does; that
// wait, since first, is timed apart from the exchange itself.
func (st *storm) doraOnce(ctx context.Context, mac net.HardwareAddr, uuid []byte, ipxe bool, first time.Time, res *stormClient) (_ stormLease, nak bool, _ error) {
	step := stormStepDHCP
	vendor := "PXEClient:Arch:00007:UNDI:003016"
	mods := []dhcpv4.Modifier{
		dhcpv4.WithHwAddr(mac),
		dhcpv4.WithGatewayIP(st.o.relay.AsSlice()),
		dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64)),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 3, 16})),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, append([]byte{0}, uuid...))),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
			dhcpv4.OptionTFTPServerName, dhcpv4.OptionBootfileName, dhcpv4.OptionClassIdentifier),
	}
	if ipxe {
		step = stormStepIPXE
		vendor = "PXEClient:Arch:00007:UNDI:003010"
		// iPXE sends option 77 as the bare string, not RFC 3004.
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE"))))
	}
	mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClassIdentifier(vendor)))
	disc, err := dhcpv4.New(append(mods, dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover))...)
	if err != nil {
		return stormLease{}, false, stormFail(step, "%v", err)
	}
	disc.HopCount = 1
	ch := st.relay.register(disc.TransactionID)
	defer st.relay.unregister(disc.TransactionID)

	var offer *dhcpv4.DHCPv4
	var sent time.Time
	for backoff := time.Second; offer == nil; backoff = min(2*backoff, 4*time.Second) {
		sent = time.Now()
		if err := st.relay.send(disc); err != nil {
			return stormLease{}, false, stormFail(step, "send DISCOVER: %v", err)
		}
		if !ipxe {
			res.Tries++
		}
		p, err := stormWaitReply(ctx, ch, dhcpv4.MessageTypeOffer, backoff)
		if err != nil {
			return stormLease{}, false, stormFail(step, "no OFFER after %d DISCOVERs in %v: %v", res.Tries, time.Since(first).Round(time.Millisecond), err)
		}
		if p != nil && p.MessageType() == dhcpv4.MessageTypeNak {
			return stormLease{}, true, stormFail(step, "NAK to DISCOVER: %s", p.Message())
		}
		offer = p
	}
	if !ipxe {
		res.Times[stormStepWait] = sent.Sub(first)
	}
	ip, sid := stormAddr4(offer.YourIPAddr), stormAddr4(offer.ServerIdentifier())
	if !ip.IsValid() || !sid.IsValid() {
		return stormLease{}, false, stormFail(step, "OFFER without yiaddr or server identifier")
	}
	req, err := dhcpv4.New(append(mods,
		dhcpv4.WithTransactionID(disc.TransactionID),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip.AsSlice())),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sid.AsSlice())))...)
	if err != nil {
		return stormLease{}, false, stormFail(step, "%v", err)
	}
	req.HopCount = 1
	for try := range 4 {
		if try > 0 {
			res.Resent++
		}
		if err := st.relay.send(req); err != nil {
			return stormLease{}, false, stormFail(step, "send REQUEST: %v", err)
		}
		p, err := stormWaitReply(ctx, ch, dhcpv4.MessageTypeAck, time.Second<<try)
		if err != nil {
			return stormLease{}, false, stormFail(step, "no ACK: %v", err)
		}
		if p == nil {
			continue
		}
		if p.MessageType() == dhcpv4.MessageTypeNak {
			return stormLease{}, true, stormFail(step, "NAK for %s: %s", ip, p.Message())
		}
		if got := stormAddr4(p.YourIPAddr); got != ip {
			return stormLease{}, false, stormFail(step, "ACK for %s, offered %s", got, ip)
		}
		res.Times[step] = time.Since(sent)
		file := p.BootFileNameOption()
		if file == "" {
			file = strings.TrimRight(p.BootFileName, "\x00")
		}
		return stormLease{ip: ip, server: sid, next: stormAddr4(p.ServerIPAddr), file: file}, false, nil
	}
	return stormLease{}, false, stormFail(step, "no ACK for %s after 4 REQUESTs", ip)
}

// release sends DHCPRELEASE from the leased address to the server, as
// the booted machine would (no answer comes back).
func (st *storm) release(mac net.HardwareAddr, l stormLease) error {
	st.unhold(l.ip, mac)
	p, err := dhcpv4.New(dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease),
		dhcpv4.WithClientIP(l.ip.AsSlice()), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(l.server.AsSlice())))
	if err != nil {
		return err
	}
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.ip, 68)))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.WriteToUDPAddrPort(p.ToBytes(), netip.AddrPortFrom(l.server, 67))
	return err
}

// TFTP opcodes (RFC 1350, RFC 2347).
const (
	stormOpRRQ   = 1
	stormOpDATA  = 3
	stormOpACK   = 4
	stormOpERROR = 5
	stormOpOACK  = 6
)

// tftpFile reads name from server the way firmware does: lock-step, one
// ACK per block, blksize 1468 asked for, tsize asked for; a block not
// answered in 1 s is acknowledged again, five times at most.
func (st *storm) tftpFile(ctx context.Context, local, server netip.Addr, name string, res *stormClient) error {
	want, ok := st.o.want[path.Base(name)]
	if !ok {
		return stormFail(stormStepTFTP, "boot file %q is not one the harness put there", name)
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
	if err != nil {
		return stormFail(stormStepTFTP, "socket on %s: %v", local, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()

	rrq := binary.BigEndian.AppendUint16(nil, stormOpRRQ)
	for _, s := range []string{name, "octet", "blksize", "1468", "tsize", "0"} {
		rrq = append(append(rrq, s...), 0)
	}
	dst := netip.AddrPortFrom(server, 69)
	last := rrq
	var tid netip.AddrPort
	blk, tsize := 512, int64(-1)
	expect := uint16(1)
	var got int64
	crc := crc32.NewIEEE()
	buf := make([]byte, 65536)
	ack := func(b uint16) []byte {
		a := binary.BigEndian.AppendUint16(nil, stormOpACK)
		return binary.BigEndian.AppendUint16(a, b)
	}
	if _, err := conn.WriteToUDPAddrPort(rrq, dst); err != nil {
		return stormFail(stormStepTFTP, "RRQ: %v", err)
	}
	for tries := 0; ; {
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return stormFail(stormStepTFTP, "%s: %d of %d bytes: %v", name, got, want.Size, ctx.Err())
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return stormFail(stormStepTFTP, "%s: %v", name, err)
			}
			if tries++; tries > 5 {
				return stormFail(stormStepTFTP, "%s: no answer after %d tries at %d of %d bytes", name, tries, got, want.Size)
			}
			res.Resent++
			to := dst
			if tid.IsValid() {
				to = tid
			}
			_, _ = conn.WriteToUDPAddrPort(last, to)
			continue
		}
		if n < 4 {
			continue
		}
		if tid.IsValid() && from != tid {
			continue // another transfer's straggler; not ours to answer
		}
		switch op := binary.BigEndian.Uint16(buf); op {
		case stormOpERROR:
			return stormFail(stormStepTFTP, "%s: ERROR %d %q", name, binary.BigEndian.Uint16(buf[2:]), strings.TrimRight(string(buf[4:n]), "\x00"))
		case stormOpOACK:
			if tid.IsValid() {
				if expect == 1 { // our ACK 0 was lost
					_, _ = conn.WriteToUDPAddrPort(last, tid)
				}
				continue
			}
			tid = from
			opts := strings.Split(strings.TrimRight(string(buf[2:n]), "\x00"), "\x00")
			for k := 0; k+1 < len(opts); k += 2 {
				v, _ := strconv.ParseInt(opts[k+1], 10, 64)
				switch strings.ToLower(opts[k]) {
				case "blksize":
					blk = int(v)
				case "tsize":
					tsize = v
				}
			}
			if tsize >= 0 && tsize != want.Size {
				return stormFail(stormStepTFTP, "%s: tsize %d, want %d", name, tsize, want.Size)
			}
			last = ack(0)
			_, _ = conn.WriteToUDPAddrPort(last, tid)
			tries = 0
		case stormOpDATA:
			if !tid.IsValid() {
				tid = from // the server ignored the options: 512-byte blocks
			}
			b := binary.BigEndian.Uint16(buf[2:])
			switch b {
			case expect:
				data := buf[4:n]
				if len(data) > blk {
					return stormFail(stormStepTFTP, "%s: block %d has %d bytes, blksize %d", name, b, len(data), blk)
				}
				crc.Write(data)
				got += int64(len(data))
				last = ack(b)
				_, _ = conn.WriteToUDPAddrPort(last, tid)
				tries = 0
				if len(data) < blk {
					if got != want.Size || crc.Sum32() != want.CRC {
						return stormFail(stormStepTFTP, "%s: got %d bytes crc %08x, want %d bytes crc %08x", name, got, crc.Sum32(), want.Size, want.CRC)
					}
					return nil
				}
				expect++
			case expect - 1:
				_, _ = conn.WriteToUDPAddrPort(last, tid) // our ACK was lost
			}
		}
	}
}

// script fetches the boot script (following chain lines) and returns the
// kernel and initrd URLs it names, resolved against the script's URL.
func (st *storm) script(ctx context.Context, hc *http.Client, u string) (kernel string, initrds []string, err error) {
	for depth := 0; depth < 4; depth++ {
		body, err := stormHTTPGet(ctx, hc, u, 64<<10)
		if err != nil {
			return "", nil, stormFail(stormStepScript, "%v", err)
		}
		if !bytes.HasPrefix(body, []byte("#!ipxe")) {
			return "", nil, stormFail(stormStepScript, "%s: not an iPXE script: %q", u, harness.Tail(string(body), 200))
		}
		base, err := url.Parse(u)
		if err != nil {
			return "", nil, stormFail(stormStepScript, "%v", err)
		}
		chain := ""
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 2 {
				continue
			}
			var target string
			for _, w := range f[1:] {
				if !strings.HasPrefix(w, "-") {
					target = w
					break
				}
			}
			ref, err := url.Parse(target)
			if target == "" || err != nil {
				return "", nil, stormFail(stormStepScript, "%s: bad %s line %q", u, f[0], sc.Text())
			}
			abs := base.ResolveReference(ref).String()
			switch f[0] {
			case "kernel", "imgexec":
				kernel = abs
			case "initrd", "module":
				initrds = append(initrds, abs)
			case "chain":
				chain = abs
			}
		}
		if kernel != "" {
			return kernel, initrds, nil
		}
		if chain == "" {
			return "", nil, stormFail(stormStepScript, "%s names no kernel: %q", u, harness.Tail(string(body), 300))
		}
		u = chain
	}
	return "", nil, stormFail(stormStepScript, "chain deeper than 4 scripts")
}

// fetch downloads u and checks its size and CRC against the file of that
// name the harness placed.
func (st *storm) fetch(ctx context.Context, hc *http.Client, step, u string) error {
	name := path.Base(strings.SplitN(strings.SplitN(u, "?", 2)[0], "#", 2)[0])
	want, ok := st.o.want[name]
	if !ok {
		return stormFail(step, "%s is not a file the harness put there", u)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return stormFail(step, "%v", err)
	}
	req.Header.Set("User-Agent", "iPXE/1.21.1 (pxekit storm)")
	resp, err := hc.Do(req)
	if err != nil {
		return stormFail(step, "%v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return stormFail(step, "%s: %s", u, resp.Status)
	}
	crc := crc32.NewIEEE()
	n, err := io.Copy(crc, resp.Body)
	if err != nil {
		return stormFail(step, "%s: after %d bytes: %v", u, n, err)
	}
	if n != want.Size || crc.Sum32() != want.CRC {
		return stormFail(step, "%s: got %d bytes crc %08x, want %d bytes crc %08x", u, n, crc.Sum32(), want.Size, want.CRC)
	}
	return nil
}

func stormHTTPGet(ctx context.Context, hc *http.Client, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "iPXE/1.21.1 (pxekit storm)")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %q", u, resp.Status, harness.Tail(string(body), 200))
	}
	return body, nil
}

// serveStorm is the storm role: boot the machines, write the report.
func serveStorm(ctx context.Context, o stormOpts, out string) error {
	rep, err := runStorm(ctx, o)
	if err != nil {
		return err
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
