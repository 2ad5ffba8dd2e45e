package kubevirt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxe/kubevirt/rbac"
	"github.com/pxekit/pxekit/vmspec"
)

// Component is the source of the Events the source records and the field
// manager of its patches.
const Component = "pxekit"

// The resources the source reads and patches.
const (
	resourceVMs  = "virtualmachines"
	resourceVMIs = "virtualmachineinstances"
)

// Config says which cluster, which namespace and which profiles.
type Config struct {
	// REST reaches the API server: from a kubeconfig
	// (clientcmd.BuildConfigFromFlags) or rest.InClusterConfig.
	REST *rest.Config
	// Namespace is the server's namespace: the one whose machines it
	// serves (unless AllNamespaces) and the one that holds
	// ProfilesConfigMap.
	Namespace string
	// AllNamespaces serves the machines of every namespace.
	AllNamespaces bool
	// Profiles are the server's own profiles, by name.
	Profiles map[string]pxe.Profile
	// ProfilesConfigMap, when set, names a ConfigMap in Namespace whose
	// data adds profiles (ParseProfiles); a profile of the ConfigMap
	// replaces one of Profiles with its name. It is watched: a change
	// shows on the next request, and a change with errors is refused
	// (logged, and a Warning event on the ConfigMap) while the profiles
	// it had keep serving.
	ProfilesConfigMap string
	// Logger receives logs (default slog.Default()).
	Logger *slog.Logger
}

// Validate reports every problem in c, paths relative to it.
func (c Config) Validate() field.ErrorList {
	var errs field.ErrorList
	if c.REST == nil {
		errs = append(errs, field.Required(field.NewPath("rest"), "how to reach the API server"))
	}
	// The names the server's RBAC objects carry, checked as those are.
	errs = append(errs, rbac.Options{Namespace: c.Namespace, ProfilesConfigMap: c.ProfilesConfigMap}.Validate()...)
	if _, ok := c.Profiles[pxe.LocalBootProfile]; ok {
		errs = append(errs, field.Forbidden(field.NewPath("profiles").Key(pxe.LocalBootProfile), "the name of the profile installed machines get"))
	}
	errs = append(errs, validateProfiles(c.Profiles, field.NewPath("profiles"))...)
	return errs
}

// Source is a pxe.Inventory whose machines are KubeVirt VirtualMachines
// and VirtualMachineInstances, watched. It is also a pxe.PhoneHomeHandler:
// a machine whose install phones home is annotated installed. Create it
// with New, run it with Serve, hand it to pxe.Config.Inventory and its
// boot events to RecordEvents.
type Source struct {
	cfg       Config
	log       *slog.Logger
	kv        rest.Interface
	core      kubernetes.Interface
	events    record.EventBroadcaster
	recorder  record.EventRecorder
	localBoot pxe.Profile

	informers []cache.SharedIndexInformer

	mu         sync.Mutex // serializes changes to objects, cmProfiles and cur
	objects    map[string]object
	cmProfiles map[string]pxe.Profile
	cur        atomic.Pointer[snapshot]

	synced  chan struct{}
	started atomic.Bool
}

// New checks cfg and builds the clients and watches; Serve starts them.
func New(cfg Config) (*Source, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("kubevirt: invalid config: %w", errs.ToAggregate())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	kv, err := kubevirtClient(cfg.REST)
	if err != nil {
		return nil, fmt.Errorf("kubevirt: %w", err)
	}
	core, err := kubernetes.NewForConfig(cfg.REST)
	if err != nil {
		return nil, fmt.Errorf("kubevirt: %w", err)
	}
	s := &Source{
		cfg: cfg, log: cfg.Logger, kv: kv, core: core,
		events:    record.NewBroadcaster(),
		localBoot: pxe.LocalBoot(),
		objects:   map[string]object{},
		synced:    make(chan struct{}),
	}
	s.recorder = s.events.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: Component})
	s.rebuild()
	ns := cfg.Namespace
	if cfg.AllNamespaces {
		ns = metav1.NamespaceAll
	}
	s.informers = append(s.informers,
		s.informer(cache.NewListWatchFromClient(kv, resourceVMs, ns, fields.Everything()), &kubevirtv1.VirtualMachine{}, resourceVMs+".kubevirt.io", func(obj any) (object, bool) {
			vm, ok := obj.(*kubevirtv1.VirtualMachine)
			if !ok {
				return object{}, false
			}
			return objectOfVM(vm), true
		}),
		s.informer(cache.NewListWatchFromClient(kv, resourceVMIs, ns, fields.Everything()), &kubevirtv1.VirtualMachineInstance{}, resourceVMIs+".kubevirt.io", func(obj any) (object, bool) {
			vmi, ok := obj.(*kubevirtv1.VirtualMachineInstance)
			if !ok {
				return object{}, false
			}
			return objectOfVMI(vmi)
		}))
	if cfg.ProfilesConfigMap != "" {
		s.informers = append(s.informers, s.configMapInformer())
	}
	return s, nil
}

// kubevirtClient is a REST client for kubevirt.io/v1 (no generated
// clientset: kubevirt.io/api's types and the scheme are all it needs).
func kubevirtClient(cfg *rest.Config) (rest.Interface, error) {
	scheme := runtime.NewScheme()
	if err := kubevirtv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &kubevirtv1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.ContentType = runtime.ContentTypeJSON
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = Component
	}
	return rest.RESTClientFor(c)
}

// informer watches one kind; read turns an object into what the inventory
// keeps (false: not one of ours).
func (s *Source) informer(lw cache.ListerWatcher, example runtime.Object, what string, read func(any) (object, bool)) cache.SharedIndexInformer {
	inf := cache.NewSharedIndexInformer(lw, example, 0, cache.Indexers{})
	// The source keeps what it needs in its own index; the informer's
	// copies need no managed fields.
	_ = inf.SetTransform(stripManagedFields)
	_ = inf.SetWatchErrorHandler(s.watchError(what))
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.put(read(obj)) },
		UpdateFunc: func(_, obj any) { s.put(read(obj)) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if o, ok := read(obj); ok {
				s.remove(o.key())
			}
		},
	})
	return inf
}

func stripManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// watchError logs a failed list or watch; the informer retries with
// backoff by itself. A watch the server closed (a restart, a timeout) is
// routine.
func (s *Source) watchError(what string) cache.WatchErrorHandler {
	return func(_ *cache.Reflector, err error) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "very short watch") {
			s.log.Debug("kubevirt: watch closed, resuming", "resource", what, "err", err)
			return
		}
		s.log.Warn("kubevirt: list/watch failed, retrying", "resource", what, "err", err)
	}
}

// put records o (a machine or not: an object that lost its PXE NIC must
// drop out); ok false ignores the call.
func (s *Source) put(o object, ok bool) {
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.objects[o.key()]
	if o.problem != "" && (!had || old.problem != o.problem) {
		s.log.Warn("kubevirt: PXE NIC without a usable MAC, not a machine", "object", o.String(), "problem", o.problem)
	}
	if !o.isMachine() {
		if had {
			delete(s.objects, o.key())
			s.rebuildLocked()
		}
		return
	}
	if had && old == o {
		return // a status change, or nothing the inventory reads
	}
	s.objects[o.key()] = o
	s.rebuildLocked()
}

func (s *Source) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, had := s.objects[key]; had {
		delete(s.objects, key)
		s.rebuildLocked()
	}
}

// Serve starts the watches and runs them until ctx ends; Ready is closed
// once every watch has listed what is there. It returns nil when ctx ends,
// and can run once.
func (s *Source) Serve(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("kubevirt: Serve called twice")
	}
	stop := s.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.core.CoreV1().Events("")})
	defer s.events.Shutdown()
	defer stop.Stop()
	var wg sync.WaitGroup
	synced := make([]cache.InformerSynced, 0, len(s.informers))
	for _, inf := range s.informers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inf.RunWithContext(ctx)
		}()
		synced = append(synced, inf.HasSynced)
	}
	if cache.WaitForCacheSync(ctx.Done(), synced...) {
		s.log.Info("kubevirt: watching machines", "namespace", s.namespaceLabel(), "machines", len(s.load().byMAC))
		close(s.synced)
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

func (s *Source) namespaceLabel() string {
	if s.cfg.AllNamespaces {
		return "(all)"
	}
	return s.cfg.Namespace
}

// Ready is closed once the watches have listed the cluster's machines:
// before, every MAC is unknown.
func (s *Source) Ready() <-chan struct{} { return s.synced }

// snapshot is one revision of the inventory, never modified once
// published.
type snapshot struct {
	rev      uint64
	byMAC    map[string]*entry
	profiles map[string]pxe.Profile
}

// entry is what Lookup answers for one MAC: the objects that claim it
// (more than one is a conflict) and the machine, or why it gets nothing.
type entry struct {
	objs    []object
	machine pxe.Machine
	profile pxe.Profile
	err     error
}

func (s *Source) load() *snapshot { return s.cur.Load() }

func (s *Source) rebuild() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rebuildLocked()
}

// rebuildLocked publishes the next snapshot of what s holds. s.mu is
// held.
func (s *Source) rebuildLocked() {
	profiles := maps.Clone(s.cfg.Profiles)
	if profiles == nil {
		profiles = map[string]pxe.Profile{}
	}
	maps.Copy(profiles, s.cmProfiles)
	next := &snapshot{byMAC: map[string]*entry{}, profiles: profiles}
	if cur := s.load(); cur != nil {
		next.rev = cur.rev + 1
	}
	for mac, objs := range claims(s.objects) {
		next.byMAC[mac] = s.entryFor(objs, profiles)
	}
	s.cur.Store(next)
}

// entryFor decides what the machine claimed by objs boots.
func (s *Source) entryFor(objs []object, profiles map[string]pxe.Profile) *entry {
	o := objs[0]
	e := &entry{objs: objs}
	e.machine = pxe.Machine{MAC: o.hardwareAddr(), Hostname: o.name, Profile: o.profile,
		Vars: map[string]string{"namespace": o.namespace, "name": o.name, "kind": o.kind}}
	switch {
	case len(objs) > 1:
		var names []string
		for _, x := range objs {
			names = append(names, x.String())
		}
		e.err = fmt.Errorf("MAC %s is claimed by %s: none of them boots until one remains", e.machine.MAC, strings.Join(names, ", "))
	case o.installed != "":
		e.machine.Profile = pxe.LocalBootProfile
		e.profile = s.localBoot
	case o.profile == "":
		e.err = fmt.Errorf("%s has no %s annotation: nothing to boot", o, vmspec.AnnotationPXEProfile)
	default:
		p, ok := profiles[o.profile]
		if !ok {
			e.err = fmt.Errorf("%s names profile %q (%s), which the server does not have (it has %s)",
				o, o.profile, vmspec.AnnotationPXEProfile, strings.Join(slices.Sorted(maps.Keys(profiles)), ", "))
		}
		e.profile = p
	}
	return e
}

// Lookup implements pxe.Inventory: the machine whose VM or VMI names mac
// on its PXE NIC, with the profile its annotation names, or LocalBoot once
// it is installed. A MAC no object names is pxe.ErrUnknownMachine; a
// machine without a profile annotation, with a profile the server lacks,
// or on a MAC two objects claim gets an error saying so. The results share
// the snapshot's maps and slices: do not modify them.
func (s *Source) Lookup(mac net.HardwareAddr) (pxe.Machine, pxe.Profile, error) {
	e, ok := s.load().byMAC[string(mac)]
	if !ok {
		return pxe.Machine{}, pxe.Profile{}, fmt.Errorf("no VirtualMachine or VirtualMachineInstance has a PXE NIC with MAC %s: %w", mac, pxe.ErrUnknownMachine)
	}
	if e.err != nil {
		return pxe.Machine{}, pxe.Profile{}, e.err
	}
	return e.machine, e.profile, nil
}

// Revision implements pxe.Inventory: it changes whenever a machine, its
// profile annotation, its installed annotation or a profile changes.
func (s *Source) Revision() uint64 { return s.load().rev }

// Machines implements pxe.InventoryLister: the machines that boot (an
// install profile or the local boot), ordered by MAC.
func (s *Source) Machines() []pxe.Machine {
	snap := s.load()
	var out []pxe.Machine
	for _, mac := range slices.Sorted(maps.Keys(snap.byMAC)) {
		if e := snap.byMAC[mac]; e.err == nil {
			m := e.machine
			m.MAC = slices.Clone(m.MAC)
			m.Vars = maps.Clone(m.Vars)
			out = append(out, m)
		}
	}
	return out
}
