package vmspec

import (
	"testing"

	kubevirtv1 "kubevirt.io/api/core/v1"
)

// The documented table, row by row: initial strategy, then the strategy after
// start, stop and restart ("-" where the command does not apply).
func TestRunStrategyAfterTable(t *testing.T) {
	table := [][4]string{
		{"Always", "-", "Halted", "Always"},
		{"RerunOnFailure", "-", "Halted", "RerunOnFailure"},
		{"Manual", "Manual", "Manual", "Manual"},
		{"Halted", "Always", "-", "-"},
	}
	actions := []Action{ActionStart, ActionStop, ActionRestart}
	for _, row := range table {
		initial := kubevirtv1.VirtualMachineRunStrategy(row[0])
		for i, a := range actions {
			got, ok := RunStrategyAfter(initial, a)
			want := row[i+1]
			switch {
			case want == "-" && (ok || got != initial):
				t.Errorf("%s + %s = %s, %v; want not applicable", initial, a, got, ok)
			case want != "-" && (!ok || string(got) != want):
				t.Errorf("%s + %s = %s, %v; want %s", initial, a, got, ok, want)
			}
		}
	}
	if got, ok := RunStrategyAfter(kubevirtv1.RunStrategyOnce, ActionStart); ok || got != kubevirtv1.RunStrategyOnce {
		t.Errorf("Once is not in the table: got %s, %v", got, ok)
	}
}
