package kubevirt_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/pxetest"
)

// Only this package, and the programs and test helpers that use it, link
// client-go: embedding pxe, dhcp, vmspec or any other package of the
// module does not pull it in.
func TestClientGoStaysHere(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goCmd, "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...")
	cmd.Dir = pxetest.ModuleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/pxekit/pxekit/"
	allowed := map[string]bool{
		mod + "pxe/kubevirt":      true, // the source
		mod + "examples/pxelab":   true, // pxelab serve --kubeconfig
		mod + "internal/kubetest": true, // the tests' API server
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, " ")
		if allowed[pkg] {
			continue
		}
		checked++
		for _, d := range strings.Fields(deps) {
			if strings.HasPrefix(d, "k8s.io/client-go/") || d == mod+"pxe/kubevirt" {
				t.Errorf("%s imports %s", pkg, d)
				break
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked %d packages; go list printed:\n%s", checked, out)
	}
}
