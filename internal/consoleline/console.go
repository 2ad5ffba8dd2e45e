// Package consoleline cleans the serial-console lines QEMU guests print, so the
// lab harness and the guest-kernel runner match markers the same way.
package consoleline

import "strings"

// Clean drops carriage returns and terminal escape sequences
// (firmware clears the screen and moves the cursor) from a console line.
func Clean(s string) string {
	if !strings.ContainsAny(s, "\r\x1b") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r':
		case c == 0x1b && i+1 < len(s) && s[i+1] == '[':
			i += 2
			for i < len(s) && (s[i] < 0x40 || s[i] > 0x7e) {
				i++
			}
		case c == 0x1b:
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
