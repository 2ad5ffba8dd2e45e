package dhcp

// DropOversized is a datagram that fills the whole read buffer
// (maxDatagram bytes): larger than any DHCP client sends, possibly cut off,
// so it is not parsed.
const DropOversized DropReason = "oversized"

// maxDatagram is the read buffer size. A packet of that size or more was
// truncated by the read (a plain ReadFrom reports no truncation), so
// admit drops it instead of parsing a prefix.
const maxDatagram = 4096

// oversized reports whether a read of n bytes may have been cut off.
func oversized(n int) bool { return n >= maxDatagram }
