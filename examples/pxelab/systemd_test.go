package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/pxetest"
)

// The unit files are what systemd accepts (systemd-analyze verify), with
// the program they start replaced by one that exists here.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze := pxetest.RequireCmd(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	var units []string
	for _, name := range []string{"pxekit.service", "pxekit-dhcp.socket", "pxekit-tftp.socket", "pxekit-http.socket"} {
		b, err := os.ReadFile(filepath.Join("systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.ReplaceAll(string(b), "/usr/local/bin/pxelab", "/bin/true"))
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, p)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, units...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// Unnamed sockets are told apart by kind and port; a stray one is named.
func TestActivatedSocketsByPort(t *testing.T) {
	var a activated
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lf, _ := ln.(*net.TCPListener).File()
	defer lf.Close()
	ln.Close()
	if err := a.take(lf, ""); err != nil || a.http == nil {
		t.Errorf("TCP listener: %v", err)
	}
	stray, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sf, _ := stray.(*net.UDPConn).File()
	defer sf.Close()
	stray.Close()
	if err := a.take(sf, ""); err == nil || !strings.Contains(err.Error(), "name it dhcp or tftp") {
		t.Errorf("an unnamed UDP socket on another port: %v", err)
	}
	// Port 69 as systemd binds it, in a namespace of the test's own so no
	// other test's server is in the way.
	ns := pxetest.TempNetNS(t, "pxk-sock")
	c, err := ns.ListenPacket("udp4", "0.0.0.0:69")
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := c.(*net.UDPConn).File()
	defer cf.Close()
	c.Close()
	if err := a.take(cf, ""); err != nil || a.tftp == nil {
		t.Errorf("UDP 69: %v", err)
	}
	a.closeAll()
}
