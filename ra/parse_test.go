package ra

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"
)

var (
	llClient = netip.MustParseAddr("fe80::5054:ff:fe12:3456")
	macA     = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
)

// rs builds a Router Solicitation with the given code and raw options.
func rs(code byte, opts ...byte) []byte {
	return append([]byte{133, code, 0, 0, 0, 0, 0, 0}, opts...)
}

func TestParseSolicitation(t *testing.T) {
	slla := []byte{1, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	nonce := []byte{14, 1, 1, 2, 3, 4, 5, 6} // an option we do not know: skipped
	tests := []struct {
		name    string
		msg     []byte
		src     netip.Addr
		hop     int
		want    DropReason
		wantMAC net.HardwareAddr
	}{
		{"iPXE-like with SLLA", rs(0, slla...), llClient, 255, "", macA},
		{"no options", rs(0), llClient, 255, "", nil},
		{"unknown option then SLLA", rs(0, append(append([]byte{}, nonce...), slla...)...), llClient, 255, "", macA},
		{"from :: without SLLA", rs(0), netip.IPv6Unspecified(), 255, "", nil},
		{"from :: with SLLA", rs(0, slla...), netip.IPv6Unspecified(), 255, DropUnspecifiedSLLA, nil},
		{"crossed a router", rs(0), llClient, 254, DropHopLimit, nil},
		{"hop limit unknown", rs(0), llClient, -1, DropHopLimit, nil},
		{"code 1", rs(1), llClient, 255, DropBadCode, nil},
		{"4 bytes", []byte{133, 0, 0, 0}, llClient, 255, DropTooShort, nil},
		{"empty", nil, llClient, 255, DropTooShort, nil},
		{"an advertisement", []byte{134, 0, 0, 0, 0, 0, 0, 0}, llClient, 255, DropNotSolicitation, nil},
		{"option length 0", rs(0, 1, 0, 0, 0, 0, 0, 0, 0), llClient, 255, DropBadOption, nil},
		{"option past the end", rs(0, 1, 2, 0x52, 0x54, 0, 0x12, 0x34, 0x56), llClient, 255, DropBadOption, nil},
		{"one trailing byte", rs(0, 1), llClient, 255, DropBadOption, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, why := ParseSolicitation(tt.msg, tt.src, tt.hop)
			if why != tt.want {
				t.Fatalf("reason %q, want %q", why, tt.want)
			}
			if why == "" && (!bytes.Equal(s.LinkAddr, tt.wantMAC) || s.Source != tt.src) {
				t.Errorf("got %+v, want source %s link address %s", s, tt.src, tt.wantMAC)
			}
		})
	}
}

// TestAdvertisement checks the bytes a host will judge the advertisement
// by: type 134, M=O=0, router lifetime 0, times 0, our MAC, no prefix.
func TestAdvertisement(t *testing.T) {
	b := advertisement(macA)
	want := []byte{
		134, 0, 0, 0, // type, code, checksum (kernel)
		0, 0, 0, 0, // cur hop limit 0, flags M=0 O=0, router lifetime 0
		0, 0, 0, 0, // reachable time
		0, 0, 0, 0, // retrans timer
		1, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // source link-layer address
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("advertisement\n got % x\nwant % x", b, want)
	}
	// A longer hardware address is padded to a multiple of 8 bytes.
	if b := advertisement(make(net.HardwareAddr, 8)); len(b) != 16+16 || b[17] != 2 {
		t.Errorf("8-byte address: % x", b)
	}
}

// With a DHCPv6 server on the link: M and O set, and each prefix on-link
// but not autonomous, valid and preferred for a day.
func TestAdvertisementManaged(t *testing.T) {
	b := advert{managed: true, other: true, prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8::/64")}}.encode(macA)
	want := []byte{
		134, 0, 0, 0,
		0, 0xc0, 0, 0, // M=1 O=1, router lifetime 0
		0, 0, 0, 0,
		0, 0, 0, 0,
		1, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
		3, 4, 64, 0x80, // prefix information, /64, L=1 A=0
		0, 1, 0x51, 0x80, // valid lifetime 86400
		0, 1, 0x51, 0x80, // preferred lifetime 86400
		0, 0, 0, 0,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("advertisement\n got % x\nwant % x", b, want)
	}
	if b[27]&prefixAuto != 0 {
		t.Error("autonomous flag set")
	}
	r, err := New(Config{Interface: "br0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reconfigure(true, false, []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}); err == nil {
		t.Error("a prefix with host bits was accepted")
	}
	if err := r.Reconfigure(true, false, []netip.Prefix{netip.MustParsePrefix("fe80::/64")}); err == nil {
		t.Error("a link-local prefix was accepted")
	}
	if r.msg.managed || len(r.msg.prefixes) > 0 {
		t.Errorf("a refused change changed the advertisement: %+v", r.msg)
	}
}

// TestBucket: the rate limit admits a burst, then one per 1/rate, and
// never banks more than the burst.
func TestBucket(t *testing.T) {
	b := bucket{rate: 2, burst: 3, tokens: 3}
	t0 := time.Unix(1000, 0)
	n := 0
	for i := 0; i < 10; i++ {
		if b.take(t0) {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("burst admitted %d, want 3", n)
	}
	if b.take(t0.Add(100 * time.Millisecond)) {
		t.Error("admitted before a token was earned")
	}
	if !b.take(t0.Add(600 * time.Millisecond)) {
		t.Error("a token earned after 0.5 s was refused")
	}
	// An hour idle banks no more than the burst.
	n = 0
	for i := 0; i < 10; i++ {
		if b.take(t0.Add(time.Hour)) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("after idling admitted %d, want the burst 3", n)
	}
	// A clock going backwards earns nothing.
	if b.take(t0) {
		t.Error("admitted on a clock step back")
	}
}

func TestNewChecksConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("no Interface: no error")
	}
	if _, err := New(Config{Interface: "br0", ReplyRate: -1}); err == nil {
		t.Error("negative ReplyRate: no error")
	}
	r, err := New(Config{Interface: "br0"})
	if err != nil {
		t.Fatal(err)
	}
	if r.cfg.Interval != DefaultInterval || r.cfg.ReplyBurst != DefaultReplyBurst {
		t.Errorf("defaults not applied: %+v", r.cfg)
	}
}

// FuzzParseSolicitation: any message, source and hop limit gives either a
// solicitation or a reason, never a panic; an accepted one is consistent.
func FuzzParseSolicitation(f *testing.F) {
	f.Add(rs(0, 1, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56), llClient.AsSlice(), 255)
	f.Add(rs(0), netip.IPv6Unspecified().AsSlice(), 255)
	f.Add(rs(0, 1, 0), llClient.AsSlice(), 255)
	f.Add(rs(1, 14, 1, 0, 0, 0, 0, 0, 0), llClient.AsSlice(), 64)
	f.Add([]byte{133}, []byte{}, 255)
	f.Fuzz(func(t *testing.T, msg, src []byte, hop int) {
		a, _ := netip.AddrFromSlice(src)
		s, why := ParseSolicitation(msg, a, hop)
		if why != "" {
			return
		}
		if len(msg) < 8 || msg[0] != 133 || msg[1] != 0 || hop != 255 {
			t.Fatalf("accepted % x hop %d", msg, hop)
		}
		if len(s.LinkAddr) > 0 && (!a.IsValid() || a.IsUnspecified()) {
			t.Fatalf("accepted a link-layer address from %v", a)
		}
	})
}
