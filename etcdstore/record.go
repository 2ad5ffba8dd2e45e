package etcdstore

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/macaddr"
)

// leaseRecord is a lease as etcd holds it: readable with etcdctl (MAC as
// aa:bb:.., client ID in hex) and naming the server that wrote it, so a
// server can tell its own writes from others' in the watch.
type leaseRecord struct {
	IP       string    `json:"ip"`
	MAC      string    `json:"mac,omitempty"`
	ClientID string    `json:"clientID,omitempty"` // hex; a DHCPv6 DUID too
	Hostname string    `json:"hostname,omitempty"`
	Expiry   time.Time `json:"expiry"`
	State    string    `json:"state"`
	Server   string    `json:"server,omitempty"`
}

func encodeLease(l dhcp.Lease, server string) ([]byte, error) {
	if !l.IP.IsValid() {
		return nil, fmt.Errorf("etcdstore: lease without an address")
	}
	r := leaseRecord{IP: l.IP.String(), Hostname: l.Hostname, Expiry: l.Expiry.UTC(), State: l.State.String(), Server: server}
	if len(l.MAC) > 0 {
		r.MAC = l.MAC.String()
	}
	if len(l.ClientID) > 0 {
		r.ClientID = hex.EncodeToString(l.ClientID)
	}
	return json.Marshal(r)
}

// decodeLease reads the record at key (which must end in the record's
// address) and the server that wrote it.
func decodeLease(key string, v []byte) (dhcp.Lease, string, error) {
	var r leaseRecord
	var l dhcp.Lease
	if err := json.Unmarshal(v, &r); err != nil {
		return l, "", fmt.Errorf("etcdstore: lease record %s: %w", key, err)
	}
	ip, err := netip.ParseAddr(r.IP)
	if err != nil {
		return l, "", fmt.Errorf("etcdstore: lease record %s: ip: %w", key, err)
	}
	if i := strings.LastIndexByte(key, '/'); key[i+1:] != ip.String() {
		return l, "", fmt.Errorf("etcdstore: lease record %s: ip field says %s", key, ip)
	}
	l.IP, l.Hostname, l.Expiry = ip, r.Hostname, r.Expiry
	switch r.State {
	case dhcp.Bound.String():
		l.State = dhcp.Bound
	case dhcp.Declined.String():
		l.State = dhcp.Declined
	default:
		return l, "", fmt.Errorf("etcdstore: lease record %s: unknown state %q", key, r.State)
	}
	if r.MAC != "" {
		if l.MAC, err = macaddr.Parse(r.MAC); err != nil {
			return l, "", fmt.Errorf("etcdstore: lease record %s: mac: %w", key, err)
		}
	} else if l.State == dhcp.Bound {
		return l, "", fmt.Errorf("etcdstore: lease record %s: a bound lease needs a mac", key)
	}
	if r.ClientID != "" {
		if l.ClientID, err = hex.DecodeString(r.ClientID); err != nil {
			return l, "", fmt.Errorf("etcdstore: lease record %s: clientID: %w", key, err)
		}
	}
	return l, r.Server, nil
}

// parseLeaseKey is the address a lease key's last element names.
func parseLeaseKey(s string) (dhcp.Lease, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return dhcp.Lease{}, err
	}
	return dhcp.Lease{IP: ip}, nil
}
