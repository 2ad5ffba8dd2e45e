package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"

	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxe/kubevirt"
)

// kubeOptions are serve's flags for taking the machines from a cluster.
type kubeOptions struct {
	kubeconfig, namespace, profilesConfigMap string
	allNamespaces                            bool
}

func (k *kubeOptions) flags(fl *flag.FlagSet) {
	fl.StringVar(&k.kubeconfig, "kubeconfig", "", "take the machines from the KubeVirt VirtualMachines and VMIs of this kubeconfig's cluster: a PXE NIC with a MAC and a bootOrder, the profile its pxekit.io/profile annotation names; once installed, it boots its disk")
	fl.StringVar(&k.namespace, "namespace", "", "with --kubeconfig: the namespace of the machines and of --profiles-configmap (default: the kubeconfig context's, else default)")
	fl.BoolVar(&k.allNamespaces, "all-namespaces", false, "with --kubeconfig: serve the machines of every namespace")
	fl.BoolVar(&k.allNamespaces, "A", false, "short for --all-namespaces")
	fl.StringVar(&k.profilesConfigMap, "profiles-configmap", "", "with --kubeconfig: a ConfigMap in --namespace whose data adds profiles (NAME: YAML with kernel, initrd, args, script, files), watched")
}

// syncTimeout bounds the wait for the first listing of the cluster's
// machines; a server that cannot list them (no RBAC, no KubeVirt) says so
// and exits rather than serve an empty inventory.
const syncTimeout = time.Minute

// server builds the boot server on cfg with the cluster as its inventory
// and profiles as the server's own profiles, and starts the watches; stop
// ends them. The boot events become Kubernetes Events on the machines.
func (k *kubeOptions) server(ctx context.Context, cfg pxe.Config, profiles map[string]pxe.Profile) (srv *pxe.Server, stop func(), err error) {
	// client-go logs through klog; send it where the server logs.
	klog.SetSlogLogger(cfg.Logger)
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: k.kubeconfig},
		&clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: k.namespace}})
	rest, err := loader.ClientConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	ns, _, err := loader.Namespace()
	if err != nil {
		return nil, nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	rest.UserAgent = "pxelab"
	src, err := kubevirt.New(kubevirt.Config{
		REST: rest, Namespace: ns, AllNamespaces: k.allNamespaces,
		Profiles: profiles, ProfilesConfigMap: k.profilesConfigMap,
		Logger: cfg.Logger.With("source", "kubevirt"),
	})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = src.Serve(ctx) // returns when ctx ends
	}()
	stop = func() { cancel(); <-done }
	select {
	case <-src.Ready():
	case <-time.After(syncTimeout):
		stop()
		return nil, nil, fmt.Errorf("could not list the machines of namespace %q within %s (the log says why: RBAC? KubeVirt's CRDs?)", ns, syncTimeout)
	case <-ctx.Done():
		stop()
		return nil, nil, ctx.Err()
	}
	cfg.Inventory = src
	if srv, err = pxe.New(cfg); err != nil {
		stop()
		return nil, nil, err
	}
	events := srv.Subscribe(ctx)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		src.RecordEvents(events)
	}()
	cfg.Logger.Info("machines from the cluster", "kubeconfig", k.kubeconfig, "namespace", ns, "all-namespaces", k.allNamespaces, "machines", len(src.Machines()))
	return srv, func() { stop(); <-recorded }, nil
}

// check refuses flags that contradict --kubeconfig.
func (k *kubeOptions) check(o *serveOptions) error {
	if k.kubeconfig == "" {
		if k.namespace != "" || k.allNamespaces || k.profilesConfigMap != "" {
			return errors.New("--namespace, --all-namespaces and --profiles-configmap need --kubeconfig")
		}
		return nil
	}
	if len(o.machines) > 0 {
		return errors.New("--machine and --kubeconfig: the machines come from the cluster")
	}
	if o.etcd.endpoints != "" {
		return errors.New("--etcd and --kubeconfig: an inventory in etcd and the cluster's machines do not mix yet")
	}
	return nil
}
