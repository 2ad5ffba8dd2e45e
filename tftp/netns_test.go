package tftp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/pxekit/pxekit/pxetest"
)

// listenInNetns opens a UDP socket inside the named network namespace from
// a thread that is thrown away afterwards, the way a boot server serving a
// lab netns does.
func listenInNetns(t *testing.T, name, addr string) net.PacketConn {
	t.Helper()
	type res struct {
		c   net.PacketConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		ns, err := netns.GetFromName(name)
		if err != nil {
			ch <- res{nil, err}
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			ch <- res{nil, err}
			return
		}
		c, err := net.ListenPacket("udp4", addr)
		ch <- res{c, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.c
}

func fragCreates(t *testing.T, ns string) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").Output()
	if err != nil {
		t.Fatal(err)
	}
	var head []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "Ip: ") {
			continue
		}
		f := strings.Fields(l)
		if head == nil {
			head = f
			continue
		}
		for i, h := range head {
			if h == "FragCreates" && i < len(f) {
				n, _ := strconv.Atoi(f[i])
				return n
			}
		}
	}
	t.Fatal("no FragCreates in /proc/net/snmp")
	return 0
}

// On a 1500-byte link, a client asking for blksize 1472 (what pin/tftp's
// own clamp, MTU - 28, would grant) gets 1468: DATA packets of 1468 + 4 +
// 8 + 20 = 1500 bytes, none fragmented. The socket is opened in a netns
// the test creates while the server's threads stay in the test's own: in
// single-port mode, and with a socket per transfer, which must then be
// opened in the listening socket's namespace (the client, inside it, gets
// nothing otherwise).
func TestBlockSizeFitsLinkMTU(t *testing.T) {
	pxetest.RequireRoot(t)
	pxetest.RequireCmd(t, "ip", "iproute2")
	pxetest.RequireCmd(t, "atftp", "atftp")
	name := fmt.Sprintf("pxtftp-%d-%d", os.Getpid(), rand.IntN(1e6))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "mtu", "1500", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo: %v: %s", err, out)
	}
	dir, files := testRoot(t, 1<<20)

	for _, single := range []bool{true, false} {
		t.Run(fmt.Sprintf("singlePort=%v", single), func(t *testing.T) {
			conn := listenInNetns(t, name, "127.0.0.1:0")
			s := serveConn(t, Config{Root: os.DirFS(dir), SinglePort: single}, conn)
			before := fragCreates(t, name)

			out := filepath.Join(t.TempDir(), "got")
			msg, err := exec.Command("ip", "netns", "exec", name, "atftp", "--get", "-r", "1m", "-l", out,
				"--option", "blksize 1472", "--option", "tsize 0", "--trace",
				"127.0.0.1", strconv.Itoa(s.addr.Port)).CombinedOutput()
			if err != nil {
				t.Fatalf("atftp: %v: %.500s", err, msg)
			}
			if !strings.Contains(string(msg), "received OACK <tsize: 1048576, blksize: 1468") {
				t.Errorf("atftp trace lacks the clamped OACK:\n%.500s", msg)
			}
			got, _ := os.ReadFile(out)
			if !bytes.Equal(got, files["1m"]) {
				t.Fatalf("got %d bytes, want %d identical ones", len(got), len(files["1m"]))
			}
			if n := fragCreates(t, name) - before; n != 0 {
				t.Errorf("%d IP fragments created: DATA packets exceed the MTU", n)
			}
			if ev := s.ev.wait(t, EventSent); ev.BlockSize != 1468 {
				t.Errorf("event %+v, want blksize 1468", ev)
			}
		})
	}
}
