package etcdstore

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxe"
)

// machineRecord and profileRecord are the inventory's records in etcd, in
// the field names of pxekit's config file.
type machineRecord struct {
	MAC      string            `json:"mac"`
	Hostname string            `json:"hostname,omitempty"`
	Profile  string            `json:"profile"`
	Vars     map[string]string `json:"vars,omitempty"`
}

type profileRecord struct {
	Kernel string   `json:"kernel,omitempty"`
	Initrd string   `json:"initrd,omitempty"`
	Args   []string `json:"args,omitempty"`
	Script string   `json:"script,omitempty"`
}

// Inventory is a pxe.Inventory kept in etcd and watched: a change written
// to etcd (Cluster.PutInventory, etcdctl) is what Lookup answers a few
// milliseconds later, on every server. Lookup answers from memory, so
// while etcd is unreachable the last inventory seen keeps being served.
// A state that does not validate (a machine naming a profile not written
// yet) is not taken: the last valid one stays, and the problem is logged.
type Inventory struct {
	c   *Cluster
	log *slog.Logger
	st  pxe.StaticInventory

	mu  sync.Mutex
	raw map[string][]byte // key below /inventory/ → value
	// etcdRev is the etcd revision the served content was read at.
	etcdRev atomic.Int64
	rejects atomic.Uint64
	cancel  context.CancelFunc
	done    chan struct{}
}

var _ pxe.InventoryLister = (*Inventory)(nil)

func (c *Cluster) invPrefix() string { return c.prefix + "/inventory/" }

// Inventory reads the inventory and watches it until Close.
func (c *Cluster) Inventory(ctx context.Context) (*Inventory, error) {
	inv := &Inventory{c: c, log: c.log, raw: map[string][]byte{}, done: make(chan struct{})}
	rctx, cancel := c.reqCtx(ctx)
	resp, err := c.cli.Get(rctx, c.invPrefix(), clientv3.WithPrefix())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("etcdstore: read inventory: %w", err)
	}
	for _, kv := range resp.Kvs {
		inv.raw[strings.TrimPrefix(string(kv.Key), c.invPrefix())] = kv.Value
	}
	if err := inv.rebuild(resp.Header.Revision); err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	inv.cancel = stop
	go inv.watch(wctx, resp.Header.Revision+1)
	return inv, nil
}

// Close stops watching; Lookup keeps answering with the last content.
func (inv *Inventory) Close() error {
	inv.cancel()
	<-inv.done
	return nil
}

func (inv *Inventory) watch(ctx context.Context, from int64) {
	defer close(inv.done)
	p := inv.c.invPrefix()
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for resp := range inv.c.cli.Watch(wctx, p, clientv3.WithPrefix(), clientv3.WithRev(from)) {
			if resp.CompactRevision != 0 || resp.Err() != nil {
				break
			}
			inv.mu.Lock()
			for _, ev := range resp.Events {
				k := strings.TrimPrefix(string(ev.Kv.Key), p)
				if ev.Type == clientv3.EventTypeDelete {
					delete(inv.raw, k)
				} else {
					inv.raw[k] = ev.Kv.Value
				}
				from = ev.Kv.ModRevision + 1
			}
			inv.mu.Unlock()
			if err := inv.rebuild(from - 1); err != nil {
				inv.rejects.Add(1)
				inv.log.Error("etcdstore: inventory change refused; serving the last valid inventory", "err", err, "revision", from-1)
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		// Read it all again: after an outage or a compaction.
		for ctx.Err() == nil {
			rctx, cancel := inv.c.reqCtx(ctx)
			resp, err := inv.c.cli.Get(rctx, p, clientv3.WithPrefix())
			cancel()
			if err == nil {
				inv.mu.Lock()
				inv.raw = map[string][]byte{}
				for _, kv := range resp.Kvs {
					inv.raw[strings.TrimPrefix(string(kv.Key), p)] = kv.Value
				}
				inv.mu.Unlock()
				if err := inv.rebuild(resp.Header.Revision); err != nil {
					inv.log.Error("etcdstore: inventory refused; serving the last valid inventory", "err", err)
				}
				from = resp.Header.Revision + 1
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// rebuild decodes the raw records into a spec and serves it if valid.
func (inv *Inventory) rebuild(rev int64) error {
	inv.mu.Lock()
	spec, err := decodeInventory(inv.raw)
	inv.mu.Unlock()
	if err != nil {
		return err
	}
	if err := inv.st.Replace(spec); err != nil {
		return err
	}
	inv.etcdRev.Store(rev)
	return nil
}

// decodeInventory turns the records below /inventory/ into a spec; every
// record that does not decode is reported.
func decodeInventory(raw map[string][]byte) (pxe.InventorySpec, error) {
	spec := pxe.InventorySpec{Profiles: map[string]pxe.Profile{}}
	var errs []string
	files := map[string]map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		v := raw[k]
		kind, name, _ := strings.Cut(k, "/")
		switch kind {
		case "machines":
			m, err := decodeMachine(name, v)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			spec.Machines = append(spec.Machines, m)
		case "profiles":
			var r profileRecord
			if err := strictJSON(v, &r); err != nil {
				errs = append(errs, fmt.Sprintf("profile %s: %v", name, err))
				continue
			}
			p := spec.Profiles[name]
			p.Kernel, p.Initrd, p.Args, p.Script = r.Kernel, r.Initrd, r.Args, r.Script
			spec.Profiles[name] = p
		case "files":
			prof, file, ok := strings.Cut(name, "/")
			if !ok || file == "" {
				errs = append(errs, fmt.Sprintf("file %s: want files/<profile>/<name>", name))
				continue
			}
			if files[prof] == nil {
				files[prof] = map[string]string{}
			}
			files[prof][file] = string(v)
		case "default":
			spec.Default = string(v)
		default:
			errs = append(errs, fmt.Sprintf("key %s: not a machine, profile, file or default", k))
		}
	}
	for prof, fs := range files {
		p, ok := spec.Profiles[prof]
		if !ok {
			errs = append(errs, fmt.Sprintf("files of profile %s: no such profile", prof))
			continue
		}
		p.Files = fs
		spec.Profiles[prof] = p
	}
	if len(errs) > 0 {
		return spec, fmt.Errorf("etcdstore: inventory: %s", strings.Join(errs, "; "))
	}
	return spec, nil
}

func decodeMachine(name string, v []byte) (pxe.Machine, error) {
	var r machineRecord
	if err := strictJSON(v, &r); err != nil {
		return pxe.Machine{}, fmt.Errorf("machine %s: %v", name, err)
	}
	mac, err := macaddr.Parse(r.MAC)
	if err != nil {
		return pxe.Machine{}, fmt.Errorf("machine %s: mac: %v", name, err)
	}
	if mac.String() != name {
		return pxe.Machine{}, fmt.Errorf("machine %s: mac field says %s", name, mac)
	}
	return pxe.Machine{MAC: mac, Hostname: r.Hostname, Profile: r.Profile, Vars: r.Vars}, nil
}

func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("data after the record")
	}
	return nil
}

// Lookup implements pxe.Inventory from memory.
func (inv *Inventory) Lookup(mac net.HardwareAddr) (pxe.Machine, pxe.Profile, error) {
	return inv.st.Lookup(mac)
}

// Revision implements pxe.Inventory.
func (inv *Inventory) Revision() uint64 { return inv.st.Revision() }

// Machines implements pxe.InventoryLister.
func (inv *Inventory) Machines() []pxe.Machine { return inv.st.Machines() }

// Spec is the inventory served now.
func (inv *Inventory) Spec() pxe.InventorySpec { return inv.st.Spec() }

// EtcdRevision is the etcd revision the served inventory was read at.
func (inv *Inventory) EtcdRevision() int64 { return inv.etcdRev.Load() }

// Rejected counts changes not taken because the result did not validate.
func (inv *Inventory) Rejected() uint64 { return inv.rejects.Load() }

// encodeInventory is spec as the records below /inventory/.
func encodeInventory(spec pxe.InventorySpec) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, m := range spec.Machines {
		b, err := json.Marshal(machineRecord{MAC: m.MAC.String(), Hostname: m.Hostname, Profile: m.Profile, Vars: m.Vars})
		if err != nil {
			return nil, err
		}
		out["machines/"+m.MAC.String()] = b
	}
	for name, p := range spec.Profiles {
		if strings.Contains(name, "/") {
			return nil, fmt.Errorf("etcdstore: profile name %q: no / allowed", name)
		}
		b, err := json.Marshal(profileRecord{Kernel: p.Kernel, Initrd: p.Initrd, Args: p.Args, Script: p.Script})
		if err != nil {
			return nil, err
		}
		out["profiles/"+name] = b
		for f, body := range p.Files {
			out["files/"+name+"/"+f] = []byte(body)
		}
	}
	if spec.Default != "" {
		out["default"] = []byte(spec.Default)
	}
	return out, nil
}

// GetInventory reads the inventory etcd holds now. When it does not
// validate, the error says why and the spec is what could be read.
func (c *Cluster) GetInventory(ctx context.Context) (pxe.InventorySpec, error) {
	rctx, cancel := c.reqCtx(ctx)
	defer cancel()
	resp, err := c.cli.Get(rctx, c.invPrefix(), clientv3.WithPrefix())
	if err != nil {
		return pxe.InventorySpec{}, fmt.Errorf("etcdstore: read inventory: %w", err)
	}
	raw := map[string][]byte{}
	for _, kv := range resp.Kvs {
		raw[strings.TrimPrefix(string(kv.Key), c.invPrefix())] = kv.Value
	}
	spec, err := decodeInventory(raw)
	if err != nil {
		return spec, err
	}
	if errs := spec.Validate(); len(errs) > 0 {
		return spec, fmt.Errorf("etcdstore: inventory in etcd: %w", errs.ToAggregate())
	}
	return spec, nil
}

// PutInventory replaces the inventory with spec, once spec validates:
// records that change are written, records spec no longer has deleted.
// When everything fits in one transaction (MaxTxnOps) every server sees
// the change at once; a larger change is written in steps that each
// leave a valid inventory (profiles and files, then machines and the
// default, then what goes away).
func (c *Cluster) PutInventory(ctx context.Context, spec pxe.InventorySpec) error {
	if errs := spec.Validate(); len(errs) > 0 {
		return fmt.Errorf("etcdstore: inventory: %w", errs.ToAggregate())
	}
	want, err := encodeInventory(spec)
	if err != nil {
		return err
	}
	rctx, cancel := c.reqCtx(ctx)
	defer cancel()
	resp, err := c.cli.Get(rctx, c.invPrefix(), clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("etcdstore: read inventory: %w", err)
	}
	have := map[string]string{}
	for _, kv := range resp.Kvs {
		have[strings.TrimPrefix(string(kv.Key), c.invPrefix())] = string(kv.Value)
	}
	var first, second, last []clientv3.Op
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if v, ok := have[k]; ok && v == string(want[k]) {
			continue
		}
		op := clientv3.OpPut(c.invPrefix()+k, string(want[k]))
		if strings.HasPrefix(k, "machines/") || k == "default" {
			second = append(second, op)
		} else {
			first = append(first, op)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[k]; !ok {
			op := clientv3.OpDelete(c.invPrefix() + k)
			if strings.HasPrefix(k, "machines/") || k == "default" {
				second = append(second, op)
			} else {
				last = append(last, op)
			}
		}
	}
	all := append(append(append([]clientv3.Op{}, first...), second...), last...)
	steps := [][]clientv3.Op{all}
	if len(all) > c.cfg.MaxTxnOps {
		steps = nil
		for _, part := range [][]clientv3.Op{first, second, last} {
			for len(part) > 0 {
				n := min(len(part), c.cfg.MaxTxnOps)
				steps = append(steps, part[:n])
				part = part[n:]
			}
		}
	}
	for _, ops := range steps {
		if len(ops) == 0 {
			continue
		}
		if _, err := c.cli.Txn(rctx).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("etcdstore: write inventory: %w", err)
		}
	}
	return nil
}
