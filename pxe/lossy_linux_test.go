package pxe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"net"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/pxetest/impair"
)

// TestLossyBoots: a SeaBIOS+iPXE and an OVMF PXE machine boot at once
// behind the impairment relay (5 % loss, 2 % duplication, 2 % reordering
// each way, fixed seed) and both reach /init with their profile's kernel
// arguments and phone home; the ipxe.efi OVMF fetched over TFTP left the
// relay towards it byte-identical to the file served.
func TestLossyBoots(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bios := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x1a, 0x55, 0x01}, Hostname: "lossy1", Profile: "alpha"}
	uefi := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x1a, 0x55, 0x02}, Hostname: "lossy2", Profile: "beta"}
	bl := startBootLabOn(t, ctx, []Machine{bios, uefi}, pxetest.NetworkConfig{
		Impair: &impair.Config{Loss: 0.05, Duplicate: 0.02, Reorder: 0.02, Seed: 20261204}})
	tftpData := captureTFTPData(t, bl.lab.NS, pxetest.ClientPort)
	var wg sync.WaitGroup
	for _, c := range []struct {
		fw pxetest.Firmware
		m  Machine
	}{{pxetest.BIOS, bios}, {pxetest.UEFIPXE, uefi}} {
		wg.Go(func() {
			t.Run(c.fw.String(), func(t *testing.T) {
				vm := bl.lab.StartVM(t, ctx, pxetest.VMConfig{MAC: c.m.MAC, Firmware: c.fw,
					OnLine: func(l string) { t.Logf("%s: %s", c.m.Hostname, l) }})
				if _, err := vm.WaitFor(ctx, regexp.MustCompile(pxetest.MarkerStart+"$")); err != nil {
					bl.dump(t)
					t.Fatal(err)
				}
				t.Logf("%s: power-on to /init in %v", c.fw, time.Since(vm.Started()).Round(100*time.Millisecond))
				checkGuest(t, ctx, vm, wantCmdline(t, bl.srv.BaseURL(), c.m, c.fw))
			})
		})
	}
	wg.Wait()
	want, err := os.ReadFile(pxetest.IPXEEFI)
	if err != nil {
		t.Fatal(err)
	}
	files := tftpData.files()
	var whole bool
	for _, f := range files {
		if sha256.Sum256(f) == sha256.Sum256(want) {
			whole = true
		}
	}
	if !whole {
		var sizes []int
		for _, f := range files {
			sizes = append(sizes, len(f))
		}
		t.Errorf("no TFTP transfer towards the firmware carried ipxe.efi (%d bytes) whole; transfers seen: %v bytes", len(want), sizes)
	}
	ds := bl.srv.DHCP().Stats()
	var tftpRetx uint64
	if ts := bl.srv.tftpSrv.Load(); ts != nil {
		tftpRetx = ts.Stats().Retransmitted
	}
	rs := bl.lab.Impairment()
	t.Logf("DHCP requests %v offers %d acks %d; TFTP retransmitted %d; relay server->clients %+v, clients->server %+v",
		ds.Requests, ds.Offers, ds.Acks, tftpRetx, rs.AtoB, rs.BtoA)
	if rs.AtoB.Dropped == 0 || rs.BtoA.Dropped == 0 {
		t.Errorf("two boots crossed the relay without a loss: %+v", rs)
	}
}

// tftpCapture collects the TFTP DATA blocks sent from port 69's transfers
// to each client port, as they cross one link.
type tftpCapture struct {
	mu     sync.Mutex
	blocks map[uint16]map[uint16][]byte // client port → block → payload
}

// files returns each transfer that ended (a block shorter than its first)
// reassembled from its blocks 1…N.
func (c *tftpCapture) files() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]byte
	for _, bs := range c.blocks {
		first, ok := bs[1]
		if !ok {
			continue
		}
		var f bytes.Buffer
		for n := uint16(1); ; n++ {
			b, ok := bs[n]
			if !ok {
				break
			}
			f.Write(b)
			if len(b) < len(first) || (n > 1 && len(b) == 0) {
				out = append(out, f.Bytes())
				break
			}
		}
	}
	return out
}

func captureTFTPData(t *testing.T, ns *pxetest.NetNS, ifname string) *tftpCapture {
	t.Helper()
	c := &tftpCapture{blocks: map[uint16]map[uint16][]byte{}}
	captureIPv4(t, ns, ifname, func(p []byte) {
		if len(p) < 20 {
			return
		}
		ihl := int(p[0]&0xf) * 4
		if p[9] != unix.IPPROTO_UDP || len(p) < ihl+12 {
			return
		}
		u := p[ihl:]
		// DATA (opcode 3) from a transfer socket of the server, which
		// is the only sender on the clients' side of a DATA block
		// towards a client (clients only send ACKs).
		if binary.BigEndian.Uint16(u[8:]) != 3 {
			return
		}
		dst, block := binary.BigEndian.Uint16(u[2:]), binary.BigEndian.Uint16(u[10:])
		end := min(int(binary.BigEndian.Uint16(u[4:])), len(u))
		if end < 12 {
			return
		}
		c.mu.Lock()
		if c.blocks[dst] == nil {
			c.blocks[dst] = map[uint16][]byte{}
		}
		c.blocks[dst][block] = append([]byte(nil), u[12:end]...)
		c.mu.Unlock()
	})
	return c
}
