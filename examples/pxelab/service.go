package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxe/metrics"
)

// watchInterval is how often serve -c looks at the config file for a
// change (besides SIGHUP).
const watchInterval = time.Second

// fileService is serve -c FILE: the boot server run from a config file, as
// a service — reloaded on SIGHUP or when the file changes, ready and
// reloading announced to systemd, sockets taken from socket activation.
type fileService struct {
	path   string
	o      *serveOptions
	set    map[string]bool // flags given on the command line: they override the file
	stderr io.Writer
	notify *notifier

	log     *slog.Logger
	srv     *pxe.Server
	release func()
	// first is the file the server started with: what it says of the iPXE
	// builds, the Secure Boot loaders and TLS needs a restart to change.
	first *pxe.ConfigFile
	// stamp is what the file looked like when last read.
	stamp fileStamp

	// ctx bounds joining etcd; cluster is this server's place there when
	// the file's store is etcd, joined once and kept across reloads
	// (store.etcd cannot change while serving).
	ctx     context.Context
	cluster *clusterConn
}

type fileStamp struct {
	mod  time.Time
	size int64
	data []byte
}

// fileFlags are the flags that can override the file; the rest describe
// an inventory or a profile, which the file holds.
func fileFlags() []string {
	return append([]string{"interface", "netns", "http-port", "ipxe-dir", "state", "ipv6-ra", "pool", "deny-unknown", "v", "pool6"},
		// The etcd store (cluster.go): flags override store.etcd.
		append(etcdFileFlags(), "etcd-member", "etcd-member-ttl")...)
}

func serveFile(ctx context.Context, o *serveOptions, fl *flag.FlagSet, stdout, stderr io.Writer) int {
	s := &fileService{path: o.configFile, o: o, set: map[string]bool{}, stderr: stderr, notify: newNotifier(), ctx: ctx}
	defer func() {
		if s.cluster != nil {
			s.cluster.close()
		}
	}()
	var bad []string
	fl.Visit(func(f *flag.Flag) {
		s.set[f.Name] = true
		if f.Name != "c" && f.Name != "config" && !slices.Contains(fileFlags(), f.Name) {
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		fmt.Fprintf(stderr, "pxelab serve: %s: with -c the config file holds the profiles and machines (flags that may override it: --%s)\n",
			strings.Join(bad, ", "), strings.Join(fileFlags(), ", --"))
		return 2
	}
	socks, err := activatedSockets()
	if err != nil {
		socks.closeAll()
		fmt.Fprintf(stderr, "pxelab serve: %v\n", err)
		return 1
	}
	f, cfg, release, err := s.load()
	if err != nil {
		socks.closeAll()
		fmt.Fprintf(stderr, "pxelab serve: %v\n", err)
		return 2
	}
	s.log, s.release, s.first = cfg.Logger, release, f
	m := metrics.New()
	if f.Metrics == nil || *f.Metrics {
		cfg.Metrics = m
	}
	cfg.DHCPConn, cfg.TFTPConn, cfg.HTTPListener = socks.dhcp, socks.tftp, socks.http
	if s.srv, err = pxe.New(cfg); err != nil {
		socks.closeAll()
		release()
		fmt.Fprintf(stderr, "pxelab serve: %v\n", err)
		return 1
	}
	defer func() { s.release() }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	counted := m.Start(ctx, s.srv)
	wg.Go(func() { <-counted })
	wg.Go(func() { s.reloads(ctx) })
	wg.Go(func() {
		select {
		case <-s.srv.Ready():
			s.notifyLog("READY=1", "STATUS=serving "+s.srv.BaseURL())
		case <-ctx.Done():
		}
		<-ctx.Done()
		s.notifyLog("STOPPING=1", "STATUS=stopping: letting transfers finish")
	})
	stopEvents := printEvents(ctx, s.srv, stdout, nil)
	err = s.srv.Serve(ctx)
	cancel()
	stopEvents()
	wg.Wait()
	if err != nil {
		fmt.Fprintf(stderr, "pxelab serve: %v\n", err)
		return 1
	}
	return 0
}

func (s *fileService) notifyLog(lines ...string) {
	if err := s.notify.notify(lines...); err != nil {
		s.log.Warn("sd_notify", "err", err)
	}
}

// load reads the file, applies the flags that override it, and builds the
// server config.
func (s *fileService) load() (*pxe.ConfigFile, pxe.Config, func(), error) {
	st, err := readStamp(s.path)
	if err != nil {
		return nil, pxe.Config{}, nil, err
	}
	s.stamp = st
	f, err := pxe.LoadConfig(s.path)
	if err != nil {
		return nil, pxe.Config{}, nil, err
	}
	if err := s.override(f); err != nil {
		return nil, pxe.Config{}, nil, err
	}
	cfg, release, err := f.Config()
	if err != nil {
		return nil, pxe.Config{}, nil, err
	}
	cfg.Logger = s.logger(f)
	if f.Store.Etcd != nil {
		if err := s.shareEtcd(f, &cfg); err != nil {
			release()
			return nil, pxe.Config{}, nil, err
		}
	}
	return f, cfg, release, nil
}

// shareEtcd puts the leases in the etcd cluster store.etcd names, as
// --etcd does: every ACK claimed there, clients split between the live
// servers, the URL key shared (unless the file names its own, which every
// server reading the file shares too). The inventory is the file's
// machines and profiles; a file that lists none serves the inventory in
// etcd (pxelab inventory apply), seen by every server without restart.
// The cluster is joined on the first load and kept across reloads.
func (s *fileService) shareEtcd(f *pxe.ConfigFile, cfg *pxe.Config) error {
	if s.cluster == nil {
		ecfg, err := etcdConfig(f.Store.Etcd, f.Path, cfg.NetNS, cfg.Logger.With("store", "etcd"))
		if err != nil {
			return fmt.Errorf("%s: store.etcd: %w", s.path, err)
		}
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		defer cancel()
		if s.cluster, err = join(ctx, ecfg, s.o.etcd.member, s.o.etcd.memberTTL, cfg.NetNS, cfg.Interface); err != nil {
			return fmt.Errorf("%s: store.etcd: %w", s.path, err)
		}
	}
	cc := s.cluster
	cfg.LeaseStore, cfg.Sharing, cfg.LeaseFile = cc.m.LeaseStore(), cc.m, ""
	if cfg.URLKey == nil {
		cfg.URLKey = cc.key
	}
	if len(f.Profiles) == 0 && len(f.Machines) == 0 {
		cfg.Inventory = cc.inv
	}
	return nil
}

// override applies the flags given on the command line to the file.
func (s *fileService) override(f *pxe.ConfigFile) error {
	o := s.o
	if s.set["interface"] {
		f.Interface = o.iface
	}
	if s.set["netns"] {
		f.NetNS = o.netns
	}
	if s.set["http-port"] {
		f.HTTP.Port = o.httpPort
	}
	if s.set["ipxe-dir"] {
		d, err := filepath.Abs(o.ipxeDir)
		if err != nil {
			return err
		}
		f.Directories.IPXE = d
	}
	if s.set["state"] {
		d, err := filepath.Abs(o.state)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		f.Store = pxe.StoreSpec{BBolt: &pxe.BBoltStoreSpec{Path: filepath.Join(d, "leases.db")}}
	}
	if s.set["ipv6-ra"] {
		f.RouterAdvertisement = o.routerAdvert
	}
	if s.set["pool"] {
		rng, err := parsePool(o.pool)
		if err != nil {
			return err
		}
		if len(f.Subnets) == 0 {
			f.Subnets = append(f.Subnets, pxe.SubnetSpec{})
		}
		f.Subnets[0].Pools = []pxe.PoolSpec{{Start: rng.Start, End: rng.End}}
	}
	if s.set["pool6"] {
		if err := o.override6(f); err != nil {
			return err
		}
	}
	if s.set["ipv6-router-lifetime"] {
		f.RouterLifetime = pxe.Duration{Duration: o.routerLifetime}
	}
	if s.set["deny-unknown"] && o.denyUnknown {
		f.DefaultProfile = ""
	}
	if err := o.etcd.override(&f.Store, s.set); err != nil {
		return err
	}
	if s.set["v"] && o.verbose {
		f.Log.Level = "debug"
	}
	if errs := f.Validate(); len(errs) > 0 {
		return fmt.Errorf("%s with the flags given: %w", s.path, errs.ToAggregate())
	}
	return nil
}

// logger is the file's log section on stderr.
func (s *fileService) logger(f *pxe.ConfigFile) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(f.Log.Level)) // validated; "" is info
	opts := &slog.HandlerOptions{Level: level}
	if f.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(s.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(s.stderr, opts))
}

// reloads reloads the file on SIGHUP and whenever it changes, until ctx
// is done.
func (s *fileService) reloads(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.reload("SIGHUP")
		case <-tick.C:
			if s.changed() {
				s.reload("the file changed")
			}
		}
	}
}

// changed reports whether the file differs from what was last read.
func (s *fileService) changed() bool {
	st, err := os.Stat(s.path)
	if err != nil {
		return false // being replaced; look again next tick
	}
	if st.ModTime().Equal(s.stamp.mod) && st.Size() == s.stamp.size {
		return false
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return false
	}
	if bytes.Equal(data, s.stamp.data) {
		s.stamp.mod, s.stamp.size = st.ModTime(), st.Size()
		return false // touched, not changed
	}
	return true
}

// reload applies the file if it is valid; otherwise it logs every error
// and the server keeps its config.
func (s *fileService) reload(why string) {
	start := time.Now()
	s.notify.reloading()
	defer s.notifyLog("READY=1")
	f, cfg, release, err := s.load()
	if err == nil {
		if err = s.restartOnly(f); err != nil {
			release()
		}
	}
	if err != nil {
		s.log.Error("config reload refused; the old config keeps serving", "why", why, "err", err)
		s.notifyLog("STATUS=reload refused: " + firstLine(err.Error()))
		return
	}
	cfg.Metrics = nil // not compared; the server keeps the handler it has
	if err := s.srv.Reload(cfg); err != nil {
		release()
		s.log.Error("config reload refused; the old config keeps serving", "why", why, "err", err)
		s.notifyLog("STATUS=reload refused: " + firstLine(err.Error()))
		return
	}
	// Requests that started under the old config may still read from its
	// directories: close them once those had time to finish.
	old := s.release
	s.release = release
	time.AfterFunc(time.Minute, old)
	s.log.Info("config reloaded", "why", why, "took", since(start))
	s.notifyLog("STATUS=serving " + s.srv.BaseURL() + " (reloaded " + time.Now().Format(time.TimeOnly) + ")")
}

// restartOnly refuses a file that changes what the server cannot change
// while it serves and pxe.Server.Reload does not compare: the iPXE builds,
// the Secure Boot loaders and TLS.
func (s *fileService) restartOnly(f *pxe.ConfigFile) error {
	var errs field.ErrorList
	if f.Path(f.Directories.IPXE) != s.first.Path(s.first.Directories.IPXE) {
		errs = append(errs, field.Forbidden(field.NewPath("directories", "ipxe"), "cannot change while serving: restart to apply"))
	}
	if f.Path(f.Directories.SecureBoot) != s.first.Path(s.first.Directories.SecureBoot) {
		errs = append(errs, field.Forbidden(field.NewPath("directories", "secureBoot"), "cannot change while serving: restart to apply"))
	}
	if !reflect.DeepEqual(f.Store.Etcd, s.first.Store.Etcd) {
		errs = append(errs, field.Forbidden(field.NewPath("store", "etcd"), "cannot change while serving: restart to apply"))
	}
	if !reflect.DeepEqual(f.TLS, s.first.TLS) {
		errs = append(errs, field.Forbidden(field.NewPath("tls"), "cannot change while serving: restart to apply"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", s.path, errs.ToAggregate())
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// readStamp takes what the file looks like now, so a later change shows.
func readStamp(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: st.ModTime(), size: st.Size(), data: data}, nil
}
