package dhcp6

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

// Tests with real clients run the server in a network namespace of its
// own on a veth whose peer is in a second namespace for the client
// (pxetest: removed, with every process started in it, when the test
// ends).

// labServer serves 2001:db8::/64 on srv0 (2001:db8::1) and returns the
// server and the client's namespace, whose link cli0 is the veth's peer.
func labServer(t *testing.T, events *pxetest.Recorder[Event], mutate func(*Config)) (*Server, *pxetest.NetNS, string) {
	t.Helper()
	srv, cli := pxetest.TempNetNS(t, "d6s"), pxetest.TempNetNS(t, "d6c")
	if err := srv.AddVeth(pxetest.Veth{Name: "srv0", Addr: mustPrefix("2001:db8::1/64"), Peer: "cli0", PeerNS: cli}); err != nil {
		t.Fatal(err)
	}
	// Replies to a client's link-local address leave from the server's;
	// until duplicate address detection is over it cannot be used.
	if _, err := srv.WaitLinkLocal("srv0", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, func(c *Config) {
		c.NetNS = srv.Path()
		c.Interfaces = []string{"srv0"}
		c.ServerDUID = nil // the DUID-LL of srv0
		if events != nil {
			c.OnEvent = events.Add
		}
		if mutate != nil {
			mutate(c)
		}
	})
	s.now = time.Now
	pxetest.Serve(t, s)
	return s, cli, "cli0"
}

// ISC dhclient -6 against the server on a real link: it solicits on
// ff02::1:2, gets an address from the pool with the DNS servers and
// domain search list, renews at T1 (unicast to nobody: it multicasts
// RENEW naming the server's DUID), and releases. A second dhclient that
// says it is iPXE on x86-64 UEFI (user class iPXE, arch 7, vendor class
// PXEClient) gets the script URL with its MAC as its boot file URL.
func TestDhclient6(t *testing.T) {
	events := &pxetest.Recorder[Event]{}
	s, cli, cif := labServer(t, events, func(c *Config) { c.Subnets[0].LeaseTime = 20 * time.Second })
	dc := pxetest.StartDhclient6(t, cli, cif, "timeout 30;\nretry 2;\nalso request dhcp6.name-servers, dhcp6.domain-search;\n")
	ev := dc.WaitEvent("BOUND6", 60*time.Second)
	ip := ev.IP
	if !s.cfg.Subnets[0].Pools[0].Contains(ip) {
		t.Fatalf("dhclient -6 got %s, outside the pool: %v", ip, ev)
	}
	if ev.DNS != "2001:db8::53" || ev.Domain != "lab.example." || ev.LeaseTime != "20" {
		t.Errorf("BOUND6 %v: want dns 2001:db8::53, domain lab.example., valid lifetime 20", ev)
	}
	mac, err := cli.HardwareAddr(cif)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := s.LeaseByIP(ip)
	if !ok || l.MAC.String() != mac.String() || len(l.ClientID) == 0 {
		t.Fatalf("server lease for %s: %+v (client MAC %s)", ip, l, mac)
	}
	// T1 is half of the 20 s preferred lifetime.
	if r := dc.WaitEvent("RENEW6", 60*time.Second); r.IP != ip {
		t.Errorf("renewal changed the address: %v", r)
	}
	if err := dc.Release(); err != nil {
		t.Fatal(err)
	}
	// The address leaves the table as the RELEASE is handled; the release
	// is counted once its commit is done and the reply sent.
	waitFor(t, "the server to free the released address and count the release", 15*time.Second, func() bool {
		_, ok := s.LeaseByIP(ip)
		return !ok && s.Stats().Releases == 1
	})
	st := s.Stats()
	if st.Releases != 1 || st.Binds < 2 || st.Requests["solicit"] == 0 || st.Requests["renew"] == 0 {
		t.Errorf("stats after release: %+v", st)
	}
	t.Logf("dhclient -6:\n%s", dc.Output())

	// dhclient as iPXE: the options iPXE sends, in dhclient.conf's
	// hexadecimal form.
	ipxe := `option dhcp6.bootfile-url code 59 = string;
option dhcp6.user-class code 15 = string;
option dhcp6.vendor-class code 16 = string;
option dhcp6.client-arch code 61 = unsigned integer 16;
send dhcp6.user-class 00:04:69:50:58:45;
send dhcp6.vendor-class 00:00:01:57:00:20:` + hexString("PXEClient:Arch:00007:UNDI:003010") + `;
send dhcp6.client-arch 7;
also request dhcp6.bootfile-url;
timeout 30;
`
	dc2 := pxetest.StartDhclient6(t, cli, cif, ipxe)
	ev = dc2.WaitEvent("BOUND6", 60*time.Second)
	// dhclient hands its hook shell-special characters escaped ("\&").
	if got, want := strings.ReplaceAll(ev.File, `\`, ""), "http://[2001:db8::1]/boot.ipxe?mac="+mac.String()+"&fw=efi"; got != want {
		t.Errorf("boot file URL %q, want %q", got, want)
	}
	if ev.IP != ip {
		t.Errorf("the same link (MAC %s) got %s, then %s", mac, ip, ev.IP)
	}
	e, err := events.First(t.Context(), func(e Event) bool { return e.Kind == EventSolicited && e.Client.IsIPXE() })
	if err != nil || e.Client.Arch() != 7 || e.MAC.String() != mac.String() || e.Client.MACFrom == "" {
		t.Errorf("solicited event of the iPXE-like client: %+v, %v", e, err)
	}
}

// hexString is s as dhclient.conf writes bytes: colon-separated hex.
func hexString(s string) string {
	parts := make([]string, len(s))
	for i := range len(s) {
		parts[i] = fmt.Sprintf("%02x", s[i])
	}
	return strings.Join(parts, ":")
}

// Relayed load: perfdhcp -6 in its own namespace sends every exchange as
// a relay agent (RELAY-FORW, one level) and listens on 547 for the
// RELAY-REPLs; every SOLICIT/ADVERTISE/REQUEST/REPLY exchange completes,
// each of the simulated clients keeps one address, no address is given to
// two of them.
func TestPerfdhcp6Relayed(t *testing.T) {
	perfdhcp := pxetest.RequireCmd(t, "perfdhcp", "kea-admin")
	s, cli, cif := labServer(t, nil, nil)
	if err := cli.AddAddr(cif, mustPrefix("2001:db8::2/64")); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.WaitLinkLocal(cif, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Modest rate, generous drop and exit-wait times: the check is that
	// every exchange completes on a CI machine that may be busy.
	cmd := exec.Command(perfdhcp, "-6", "-A1", "-l", cif, "-L", "547", "-r", "100", "-R", "200", "-n", "500", "-p", "40",
		"-W", "8000000", "-d", "8", "2001:db8::1")
	out, _ := pxetest.Run(t, cli, cmd) // exits non-zero when anything dropped: judged below
	r := pxetest.ParsePerfdhcp(out)
	t.Logf("perfdhcp -6:\n%s", out)
	// -n is a floor: perfdhcp sends in bursts and may send a few more.
	if r.Sent[0] < 500 || r.Received[0] != r.Sent[0] || r.Sent[1] != r.Received[0] || r.Received[1] != r.Sent[1] || r.Drops != [2]int{} {
		t.Fatalf("not every exchange completed: sent %v received %v drops %v; server %+v", r.Sent, r.Received, r.Drops, s.Stats())
	}
	st := s.Stats()
	if st.Binds != uint64(r.Received[1]) || st.Relayed != st.Replied || len(st.Dropped) != 0 {
		t.Errorf("server stats %+v", st)
	}
	if st.ActiveLeases != 200 {
		t.Errorf("active leases %d, want 200", st.ActiveLeases)
	}
	seen := map[string]string{}
	for _, l := range s.Leases() {
		if other, dup := seen[l.IP.String()]; dup {
			t.Errorf("%s leased to %x and %x", l.IP, other, l.ClientID)
		}
		seen[l.IP.String()] = string(l.ClientID)
	}
}

// waitFor polls cond until it holds or the deadline passes. The deadline
// bounds a hung peer; it is not a timing assertion.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
