package ipxe

import (
	"strings"
	"testing"
)

// A script that exits hands the machine back to its firmware: it builds,
// and Lint takes exit as what ends it, as boot would.
func TestExit(t *testing.T) {
	out, err := NewScript().Echo("local boot").Exit(1).Build()
	if err != nil {
		t.Fatal(err)
	}
	if want := "#!ipxe\necho local boot\nexit 1\n"; string(out) != want {
		t.Errorf("script %q, want %q", out, want)
	}
	if probs := Lint(string(out)); len(probs) != 0 {
		t.Errorf("Lint of a script that exits: %v", probs)
	}
	if probs := Lint("#!ipxe\necho nothing\n"); len(probs) != 1 || !strings.Contains(probs[0].Msg, "or exit command") {
		t.Errorf("Lint of a script that neither boots nor exits: %v", probs)
	}
	for _, code := range []int{-1, 256} {
		if _, err := NewScript().Exit(code).Build(); err == nil || !strings.Contains(err.Error(), "exit: Invalid value") {
			t.Errorf("Exit(%d): err = %v, want an invalid exit code", code, err)
		}
	}
}
