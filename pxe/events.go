package pxe

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind names a step of the boot path.
type EventKind string

// The boot path's steps, in the order a machine normally walks them.
const (
	EventDiscovered   EventKind = "discovered"    // DHCPDISCOVER seen
	EventOffered      EventKind = "offered"       // DHCPOFFER sent
	EventAcked        EventKind = "acked"         // DHCPACK sent
	EventNak          EventKind = "nak"           // DHCPNAK sent
	EventDeclined     EventKind = "declined"      // client declined its address
	EventTFTPSent     EventKind = "tftp-sent"     // a TFTP transfer completed
	EventScriptServed EventKind = "script-served" // iPXE script rendered for the machine
	EventAssetSent    EventKind = "asset-sent"    // kernel, initrd or other asset served over HTTP
	EventConfigServed EventKind = "config-served" // a per-machine file served to its machine
	EventPhonedHome   EventKind = "phoned-home"   // the booted OS reported back
	EventDenied       EventKind = "denied"        // a request was refused (unknown machine, wrong requester)
)

// Event is one step of one machine's boot. MAC is lower-case colon form, or
// empty when the requester could not be tied to a machine.
type Event struct {
	Time   time.Time `json:"time"`
	MAC    string    `json:"mac"`
	Kind   EventKind `json:"kind"`
	Detail string    `json:"detail,omitempty"`
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

// publishMAC is Publish with a hardware address, formatted once here.
func (b *Bus) publishMAC(mac net.HardwareAddr, kind EventKind, detail string) {
	m := ""
	if len(mac) > 0 {
		m = mac.String()
	}
	b.Publish(Event{MAC: m, Kind: kind, Detail: detail})
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
