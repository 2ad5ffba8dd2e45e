//go:build linux

package host

import (
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// newLinkMsg builds an RTM_NEWLINK payload the way the kernel sends a
// bridge's: ifinfomsg, then IFLA_LINKINFO{KIND, DATA{STP_STATE}}.
func newLinkMsg(stp uint32) []byte {
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC).Serialize()
	li := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	li.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("bridge"))
	data := li.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	data.AddRtAttr(nl.IFLA_BR_HELLO_TIME, nl.Uint32Attr(200))
	data.AddRtAttr(nl.IFLA_BR_STP_STATE, nl.Uint32Attr(stp))
	return append(msg, li.Serialize()...)
}

func TestParseSTP(t *testing.T) {
	for _, v := range []uint32{0, 1, 2} {
		got, found, err := parseSTP(newLinkMsg(v))
		if err != nil || !found || got != (v != 0) {
			t.Errorf("stp_state %d: got %v found %v err %v", v, got, found, err)
		}
	}
	if _, _, err := parseSTP([]byte{1, 2}); err == nil {
		t.Error("short message accepted")
	}
	if _, found, _ := parseSTP(nl.NewIfInfomsg(unix.AF_UNSPEC).Serialize()); found {
		t.Error("found STP in a message without link info")
	}
}

// FuzzParseSTP feeds arbitrary kernel answers to the STP decoder.
func FuzzParseSTP(f *testing.F) {
	f.Add(newLinkMsg(0))
	f.Add(newLinkMsg(1))
	f.Add(nl.NewIfInfomsg(unix.AF_UNSPEC).Serialize())
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = parseSTP(b)
	})
}
