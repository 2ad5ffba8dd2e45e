package dhcp6

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

// FuzzHandle drives decode → classify → decide with arbitrary bytes. The
// corpus is what real clients send: OVMF's PXE and HTTP boot, its IPv6
// stack's client, iPXE, a rapid-commit SOLICIT, the REQUEST, RENEW,
// REBIND, RELEASE, DECLINE and CONFIRM of a client that holds a lease,
// INFORMATION-REQUEST, and relayed requests nested twice with option 79.
// Whatever comes in, the server answers with a decodable ADVERTISE or
// REPLY carrying its DUID, in one RELAY-REPL per relay, and never binds an
// address it did not record.
func FuzzHandle(f *testing.F) {
	mac := mustMAC("52:54:00:00:30:01")
	held := solicit(duidLLT(mac), 1)
	addr := dhcpv6.WithIANA(dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP("2001:db8::100")})
	sid := dhcpv6.WithServerID(mustDUID(serverDUID))
	corpus := []dhcpv6.DHCPv6{
		solicit(duidLLT(mac), 1, ovmfPXE), solicit(duidLLT(mac), 1, ovmfHTTP), solicit(duidLLT(mac), 2, ovmfStack),
		solicit(ipxeDUID(), 3, ipxeEFI), solicit(duidLLT(mac), 4, dhcpv6.WithRapidCommit), held,
	}
	for _, t := range []dhcpv6.MessageType{dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRelease, dhcpv6.MessageTypeDecline} {
		m := solicit(duidLLT(mac), 1, addr, sid)
		m.MessageType = t
		corpus = append(corpus, m)
	}
	for _, t := range []dhcpv6.MessageType{dhcpv6.MessageTypeRebind, dhcpv6.MessageTypeConfirm} {
		m := solicit(duidLLT(mac), 1, addr)
		m.MessageType = t
		corpus = append(corpus, m)
	}
	info, _ := dhcpv6.NewMessage()
	info.MessageType = dhcpv6.MessageTypeInformationRequest
	corpus = append(corpus, info)
	inner, _ := dhcpv6.EncapsulateRelay(solicit(ipxeDUID(), 5, ipxeEFI), dhcpv6.MessageTypeRelayForward, net.ParseIP("2001:db8::fe"), linkLocal(mac).AsSlice())
	inner.AddOption(dhcpv6.OptClientLinkLayerAddress(iana.HWTypeEthernet, mac))
	inner.AddOption(dhcpv6.OptInterfaceID([]byte("p1")))
	outer, _ := dhcpv6.EncapsulateRelay(inner, dhcpv6.MessageTypeRelayForward, net.IPv6zero, net.ParseIP("2001:db8::fe"))
	outer.AddOption(dhcpv6.OptRelayPort(0))
	corpus = append(corpus, inner, outer)
	for _, m := range corpus {
		f.Add(m.ToBytes())
	}
	f.Add([]byte{12, 0})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		// A fresh server per input keeps every finding reproducible. It
		// holds a lease for the corpus' client, so its renewals, releases
		// and declines reach the table.
		s := newTestServer(t, func(c *Config) {
			c.RapidCommit = true
			c.Reservations = []Reservation{{MAC: mustMAC("52:54:00:00:30:02"), IP: mustAddr("2001:db8::20")}}
		})
		s.table.bind(holderOf(Client{DUID: duidLLT(mac).ToBytes(), Source: linkLocal(mac)}), mustAddr("2001:db8::100"), 0, time.Hour, "", t0, true, "")
		src := netip.AddrPortFrom(linkLocal(mac), clientPort)
		o, why := s.handle(inbound{data: pkt, src: src, ifIndex: 2}, t0)
		if why != "" {
			if o.reply != nil || len(o.ops) > 0 {
				t.Fatalf("dropped (%s) but produced output", why)
			}
			return
		}
		p, err := dhcpv6.FromBytes(o.reply)
		if err != nil {
			t.Fatalf("our reply does not decode: %v", err)
		}
		for p.IsRelay() {
			r := p.(*dhcpv6.RelayMessage)
			if r.MessageType != dhcpv6.MessageTypeRelayReply {
				t.Fatalf("relay layer %s", r.MessageType)
			}
			if p = r.Options.RelayMessage(); p == nil {
				t.Fatal("RELAY-REPL without a message")
			}
		}
		m := p.(*dhcpv6.Message)
		if m.MessageType != dhcpv6.MessageTypeAdvertise && m.MessageType != dhcpv6.MessageTypeReply {
			t.Fatalf("answered with %s", m.MessageType)
		}
		if d := m.Options.ServerID(); d == nil || !bytes.Equal(d.ToBytes(), serverDUID) {
			t.Fatalf("reply without our DUID: %v", d)
		}
		if !o.dst.IsValid() {
			t.Fatal("reply without a destination")
		}
		if m.MessageType != dhcpv6.MessageTypeReply {
			return
		}
		for _, ia := range m.Options.IANA() {
			for _, a := range ia.Options.Addresses() {
				ip, _ := netip.AddrFromSlice(a.IPv6Addr)
				if a.ValidLifetime > 0 {
					if _, ok := s.table.persisted(ip); !ok {
						t.Fatalf("REPLY gives %s, which the table does not hold", ip)
					}
				}
			}
		}
	})
}

func mustDUID(b []byte) dhcpv6.DUID {
	d, err := dhcpv6.DUIDFromBytes(b)
	if err != nil {
		panic(err)
	}
	return d
}

// FuzzClientFrom holds the MAC readers to their contract on any bytes: a
// MAC they return is a 6-byte unicast address found where they say.
func FuzzClientFrom(f *testing.F) {
	f.Add(duidLLT(mustMAC("52:54:00:00:31:01")).ToBytes(), linkLocal(mustMAC("52:54:00:00:31:02")).AsSlice())
	f.Add([]byte{0, 3, 0, 1, 1, 2, 3, 4, 5, 6}, []byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0, 0})
	f.Fuzz(func(t *testing.T, duid, src []byte) {
		if mac := duidMAC(duid); mac != nil && (len(mac) != 6 || mac[0]&1 != 0 || !bytes.Contains(duid, mac)) {
			t.Fatalf("duidMAC(%x) = %s", duid, mac)
		}
		a, _ := netip.AddrFromSlice(src)
		if mac := eui64MAC(a); mac != nil && (len(mac) != 6 || mac[0]&1 != 0 || !a.IsLinkLocalUnicast()) {
			t.Fatalf("eui64MAC(%s) = %s", a, mac)
		}
	})
}
