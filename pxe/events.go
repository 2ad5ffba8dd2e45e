package pxe

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/ra"
	"github.com/pxekit/pxekit/tftp"
)

// EventKind names a step of the boot path.
type EventKind string

// The boot path's steps, in the order a machine normally walks them.
const (
	EventDiscovered   EventKind = "discovered"    // DHCPDISCOVER seen
	EventOffered      EventKind = "offered"       // DHCPOFFER sent
	EventAcked        EventKind = "acked"         // DHCPACK sent
	EventNAK          EventKind = "nak"           // DHCPNAK sent
	EventDeclined     EventKind = "declined"      // client declined its address
	EventTFTPSent     EventKind = "tftp-sent"     // a TFTP transfer completed
	EventScriptServed EventKind = "script-served" // iPXE script rendered for the machine
	EventAssetSent    EventKind = "asset-sent"    // kernel, initrd or other asset served over HTTP
	EventConfigServed EventKind = "config-served" // a per-machine file served to its machine
	EventPhonedHome   EventKind = "phoned-home"   // the booted OS reported back
	EventDenied       EventKind = "denied"        // a request was refused (unknown machine, wrong requester)
	// EventRouterAdvert is published when the router-advertisement
	// responder (Config.RouterAdvertisement) answers a machine's router
	// solicitation; the detail names the solicitor's link-local address.
	// MAC is the solicitation's source link-layer address (nil when it
	// carried none).
	EventRouterAdvert EventKind = "router-advert"
)

// EventKinds lists every kind of boot event.
func EventKinds() []EventKind {
	return []EventKind{EventDiscovered, EventOffered, EventAcked, EventNAK, EventDeclined, EventTFTPSent, EventScriptServed,
		EventAssetSent, EventConfigServed, EventPhonedHome, EventDenied, EventRouterAdvert}
}

// Event is one step of one machine's boot. In JSON (Server.Subscribe's
// consumers, /events) it is {"time", "kind", "mac", "detail"}, the MAC as
// "aa:bb:cc:dd:ee:ff", or "" when the requester could not be tied to a
// machine.
type Event struct {
	Time time.Time
	Kind EventKind
	// MAC is the machine's address; nil when the requester could not be
	// tied to a machine.
	MAC    net.HardwareAddr
	Detail string
	// Firmware names what asked, where the step tells: on discovered
	// "bios", "uefi", "uefi-arm64", "uefi-http" (network-boot firmware) or
	// "ipxe" (iPXE, already chain-loaded); on script-served the script's
	// flavour, "bios" or "efi". Empty otherwise.
	Firmware string
	// Path is the file of a tftp-sent, asset-sent or config-served step
	// (the TFTP path, the URL path); empty otherwise.
	Path string
}

// eventJSON is Event's wire form.
type eventJSON struct {
	Time     time.Time `json:"time"`
	Kind     EventKind `json:"kind"`
	MAC      string    `json:"mac"`
	Detail   string    `json:"detail,omitempty"`
	Firmware string    `json:"firmware,omitempty"`
	Path     string    `json:"path,omitempty"`
}

// MarshalJSON writes the event with its MAC as a string.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(eventJSON{Time: e.Time, Kind: e.Kind, MAC: macString(e.MAC), Detail: e.Detail, Firmware: e.Firmware, Path: e.Path})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w eventJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Event{Time: w.Time, Kind: w.Kind, Detail: w.Detail, Firmware: w.Firmware, Path: w.Path}
	if w.MAC != "" {
		mac, err := macaddr.Parse(w.MAC)
		if err != nil {
			return fmt.Errorf("event mac: %w", err)
		}
		e.MAC = mac
	}
	return nil
}

func macString(mac net.HardwareAddr) string {
	if mac == nil {
		return ""
	}
	return mac.String()
}

// subscriberBuffer bounds what a slow subscriber can hold back; past it,
// events are dropped for that subscriber (and counted) rather than blocking
// the servers that publish them.
const subscriberBuffer = 1024

// Bus fans boot events out to subscribers. The zero value is ready to use.
type Bus struct {
	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	dropped atomic.Uint64
}

type subscriber struct {
	ch chan Event
}

// Publish delivers e to every current subscriber without blocking.
func (b *Bus) Publish(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		select {
		case s.ch <- e:
		default:
			b.dropped.Add(1)
		}
	}
}

// publishMAC publishes a step of mac's boot, now.
func (b *Bus) publishMAC(mac net.HardwareAddr, kind EventKind, detail string) {
	b.Publish(Event{Kind: kind, MAC: mac, Detail: detail})
}

// Subscribe returns a channel of the events published from now on. The
// channel is closed when ctx is done.
func (b *Bus) Subscribe(ctx context.Context) <-chan Event {
	s := &subscriber{ch: make(chan Event, subscriberBuffer)}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = make(map[*subscriber]struct{})
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, s)
		close(s.ch)
		b.mu.Unlock()
	}()
	return s.ch
}

// Dropped reports how many events slow subscribers missed.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

// dhcpEvent publishes a DHCP server's event as a boot step.
func (s *Server) dhcpEvent(e dhcp.Event) {
	var kind EventKind
	detail, fw := "", ""
	switch e.Kind {
	case dhcp.EventDiscovered:
		kind, detail, fw = EventDiscovered, describeClient(e.Client), clientFirmware(e.Client)
	case dhcp.EventOffered:
		kind, detail = EventOffered, e.IP.String()
	case dhcp.EventAcked:
		kind, detail = EventAcked, e.IP.String()
	case dhcp.EventNAK:
		kind, detail = EventNAK, e.Reason
	case dhcp.EventDeclined:
		kind, detail = EventDeclined, e.IP.String()
	default:
		return
	}
	if e.Boot.Filename != "" && (kind == EventOffered || kind == EventAcked) {
		detail += " boot=" + e.Boot.Filename
	}
	if e.Proxy {
		detail += " (proxyDHCP)"
	}
	s.bus.Publish(Event{Time: e.Time, Kind: kind, MAC: e.MAC, Detail: detail, Firmware: fw})
	if kind == EventOffered {
		s.publishNothingToBoot(e)
	}
}

// clientFirmware names a DHCP client the way Event.Firmware does.
func clientFirmware(c dhcp.Client) string {
	switch {
	case c.IsIPXE():
		return "ipxe"
	case c.IsHTTPClient():
		return "uefi-http"
	case !c.IsPXE():
		return ""
	case c.IsARM64():
		return "uefi-arm64"
	case c.IsUEFI():
		return "uefi"
	}
	return "bios"
}

func describeClient(c dhcp.Client) string {
	switch {
	case c.IsIPXE():
		return fmt.Sprintf("iPXE arch=%d", c.Arch())
	case c.IsHTTPClient():
		return fmt.Sprintf("UEFI HTTP boot arch=%d", c.Arch())
	case c.IsPXE():
		return fmt.Sprintf("PXE arch=%d", c.Arch())
	}
	return "not PXE"
}

// tftpEvent publishes a finished or refused TFTP transfer.
func (s *Server) tftpEvent(e tftp.Event) {
	if s.tftpSecureBootEvent(e) {
		return
	}
	switch e.Kind {
	case tftp.EventSent:
		detail := fmt.Sprintf("%s %d bytes in %s (blksize %d", e.File, e.Bytes, e.Duration.Round(time.Millisecond), e.BlockSize)
		if e.WindowSize > 0 {
			detail += fmt.Sprintf(", windowsize %d", e.WindowSize)
		}
		detail += ")"
		if e.MAC == nil {
			// No lease names the requester: say who it was.
			detail += " to " + e.Peer.Addr().String()
		}
		s.bus.Publish(Event{Time: e.Time, Kind: EventTFTPSent, MAC: e.MAC, Detail: detail, Path: e.File})
	case tftp.EventRefused:
		s.bus.Publish(Event{Time: e.Time, Kind: EventDenied, MAC: e.MAC, Detail: fmt.Sprintf("tftp %s: %v", e.File, e.Err)})
	}
}

// raEvent publishes an answered router solicitation.
func (s *Server) raEvent(e ra.Event) {
	if e.Kind != ra.EventAdvertised {
		return // rate-limited or unsendable: counted in RA().Stats()
	}
	s.bus.Publish(Event{Time: e.Time, Kind: EventRouterAdvert, MAC: e.MAC,
		Detail: "solicited by " + e.Source.String() + ", answered to " + e.Dest.String()})
}
