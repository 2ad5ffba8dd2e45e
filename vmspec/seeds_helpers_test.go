package vmspec

import "strings"

// wrapSnippet puts a seed fragment (a few lines cut out of a VMI, still
// indented as in the document) at the top level of a VMI, which is where a
// reader pasting it as-is would put it.
func wrapSnippet(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
	for i, l := range lines {
		if len(l) >= indent {
			lines[i] = l[indent:]
		}
	}
	return []byte("apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: snippet\n" + strings.Join(lines, "\n"))
}
