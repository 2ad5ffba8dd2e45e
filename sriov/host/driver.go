package host

import (
	"fmt"
	"os"
	"path/filepath"
)

// VfioPCI is the driver that hands a VF to a VM or to DPDK.
const VfioPCI = "vfio-pci"

// DriverError is a failed driver bind.
type DriverError struct {
	// PCIAddress is the device.
	PCIAddress string
	Want       string // "" means the device's default driver
	Got        string // the driver bound after the attempt, "" for none
	// Err is the kernel's answer, if any.
	Err error
}

// Error says what was asked, what the kernel answered and what is bound or
// set now.
func (e *DriverError) Error() string {
	want := e.Want
	if want == "" {
		want = "its default driver"
	}
	msg := fmt.Sprintf("sriov/host: %s: binding to %s failed", e.PCIAddress, want)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Got == "" {
		msg += " (now bound to no driver)"
	} else {
		msg += " (now bound to " + e.Got + ")"
	}
	if e.Want == VfioPCI {
		msg += "; vfio-pci needs the vfio-pci module and an IOMMU group for the device (intel_iommu=on)"
	}
	return msg
}

// Unwrap returns the kernel's error.
func (e *DriverError) Unwrap() error { return e.Err }

// Driver returns the driver the PCI device is bound to, "" for none.
func (s Sysfs) Driver(addr string) string {
	return linkBase(filepath.Join(s.PCIDevicePath(addr), "driver"))
}

// BindDriver binds the PCI device at addr to driver the way driverctl
// does: driver_override, unbind from the current driver, drivers_probe.
// The override stays, so the device comes back to driver if it is
// re-probed. The result is read back.
func (s Sysfs) BindDriver(addr, driver string) error {
	if driver == "" {
		return s.BindDefaultDriver(addr)
	}
	return s.rebind(addr, driver, driver)
}

// BindDefaultDriver clears driver_override and re-probes the device, so it
// goes back to the driver the kernel picks (igbvf for an igb VF).
func (s Sysfs) BindDefaultDriver(addr string) error {
	// A lone newline clears driver_override.
	return s.rebind(addr, "\n", "")
}

func (s Sysfs) rebind(addr, override, want string) error {
	dir := s.PCIDevicePath(addr)
	if _, err := os.Stat(dir); err != nil {
		return &DriverError{PCIAddress: addr, Want: want, Err: err}
	}
	cur := s.Driver(addr)
	if want != "" && cur == want {
		if err := s.writeAttr(filepath.Join(dir, "driver_override"), override); err != nil {
			return &DriverError{PCIAddress: addr, Want: want, Got: cur, Err: fmt.Errorf("driver_override: %w", err)}
		}
		return nil
	}
	if err := s.writeAttr(filepath.Join(dir, "driver_override"), override); err != nil {
		return &DriverError{PCIAddress: addr, Want: want, Got: cur, Err: fmt.Errorf("driver_override: %w", err)}
	}
	if cur != "" {
		if err := s.writeAttr(filepath.Join(dir, "driver", "unbind"), addr); err != nil {
			return &DriverError{PCIAddress: addr, Want: want, Got: s.Driver(addr), Err: fmt.Errorf("unbind from %s: %w", cur, err)}
		}
	}
	perr := s.writeAttr(filepath.Join(s.root(), "bus", "pci", "drivers_probe"), addr)
	got := s.Driver(addr)
	if perr != nil || (want != "" && got != want) || (want == "" && got == "") {
		if perr != nil {
			perr = fmt.Errorf("drivers_probe: %w", perr)
		}
		return &DriverError{PCIAddress: addr, Want: want, Got: got, Err: perr}
	}
	return nil
}
