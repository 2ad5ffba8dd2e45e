package vmspec

import kubevirtv1 "kubevirt.io/api/core/v1"

// Action is a virtctl command that starts, stops or restarts a
// VirtualMachine.
type Action string

// The virtctl commands of the run strategy table of OpenShift
// Virtualization's documentation.
const (
	ActionStart   Action = "start"
	ActionStop    Action = "stop"
	ActionRestart Action = "restart"
)

// runStrategyTable is that table: the runStrategy a VM has after each
// command. A missing entry is the table's "-": the command does not apply
// (virtctl refuses it: the VM is already running, or not running).
var runStrategyTable = map[kubevirtv1.VirtualMachineRunStrategy]map[Action]kubevirtv1.VirtualMachineRunStrategy{
	kubevirtv1.RunStrategyAlways: {
		ActionStop:    kubevirtv1.RunStrategyHalted,
		ActionRestart: kubevirtv1.RunStrategyAlways,
	},
	kubevirtv1.RunStrategyRerunOnFailure: {
		ActionStop:    kubevirtv1.RunStrategyHalted,
		ActionRestart: kubevirtv1.RunStrategyRerunOnFailure,
	},
	kubevirtv1.RunStrategyManual: {
		ActionStart:   kubevirtv1.RunStrategyManual,
		ActionStop:    kubevirtv1.RunStrategyManual,
		ActionRestart: kubevirtv1.RunStrategyManual,
	},
	kubevirtv1.RunStrategyHalted: {
		ActionStart: kubevirtv1.RunStrategyAlways,
	},
}

// RunStrategyAfter returns the runStrategy a VirtualMachine has after
// virtctl runs action on it, following that transition table. ok is
// false where the table has "-" (the command does not apply in that
// state) and for strategies the table does not cover; the strategy is then
// returned unchanged.
func RunStrategyAfter(current kubevirtv1.VirtualMachineRunStrategy, action Action) (next kubevirtv1.VirtualMachineRunStrategy, ok bool) {
	next, ok = runStrategyTable[current][action]
	if !ok {
		return current, false
	}
	return next, true
}
