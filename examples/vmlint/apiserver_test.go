package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/pxekit/pxekit/internal/kubetest"
)

var (
	// unknownFieldRE picks the path of each unknown-field finding vmlint
	// prints.
	unknownFieldRE = regexp.MustCompile(`(?m)^\S+: (\S+): Forbidden: unknown field `)
	// serverPathRE picks the paths of the API server's unknown-field
	// errors: strict decoding's `unknown field "a.b"`, server-side apply's
	// `.a.b: field not declared in schema`.
	serverPathRE = regexp.MustCompile(`unknown field "([^"]+)"|\.(\S+): field not declared in schema`)
)

// A VM with misplaced fields is refused by a real API server (KubeVirt's
// CRD, strict field validation, as kubectl applies) at the very paths
// vmlint names, and the corrected documents vmlint accepts, the server
// accepts too.
func TestAgreesWithAPIServer(t *testing.T) {
	c := kubetest.Start(t, kubetest.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	const file = "testdata/dpdk-vm.syntax-fixed.yaml"
	var out bytes.Buffer
	if code := run([]string{file}, nil, &out, &out); code != 1 {
		t.Fatalf("vmlint %s: exit %d, want 1:\n%s", file, code, out.String())
	}
	var paths []string
	for _, m := range unknownFieldRE.FindAllStringSubmatch(out.String(), -1) {
		paths = append(paths, m[1])
	}
	if len(paths) == 0 {
		t.Fatalf("vmlint names no unknown field:\n%s", out.String())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// A create names every unknown field; server-side apply the first it
	// meets in each object, which must be one of them.
	for _, mode := range []kubetest.Mode{kubetest.Create, kubetest.ServerSideApply} {
		res, err := c.DryRun(ctx, data, mode)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Err == nil {
			t.Fatalf("the API server accepted %s (%s): %v", file, mode, res)
		}
		msg := res[0].Err.Error()
		t.Logf("the API server (%s): %s", mode, msg)
		named := serverPathRE.FindAllStringSubmatch(msg, -1)
		if len(named) == 0 {
			t.Errorf("%s: the refusal names no path: %s", mode, msg)
		}
		for _, m := range named {
			if !slices.Contains(paths, m[1]+m[2]) {
				t.Errorf("%s: the API server names %s, which vmlint does not (%v)", mode, m[1]+m[2], paths)
			}
		}
		if mode == kubetest.Create && len(named) != len(paths) {
			t.Errorf("create: the API server names %d unknown fields, vmlint %d (%v)", len(named), len(paths), paths)
		}
	}
	t.Logf("vmlint:\n%s", out.String())

	for _, clean := range []string{"testdata/vmi-pxe-boot.yaml", "testdata/pxe-net-conf.clean.yaml", "testdata/br1-eth1-policy.clean.yaml",
		"testdata/bridge-nad.clean.yaml", "testdata/dpdk-mcp.yaml", "testdata/dpdk-performance-profile.yaml"} {
		data, err := os.ReadFile(clean)
		if err != nil {
			t.Fatal(err)
		}
		c.RequireAccepted(ctx, clean, data)
	}
}
