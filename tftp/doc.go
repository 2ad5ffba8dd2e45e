// Package tftp is a read-only TFTP server (RFC 1350, with the blksize,
// tsize and timeout options of RFC 2347/2348/2349 and the windowsize of RFC
// 7440) over an io/fs.FS, for the first step of a network boot: firmware
// fetching undionly.kpxe or ipxe.efi.
//
// A front end in this package reads the listening socket and checks every
// request itself:
//
//   - paths are cleaned (CleanPath): a leading "/" is stripped, "\" becomes
//     "/", and "..", NUL and control characters are refused; symbolic links
//     that leave the root are refused too. Refusals get an ERROR packet with
//     code 2 (access violation), are counted in Stats (DropPathRefused) and
//     logged;
//   - write requests get ERROR code 2: the server is read-only;
//   - blksize is clamped so a DATA packet (payload + 4-byte header + UDP +
//     IP) fits the MTU of the interface the request came in on;
//   - at most Config.MaxTransfers run at once; requests beyond are dropped
//     and counted, and the client's retransmission gets served later.
//
// Each admitted request is sent by this package's own sender, on its own
// socket connected to the client and bound to the address the request came
// to: lock-step (RFC 1350) or, when the client asks and
// Config.MaxWindowSize allows, with RFC 7440 windows. It grants blksize,
// tsize, timeout and windowsize in an OACK (RFC 2347-2349, 7440), resends
// a block only when its ACK times out (never on a duplicate ACK, which
// would trigger the Sorcerer's Apprentice bug), and does its file reads,
// sends and waits on one goroutine, with no allocation per block. On
// Linux that socket is opened in the listening socket's network namespace,
// whatever namespace the server's threads are in.
//
// In Config.SinglePort mode transfers share the listening socket instead
// and run on github.com/pin/tftp/v3, which the front end hands only
// requests that passed its checks, rewritten with the options it should
// honour (blksize, tsize).
//
// Serve listens on Config.Addr, or serves a socket the caller opened
// (Config.Conn: one made in another network namespace, or handed over by
// socket activation), and closes it when it returns.
//
// Every finished, failed, aborted or refused request produces an Event,
// carrying the client's MAC when Config.MACForIP (the DHCP lease table)
// knows it. Requests that start no transfer are counted by DropReason in
// Stats.
//
// Source addresses: in single-port mode pin/tftp answers from the
// listening socket; listen on the address given to clients (next-server).
package tftp
