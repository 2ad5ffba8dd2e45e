package kubevirt

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/vmspec"
)

// The reasons of the Events the source records on a machine's object, in
// the order of a boot: `kubectl describe vm` tells the boot story.
const (
	ReasonDiscovered   = "Discovered"   // its firmware asked DHCP for an address
	ReasonScriptServed = "ScriptServed" // it got the iPXE script of its profile
	ReasonKernelSent   = "KernelSent"   // it downloaded its profile's kernel
	ReasonInstalled    = "Installed"    // its install phoned home: annotated installed
	ReasonLocalBoot    = "LocalBoot"    // installed: it got the local-boot script
	ReasonPhonedHome   = "PhonedHome"   // it phoned home with another status than "installed"
	ReasonBootDenied   = "BootDenied"   // it was refused: no profile, a MAC conflict, a phone-home from elsewhere
)

// StatusInstalled is the phone-home status that marks an install done, as
// a report with no status does.
const StatusInstalled = "installed"

// RecordEvents turns the boot server's events (pxe.Server.Subscribe) into
// Kubernetes Events on the objects of the machines they are about, until
// the channel is closed: discovered, script served (or local boot: the
// local-boot script, or an offer without a boot file), kernel sent and
// denied. Events of MACs no object names are not recorded: there
// is nothing to record them on. Run it on a goroutine of its own.
func (s *Source) RecordEvents(events <-chan pxe.Event) {
	for e := range events {
		s.record(e)
	}
}

func (s *Source) record(e pxe.Event) {
	if len(e.MAC) != 6 {
		return
	}
	ent, ok := s.load().byMAC[string(e.MAC)]
	if !ok {
		return
	}
	typ, reason, msg := corev1.EventTypeNormal, "", ""
	switch e.Kind {
	case pxe.EventDiscovered:
		reason, msg = ReasonDiscovered, "DHCP discover from "+e.MAC.String()+" ("+e.Detail+")"
	case pxe.EventScriptServed:
		if ent.err == nil && ent.machine.Profile == pxe.LocalBootProfile {
			reason, msg = ReasonLocalBoot, fmt.Sprintf("installed at %s: sent the local-boot script, the machine boots its next boot device (%s)", ent.objs[0].installed, e.Detail)
		} else {
			reason, msg = ReasonScriptServed, "iPXE script served: "+e.Detail
		}
	case pxe.EventOffered:
		// An installed machine's UEFI or PXE firmware is offered no boot
		// file (pxe.LocalBoot); offers with one say so in the detail.
		if ent.err != nil || ent.machine.Profile != pxe.LocalBootProfile || strings.Contains(e.Detail, " boot=") {
			return
		}
		reason, msg = ReasonLocalBoot, fmt.Sprintf("installed at %s: offered %s and no boot file, the firmware boots its next boot option", ent.objs[0].installed, e.Detail)
	case pxe.EventAssetSent:
		if ent.err != nil || ent.profile.Kernel == "" || !strings.HasPrefix(e.Detail, pxe.PathAssets+strings.TrimPrefix(ent.profile.Kernel, "/")+" ") {
			return
		}
		reason, msg = ReasonKernelSent, "kernel sent: "+e.Detail
	case pxe.EventDenied:
		typ, reason, msg = corev1.EventTypeWarning, ReasonBootDenied, e.Detail
	default:
		return
	}
	for _, o := range ent.objs {
		s.recorder.Event(o.ref(), typ, reason, msg)
	}
}

// PhoneHome implements pxe.PhoneHomeHandler. A report from the machine's
// own DHCP lease, with no status or StatusInstalled, while it boots an
// install profile, annotates its object installed (the current time, RFC
// 3339) and records an Installed event; from then on Lookup answers it
// with the local-boot profile. A report from an installed machine changes
// nothing; another status is only recorded as an event. A report from an
// address whose lease names another machine (or none) is refused: anyone
// on the network could otherwise switch a machine to its disk.
func (s *Source) PhoneHome(ctx context.Context, r pxe.PhoneHomeReport) error {
	ent, ok := s.load().byMAC[string(r.MAC)]
	if !ok {
		return fmt.Errorf("no VirtualMachine or VirtualMachineInstance has a PXE NIC with MAC %s: %w", r.MAC, pxe.ErrUnknownMachine)
	}
	if ent.err != nil {
		return fmt.Errorf("%w: %v", pxe.ErrPhoneHomeRefused, ent.err)
	}
	o := ent.objs[0]
	if !macaddr.Equal(r.MAC, r.LeaseMAC) {
		return fmt.Errorf("%w: %s phoned home for %s from %s, whose DHCP lease names %v", pxe.ErrPhoneHomeRefused, o, r.MAC, r.Addr, r.LeaseMAC)
	}
	if o.installed != "" {
		return nil
	}
	if r.Status != "" && r.Status != StatusInstalled {
		s.recorder.Event(o.ref(), corev1.EventTypeNormal, ReasonPhonedHome, fmt.Sprintf("phoned home from %s with status %q", r.Addr, r.Status))
		return nil
	}
	at := r.Time.UTC().Truncate(time.Second).Format(time.RFC3339)
	if err := s.annotateInstalled(ctx, o, at); err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	s.recorder.Event(o.ref(), corev1.EventTypeNormal, ReasonInstalled,
		fmt.Sprintf("install of profile %s phoned home from %s; annotated %s=%s, later boots go to the next boot device", o.profile, r.Addr, vmspec.AnnotationPXEInstalled, at))
	return nil
}

// annotateInstalled sets the installed annotation on o with a merge patch
// that names o's UID (a VM deleted and created again under the same name
// is not patched) and touches nothing else, then applies it to the
// inventory at once, so the machine's next request gets the local boot
// even before the watch brings the change back.
func (s *Source) annotateInstalled(ctx context.Context, o object, at string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"uid":         o.uid,
		"annotations": map[string]string{vmspec.AnnotationPXEInstalled: at},
	}})
	if err != nil {
		return err
	}
	resource := resourceVMs
	if o.kind == KindVMI {
		resource = resourceVMIs
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = s.kv.Patch(types.MergePatchType).Namespace(o.namespace).Resource(resource).Name(o.name).
		Param("fieldManager", Component).Body(patch).Do(ctx).Error()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.objects[o.key()]; ok && cur.uid == o.uid && cur.installed == "" {
		cur.installed = at
		s.objects[o.key()] = cur
		s.rebuildLocked()
	}
	return nil
}
