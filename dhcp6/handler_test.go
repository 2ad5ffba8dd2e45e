package dhcp6

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/pxekit/pxekit/dhcp"
)

// A client's four-message exchange: the ADVERTISE offers a pool address
// with the server's DUID, preference 255 and the subnet's options; the
// REPLY binds the same address, committed to the store with the DUID and
// the MAC before it leaves.
func TestSolicitAdvertiseRequestReply(t *testing.T) {
	s := newTestServer(t, nil)
	mac := mustMAC("52:54:00:00:10:01")
	sol := solicit(duidLLT(mac), 1)
	adv, o, why := exchange(t, s, sol, from(mac), t0)
	if why != "" {
		t.Fatal(why)
	}
	if adv.MessageType != dhcpv6.MessageTypeAdvertise || adv.TransactionID != sol.TransactionID {
		t.Fatalf("got %s xid %v", adv.MessageType, adv.TransactionID)
	}
	if len(o.ops) != 0 {
		t.Fatalf("an ADVERTISE wrote leases: %v", o.ops)
	}
	if d := adv.Options.ServerID(); d == nil || !bytes.Equal(d.ToBytes(), serverDUID) {
		t.Errorf("server id %v", d)
	}
	if adv.Options.Preference() != 255 {
		t.Errorf("preference %d", adv.Options.Preference())
	}
	offered := iaAddr(t, adv)
	if !(Range{mustAddr("2001:db8::100"), mustAddr("2001:db8::1ff")}).Contains(offered) {
		t.Fatalf("offered %s outside the pool", offered)
	}
	if dns := adv.Options.DNS(); len(dns) != 1 || !dns[0].Equal(net.ParseIP("2001:db8::53")) {
		t.Errorf("dns %v", dns)
	}
	if o.dst != netip.AddrPortFrom(linkLocal(mac), clientPort) {
		t.Errorf("advertise to %v", o.dst)
	}
	rep, o, why := exchange(t, s, requestFor(t, sol, adv), from(mac), t0)
	if why != "" {
		t.Fatal(why)
	}
	if rep.MessageType != dhcpv6.MessageTypeReply {
		t.Fatalf("got %s", rep.MessageType)
	}
	ia := rep.Options.OneIANA()
	if got := iaAddr(t, rep); got != offered {
		t.Fatalf("bound %s, advertised %s", got, offered)
	}
	a := ia.Options.OneAddress()
	if a.ValidLifetime != time.Hour || a.PreferredLifetime != time.Hour || ia.T1 != 30*time.Minute || ia.T2 != 48*time.Minute {
		t.Errorf("lifetimes %v/%v T1 %v T2 %v", a.PreferredLifetime, a.ValidLifetime, ia.T1, ia.T2)
	}
	if len(o.ops) != 1 {
		t.Fatalf("ops %v", o.ops)
	}
	l, ok := leaseOf(t, s, offered)
	if !ok || l.MAC.String() != mac.String() || !bytes.Equal(l.ClientID, duidLLT(mac).ToBytes()) || !l.Expiry.Equal(t0.Add(time.Hour)) {
		t.Fatalf("stored lease %+v", l)
	}
	if got, ok := s.LeaseByIP(offered); !ok || got.MAC.String() != mac.String() {
		t.Errorf("LeaseByIP %+v %v", got, ok)
	}
}

// Rapid commit: one SOLICIT, one REPLY carrying Rapid Commit, the lease
// committed; without Config.RapidCommit the same SOLICIT gets an
// ADVERTISE.
func TestRapidCommit(t *testing.T) {
	mac := mustMAC("52:54:00:00:10:02")
	sol := solicit(duidLLT(mac), 1, dhcpv6.WithRapidCommit)
	for _, on := range []bool{true, false} {
		s := newTestServer(t, func(c *Config) { c.RapidCommit = on })
		rep, o, why := exchange(t, s, sol, from(mac), t0)
		if why != "" {
			t.Fatal(why)
		}
		if !on {
			if rep.MessageType != dhcpv6.MessageTypeAdvertise || len(o.ops) != 0 {
				t.Errorf("rapid commit off: got %s with %d writes", rep.MessageType, len(o.ops))
			}
			continue
		}
		if rep.MessageType != dhcpv6.MessageTypeReply || rep.GetOneOption(dhcpv6.OptionRapidCommit) == nil || len(o.ops) != 1 {
			t.Fatalf("rapid commit: got %s, rapid commit option %v, %d writes", rep.MessageType, rep.GetOneOption(dhcpv6.OptionRapidCommit), len(o.ops))
		}
		ip := iaAddr(t, rep)
		if _, ok := s.LeaseByIP(ip); !ok {
			t.Errorf("%s not bound", ip)
		}
	}
}

// RENEW and REBIND extend the lease; RELEASE ends it; DECLINE
// quarantines the address, which is then offered to nobody.
func TestRenewRebindReleaseDecline(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Subnets[0].Pools = []Range{{mustAddr("2001:db8::100"), mustAddr("2001:db8::101")}} })
	mac := mustMAC("52:54:00:00:10:03")
	sol := solicit(duidLLT(mac), 7)
	ip, rep := sarr(t, s, sol, from(mac))
	later := t0.Add(40 * time.Minute)
	renew := requestFor(t, sol, rep)
	renew.MessageType = dhcpv6.MessageTypeRenew
	r, o, why := exchange(t, s, renew, from(mac), later)
	if why != "" || iaAddr(t, r) != ip || len(o.ops) != 1 || !o.ops[0].Lease.Expiry.Equal(later.Add(time.Hour)) {
		t.Fatalf("renew: %v %s %+v", why, r.Summary(), o.ops)
	}
	rebind := requestFor(t, sol, rep)
	rebind.MessageType = dhcpv6.MessageTypeRebind
	rebind.Options.Del(dhcpv6.OptionServerID)
	if r, _, why = exchange(t, s, rebind, from(mac), later); why != "" || iaAddr(t, r) != ip {
		t.Fatalf("rebind: %v %v", why, r)
	}
	// A RENEW naming an address outside the link gets it back with
	// lifetimes 0, beside the client's own.
	stray := requestFor(t, sol, rep)
	stray.MessageType = dhcpv6.MessageTypeRenew
	stray.Options.OneIANA().Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP("2001:db8:1::5"), PreferredLifetime: time.Hour, ValidLifetime: time.Hour})
	r, _, _ = exchange(t, s, stray, from(mac), later)
	zero := false
	for _, a := range r.Options.OneIANA().Options.Addresses() {
		zero = zero || a.IPv6Addr.Equal(net.ParseIP("2001:db8:1::5")) && a.ValidLifetime == 0
	}
	if !zero {
		t.Errorf("stray address not returned with lifetime 0: %s", r.Summary())
	}

	rel := requestFor(t, sol, rep)
	rel.MessageType = dhcpv6.MessageTypeRelease
	if r, o, why = exchange(t, s, rel, from(mac), later); why != "" || r.Options.Status() == nil || r.Options.Status().StatusCode != iana.StatusSuccess || len(o.ops) != 1 {
		t.Fatalf("release: %v %v", why, r)
	}
	s.now = func() time.Time { return later }
	if _, ok := s.LeaseByIP(ip); ok {
		t.Fatal("released lease still active")
	}
	// Releasing again: the IA has no binding any more.
	r, _, _ = exchange(t, s, rel, from(mac), later)
	if st := r.Options.OneIANA().Options.Status(); st == nil || st.StatusCode != iana.StatusNoBinding {
		t.Errorf("second release: %s", r.Summary())
	}

	// The client takes the address again and declines it.
	ip2, rep2 := sarr(t, s, sol, from(mac))
	dec := requestFor(t, sol, rep2)
	dec.MessageType = dhcpv6.MessageTypeDecline
	if _, o, why = exchange(t, s, dec, from(mac), t0); why != "" || len(o.ops) != 1 || o.ops[0].Lease.State != dhcp.Declined {
		t.Fatalf("decline: %v %+v", why, o.ops)
	}
	other := mustMAC("52:54:00:00:10:04")
	ip3, _ := sarr(t, s, solicit(duidLLT(other), 1), from(other))
	if ip3 == ip2 {
		t.Fatalf("declined %s handed to another client", ip2)
	}
	l, _ := leaseOf(t, s, ip2)
	if l.State != dhcp.Declined || !l.Expiry.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("stored declined record %+v", l)
	}
}

// CONFIRM: Success for an address on the link, NotOnLink for one that is
// not, nothing for a CONFIRM naming no address; INFORMATION-REQUEST gets
// the options and no address.
func TestConfirmAndInformationRequest(t *testing.T) {
	s := newTestServer(t, nil)
	mac := mustMAC("52:54:00:00:10:05")
	for _, c := range []struct {
		addr string
		want iana.StatusCode
	}{{"2001:db8::150", iana.StatusSuccess}, {"2001:db8:5::1", iana.StatusNotOnLink}} {
		m := solicit(duidLLT(mac), 1, dhcpv6.WithIANA(dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP(c.addr)}))
		m.MessageType = dhcpv6.MessageTypeConfirm
		r, _, why := exchange(t, s, m, from(mac), t0)
		if why != "" || r.Options.Status() == nil || r.Options.Status().StatusCode != c.want {
			t.Errorf("confirm %s: %v %v", c.addr, why, r)
		}
	}
	empty := solicit(duidLLT(mac), 1)
	empty.MessageType = dhcpv6.MessageTypeConfirm
	if _, _, why := exchange(t, s, empty, from(mac), t0); why != DropNoBinding {
		t.Errorf("confirm without addresses: %q", why)
	}
	info, _ := dhcpv6.NewMessage()
	info.MessageType = dhcpv6.MessageTypeInformationRequest
	info.AddOption(dhcpv6.OptRequestedOption(dhcpv6.OptionDNSRecursiveNameServer))
	r, o, why := exchange(t, s, info, from(mac), t0)
	if why != "" || r.MessageType != dhcpv6.MessageTypeReply || len(r.Options.DNS()) != 1 || r.Options.OneIANA() != nil || len(o.ops) != 0 {
		t.Fatalf("information-request: %v %v", why, r)
	}
}

// The boot policy answers each firmware of the captured table: OVMF's PXE
// a tftp:// URL, OVMF's HTTP boot an http:// URL with option 16
// HTTPClient (enterprise 343), iPXE its script URL with its MAC, and
// OVMF's second DHCPv6 client, which asks for DNS only, no URL.
func TestBootPolicyPerFirmware(t *testing.T) {
	s := newTestServer(t, nil)
	mac := mustMAC("52:54:00:00:10:06")
	for _, c := range []struct {
		name   string
		duid   dhcpv6.DUID
		mod    dhcpv6.Modifier
		url    string
		vendor string
	}{
		{"ovmf-pxe", duidLLT(mac), ovmfPXE, "tftp://[2001:db8::1]/ipxe.efi", ""},
		{"ovmf-http", duidLLT(mac), ovmfHTTP, "http://[2001:db8::1]/ipxe/ipxe.efi", "HTTPClient"},
		{"ipxe", ipxeDUID(), ipxeEFI, "http://[2001:db8::1]/boot.ipxe?mac=52:54:00:00:10:06&fw=efi", ""},
		{"ovmf-ipv6-stack", duidLLT(mac), ovmfStack, "", ""},
	} {
		adv, _, why := exchange(t, s, solicit(c.duid, 1, c.mod), from(mac), t0)
		if why != "" {
			t.Fatalf("%s: %s", c.name, why)
		}
		if got := bootURL(adv); got != c.url {
			t.Errorf("%s: boot-file-url %q, want %q", c.name, got, c.url)
		}
		vc := adv.Options.VendorClasses()
		switch {
		case c.vendor == "" && len(vc) != 0:
			t.Errorf("%s: vendor class %v sent", c.name, vc)
		case c.vendor != "" && (len(vc) != 1 || vc[0].EnterpriseNumber != 343 || string(vc[0].Data[0]) != c.vendor):
			t.Errorf("%s: vendor class %v, want 343 %q", c.name, vc, c.vendor)
		}
	}
}

// Through the PXE chain — OVMF's PXE client (DUID-LLT), its IPv6 stack's
// client, iPXE (DUID-UUID, all zeros as under QEMU) — one machine keeps
// one address, because all are known by the MAC (DUID, EUI-64 link-local).
// Two machines whose iPXE sends the same all-zero DUID-UUID still get
// different addresses.
func TestOneAddressThroughThePXEChain(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.RapidCommit = true })
	m1, m2 := mustMAC("52:54:00:00:11:01"), mustMAC("52:54:00:00:11:02")
	a1, _ := sarr(t, s, solicit(duidLLT(m1), 1, ovmfPXE), from(m1))
	b1, _ := sarr(t, s, solicit(duidLLT(m1), 2, ovmfStack), from(m1))
	c1, _ := sarr(t, s, solicit(ipxeDUID(), 9, ipxeEFI), from(m1))
	c2, _ := sarr(t, s, solicit(ipxeDUID(), 9, ipxeEFI), from(m2))
	if a1 != b1 || a1 != c1 {
		t.Errorf("one machine got %s, %s, %s through its chain", a1, b1, c1)
	}
	if c2 == c1 {
		t.Errorf("two machines with the same DUID-UUID share %s", c1)
	}
	if l, ok := s.LeaseByMAC(m1); !ok || l.IP != a1 || !bytes.Equal(l.ClientID, ipxeDUID().ToBytes()) {
		t.Errorf("LeaseByMAC = %+v, want %s held by iPXE's DUID now", l, a1)
	}
}

// Reservations by DUID and by MAC; the MAC learnt from a relay's option
// 79, from the EUI-64 link-local source, or from a DUID-LL.
func TestReservations(t *testing.T) {
	duidRes := []byte{0, 2, 0, 0, 0, 9, 1, 2, 3} // DUID-EN
	macRelay, macLL, macDUID := mustMAC("52:54:00:00:12:01"), mustMAC("52:54:00:00:12:02"), mustMAC("52:54:00:00:12:03")
	s := newTestServer(t, func(c *Config) {
		c.Reservations = []Reservation{
			{DUID: duidRes, IP: mustAddr("2001:db8::10"), Hostname: "by-duid"},
			{MAC: macRelay, IP: mustAddr("2001:db8::11")},
			{MAC: macLL, IP: mustAddr("2001:db8::12")},
			{MAC: macDUID, IP: mustAddr("2001:db8::13"), Hostname: "by-mac"},
		}
	})
	en, _ := dhcpv6.DUIDFromBytes(duidRes)
	ip, _ := sarr(t, s, solicit(en, 1), inbound{src: netip.MustParseAddrPort("[fe80::1234:5678]:546")})
	if ip != mustAddr("2001:db8::10") {
		t.Errorf("by DUID: %s", ip)
	}
	if l, _ := leaseOf(t, s, ip); l.Hostname != "by-duid" {
		t.Errorf("reserved host name %q", l.Hostname)
	}
	// Relayed: the relay names the client's MAC (option 79); the DUID is
	// a DUID-UUID and the peer address not EUI-64.
	relayed := func(m dhcpv6.DHCPv6) dhcpv6.DHCPv6 {
		r, _ := dhcpv6.EncapsulateRelay(m, dhcpv6.MessageTypeRelayForward, net.ParseIP("2001:db8::fe"), net.ParseIP("fe80::abcd"))
		r.AddOption(dhcpv6.OptClientLinkLayerAddress(iana.HWTypeEthernet, macRelay))
		return r
	}
	rin := inbound{src: netip.MustParseAddrPort("[2001:db8:ff::1]:547")}
	sol := solicit(ipxeDUID(), 1)
	adv, _, why := exchange(t, s, relayed(sol), rin, t0)
	if why != "" || iaAddr(t, adv) != mustAddr("2001:db8::11") {
		t.Fatalf("by MAC from option 79: %v %v", why, adv)
	}
	if adv, _, _ = exchange(t, s, solicit(ipxeDUID(), 1), from(macLL), t0); iaAddr(t, adv) != mustAddr("2001:db8::12") {
		t.Errorf("by MAC from EUI-64: %s", iaAddr(t, adv))
	}
	ll := &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: macDUID}
	if adv, _, _ = exchange(t, s, solicit(ll, 1), inbound{src: netip.MustParseAddrPort("[fe80::99]:546")}, t0); iaAddr(t, adv) != mustAddr("2001:db8::13") {
		t.Errorf("by MAC from DUID-LL: %s", iaAddr(t, adv))
	}
	// A reserved address is never given to another client, even one that
	// asks for it.
	other := mustMAC("52:54:00:00:12:09")
	asks := solicit(duidLLT(other), 1, dhcpv6.WithIANA(dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP("2001:db8::12")}))
	if adv, _, _ = exchange(t, s, asks, from(other), t0); iaAddr(t, adv) == mustAddr("2001:db8::12") {
		t.Error("reserved address offered to another client")
	}
}

// Relayed traffic, nested twice: the subnet is picked by the link-address
// of the relay closest to the client, the reply is wrapped in two
// RELAY-REPLs echoing each relay's hop count, addresses and Interface-ID,
// and goes to the relay that sent it on port 547, or on its source port
// when it carries the Relay Source Port option.
func TestNestedRelays(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.Subnets = append(c.Subnets, Subnet{Prefix: mustPrefix("2001:db8:2::/64"), Pools: []Range{{mustAddr("2001:db8:2::100"), mustAddr("2001:db8:2::1ff")}}})
	})
	mac := mustMAC("52:54:00:00:13:01")
	sol := solicit(duidLLT(mac), 1, ovmfPXE)
	inner, _ := dhcpv6.EncapsulateRelay(sol, dhcpv6.MessageTypeRelayForward, net.ParseIP("2001:db8:2::fe"), linkLocal(mac).AsSlice())
	inner.AddOption(dhcpv6.OptInterfaceID([]byte("port-7")))
	outer, _ := dhcpv6.EncapsulateRelay(inner, dhcpv6.MessageTypeRelayForward, net.IPv6zero, net.ParseIP("2001:db8:2::fe"))
	outer.AddOption(dhcpv6.OptInterfaceID([]byte("uplink")))
	for _, port := range []bool{false, true} {
		m := outer
		if port {
			m.AddOption(dhcpv6.OptRelayPort(0))
		}
		in := inbound{data: m.ToBytes(), src: netip.MustParseAddrPort("[2001:db8:ff::1]:40000")}
		o, why := s.handle(in, t0)
		if why != "" {
			t.Fatal(why)
		}
		want := netip.MustParseAddrPort("[2001:db8:ff::1]:547")
		if port {
			want = in.src
		}
		if o.dst != want || !o.relayed {
			t.Errorf("relay port option %v: reply to %v, want %v", port, o.dst, want)
		}
		p, err := dhcpv6.FromBytes(o.reply)
		if err != nil {
			t.Fatal(err)
		}
		r1, ok := p.(*dhcpv6.RelayMessage)
		if !ok || r1.MessageType != dhcpv6.MessageTypeRelayReply || r1.HopCount != 1 || string(r1.Options.InterfaceID()) != "uplink" {
			t.Fatalf("outer relay reply %s", p.Summary())
		}
		r2, ok := r1.Options.RelayMessage().(*dhcpv6.RelayMessage)
		if !ok || r2.HopCount != 0 || string(r2.Options.InterfaceID()) != "port-7" || !r2.PeerAddr.Equal(linkLocal(mac).AsSlice()) {
			t.Fatalf("inner relay reply %v", r1.Options.RelayMessage())
		}
		adv := r2.Options.RelayMessage().(*dhcpv6.Message)
		if ip := iaAddr(t, adv); !mustPrefix("2001:db8:2::/64").Contains(ip) {
			t.Errorf("relayed client got %s, not from the relay's link 2001:db8:2::/64", ip)
		}
	}
	if st := s.Stats(); st.Requests["solicit"] != 2 {
		t.Errorf("requests %v", st.Requests)
	}
}

// Requests the server must not answer are dropped and counted by reason.
func TestDrops(t *testing.T) {
	s := newTestServer(t, nil)
	mac := mustMAC("52:54:00:00:14:01")
	noCID := solicit(duidLLT(mac), 1)
	noCID.Options.Del(dhcpv6.OptionClientID)
	withSID := solicit(duidLLT(mac), 1, dhcpv6.WithServerID(duidLLT(mac)))
	otherSID := solicit(duidLLT(mac), 1, dhcpv6.WithServerID(duidLLT(mustMAC("02:00:00:00:00:99"))))
	otherSID.MessageType = dhcpv6.MessageTypeRequest
	noSID := solicit(duidLLT(mac), 1)
	noSID.MessageType = dhcpv6.MessageTypeRenew
	adv := solicit(duidLLT(mac), 1)
	adv.MessageType = dhcpv6.MessageTypeAdvertise
	lq := solicit(duidLLT(mac), 1)
	lq.MessageType = dhcpv6.MessageTypeLeaseQuery
	repl, _ := dhcpv6.EncapsulateRelay(solicit(duidLLT(mac), 1), dhcpv6.MessageTypeRelayReply, net.IPv6zero, net.IPv6zero)
	var deep dhcpv6.DHCPv6 = solicit(duidLLT(mac), 1)
	for range maxRelays + 1 {
		deep, _ = dhcpv6.EncapsulateRelay(deep, dhcpv6.MessageTypeRelayForward, net.ParseIP("2001:db8::fe"), net.IPv6zero)
	}
	offLink, _ := dhcpv6.EncapsulateRelay(solicit(duidLLT(mac), 1), dhcpv6.MessageTypeRelayForward, net.ParseIP("2001:db8:99::1"), net.IPv6zero)
	for _, c := range []struct {
		name string
		data []byte
		want DropReason
	}{
		{"garbage", []byte{1, 2}, DropMalformed},
		{"no client id", noCID.ToBytes(), DropNoClientID},
		{"solicit with a server id", withSID.ToBytes(), DropServerID},
		{"request for another server", otherSID.ToBytes(), DropNotForUs},
		{"renew without a server id", noSID.ToBytes(), DropServerID},
		{"advertise", adv.ToBytes(), DropNotRequest},
		{"leasequery", lq.ToBytes(), DropUnknownType},
		{"relay-reply", repl.ToBytes(), DropNotRequest},
		{"33 relays", deep.ToBytes(), DropHopLimit},
		{"relay on no subnet's link", offLink.ToBytes(), DropNoSubnet},
	} {
		if o, why := s.handle(inbound{data: c.data, src: from(mac).src}, t0); why != c.want || o.reply != nil {
			t.Errorf("%s: dropped %q, want %q", c.name, why, c.want)
		}
	}
	st := s.Stats()
	if st.Requests["solicit"] == 0 || st.Requests["request"] != 1 {
		t.Errorf("requests %v", st.Requests)
	}
}

// A flood from one client is cut at its burst; other clients go on.
func TestClientRateLimit(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.ClientRate, c.ClientBurst = 1, 3 })
	mac := mustMAC("52:54:00:00:15:01")
	var drops int
	for range 10 {
		if _, _, why := exchange(t, s, solicit(duidLLT(mac), 1), from(mac), t0); why == DropClientRate {
			drops++
		}
	}
	if drops != 7 {
		t.Errorf("%d of 10 dropped, want 7 beyond a burst of 3", drops)
	}
	other := mustMAC("52:54:00:00:15:02")
	if _, _, why := exchange(t, s, solicit(duidLLT(other), 1), from(other), t0); why != "" {
		t.Errorf("another client dropped: %s", why)
	}
}

// A client asking for two addresses gets one, and NoAddrsAvail in the
// second IA; a full pool answers NoAddrsAvail and binds nothing.
func TestNoAddrsAvail(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Subnets[0].Pools = []Range{{mustAddr("2001:db8::100"), mustAddr("2001:db8::100")}} })
	m1, m2 := mustMAC("52:54:00:00:16:01"), mustMAC("52:54:00:00:16:02")
	two := solicit(duidLLT(m1), 1)
	two.AddOption(&dhcpv6.OptIANA{IaId: [4]byte{0, 0, 0, 2}})
	adv, _, _ := exchange(t, s, two, from(m1), t0)
	ias := adv.Options.IANA()
	if len(ias) != 2 || ias[0].Options.OneAddress() == nil || ias[1].Options.Status() == nil || ias[1].Options.Status().StatusCode != iana.StatusNoAddrsAvail {
		t.Fatalf("two IAs: %s", adv.Summary())
	}
	sarr(t, s, solicit(duidLLT(m1), 1), from(m1))
	sol := solicit(duidLLT(m2), 1)
	adv, _, _ = exchange(t, s, sol, from(m2), t0)
	if st := adv.Options.OneIANA().Options.Status(); st == nil || st.StatusCode != iana.StatusNoAddrsAvail {
		t.Fatalf("full pool: %s", adv.Summary())
	}
	rep, o, _ := exchange(t, s, requestFor(t, sol, adv), from(m2), t0)
	if st := rep.Options.OneIANA().Options.Status(); st == nil || st.StatusCode != iana.StatusNoAddrsAvail || len(o.ops) != 0 {
		t.Fatalf("request on a full pool: %s", rep.Summary())
	}
	if st := s.Stats(); st.Subnets[0].PoolSize != 1 || st.Subnets[0].PoolFree != 0 || st.ActiveLeases != 1 {
		t.Errorf("stats %+v", st.Subnets)
	}
}

// A /64 pool is never scanned whole: the next free address is found in as
// many steps as there are records.
func TestWholeSlash64Pool(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.Subnets[0].Pools = []Range{{mustAddr("2001:db8::1"), mustAddr("2001:db8::ffff:ffff:ffff:ffff")}}
	})
	seen := map[netip.Addr]bool{}
	for i := range 50 {
		mac := net.HardwareAddr{0x52, 0x54, 0, 0, 0x17, byte(i)}
		ip, _ := sarr(t, s, solicit(duidLLT(mac), 1), from(mac))
		if seen[ip] {
			t.Fatalf("%s handed out twice", ip)
		}
		seen[ip] = true
	}
	st := s.Stats().Subnets[0]
	if st.PoolSize != 1<<64-1 || st.PoolFree != 1<<64-1-50 || st.ActiveLeases != 50 {
		t.Errorf("stats %+v", st)
	}
}

// Leases survive a restart on a bbolt file shared with a DHCPv4 server's
// records, which the DHCPv6 server leaves alone.
func TestLeasesSurviveRestart(t *testing.T) {
	path := t.TempDir() + "/leases.db"
	bs, err := dhcp.OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	v4 := dhcp.Lease{IP: mustAddr("192.0.2.100"), MAC: mustMAC("52:54:00:00:18:01"), Expiry: t0.Add(time.Hour), State: dhcp.Bound}
	if err := bs.Apply([]dhcp.Op{{Lease: v4}}); err != nil {
		t.Fatal(err)
	}
	first := newTestServer(t, func(c *Config) { c.Store = bs })
	want := map[string]netip.Addr{}
	for i := range 10 {
		mac := net.HardwareAddr{0x52, 0x54, 0, 0, 0x18, byte(0x10 + i)}
		ip, _ := sarr(t, first, solicit(duidLLT(mac), 1), from(mac))
		want[mac.String()] = ip
	}
	bs.Close()
	second := newTestServer(t, func(c *Config) { c.LeaseFile = path })
	for m, ip := range want {
		mac := mustMAC(m)
		adv, _, _ := exchange(t, second, solicit(ipxeDUID(), 3, ipxeEFI), from(mac), t0.Add(time.Minute))
		if got := iaAddr(t, adv); got != ip {
			t.Errorf("%s: offered %s after restart, held %s", m, got, ip)
		}
	}
	if st := second.Stats(); st.ActiveLeases != 10 {
		t.Errorf("active leases after restart: %d", st.ActiveLeases)
	}
	second.Close()
	bs, _ = dhcp.OpenBoltStore(path)
	defer bs.Close()
	ls, _ := bs.Load()
	found := false
	for _, l := range ls {
		found = found || l.IP == v4.IP && l.MAC.String() == v4.MAC.String()
	}
	if !found || len(ls) != 11 {
		t.Errorf("store holds %d records, the DHCPv4 lease kept: %v", len(ls), found)
	}
}

// Reconfigure swaps pools and reservations while leases stay with their
// clients; a bad config is refused whole.
func TestReconfigure(t *testing.T) {
	s := newTestServer(t, nil)
	mac := mustMAC("52:54:00:00:19:01")
	ip, _ := sarr(t, s, solicit(duidLLT(mac), 1), from(mac))
	next := labSubnet()
	next.Pools = []Range{{mustAddr("2001:db8::800"), mustAddr("2001:db8::8ff")}}
	if err := s.Reconfigure([]Subnet{next}, nil); err != nil {
		t.Fatal(err)
	}
	if adv, _, _ := exchange(t, s, solicit(duidLLT(mac), 1), from(mac), t0); iaAddr(t, adv) != ip {
		t.Errorf("after reload the client is offered %s, holds %s", iaAddr(t, adv), ip)
	}
	other := mustMAC("52:54:00:00:19:02")
	if adv, _, _ := exchange(t, s, solicit(duidLLT(other), 1), from(other), t0); !next.Pools[0].Contains(iaAddr(t, adv)) {
		t.Errorf("new client offered %s outside the new pool", iaAddr(t, adv))
	}
	bad := labSubnet()
	bad.Pools = []Range{{mustAddr("2001:db8:1::1"), mustAddr("2001:db8:1::2")}}
	if err := s.Reconfigure([]Subnet{bad}, nil); err == nil {
		t.Error("a pool outside its prefix was accepted")
	}
}

// OVMF's IPv6 stack releases its binding after its PXE client took the
// same address (one MAC, one binding) and before the boot file is
// fetched: that RELEASE must not end the PXE client's lease. The client
// that bound it last still can release it.
func TestReleaseByAnotherClientOfTheMachine(t *testing.T) {
	s := newTestServer(t, nil)
	mac := mustMAC("52:54:00:00:12:01")
	stack := solicit(duidLLT(mac), 2, ovmfStack)
	ip, stackRep := sarr(t, s, stack, from(mac))
	pxeSol := solicit(duidLLT(mac), 1, ovmfPXE)
	ip2, pxeRep := sarr(t, s, pxeSol, from(mac))
	if ip != ip2 {
		t.Fatalf("one machine got %s and %s", ip, ip2)
	}
	rel := requestFor(t, stack, stackRep)
	rel.MessageType = dhcpv6.MessageTypeRelease
	if _, o, why := exchange(t, s, rel, from(mac), t0); why != "" || len(o.ops) != 0 {
		t.Fatalf("the stack's release: %v, ops %+v; want no lease change", why, o.ops)
	}
	if l, ok := s.LeaseByIP(ip); !ok || l.MAC.String() != mac.String() {
		t.Fatalf("after the stack's release the PXE client's lease on %s is gone", ip)
	}
	rel = requestFor(t, pxeSol, pxeRep)
	rel.MessageType = dhcpv6.MessageTypeRelease
	if _, o, why := exchange(t, s, rel, from(mac), t0); why != "" || len(o.ops) != 1 {
		t.Fatalf("the PXE client's release: %v, ops %+v", why, o.ops)
	}
	if _, ok := s.LeaseByIP(ip); ok {
		t.Error("released by the client that bound it, the lease is still active")
	}
}
