package vmtest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/pxetest"
)

// requireQEMUDevice needs a QEMU that emulates device (igb needs QEMU ≥ 8.0,
// from bookworm-backports).
func requireQEMUDevice(t *testing.T, device string) {
	t.Helper()
	qemu := pxetest.RequireCmd(t, "qemu-system-x86_64", "qemu-system-x86")
	out, err := exec.Command(qemu, "-device", "help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `name "`+device+`"`) {
		pxetest.Missing(t, "QEMU device "+device, "install qemu-system-x86 ≥ 8.0 from bookworm-backports (make testdeps)")
	}
}
