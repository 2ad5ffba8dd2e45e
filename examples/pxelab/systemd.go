package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// notifier speaks systemd's notify protocol (sd_notify): one datagram per
// state change to the unix socket $NOTIFY_SOCKET names. Without it (not
// under systemd, or Type= is not notify) it does nothing.
type notifier struct {
	addr string
}

// newNotifier reads $NOTIFY_SOCKET and unsets it, so no child inherits
// it.
func newNotifier() *notifier {
	n := &notifier{addr: os.Getenv("NOTIFY_SOCKET")}
	os.Unsetenv("NOTIFY_SOCKET")
	return n
}

// notify sends state lines ("READY=1", "STATUS=...").
func (n *notifier) notify(lines ...string) error {
	if n == nil || n.addr == "" {
		return nil
	}
	addr := n.addr
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:] // an abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	// A receiver that does not read (a full queue) must not stall a
	// reload or a stop: give up after a moment.
	c.SetWriteDeadline(time.Now().Add(time.Second))
	_, err = c.Write([]byte(strings.Join(lines, "\n") + "\n"))
	return err
}

// reloading is the message Type=notify-reload wants before a reload:
// RELOADING=1 with the monotonic clock, in microseconds.
func (n *notifier) reloading() error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return err
	}
	usec := ts.Sec*1_000_000 + ts.Nsec/1000
	return n.notify("RELOADING=1", "MONOTONIC_USEC="+strconv.FormatInt(usec, 10))
}

// activated are the sockets systemd passed (socket activation), by what
// they serve; nil when not passed.
type activated struct {
	dhcp, tftp net.PacketConn
	http       net.Listener
}

// listenFDsStart is the first descriptor systemd passes (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// activatedSockets takes the sockets systemd passed this process
// ($LISTEN_PID is this process, $LISTEN_FDS of them from fd 3), and unsets
// the variables. Each is matched by its FileDescriptorName= ($LISTEN_FDNAMES:
// dhcp, tftp, http) or, unnamed, by its kind and port: UDP 67 is DHCP, UDP
// 69 TFTP, a TCP listener HTTP.
func activatedSockets() (activated, error) {
	var a activated
	pid, fds, names := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	if fds == "" {
		return a, nil
	}
	if pid != strconv.Itoa(os.Getpid()) {
		return a, nil // meant for another process
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return a, fmt.Errorf("socket activation: LISTEN_FDS=%q is not a count", fds)
	}
	nameList := strings.Split(names, ":")
	var errs []error
	for i := range n {
		fd := listenFDsStart + i
		unix.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "listen-fd-"+strconv.Itoa(fd))
		name := ""
		if i < len(nameList) {
			name = nameList[i]
		}
		if err := a.take(f, name); err != nil {
			errs = append(errs, fmt.Errorf("socket activation: fd %d (%q): %w", fd, name, err))
		}
		f.Close() // the net.Conn holds its own duplicate
	}
	return a, errors.Join(errs...)
}

// take files one passed socket.
func (a *activated) take(f *os.File, name string) error {
	if typ, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_TYPE); err == nil && typ == unix.SOCK_STREAM {
		ln, err := net.FileListener(f)
		if err != nil {
			return err
		}
		if name != "" && name != "http" {
			ln.Close()
			return fmt.Errorf("a stream socket named %q: only http is one", name)
		}
		if a.http != nil {
			ln.Close()
			return errors.New("a second HTTP listener")
		}
		a.http = ln
		return nil
	}
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return err
	}
	if name == "" {
		if ua, ok := pc.LocalAddr().(*net.UDPAddr); ok {
			switch ua.Port {
			case 67:
				name = "dhcp"
			case 69:
				name = "tftp"
			}
		}
	}
	switch {
	case name == "dhcp" && a.dhcp == nil:
		a.dhcp = pc
	case name == "tftp" && a.tftp == nil:
		a.tftp = pc
	default:
		pc.Close()
		return fmt.Errorf("a datagram socket at %v: name it dhcp or tftp (FileDescriptorName=)", pc.LocalAddr())
	}
	return nil
}

// closeAll closes what was passed and not handed on.
func (a activated) closeAll() {
	for _, c := range []interface{ Close() error }{a.dhcp, a.tftp, a.http} {
		if c != nil {
			c.Close()
		}
	}
}

// since is a duration for logs, rounded.
func since(t time.Time) time.Duration { return time.Since(t).Round(time.Microsecond) }
