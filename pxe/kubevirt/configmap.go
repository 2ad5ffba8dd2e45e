package kubevirt

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/tools/cache"

	"github.com/pxekit/pxekit/pxe"
)

// Event reason of a profiles ConfigMap whose change was refused.
const ReasonInvalidProfiles = "InvalidProfiles"

// configMapInformer watches the profiles ConfigMap, that one only: a
// metadata.name field selector, which is what lets RBAC grant it by name.
func (s *Source) configMapInformer() cache.SharedIndexInformer {
	name := s.cfg.ProfilesConfigMap
	lw := cache.NewFilteredListWatchFromClient(s.core.CoreV1().RESTClient(), "configmaps", s.cfg.Namespace, func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	})
	inf := cache.NewSharedIndexInformer(lw, &corev1.ConfigMap{}, 0, cache.Indexers{})
	_ = inf.SetTransform(stripManagedFields)
	_ = inf.SetWatchErrorHandler(s.watchError("configmaps/" + name))
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.setConfigMap(obj) },
		UpdateFunc: func(_, obj any) { s.setConfigMap(obj) },
		DeleteFunc: func(any) { s.setProfiles(nil) },
	})
	return inf
}

// setConfigMap takes the ConfigMap's profiles, or refuses them all when
// any has a problem: the profiles it had keep serving, and a Warning
// event on it lists the problems.
func (s *Source) setConfigMap(obj any) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return
	}
	profiles, errs := ParseProfiles(cm.Data)
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		s.log.Warn("kubevirt: profiles ConfigMap refused, the previous profiles keep serving", "configmap", cm.Namespace+"/"+cm.Name, "errors", msgs)
		ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: cm.Namespace, Name: cm.Name, UID: cm.UID}
		s.recorder.Event(ref, corev1.EventTypeWarning, ReasonInvalidProfiles, "refused, the previous profiles keep serving: "+strings.Join(msgs, "; "))
		return
	}
	s.setProfiles(profiles)
}

func (s *Source) setProfiles(p map[string]pxe.Profile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmProfiles = p
	s.rebuildLocked()
}
