package pxetest

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"github.com/pxekit/pxekit/macaddr"
)

// PhoneHome is one request a guest's /init made to its phone-home URL.
type PhoneHome struct {
	// Remote is the address the request came from.
	Remote netip.Addr
	// MAC is what the guest says it is (the mac= it appends).
	MAC net.HardwareAddr
	// Neighbor is what the server namespace's neighbour table says Remote
	// is: the machine as the network saw it, whatever it claims. Nil when
	// the table had no entry.
	Neighbor net.HardwareAddr
}

// PhoneHomes is an http.Handler for the phone-home URL (the value of the
// guest's DefaultPhoneHomeArg), for a boot server that has none of its own:
// it answers every GET and records it. Mount it on the server's mux; the
// zero value records without neighbour lookups.
type PhoneHomes struct {
	// NS is the namespace the HTTP server's socket lives in, where the
	// neighbour table is looked up.
	NS *NetNS
	Recorder[PhoneHome]
}

// ServeHTTP records the request and answers "welcome".
func (p *PhoneHomes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h := PhoneHome{Remote: ap.Addr().Unmap()}
	h.MAC, _ = macaddr.Parse(r.URL.Query().Get("mac"))
	if p.NS != nil {
		h.Neighbor, _ = p.NS.MACOf(h.Remote)
	}
	p.Add(h)
	fmt.Fprintln(w, "welcome")
}
