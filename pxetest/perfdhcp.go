package pxetest

import (
	"regexp"
	"strconv"
)

// PerfdhcpReport is what Kea's perfdhcp (Debian's kea-admin package) prints
// at the end of a run, per exchange: index 0 is DISCOVER/OFFER (SOLICIT/
// ADVERTISE with -6), index 1 is REQUEST/ACK (REQUEST/REPLY).
type PerfdhcpReport struct {
	Sent, Received, Drops [2]int
}

var (
	perfdhcpSent  = regexp.MustCompile(`(?m)^sent packets: (\d+)`)
	perfdhcpRecv  = regexp.MustCompile(`(?m)^received packets: (\d+)`)
	perfdhcpDrops = regexp.MustCompile(`(?m)^drops: (\d+)`)
)

// ParsePerfdhcp reads perfdhcp's final report from its output. A figure it
// does not find stays 0 (perfdhcp prints none when it failed to start), so
// a caller checks Sent[0] before dividing by it.
func ParsePerfdhcp(out string) PerfdhcpReport {
	var r PerfdhcpReport
	for _, f := range []struct {
		re  *regexp.Regexp
		dst *[2]int
	}{{perfdhcpSent, &r.Sent}, {perfdhcpRecv, &r.Received}, {perfdhcpDrops, &r.Drops}} {
		for i, m := range f.re.FindAllStringSubmatch(out, 2) {
			f.dst[i], _ = strconv.Atoi(m[1])
		}
	}
	return r
}
