package pxe

import "github.com/pxekit/pxekit/dhcp"

// publishNothingToBoot publishes an EventDenied beside the offer to a
// network-boot client that the inventory refuses (an unknown MAC with no
// default profile, or a machine without a profile): such a client gets an
// address and no boot file, and firmware that has nothing to boot asks
// for nothing more, so without this no event would say it was turned
// away. A policy of the caller's (Config.Boot) decides for itself, so its
// empty answers are not second-guessed.
func (s *Server) publishNothingToBoot(e dhcp.Event) {
	live := s.live.Load()
	if live.Boot != nil || e.Boot.Filename != "" || !e.Client.IsPXE() {
		return
	}
	if _, _, err := live.Inventory.Lookup(e.MAC); err != nil {
		s.bus.Publish(Event{Time: e.Time, Kind: EventDenied, MAC: e.MAC, Detail: "dhcp: nothing to boot: " + err.Error()})
	}
}
