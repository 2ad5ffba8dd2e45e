package grub_test

import (
	"fmt"

	"github.com/pxekit/pxekit/grub"
)

// A machine's grub.cfg for the Secure Boot chain: GRUB boots the kernel
// only if shim trusts its signature, and otherwise says so and reads a
// report path from the boot server it came from.
func ExampleConfig_Linux() {
	cfg, err := grub.NewConfig().
		Set("timeout", "0").
		Linux(grub.Linux{
			Kernel:  "/assets/vmlinuz",
			Initrds: []string{"/assets/initrd.gz"},
			Args:    []string{"console=ttyS0", "root=live:http://192.0.2.1/assets/rootfs.squashfs"},
			Report:  "/pxekit/report/52:54:00:12:34:56/",
		}).
		Sleep(5).Exit().
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(cfg))
	// Output:
	// set timeout='0'
	// if linux '/assets/vmlinuz' 'console=ttyS0' 'root=live:http://192.0.2.1/assets/rootfs.squashfs' ; then
	// 	if initrd '/assets/initrd.gz' ; then
	// 		boot
	// 		echo 'boot of /assets/vmlinuz failed'
	// 		source '/pxekit/report/52:54:00:12:34:56/boot-failed'
	// 	else
	// 		echo 'cannot load the initrd /assets/initrd.gz'
	// 		source '/pxekit/report/52:54:00:12:34:56/initrd-failed'
	// 	fi
	// else
	// 	echo 'GRUB refused the kernel /assets/vmlinuz: no signature shim trusts under Secure Boot, or it cannot be read'
	// 	source '/pxekit/report/52:54:00:12:34:56/kernel-refused'
	// fi
	// sleep 5
	// exit
}

// Values that would change the script are refused, each with its line.
func ExampleConfig_Build() {
	_, err := grub.NewConfig().
		Echo("hello\nhalt").
		Linux(grub.Linux{Kernel: "/vmlinuz", Args: []string{`quiet`, `init="/bin/sh"`}}).
		Build()
	fmt.Println(err)
	// Output:
	// [lines[0].echo: Invalid value: "hello\nhalt": newline at byte 5: must be one line, lines[0].linux.args[1]: Invalid value: "init=\"/bin/sh\"": '"' at byte 5 would reach the kernel escaped by GRUB]
}

// Quote makes any value one literal word.
func ExampleQuote() {
	fmt.Println(grub.Quote("it's $prefix; halt"))
	// Output: 'it'\''s $prefix; halt'
}

// Lint reads a grub.cfg the way Debian 12's signed network GRUB would.
func ExampleLint() {
	cfg := `set timeout=0
insmod http
linux (http,192.0.2.1)/vmlinuz console=ttyS0 initrd=initrd.gz
if true; then
	initrd (http,192.0.2.1)/initrd.gz
`
	for _, p := range grub.Lint(cfg, grub.ForSecureBoot()) {
		fmt.Println(p)
	}
	// Output:
	// line 2: insmod http: not built into the signed GRUB, and under Secure Boot it loads no modules
	// line 3: (http,192.0.2.1)/vmlinuz: Debian 12's signed GRUB has no http module and cannot read over HTTP
	// line 3: initrd=initrd.gz: GRUB loads the initrd itself; the EFI stub would look for that file on the boot device
	// line 4: if opened here is never closed with "fi"
	// line 5: (http,192.0.2.1)/initrd.gz: Debian 12's signed GRUB has no http module and cannot read over HTTP
}
