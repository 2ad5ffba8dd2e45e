// Package stormclient is the boot storm's client side: N simulated
// machines, each booting the way UEFI firmware and then iPXE do — DHCP,
// TFTP of the boot file, DHCP again as iPXE, HTTP of the script, HTTP of
// what the script names — all at once, against whatever server answers.
//
// The clients' namespace is not on the servers' broadcast domain in the
// sense firmware needs (no raw sockets here), so DHCP goes the way a relay
// agent forwards it (giaddr Config.Relay, one socket on its port 67,
// replies demultiplexed by xid), as perfdhcp does. Everything after DHCP
// is sent from the leased address, which must be on a local link (the
// harness puts the whole pool on the clients' veth), so the server sees
// every machine from an address of its own, as on a real segment.
package stormclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/tftp"
)

// Steps of one boot, as counted in failures and timings.
const (
	StepDHCP    = "dhcp"      // firmware DORA (after a free address was found)
	StepWait    = "wait"      // DISCOVERs unanswered because the pool was full
	StepTFTP    = "tftp"      // the boot file
	StepIPXE    = "dhcp-ipxe" // iPXE's own DORA
	StepScript  = "script"    // HTTP boot script
	StepKernel  = "kernel"    // HTTP kernel
	StepInitrd  = "initrd"    // HTTP initrd(s)
	StepRelease = "release"   // DHCPRELEASE from the leased address
)

// File is what a fetched file must be: its size and CRC-32 (IEEE; cheap
// enough to check 12 GB of downloads on a shared machine).
type File struct {
	Size int64
	CRC  uint32
}

// ParseWant reads FormatWant's "name=size:crc,name=size:crc" (crc in
// hex), how the harness tells the storm role what every file must be.
func ParseWant(s string) (map[string]File, error) {
	m := map[string]File{}
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
		if err == nil && n < 0 {
			err = errors.New("negative")
		}
		if err != nil {
			return nil, fmt.Errorf("want %q: size: %w", kv, err)
		}
		x, err := strconv.ParseUint(c, 16, 32)
		if err != nil {
			return nil, fmt.Errorf("want %q: crc: %w", kv, err)
		}
		m[name] = File{Size: n, CRC: uint32(x)}
	}
	return m, nil
}

// FormatWant writes the files a machine may fetch, by name, for ParseWant.
// Names must not hold ',' or '='.
func FormatWant(m map[string]File) string {
	var parts []string
	for name, f := range m {
		parts = append(parts, fmt.Sprintf("%s=%d:%08x", name, f.Size, f.CRC))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// Machine is one machine's outcome. Durations are nanoseconds.
type Machine struct {
	MAC    string                   `json:"mac"`
	IP     string                   `json:"ip,omitempty"`
	Step   string                   `json:"failedStep,omitempty"` // empty: booted
	Err    string                   `json:"err,omitempty"`
	Times  map[string]time.Duration `json:"times"`     // by step (Step*), steps it finished
	Total  time.Duration            `json:"total"`     // power-on to kernel and initrd fetched
	Tries  int                      `json:"discovers"` // DISCOVERs sent before the first OFFER
	Resent int                      `json:"resent"`    // REQUESTs and TFTP packets sent again
	// Naks counts NAKs to a REQUEST (each sent the machine back to
	// DISCOVER); FirstNak says what the first was.
	Naks     int    `json:"naks,omitempty"`
	FirstNak string `json:"firstNak,omitempty"`
}

// Report is what a storm came to: every machine's outcome, and how busy
// it got. The storm role writes it as JSON for the harness.
type Report struct {
	Clients     []Machine     `json:"clients"`
	Elapsed     time.Duration `json:"elapsed"`
	MaxInFlight int64         `json:"maxInFlight"` // machines booting at once
	MaxLeased   int64         `json:"maxLeased"`   // machines holding an address at once
	Stray       int64         `json:"stray"`       // DHCP replies nobody waited for
	Overflow    int64         `json:"overflow"`    // DHCP replies dropped, their exchange's queue full
	// CPU is the user+system time the simulating process used (set by
	// whoever ran it; 0 when not measured): the check that the clients'
	// side is not what bounds a storm.
	CPU time.Duration `json:"cpu,omitempty"`
}

// Config is one storm.
type Config struct {
	Server netip.Addr // the DHCP server, on port 67
	Relay  netip.Addr // the relay agent's address (giaddr), where the storm listens on port 67
	// Clients is how many machines boot; they power on over Spread, and a
	// machine not booted by Deadline failed.
	Clients  int
	Spread   time.Duration
	Deadline time.Duration
	// Want is every file a machine may fetch, by base name, with its size
	// and CRC: any other, or one that differs, fails the machine.
	Want map[string]File
	// Subnets, when set, are the networks behind the relay: machine i is on
	// Subnets[i mod len], which its relayed DHCP names by link selection
	// (RFC 3527, relay agent option 82 sub-option 5), giaddr staying
	// Relay. Their leases are then data only: every packet after DHCP
	// leaves from one of Sources, the RELEASE goes through the relay.
	Subnets []netip.Prefix
	// Sources are the local addresses machines fetch from when Subnets is
	// set: machine i uses Sources[i mod len] (none: Relay).
	Sources []netip.Addr
	// First is the index of the first machine: MACs and UUIDs are derived
	// from it, so storms run in several processes never share a machine.
	First int
	// Do, when set, runs each function that opens a socket (the relay's,
	// each machine's TFTP, HTTP and RELEASE ones), as lab.NetNS.Do does
	// inside a network namespace. Nil opens them where Run is called.
	Do func(func() error) error
}

// Validate checks that c can run.
func (c Config) Validate() field.ErrorList {
	var errs field.ErrorList
	if !c.Server.Is4() {
		errs = append(errs, field.Invalid(field.NewPath("server"), c.Server.String(), "must be an IPv4 address"))
	}
	if !c.Relay.Is4() {
		errs = append(errs, field.Invalid(field.NewPath("relay"), c.Relay.String(), "must be an IPv4 address"))
	}
	if c.Clients <= 0 || c.Clients > 1<<24 {
		errs = append(errs, field.Invalid(field.NewPath("clients"), c.Clients, "must be 1 to 16777216 (the MACs' last three bytes)"))
	}
	if c.First < 0 || c.First+c.Clients > 1<<24 {
		errs = append(errs, field.Invalid(field.NewPath("first"), c.First, "first+clients must be at most 16777216 (the MACs' last three bytes)"))
	}
	for i, p := range c.Subnets {
		if !p.Addr().Is4() {
			errs = append(errs, field.Invalid(field.NewPath("subnets").Index(i), p.String(), "must be an IPv4 prefix"))
		}
	}
	for i, a := range c.Sources {
		if !a.Is4() {
			errs = append(errs, field.Invalid(field.NewPath("sources").Index(i), a.String(), "must be an IPv4 address"))
		}
	}
	if c.Spread < 0 {
		errs = append(errs, field.Invalid(field.NewPath("spread"), c.Spread.String(), "must not be negative"))
	}
	if c.Deadline <= 0 {
		errs = append(errs, field.Invalid(field.NewPath("deadline"), c.Deadline.String(), "must be positive"))
	}
	if len(c.Want) == 0 {
		errs = append(errs, field.Required(field.NewPath("want"), "the files a machine fetches"))
	}
	return errs
}

// do runs fn where sockets are to be opened.
func (c Config) do(fn func() error) error {
	if c.Do == nil {
		return fn()
	}
	return c.Do(fn)
}

// listenUDP opens a UDP socket on addr where c says.
func (c Config) listenUDP(addr netip.AddrPort) (*net.UDPConn, error) {
	var conn *net.UDPConn
	err := c.do(func() error {
		var err error
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
		return err
	})
	return conn, err
}

// Run boots c.Clients machines at once and returns their outcomes. Every
// machine's failure is in the Report; the error is for a storm that could
// not start.
func Run(ctx context.Context, c Config) (*Report, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	conn, err := c.listenUDP(netip.AddrPortFrom(c.Relay, 67))
	if err != nil {
		return nil, fmt.Errorf("relay socket: %w", err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	r := &relay{conn: conn, server: netip.AddrPortFrom(c.Server, 67), wait: map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4{}}
	go r.run()
	defer conn.Close()

	st := &storm{o: c, relay: r, holders: map[netip.Addr]string{}}
	rep := &Report{Clients: make([]Machine, c.Clients)}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range c.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The rack powers on over c.Spread, not in one instant.
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(c.Spread) + 1))):
			case <-ctx.Done():
			}
			cctx, cancel := context.WithTimeout(ctx, c.Deadline)
			defer cancel()
			rep.Clients[i] = st.boot(cctx, c.First+i)
		}()
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	rep.MaxInFlight, rep.MaxLeased, rep.Stray, rep.Overflow = st.maxFlight.Load(), st.maxLeased.Load(), r.stray.Load(), r.overflow.Load()
	return rep, nil
}

// relay is the one relay-agent socket every machine's DHCP goes
// through; replies are handed to the exchange waiting for their xid.
type relay struct {
	conn   *net.UDPConn
	server netip.AddrPort
	mu     sync.Mutex
	wait   map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4
	stray  atomic.Int64
	// overflow counts replies dropped because their exchange had not read
	// the ones before.
	overflow atomic.Int64
}

func (r *relay) run() {
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

func (r *relay) register(xid dhcpv4.TransactionID) chan *dhcpv4.DHCPv4 {
	ch := make(chan *dhcpv4.DHCPv4, 16)
	r.mu.Lock()
	r.wait[xid] = ch
	r.mu.Unlock()
	return ch
}

func (r *relay) unregister(xid dhcpv4.TransactionID) {
	r.mu.Lock()
	delete(r.wait, xid)
	r.mu.Unlock()
}

func (r *relay) send(p *dhcpv4.DHCPv4) error {
	_, err := r.conn.WriteToUDPAddrPort(p.ToBytes(), r.server)
	return err
}

type storm struct {
	o                    Config
	relay                *relay
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

// raiseMax keeps hi at the largest v seen.
func raiseMax(hi *atomic.Int64, v int64) {
	for {
		m := hi.Load()
		if v <= m || hi.CompareAndSwap(m, v) {
			return
		}
	}
}

// stepErr is a failure at one step of the boot.
type stepErr struct {
	step string
	err  error
}

func (e *stepErr) Error() string { return e.step + ": " + e.err.Error() }

func fail(step string, format string, a ...any) error {
	return &stepErr{step: step, err: fmt.Errorf(format, a...)}
}

// boot runs one machine from power-on to a fetched kernel and initrd.
func (st *storm) boot(ctx context.Context, i int) (res Machine) {
	raiseMax(&st.maxFlight, st.inFlight.Add(1))
	defer st.inFlight.Add(-1)
	mac := net.HardwareAddr{0x02, 0x50, 0x58, byte(i >> 16), byte(i >> 8), byte(i)}
	uuid := make([]byte, 16)
	binary.BigEndian.PutUint64(uuid[8:], uint64(i)+1)
	copy(uuid, "pxekit-s")
	m := machine{mac: mac, uuid: uuid}
	if n := len(st.o.Subnets); n > 0 {
		m.link = st.o.Subnets[i%n].Masked().Addr()
		m.source = st.o.Relay
		if k := len(st.o.Sources); k > 0 {
			m.source = st.o.Sources[i%k]
		}
	}
	res = Machine{MAC: mac.String(), Times: map[string]time.Duration{}}
	start := time.Now()
	err := st.bootSteps(ctx, m, &res)
	res.Total = time.Since(start)
	if err != nil {
		var se *stepErr
		if errors.As(err, &se) {
			res.Step = se.step
		} else {
			res.Step = "?"
		}
		res.Err = err.Error()
	}
	return res
}

// machine is who one booting machine is: its MAC and UUID, the subnet
// its relayed DHCP names (invalid: none) and the address it fetches from
// (invalid: its lease).
type machine struct {
	mac    net.HardwareAddr
	uuid   []byte
	link   netip.Addr
	source netip.Addr
}

// local is the address m's TFTP and HTTP leave from.
func (m machine) local(l lease) netip.Addr {
	if m.source.IsValid() {
		return m.source
	}
	return l.ip
}

func (st *storm) bootSteps(ctx context.Context, m machine, res *Machine) error {
	mac := m.mac
	// 1. Firmware DHCP: PXE-shaped, answered with the boot file.
	l, err := st.dora(ctx, m, false, res)
	if err != nil {
		return err
	}
	res.IP = l.ip.String()
	raiseMax(&st.maxLeased, st.leased.Add(1))
	defer st.leased.Add(-1)
	released := false
	defer func() {
		if !released {
			_ = st.release(m, l) // best effort, so a failed machine frees its address too
		}
	}()
	if other := st.hold(l.ip, mac); other != "" {
		return fail(StepDHCP, "%s ACKed while %s still holds it", l.ip, other)
	}
	if l.file == "" || strings.Contains(l.file, "://") {
		return fail(StepDHCP, "firmware offer has boot file %q, want a TFTP path", l.file)
	}
	next := l.next
	if !next.IsValid() || next.IsUnspecified() {
		next = l.server
	}

	// 2. TFTP the boot file.
	t := time.Now()
	if err := st.tftpFile(ctx, m.local(l), next, l.file, res); err != nil {
		return err
	}
	res.Times[StepTFTP] = time.Since(t)

	// 3. iPXE's DHCP: the same machine, now asking for its script.
	l2, err := st.dora(ctx, m, true, res)
	if err != nil {
		return err
	}
	if l2.ip != l.ip {
		return fail(StepIPXE, "iPXE got %s, firmware had %s", l2.ip, l.ip)
	}
	if !strings.HasPrefix(l2.file, "http://") {
		return fail(StepIPXE, "iPXE offer has boot file %q, want an http:// script URL", l2.file)
	}

	// 4. The script, and what it names.
	dialer := &net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(m.local(l), 0)), Timeout: 10 * time.Second}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := st.o.do(func() error {
				var err error
				c, err = dialer.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
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
	res.Times[StepScript] = time.Since(t)
	t = time.Now()
	if err := st.fetch(ctx, hc, StepKernel, kernel); err != nil {
		return err
	}
	res.Times[StepKernel] = time.Since(t)
	if len(initrds) > 0 {
		t = time.Now()
		for _, u := range initrds {
			if err := st.fetch(ctx, hc, StepInitrd, u); err != nil {
				return err
			}
		}
		res.Times[StepInitrd] = time.Since(t)
	}

	// 5. Give the address back: the pool is smaller than the rack.
	released = true
	if err := st.release(m, l); err != nil {
		return fail(StepRelease, "%v", err)
	}
	return nil
}

// lease is what an ACK gave.
type lease struct {
	ip, server, next netip.Addr
	file             string
}

func addr4(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip.To4())
	return a
}

// wait returns the next reply of type want on ch, nil on timeout. A NAK
// is returned whatever was wanted.
func waitReply(ctx context.Context, ch chan *dhcpv4.DHCPv4, want dhcpv4.MessageType, d time.Duration) (*dhcpv4.DHCPv4, error) {
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
func (st *storm) dora(ctx context.Context, m machine, ipxe bool, res *Machine) (lease, error) {
	first := time.Now()
	for {
		l, nak, err := st.doraOnce(ctx, m, ipxe, first, res)
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
			var se *stepErr
			errors.As(err, &se)
			return l, fail(se.step, "%v (%d NAKs, out of time)", se.err, res.Naks)
		}
	}
}

// doraOnce runs one DISCOVER-OFFER-REQUEST-ACK; nak says it ended in a
// NAK. A DISCOVER nobody answers (the pool is full until other machines
// release) is sent again after 1 s, 2 s, 4 s, 4 s … as firmware does; that
// wait, since first, is timed apart from the exchange itself.
func (st *storm) doraOnce(ctx context.Context, m machine, ipxe bool, first time.Time, res *Machine) (_ lease, nak bool, _ error) {
	step := StepDHCP
	vendor := "PXEClient:Arch:00007:UNDI:003016"
	mac, uuid := m.mac, m.uuid
	mods := []dhcpv4.Modifier{
		dhcpv4.WithHwAddr(mac),
		dhcpv4.WithGatewayIP(st.o.Relay.AsSlice()),
		dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64)),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 3, 16})),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, append([]byte{0}, uuid...))),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
			dhcpv4.OptionTFTPServerName, dhcpv4.OptionBootfileName, dhcpv4.OptionClassIdentifier),
	}
	if ipxe {
		step = StepIPXE
		vendor = "PXEClient:Arch:00007:UNDI:003010"
		// iPXE sends option 77 as the bare string, not RFC 3004.
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE"))))
	}
	mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClassIdentifier(vendor)))
	if m.link.IsValid() {
		mods = append(mods, linkSelection(m.link))
	}
	disc, err := dhcpv4.New(append(mods, dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover))...)
	if err != nil {
		return lease{}, false, fail(step, "%v", err)
	}
	disc.HopCount = 1
	ch := st.relay.register(disc.TransactionID)
	defer st.relay.unregister(disc.TransactionID)

	var offer *dhcpv4.DHCPv4
	var sent time.Time
	for backoff := time.Second; offer == nil; backoff = min(2*backoff, 4*time.Second) {
		sent = time.Now()
		if err := st.relay.send(disc); err != nil {
			return lease{}, false, fail(step, "send DISCOVER: %v", err)
		}
		if !ipxe {
			res.Tries++
		}
		p, err := waitReply(ctx, ch, dhcpv4.MessageTypeOffer, backoff)
		if err != nil {
			return lease{}, false, fail(step, "no OFFER after %d DISCOVERs in %v: %v", res.Tries, time.Since(first).Round(time.Millisecond), err)
		}
		if p != nil && p.MessageType() == dhcpv4.MessageTypeNak {
			return lease{}, true, fail(step, "NAK to DISCOVER: %s", p.Message())
		}
		offer = p
	}
	if !ipxe {
		res.Times[StepWait] = sent.Sub(first)
	}
	ip, sid := addr4(offer.YourIPAddr), addr4(offer.ServerIdentifier())
	if !ip.IsValid() || !sid.IsValid() {
		return lease{}, false, fail(step, "OFFER without yiaddr or server identifier")
	}
	req, err := dhcpv4.New(append(mods,
		dhcpv4.WithTransactionID(disc.TransactionID),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip.AsSlice())),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sid.AsSlice())))...)
	if err != nil {
		return lease{}, false, fail(step, "%v", err)
	}
	req.HopCount = 1
	for try := range 4 {
		if try > 0 {
			res.Resent++
		}
		if err := st.relay.send(req); err != nil {
			return lease{}, false, fail(step, "send REQUEST: %v", err)
		}
		p, err := waitReply(ctx, ch, dhcpv4.MessageTypeAck, time.Second<<try)
		if err != nil {
			return lease{}, false, fail(step, "no ACK: %v", err)
		}
		if p == nil {
			continue
		}
		if p.MessageType() == dhcpv4.MessageTypeNak {
			return lease{}, true, fail(step, "NAK for %s: %s", ip, p.Message())
		}
		if got := addr4(p.YourIPAddr); got != ip {
			return lease{}, false, fail(step, "ACK for %s, offered %s", got, ip)
		}
		res.Times[step] = time.Since(sent)
		file := p.BootFileNameOption()
		if file == "" {
			file = strings.TrimRight(p.BootFileName, "\x00")
		}
		return lease{ip: ip, server: sid, next: addr4(p.ServerIPAddr), file: file}, false, nil
	}
	return lease{}, false, fail(step, "no ACK for %s after 4 REQUESTs", ip)
}

// release sends DHCPRELEASE from the leased address to the server, as
// the booted machine would (no answer comes back).
func (st *storm) release(m machine, l lease) error {
	mac := m.mac
	st.unhold(l.ip, mac)
	p, err := dhcpv4.New(dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease),
		dhcpv4.WithClientIP(l.ip.AsSlice()), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(l.server.AsSlice())))
	if err != nil {
		return err
	}
	if m.link.IsValid() {
		// The leased address is data only: the RELEASE goes the way the
		// DHCP did, through the relay, naming the subnet.
		p.GatewayIPAddr = st.o.Relay.AsSlice()
		p.HopCount = 1
		linkSelection(m.link)(p)
		return st.relay.send(p)
	}
	c, err := st.o.listenUDP(netip.AddrPortFrom(l.ip, 68))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.WriteToUDPAddrPort(p.ToBytes(), netip.AddrPortFrom(l.server, 67))
	return err
}

// linkSelection adds relay agent information naming the subnet link is
// on (RFC 3527 link selection, sub-option 5), as a relay serving several
// subnets from one address does.
func linkSelection(link netip.Addr) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(5), link.AsSlice())))
}

// tftpFile reads name from server the way edk2's UEFI PXE does: blksize
// 1468, tsize and windowsize 4 asked for; with a window granted, one ACK
// per window (RFC 7440), lock-step, one ACK per block, otherwise; the RRQ
// is sent again after rrqTimeout, a block not answered in 1 s is
// acknowledged again, five times at most.
func (st *storm) tftpFile(ctx context.Context, local, server netip.Addr, name string, res *Machine) error {
	want, ok := st.o.Want[path.Base(name)]
	if !ok {
		return fail(StepTFTP, "boot file %q is not one the harness put there", name)
	}
	conn, err := st.o.listenUDP(netip.AddrPortFrom(local, 0))
	if err != nil {
		return fail(StepTFTP, "socket on %s: %v", local, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()

	rrq, err := tftp.Request{Op: tftp.OpRRQ, Filename: name, Mode: "octet",
		Options: []tftp.Option{{Name: "blksize", Value: "1468"}, {Name: "tsize", Value: "0"}, {Name: "windowsize", Value: "4"}}}.AppendBinary(nil)
	if err != nil {
		return fail(StepTFTP, "RRQ for %q: %v", name, err)
	}
	dst := netip.AddrPortFrom(server, 69)
	last := rrq
	var tid netip.AddrPort
	blk, window := tftp.DefaultBlockSize, 1
	expect := uint16(1)
	var got int64
	crc := crc32.NewIEEE()
	buf := make([]byte, 65536)
	if _, err := conn.WriteToUDPAddrPort(rrq, dst); err != nil {
		return fail(StepTFTP, "RRQ: %v", err)
	}
	for tries := 0; ; {
		// Until the server answers, the RRQ is sent again every 4 s, as
		// edk2's PXE does (PXEBC_MTFTP_TIMEOUT, 6 tries): a server busy with
		// a storm may answer late; a block not answered waits 1 s.
		wait := time.Second
		if !tid.IsValid() {
			wait = rrqTimeout
		}
		_ = conn.SetReadDeadline(time.Now().Add(wait))
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return fail(StepTFTP, "%s: %d of %d bytes: %v", name, got, want.Size, ctx.Err())
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return fail(StepTFTP, "%s: %v", name, err)
			}
			if tries++; tries > 5 {
				return fail(StepTFTP, "%s: no answer after %d tries at %d of %d bytes", name, tries, got, want.Size)
			}
			res.Resent++
			to := dst
			if tid.IsValid() {
				to = tid
			}
			_, _ = conn.WriteToUDPAddrPort(last, to)
			continue
		}
		pkt := buf[:n]
		if tid.IsValid() && from != tid {
			continue // another transfer's straggler; not ours to answer
		}
		switch tftp.OpcodeOf(pkt) {
		case tftp.OpERROR:
			code, msg, err := tftp.ParseError(pkt)
			if err != nil {
				continue
			}
			return fail(StepTFTP, "%s: ERROR %d %q", name, code, msg)
		case tftp.OpOACK:
			if tid.IsValid() {
				if expect == 1 { // our ACK 0 was lost
					_, _ = conn.WriteToUDPAddrPort(last, tid)
				}
				continue
			}
			opts, err := tftp.ParseOACK(pkt)
			if err != nil {
				return fail(StepTFTP, "%s: OACK: %v", name, err)
			}
			if blk, window, err = oackBlockSize(opts, want.Size); err != nil {
				return fail(StepTFTP, "%s: %v", name, err)
			}
			tid = from
			last = tftp.AppendACK(nil, 0)
			_, _ = conn.WriteToUDPAddrPort(last, tid)
			tries = 0
		case tftp.OpDATA:
			b, data, err := tftp.ParseData(pkt)
			if err != nil {
				continue
			}
			if !tid.IsValid() {
				tid = from // the server ignored the options: 512-byte blocks
			}
			switch b {
			case expect:
				if len(data) > blk {
					return fail(StepTFTP, "%s: block %d has %d bytes, blksize %d", name, b, len(data), blk)
				}
				crc.Write(data)
				got += int64(len(data))
				last = tftp.AppendACK(nil, b)
				// In a window only its last block (or the file's) is
				// acknowledged; the timeout re-sends the last ACK.
				if int(b)%window == 0 || len(data) < blk {
					_, _ = conn.WriteToUDPAddrPort(last, tid)
				}
				tries = 0
				if len(data) < blk {
					if got != want.Size || crc.Sum32() != want.CRC {
						return fail(StepTFTP, "%s: got %d bytes crc %08x, want %d bytes crc %08x", name, got, crc.Sum32(), want.Size, want.CRC)
					}
					return nil
				}
				expect++
			case expect - 1:
				if window == 1 {
					_, _ = conn.WriteToUDPAddrPort(last, tid) // our ACK was lost
				}
			}
		}
	}
}

// rrqTimeout is how long a TFTP read request waits for its first answer
// before it is sent again: edk2's PXE timeout.
const rrqTimeout = 4 * time.Second

// oackBlockSize is the block size and window an OACK grants (512 and 1
// when it leaves them out), after checking its tsize, if any, is the
// file's size.
func oackBlockSize(opts []tftp.Option, size int64) (blk, window int, _ error) {
	blk, window = tftp.DefaultBlockSize, 1
	for _, o := range opts {
		switch o.Name {
		case "blksize":
			n, err := strconv.Atoi(o.Value)
			if err != nil || n < tftp.MinBlockSize || n > tftp.MaxBlockSize {
				return 0, 0, fmt.Errorf("OACK blksize %q", o.Value)
			}
			blk = n
		case "windowsize":
			n, err := strconv.Atoi(o.Value)
			if err != nil || n < 1 || n > 4 {
				return 0, 0, fmt.Errorf("OACK windowsize %q, asked for 4", o.Value)
			}
			window = n
		case "tsize":
			if n, err := strconv.ParseInt(o.Value, 10, 64); err != nil || n != size {
				return 0, 0, fmt.Errorf("tsize %q, want %d", o.Value, size)
			}
		}
	}
	return blk, window, nil
}

// script fetches the boot script (following chain lines) and returns the
// kernel and initrd URLs it names, resolved against the script's URL.
func (st *storm) script(ctx context.Context, hc *http.Client, u string) (kernel string, initrds []string, err error) {
	for range 4 {
		resp, err := get(ctx, hc, u)
		if err != nil {
			return "", nil, fail(StepScript, "%v", err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err != nil {
			return "", nil, fail(StepScript, "%s: %v", u, err)
		}
		sc, err := parseScript(u, body)
		if err != nil {
			return "", nil, fail(StepScript, "%v", err)
		}
		if sc.kernel != "" {
			return sc.kernel, sc.initrds, nil
		}
		u = sc.chain
	}
	return "", nil, fail(StepScript, "chain deeper than 4 scripts")
}

// bootScript is what the storm takes from an iPXE script: absolute URLs.
type bootScript struct {
	kernel  string   // kernel or imgexec (the last one)
	initrds []string // initrd and module lines, in order
	chain   string   // a chain line (the last), followed when no kernel is named
}

// parseScript reads the iPXE script at u: each kernel, initrd and chain
// line's target (its first word that is neither an option nor the value
// of --name or --timeout) resolved against u. A
// script that names neither a kernel nor a chain is an error.
func parseScript(u string, body []byte) (bootScript, error) {
	var sc bootScript
	if !bytes.HasPrefix(body, []byte("#!ipxe")) {
		return sc, fmt.Errorf("%s: not an iPXE script: %q", u, harness.Tail(string(body), 200))
	}
	base, err := url.Parse(u)
	if err != nil {
		return sc, err
	}
	lines := bufio.NewScanner(bytes.NewReader(body))
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) < 2 {
			continue
		}
		var target string
		for i := 1; i < len(f); i++ {
			switch w := f[i]; {
			case w == "-n" || w == "--name" || w == "-t" || w == "--timeout":
				i++ // the option's value
			case !strings.HasPrefix(w, "-"):
				target = w
			}
			if target != "" {
				break
			}
		}
		ref, err := url.Parse(target)
		if target == "" || err != nil {
			return sc, fmt.Errorf("%s: bad %s line %q", u, f[0], lines.Text())
		}
		abs := base.ResolveReference(ref).String()
		switch f[0] {
		case "kernel", "imgexec":
			sc.kernel = abs
		case "initrd", "module":
			sc.initrds = append(sc.initrds, abs)
		case "chain":
			sc.chain = abs
		}
	}
	if sc.kernel == "" && sc.chain == "" {
		return sc, fmt.Errorf("%s names no kernel: %q", u, harness.Tail(string(body), 300))
	}
	return sc, nil
}

// fetch downloads u and checks its size and CRC against the file of that
// name the harness placed.
func (st *storm) fetch(ctx context.Context, hc *http.Client, step, u string) error {
	name := path.Base(strings.SplitN(strings.SplitN(u, "?", 2)[0], "#", 2)[0])
	want, ok := st.o.Want[name]
	if !ok {
		return fail(step, "%s is not a file the harness put there", u)
	}
	resp, err := get(ctx, hc, u)
	if err != nil {
		return fail(step, "%v", err)
	}
	defer resp.Body.Close()
	crc := crc32.NewIEEE()
	n, err := io.Copy(crc, resp.Body)
	if err != nil {
		return fail(step, "%s: after %d bytes: %v", u, n, err)
	}
	if n != want.Size || crc.Sum32() != want.CRC {
		return fail(step, "%s: got %d bytes crc %08x, want %d bytes crc %08x", u, n, crc.Sum32(), want.Size, want.CRC)
	}
	return nil
}

// get is GET u as iPXE sends it; anything but 200 OK is an error.
func get(ctx context.Context, hc *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "iPXE/1.21.1 (pxekit storm)")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s: %q", u, resp.Status, body)
	}
	return resp, nil
}
