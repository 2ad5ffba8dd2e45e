//go:build linux

package host

import (
	"encoding/binary"
	"fmt"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// rawLink sends the few rtnetlink messages vishvananda/netlink v1.3.1 has no
// call for (the bridge STP state, IFLA_BR_STP_STATE), on a NETLINK_ROUTE
// socket opened inside the target namespace.
type rawLink struct {
	sockets map[int]*nl.SocketHandle
}

func openRaw(ns netns.NsHandle) (*rawLink, error) {
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	return &rawLink{sockets: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}}, nil
}

func (r *rawLink) close() {
	for _, s := range r.sockets {
		s.Close()
	}
}

func (r *rawLink) request(typ, flags int) *nl.NetlinkRequest {
	return &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{
			Len:   uint32(unix.SizeofNlMsghdr),
			Type:  uint16(typ),
			Flags: unix.NLM_F_REQUEST | uint16(flags),
		},
		Sockets: r.sockets,
	}
}

// bridgeSTP reads IFLA_BR_STP_STATE of the bridge with the given index.
func (r *rawLink) bridgeSTP(index int) (bool, error) {
	req := r.request(unix.RTM_GETLINK, 0)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	req.AddData(msg)
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
	if err != nil {
		return false, err
	}
	for _, m := range msgs {
		v, ok, err := parseSTP(m)
		if err != nil {
			return false, err
		}
		if ok {
			return v, nil
		}
	}
	return false, fmt.Errorf("no IFLA_BR_STP_STATE in the kernel's answer for link %d", index)
}

// parseSTP finds IFLA_LINKINFO / IFLA_INFO_DATA / IFLA_BR_STP_STATE in one
// RTM_NEWLINK message. It walks the attributes itself, bounds-checked:
// nl.ParseRouteAttr (v1.3.1) panics on a truncated attribute (found by
// FuzzParseSTP).
func parseSTP(m []byte) (stp, found bool, err error) {
	if len(m) < unix.SizeofIfInfomsg {
		return false, false, fmt.Errorf("short RTM_NEWLINK message (%d bytes)", len(m))
	}
	info, ok, err := findAttr(m[unix.SizeofIfInfomsg:], unix.IFLA_LINKINFO)
	if !ok || err != nil {
		return false, false, err
	}
	data, ok, err := findAttr(info, nl.IFLA_INFO_DATA)
	if !ok || err != nil {
		return false, false, err
	}
	v, ok, err := findAttr(data, nl.IFLA_BR_STP_STATE)
	if !ok || err != nil {
		return false, false, err
	}
	if len(v) < 4 {
		return false, false, fmt.Errorf("IFLA_BR_STP_STATE of %d bytes, want 4", len(v))
	}
	return binary.NativeEndian.Uint32(v) != 0, true, nil
}

// findAttr returns the payload of the first rtattr of type typ (the nested
// flag masked off) in b.
func findAttr(b []byte, typ uint16) ([]byte, bool, error) {
	for len(b) >= unix.SizeofRtAttr {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		t := binary.NativeEndian.Uint16(b[2:4]) &^ unix.NLA_F_NESTED
		if l < unix.SizeofRtAttr || l > len(b) {
			return nil, false, fmt.Errorf("malformed rtattr: length %d with %d bytes left", l, len(b))
		}
		if t == typ {
			return b[unix.SizeofRtAttr:l], true, nil
		}
		next := (l + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1)
		if next >= len(b) {
			break
		}
		b = b[next:]
	}
	return nil, false, nil
}

// setBridgeSTP turns STP on or off: RTM_NEWLINK with IFLA_BR_STP_STATE, as
// `ip link set BR type bridge stp_state N` sends it.
func (r *rawLink) setBridgeSTP(index int, on bool) error {
	req := r.request(unix.RTM_NEWLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	req.AddData(msg)
	linkInfo := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	linkInfo.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("bridge"))
	data := linkInfo.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	var v uint32
	if on {
		v = 1
	}
	data.AddRtAttr(nl.IFLA_BR_STP_STATE, nl.Uint32Attr(v))
	req.AddData(linkInfo)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}
