// Package tftp is a read-only TFTP server (RFC 1350, with the blksize and
// tsize options of RFC 2347/2348/2349) over an io/fs.FS, for the first step
// of a network boot: firmware fetching undionly.kpxe or ipxe.efi.
//
// Transfers run on github.com/pin/tftp/v3. A front end in this package
// reads the listening socket first and hands pin/tftp only requests that
// passed its checks, rewritten with the options it should honour:
//
//   - paths are cleaned (CleanPath): a leading "/" is stripped, "\" becomes
//     "/", and "..", NUL and control characters are refused; symbolic links
//     that leave the root are refused too. Refusals get an ERROR packet with
//     code 2 (access violation), are counted in Stats and logged;
//   - write requests get ERROR code 2: the server is read-only;
//   - blksize is clamped so a DATA packet (payload + 4-byte header + UDP +
//     IP) fits the MTU of the interface the request came in on; pin/tftp's
//     own clamp forgets the 4-byte header, so a 1500-byte link would get
//     1504-byte packets;
//   - at most Config.MaxTransfers run at once; requests beyond are dropped
//     and counted, and the client's retransmission gets served later.
//
// pin/tftp v3.2.0 cannot negotiate RFC 7440 windowsize (it drops the
// option from its OACK; its SetAnticipate mode sends several blocks per
// round trip but still waits for an ACK of each, which is not RFC 7440)
// nor acknowledge the RFC 2349 timeout option. With Config.MaxWindowSize
// set, a request asking for a window is sent by this package's own sender
// instead, which grants windowsize, blksize, tsize and timeout; the others
// stay on pin/tftp, with Config.Timeout for every transfer.
//
// Every finished, failed, aborted or refused request produces an Event,
// carrying the client's MAC when Config.MACForIP (the DHCP lease table)
// knows it.
//
// Source addresses: pin/tftp answers from a new socket bound to the
// wildcard address, so the kernel picks the source address by route. On a
// link where the server has several addresses, listen on the one given to
// clients (next-server) and set Config.SinglePort, so every answer leaves
// from it; the windowed sender binds the address the request came to.
package tftp
