package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxetest"
)

func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "usage"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve"}, 2, "--interface is required"},
		{[]string{"serve", "--interface", "lo"}, 2, "--pool START-END is required"},
		{[]string{"serve", "--interface", "lo", "--pool", "192.0.2.9-192.0.2.1", "--kernel", "/etc/hostname"}, 2, "START ≤ END"},
		{[]string{"serve", "--interface", "lo", "--pool", "192.0.2.1-192.0.2.9"}, 2, "--kernel is required"},
		{[]string{"serve", "--interface", "lo", "--pool", "192.0.2.1-192.0.2.9", "--kernel", "/etc/hostname", "--machine", "zz=default"}, 2, `--machine "zz=default"`},
		{[]string{"serve", "--interface", "lo", "--pool", "192.0.2.1-192.0.2.9", "--kernel", "/etc/hostname", "--machine", "52:54:00:00:00:01=nope"}, 1, `"nope": is not a profile`},
		{[]string{"demo", "--firmware", "floppy"}, 2, "floppy"},
		{[]string{"demo", "--mac", "1:2"}, 2, "--mac"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(errb.String()+out.String(), tt.msg) {
			t.Errorf("pxelab %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, errb.String(), tt.code, tt.msg)
		}
	}
}

func events(t *testing.T, out string) []pxe.Event {
	t.Helper()
	var evs []pxe.Event
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e pxe.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("stdout line %q is not a JSON event: %v", sc.Text(), err)
		}
		if e.Time.IsZero() || e.Kind == "" {
			t.Fatalf("event %q lacks time or kind", sc.Text())
		}
		evs = append(evs, e)
	}
	return evs
}

// serve in a lab namespace: curl, from a host on the lab bridge, gets the
// machine's script, and stdout carries the event as one JSON line.
func TestServeInNetNS(t *testing.T) {
	pxetest.RequireRoot(t)
	curl := pxetest.RequireCmd(t, "curl", "curl")
	pxetest.RequireFile(t, pxetest.IPXEBIOS, "ipxe")
	lnet := pxetest.TempNetwork(t, pxetest.NetworkConfig{})
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(kernel, []byte("not really a kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out pxetest.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--netns", lnet.NS.Name(), "--interface", lnet.Bridge,
			"--pool", "192.0.2.100-192.0.2.150", "--kernel", kernel, "--cmdline", "console=ttyS0 role={{.Hostname}}",
			"--http-port", "8080", "--state", filepath.Join(dir, "state"), "--deny-unknown",
			"--machine", "52:54:00:12:34:56=default"}, &out, io.Discard)
	}()
	url := "http://192.0.2.1:8080/boot.ipxe?mac=52:54:00:12:34:56"
	var body []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		cmd := exec.Command(curl, "-sS", "--fail", url)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		_, err := pxetest.Run(t, lnet.NS, cmd)
		if err == nil {
			body = stdout.Bytes()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("curl %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if want := "kernel http://192.0.2.1:8080/assets/vmlinuz console=ttyS0 role=node-123456\n"; !strings.Contains(string(body), want) {
		t.Errorf("script:\n%s\nwant line %q", body, want)
	}
	// An unknown machine is denied with --deny-unknown.
	if _, err := pxetest.Run(t, lnet.NS, exec.Command(curl, "-sS", "--fail", "http://192.0.2.1:8080/boot.ipxe?mac=52:54:00:00:00:99")); err == nil {
		t.Error("unknown machine got a script despite --deny-unknown")
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d after cancel", code)
	}
	var served, denied bool
	for _, e := range events(t, out.String()) {
		served = served || (e.Kind == pxe.EventScriptServed && e.MAC.String() == "52:54:00:12:34:56")
		denied = denied || (e.Kind == pxe.EventDenied && e.MAC.String() == "52:54:00:00:00:99")
	}
	if !served || !denied {
		t.Errorf("events on stdout lack script-served/denied:\n%s", out.String())
	}
}

// The demo, as `make demo` runs it: a VM boots over the network and phones
// home, and the namespace is gone afterwards.
func TestDemo(t *testing.T) {
	pxetest.RequireFirmware(t, pxetest.BIOS)
	pxetest.RequireFile(t, pxetest.Busybox, "busybox-static")
	pxetest.RequireFile(t, pxetest.IPXEBIOS, "ipxe")
	pxetest.RequireFile(t, pxetest.IPXEEFI, "ipxe")
	pxetest.GuestKernel(t)
	before := netnsList(t)
	var out, errb pxetest.Buffer
	code := run(context.Background(), []string{"demo", "--quiet", "--mac", "52:54:00:de:00:42"}, &out, &errb)
	if code != 0 {
		t.Fatalf("demo exited %d:\n%s", code, errb.String())
	}
	var kinds []pxe.EventKind
	var advertised bool
	for _, e := range events(t, out.String()) {
		if e.MAC.String() == "52:54:00:de:00:42" {
			kinds = append(kinds, e.Kind)
		}
		// The VM is the only host on the demo's network.
		advertised = advertised || e.Kind == pxe.EventRouterAdvert
	}
	if len(kinds) == 0 || kinds[len(kinds)-1] != pxe.EventPhonedHome {
		t.Errorf("events %v: want the boot to end in phoned-home", kinds)
	}
	if !advertised {
		t.Errorf("no router-advert event: the demo answers iPXE's router solicitation\n%s", out.String())
	}
	if !strings.Contains(errb.String(), "booted over the network") {
		t.Errorf("no summary line:\n%s", errb.String())
	}
	if after := netnsList(t); after != before {
		t.Errorf("network namespaces left behind: before %q, after %q", before, after)
	}
}

// --ipv6-ra turns the router-advertisement responder on; it is off
// without it, since it is only safe on a network without an IPv6 router.
func TestServeIPv6RAFlag(t *testing.T) {
	for _, on := range []bool{false, true} {
		o := serveOptions{iface: "lo", pool: "192.0.2.1-192.0.2.9", kernel: "/etc/hostname", routerAdvert: on}
		cfg, err := o.config(io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.RouterAdvertisement != on {
			t.Errorf("--ipv6-ra=%v: RouterAdvertisement %v", on, cfg.RouterAdvertisement)
		}
	}
	var errb bytes.Buffer
	if code := run(context.Background(), []string{"serve", "-h"}, io.Discard, &errb); code != 2 || !strings.Contains(errb.String(), "-ipv6-ra") {
		t.Errorf("serve -h: exit %d, no -ipv6-ra in:\n%s", code, errb.String())
	}
}

func netnsList(t *testing.T) string {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], "pxelab-") {
			names = append(names, f[0])
		}
	}
	return strings.Join(names, ",")
}

// The Secure Boot and HTTPS flags reach the boot server's configuration:
// every profile becomes a Secure Boot one, the lab CA directory and the
// HTTPS settings are set, and the flags refuse what cannot go together.
func TestServeSecureFlags(t *testing.T) {
	dir := t.TempDir()
	o := serveOptions{iface: "lo", pool: "192.0.2.1-192.0.2.9", kernel: "/etc/hostname", profiles: listFlag{"rescue=single"},
		secure: secureOptions{secureBoot: true, tlsLabCA: dir, httpsPort: 8443, httpsBoot: true, filesHTTPSOnly: true}}
	cfg, err := o.config(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range o.inventory.Profiles {
		if p.Kind != pxe.ProfileSecureBoot {
			t.Errorf("--secure-boot: profile %s is of kind %q", name, p.Kind)
		}
	}
	if cfg.TLSLabCA != dir || cfg.HTTPSPort != 8443 || !cfg.HTTPSBoot || !cfg.FilesHTTPSOnly || cfg.TLSCertFile != "" {
		t.Errorf("HTTPS settings: %+v", cfg)
	}
	for _, tt := range []struct {
		s    secureOptions
		want string
	}{
		{secureOptions{tlsCert: "c.pem"}, "--tls-cert and --tls-key go together"},
		{secureOptions{tlsCert: "c.pem", tlsKey: "k.pem", tlsLabCA: dir}, "not both"},
		{secureOptions{secureBootDir: t.TempDir()}, "--secure-boot-dir: Secure Boot loaders not found"},
	} {
		o := serveOptions{iface: "lo", pool: "192.0.2.1-192.0.2.9", kernel: "/etc/hostname", secure: tt.s}
		if _, err := o.config(io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.s, err, tt.want)
		}
	}
	var errb bytes.Buffer
	run(context.Background(), []string{"serve", "-h"}, io.Discard, &errb)
	for _, f := range []string{"-secure-boot", "-tls-cert", "-tls-key", "-tls-lab-ca", "-https-port", "-https-boot", "-files-https-only"} {
		if !strings.Contains(errb.String(), f) {
			t.Errorf("serve -h lacks %s", f)
		}
	}
}

// pxelab demo --firmware uefi-secureboot: the VM boots through shim, GRUB
// and Debian's signed kernel with Secure Boot enforced, and says so.
func TestDemoSecureBoot(t *testing.T) {
	pxetest.RequireSecureBoot(t)
	pxetest.RequireFile(t, pxetest.Busybox, "busybox-static")
	pxetest.RequireFile(t, pxetest.IPXEBIOS, "ipxe")
	pxetest.RequireFile(t, pxetest.IPXEEFI, "ipxe")
	pxetest.GuestKernel(t)
	var out, errb pxetest.Buffer
	code := run(context.Background(), []string{"demo", "--quiet", "--firmware", "uefi-secureboot", "--mac", "52:54:00:de:00:43"}, &out, &errb)
	if code != 0 {
		t.Fatalf("demo exited %d:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "the guest says Secure Boot is enabled (firmware variable SecureBoot=1") {
		t.Errorf("no Secure Boot summary:\n%s", errb.String())
	}
	var grubCfg bool
	for _, e := range events(t, out.String()) {
		grubCfg = grubCfg || e.Kind == pxe.EventScriptServed && strings.Contains(e.Detail, "grub.cfg")
	}
	if !grubCfg {
		t.Errorf("no grub.cfg served:\n%s", out.String())
	}
}

// serve --secure-boot --tls-lab-ca: curl, trusting the lab CA's PEM file,
// gets the machine's grub.cfg over HTTPS; the CA is there for firmware as
// cacerts.esl, and serve said where.
func TestServeSecureBootHTTPS(t *testing.T) {
	pxetest.RequireRoot(t)
	curl := pxetest.RequireCmd(t, "curl", "curl")
	pxetest.RequireFile(t, pxetest.IPXEBIOS, "ipxe")
	pxetest.RequireSecureBoot(t)
	lnet := pxetest.TempNetwork(t, pxetest.NetworkConfig{})
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(kernel, []byte("not really a kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb pxetest.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--netns", lnet.NS.Name(), "--interface", lnet.Bridge,
			"--pool", "192.0.2.100-192.0.2.150", "--kernel", kernel, "--cmdline", "console=ttyS0",
			"--http-port", "8080", "--secure-boot", "--tls-lab-ca", ca, "--https-port", "8443", "--files-https-only"}, &out, &errb)
	}()
	url := "https://192.0.2.1:8443/grub/52:54:00:12:34:56.cfg"
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		cmd := exec.Command(curl, "-sS", "--fail", "--cacert", filepath.Join(ca, "ca.pem"), url)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		_, err := pxetest.Run(t, lnet.NS, cmd)
		if err == nil {
			body = stdout.String()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("curl %s: %v\n%s", url, err, errb.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(body, "if linux '/assets/vmlinuz' 'console=ttyS0' ; then") {
		t.Errorf("grub.cfg over HTTPS:\n%s", body)
	}
	if _, err := os.Stat(filepath.Join(ca, "cacerts.esl")); err != nil {
		t.Errorf("no CA for firmware: %v", err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d after cancel:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "give clients "+filepath.Join(ca, "cacerts.esl")) {
		t.Errorf("serve did not say where the CA is:\n%s", errb.String())
	}
}
