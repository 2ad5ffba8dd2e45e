package ipxe

import (
	"io"
	"io/fs"
	"testing"

	"github.com/pxekit/pxekit/pxetest"
)

func requireFile(t *testing.T, p string) { pxetest.RequireFile(t, p, "ipxe") }

func readAll(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
