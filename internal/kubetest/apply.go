package kubetest

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

//go:embed testdata/crds/*.yaml
var crdFiles embed.FS

// CRDFiles lists the CRD files of testdata/crds, by name.
func CRDFiles() []string {
	entries, _ := crdFiles.ReadDir("testdata/crds")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installCRDs creates the named CRD files (nil: all) and waits until each
// is established and served.
func (c *Cluster) installCRDs(names []string) {
	c.tb.Helper()
	if names == nil {
		names = CRDFiles()
	}
	if len(names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a bound for a hung server
	defer cancel()
	dyn := c.Dynamic()
	var created []string
	for _, name := range names {
		data, err := crdFiles.ReadFile(path.Join("testdata/crds", name))
		if err != nil {
			c.tb.Fatalf("kubetest: CRD %s: %v", name, err)
		}
		docs, err := SplitYAML(data)
		if err != nil {
			c.tb.Fatalf("kubetest: CRD %s: %v", name, err)
		}
		for _, d := range docs {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(d, &obj.Object); err != nil {
				c.tb.Fatalf("kubetest: CRD %s: %v", name, err)
			}
			unstructured.RemoveNestedField(obj.Object, "status")
			if _, err := dyn.Resource(crdGVR).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
				c.tb.Fatalf("kubetest: create CRD %s: %v", name, err)
			}
			created = append(created, obj.GetName())
		}
	}
	for _, name := range created {
		for {
			crd, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err == nil && established(crd) {
				break
			}
			select {
			case <-ctx.Done():
				c.tb.Fatalf("kubetest: CRD %s not established: %v", name, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// Dynamic returns the administrator's dynamic client.
func (c *Cluster) Dynamic() dynamic.Interface {
	d, err := dynamic.NewForConfig(c.Admin())
	if err != nil {
		c.tb.Fatal(err)
	}
	return d
}

// SplitYAML splits a multi-document YAML stream into its documents,
// leaving out the ones that hold nothing but comments.
func SplitYAML(stream []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var out [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		var v any
		if err := yaml.Unmarshal(doc, &v); err != nil {
			return out, fmt.Errorf("document %d: %w", len(out)+1, err)
		}
		if v != nil {
			out = append(out, doc)
		}
	}
}

// Result is the API server's verdict on one document of a stream.
type Result struct {
	// Doc is the document's 1-based position among the stream's objects.
	Doc                   int
	Kind, Namespace, Name string
	// Err is the server's refusal, nil when it accepted the object.
	Err error
}

// String is "Kind namespace/name" (or "Kind name" for a cluster-scoped
// object).
func (r Result) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Mode is how DryRun sends an object.
type Mode int

const (
	// ServerSideApply is `kubectl apply --server-side --dry-run=server`:
	// an apply patch. Its schema check names the first unknown field of
	// each object it finds one in.
	ServerSideApply Mode = iota
	// Create is `kubectl create --dry-run=server` (and what a client-side
	// apply sends for a new object): a POST, whose strict decoding names
	// every unknown field.
	Create
)

func (m Mode) String() string {
	if m == Create {
		return "create"
	}
	return "server-side apply"
}

// DryRun sends every object of stream as mode says, with server-side dry
// run and strict field validation (kubectl's default): the server decodes,
// defaults, validates against the CRD schema (CEL rules included) and
// admits each object without storing it. Namespaced objects without a
// namespace go to "default"; the namespaces the stream names are created
// first, for real, since a dry run would not create them, and a Namespace
// the stream holds is applied for real (server-side apply, which an
// existing one also takes), as `kubectl apply` of the stream would before
// the objects in it.
func (c *Cluster) DryRun(ctx context.Context, stream []byte, mode Mode) ([]Result, error) {
	objs, err := c.parse(stream)
	if err != nil {
		return nil, err
	}
	var namespaces []string
	results := make([]Result, len(objs))
	for i, o := range objs {
		results[i] = Result{Doc: i + 1, Kind: o.obj.GetKind(), Name: o.obj.GetName(), Namespace: o.obj.GetNamespace(), Err: o.err}
		if ns := o.obj.GetNamespace(); ns != "" && !slices.Contains(namespaces, ns) {
			namespaces = append(namespaces, ns)
		}
	}
	for i, o := range objs {
		if o.err == nil && isNamespace(o.obj) {
			results[i].Err = apply(ctx, o, nil)
		}
	}
	cs := c.Clientset()
	for _, ns := range namespaces {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
	}
	for i, o := range objs {
		if o.err != nil || isNamespace(o.obj) {
			continue
		}
		if mode == Create {
			_, results[i].Err = o.client.Create(ctx, o.obj, metav1.CreateOptions{
				DryRun:          []string{metav1.DryRunAll},
				FieldManager:    "pxekit-kubetest",
				FieldValidation: metav1.FieldValidationStrict,
			})
			continue
		}
		results[i].Err = apply(ctx, o, []string{metav1.DryRunAll})
	}
	return results, nil
}

func isNamespace(obj *unstructured.Unstructured) bool {
	return obj.GetAPIVersion() == "v1" && obj.GetKind() == "Namespace"
}

// apply server-side applies o, with dryRun if given.
func apply(ctx context.Context, o object, dryRun []string) error {
	raw, err := json.Marshal(o.obj.Object)
	if err != nil {
		return err
	}
	_, err = o.client.Patch(ctx, o.obj.GetName(), types.ApplyPatchType, raw, metav1.PatchOptions{
		DryRun:          dryRun,
		FieldManager:    "pxekit-kubetest",
		Force:           ptr.To(true),
		FieldValidation: metav1.FieldValidationStrict,
	})
	return err
}

// Create creates the objects of stream for real (namespaced ones without
// a namespace in "default") and returns what the server made of them.
func (c *Cluster) Create(ctx context.Context, stream []byte) ([]*unstructured.Unstructured, error) {
	objs, err := c.parse(stream)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for i, o := range objs {
		if o.err != nil {
			return out, fmt.Errorf("document %d: %w", i+1, o.err)
		}
		got, err := o.client.Create(ctx, o.obj, metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict})
		if err != nil {
			return out, fmt.Errorf("document %d (%s %s): %w", i+1, o.obj.GetKind(), o.obj.GetName(), err)
		}
		out = append(out, got)
	}
	return out, nil
}

// object is one document of a stream, with the client of its resource
// (in its namespace), or why it has none (a kind the server lacks).
type object struct {
	obj    *unstructured.Unstructured
	client dynamic.ResourceInterface
	err    error
}

// parse reads the objects of stream and maps each to its resource;
// namespaced objects without a namespace are put in "default".
func (c *Cluster) parse(stream []byte) ([]object, error) {
	docs, err := SplitYAML(stream)
	if err != nil {
		return nil, err
	}
	mapper, err := c.mapper()
	if err != nil {
		return nil, err
	}
	dyn := c.Dynamic()
	objs := make([]object, len(docs))
	for i, d := range docs {
		o := &objs[i]
		o.obj = &unstructured.Unstructured{}
		if err := yaml.Unmarshal(d, &o.obj.Object); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		gvk := o.obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			o.err = err
			continue
		}
		o.client = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if o.obj.GetNamespace() == "" {
				o.obj.SetNamespace(metav1.NamespaceDefault)
			}
			o.client = dyn.Resource(m.Resource).Namespace(o.obj.GetNamespace())
		}
	}
	return objs, nil
}

// mapper maps kinds to resources from the server's discovery, which lists
// the installed CRDs.
func (c *Cluster) mapper() (meta.RESTMapper, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(c.Admin())
	if err != nil {
		return nil, err
	}
	groups, err := restmapper.GetAPIGroupResources(memory.NewMemCacheClient(dc))
	if err != nil {
		return nil, err
	}
	return restmapper.NewDiscoveryRESTMapper(groups), nil
}

// RequireAccepted dry-runs stream both ways (DryRun with ServerSideApply
// and with Create) and fails the test for every object the server
// refuses either way, and when the stream holds no object.
func (c *Cluster) RequireAccepted(ctx context.Context, what string, stream []byte) {
	c.tb.Helper()
	for _, mode := range []Mode{ServerSideApply, Create} {
		results, err := c.DryRun(ctx, stream, mode)
		if err != nil {
			c.tb.Fatalf("%s: %v", what, err)
		}
		if len(results) == 0 {
			c.tb.Fatalf("%s: no object in the stream:\n%s", what, stream)
		}
		var kinds []string
		for _, r := range results {
			if r.Err != nil {
				c.tb.Errorf("%s: document %d, %s: refused by the API server (%s): %v", what, r.Doc, r, mode, r.Err)
			}
			kinds = append(kinds, r.String())
		}
		if mode == Create {
			c.tb.Logf("%s: %d objects, dry run (%s and %s): %s", what, len(results), ServerSideApply, Create, strings.Join(kinds, ", "))
		}
	}
}
