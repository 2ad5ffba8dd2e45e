package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// NumVFsError is a refused change of sriov_numvfs.
type NumVFsError struct {
	PF string // PCI address
	// Want is the numVfs asked for.
	Want int
	// Total is sriov_totalvfs.
	Total int
	// Err is the kernel's answer (nil when the value read back differs).
	Err error
	// Got is what sriov_numvfs reads after the write.
	Got int
}

// Error says what was asked, what the kernel answered and what is bound or
// set now.
func (e *NumVFsError) Error() string {
	switch {
	case e.Want > e.Total:
		return fmt.Sprintf("sriov/host: %s: numvfs %d exceeds sriov_totalvfs %d", e.PF, e.Want, e.Total)
	case e.Err != nil:
		return fmt.Sprintf("sriov/host: %s: the driver refused sriov_numvfs=%d: %v", e.PF, e.Want, e.Err)
	default:
		return fmt.Sprintf("sriov/host: %s: wrote sriov_numvfs=%d, reads back %d", e.PF, e.Want, e.Got)
	}
}

// Unwrap returns the kernel's error.
func (e *NumVFsError) Unwrap() error { return e.Err }

// SetNumVFs sets the number of VFs of the PF at PCI address addr. The kernel
// only changes a non-zero count through 0, so a change from m>0 to n
// writes 0 first (which destroys the existing VFs). Setting the current
// value does nothing. The value is read back.
func (s Sysfs) SetNumVFs(addr string, n int) error {
	pf, err := s.PF(addr)
	if err != nil {
		return err
	}
	if n < 0 || n > pf.TotalVFs {
		return &NumVFsError{PF: addr, Want: n, Total: pf.TotalVFs, Got: pf.NumVFs}
	}
	if pf.NumVFs == n {
		return nil
	}
	p := filepath.Join(s.PCIDevicePath(addr), "sriov_numvfs")
	write := func(v int) error {
		if err := s.writeAttr(p, strconv.Itoa(v)); err != nil {
			got, _ := readInt(p)
			return &NumVFsError{PF: addr, Want: v, Total: pf.TotalVFs, Err: err, Got: got}
		}
		return nil
	}
	if pf.NumVFs != 0 {
		if err := write(0); err != nil {
			return err
		}
	}
	if n != 0 {
		if err := write(n); err != nil {
			return err
		}
	}
	got, err := readInt(p)
	if err != nil {
		return fmt.Errorf("sriov/host: %s: %w", addr, err)
	}
	if got != n {
		return &NumVFsError{PF: addr, Want: n, Total: pf.TotalVFs, Got: got}
	}
	return nil
}

// writeSysfs writes one value the way echo does, without creating or
// truncating (sysfs attributes exist or the write is wrong), and returns
// the kernel's error from write(2) or close(2) unwrapped of the path noise.
func writeSysfs(p, v string) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.Write([]byte(v))
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}
