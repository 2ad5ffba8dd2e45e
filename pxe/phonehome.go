package pxe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// PhoneHomeReport is one request a booted system made to PathPhoneHome.
type PhoneHomeReport struct {
	// Time is when the request arrived.
	Time time.Time
	// MAC is the machine the request speaks for: its ?mac= parameter, or
	// else the MAC the requester's DHCP lease names.
	MAC net.HardwareAddr
	// Addr is the requester's address.
	Addr netip.Addr
	// LeaseMAC is the MAC the DHCP lease of Addr names, nil when this
	// server leased Addr to no one. A report whose LeaseMAC differs from
	// MAC comes from another machine than the one it names.
	LeaseMAC net.HardwareAddr
	// Status is the ?status= parameter ("" when absent).
	Status string
}

// PhoneHomeHandler is an Inventory that acts on phone-home reports: the
// server calls PhoneHome, on the request's goroutine, for every report to
// PathPhoneHome, before it answers. An inventory records there that a
// machine finished installing, so that its next boot gets another profile
// (pxe/kubevirt annotates the machine's VirtualMachine and answers it with
// the LocalBoot profile from then on).
type PhoneHomeHandler interface {
	// PhoneHome handles one report; ctx ends with the request. An error
	// wrapping ErrUnknownMachine or ErrPhoneHomeRefused is answered 403
	// (the report will never be taken), any other error 503 (the
	// requester may retry); both are published as an EventDenied.
	PhoneHome(ctx context.Context, r PhoneHomeReport) error
}

// ErrPhoneHomeRefused is what a PhoneHomeHandler wraps when a report is
// refused for good: it comes from another machine than the one it names,
// say.
var ErrPhoneHomeRefused = errors.New("phone home refused")

// phoneHomeStatus maps a PhoneHomeHandler's error to the HTTP status of
// the answer.
func phoneHomeStatus(err error) int {
	if errors.Is(err, ErrUnknownMachine) || errors.Is(err, ErrPhoneHomeRefused) {
		return http.StatusForbidden
	}
	return http.StatusServiceUnavailable
}

// handlePhoneHome hands r to the inventory when it is a PhoneHomeHandler
// and reports whether the request is to be answered "ok"; when not, it
// has answered with the refusal.
func (h *handler) handlePhoneHome(w http.ResponseWriter, req *http.Request, r PhoneHomeReport) bool {
	ph, ok := h.inv.(PhoneHomeHandler)
	if !ok {
		return true
	}
	if err := ph.PhoneHome(req.Context(), r); err != nil {
		h.deny(w, r.MAC, phoneHomeStatus(err), "phone home: "+err.Error())
		return false
	}
	return true
}
