package macaddr

import (
	"errors"
	"net"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  error
	}{
		{"52:54:00:12:34:56", "52:54:00:12:34:56", nil},
		{"52-54-00-12-34-56", "52:54:00:12:34:56", nil},
		{"DE:00:00:00:00:DE", "de:00:00:00:00:de", nil},
		{"5254.0012.3456", "52:54:00:12:34:56", nil},
		{"52:54:00:12:34", "", ErrSyntax},
		{"", "", ErrSyntax},
		{"zz:54:00:12:34:56", "", ErrSyntax},
		{"02:00:5e:10:00:00:00:01", "", ErrLength},
	} {
		got, err := Parse(tc.in)
		if !errors.Is(err, tc.err) {
			t.Errorf("Parse(%q) error = %v, want %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && got.String() != tc.want {
			t.Errorf("Parse(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseUnicast(t *testing.T) {
	if _, err := ParseUnicast("01:00:5e:00:00:01"); !errors.Is(err, ErrMulticast) {
		t.Errorf("multicast address: error = %v, want ErrMulticast", err)
	}
	if _, err := ParseUnicast("de:00:00:00:00:de"); err != nil {
		t.Errorf("unicast address refused: %v", err)
	}
}

func TestBits(t *testing.T) {
	local := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	global := net.HardwareAddr{0x00, 0x1b, 0x21, 0x12, 0x34, 0x56} // an Intel OUI
	if !IsLocal(local) || IsLocal(global) {
		t.Errorf("IsLocal: %s %v, %s %v", local, IsLocal(local), global, IsLocal(global))
	}
	if !IsUnicast(global) || IsUnicast(net.HardwareAddr{1, 0, 0x5e, 0, 0, 1}) || IsUnicast(nil) {
		t.Error("IsUnicast is wrong")
	}
	if !Equal(local, net.HardwareAddr{2, 0, 0, 0, 0, 1}) || Equal(local, global) {
		t.Error("Equal is wrong")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"52:54:00:12:34:56", "52-54-00-12-34-56", "5254.0012.3456", "01:00:5e:00:00:01", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mac, err := Parse(s)
		if err != nil {
			return
		}
		if len(mac) != 6 {
			t.Fatalf("Parse(%q) = %d bytes", s, len(mac))
		}
		again, err := Parse(mac.String())
		if err != nil || !Equal(again, mac) {
			t.Fatalf("Parse(%q).String() = %s does not parse back: %v", s, mac, err)
		}
	})
}
