package ipxe_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pxekit/pxekit/ipxe"
)

// The Harvester PXE install guide's CREATE script for a UEFI client: the initrd is
// named on the kernel command line.
func ExampleScript_Linux() {
	cmd, err := ipxe.ParseCmdline("ip=dhcp net.ifnames=1 rd.cos.disable rd.noverifyssl console=tty1")
	if err != nil {
		panic(err)
	}
	cmd.Set("root", "live:http://10.100.0.10/harvester/rootfs.squashfs").
		Set("harvester.install.automatic", "true").
		Set("harvester.install.config_url", "http://10.100.0.10/harvester/config-create.yaml")
	script, err := ipxe.NewScript().Linux(ipxe.Linux{
		Kernel:  "harvester-<version>-vmlinuz",
		Initrds: []string{"harvester-<version>-initrd"},
		Cmdline: cmd,
	}, ipxe.EFI).Build()
	if err != nil {
		panic(err)
	}
	fmt.Print(string(script))
	// Output:
	// #!ipxe
	// kernel harvester-<version>-vmlinuz initrd=harvester-<version>-initrd ip=dhcp net.ifnames=1 rd.cos.disable rd.noverifyssl console=tty1 root=live:http://10.100.0.10/harvester/rootfs.squashfs harvester.install.automatic=true harvester.install.config_url=http://10.100.0.10/harvester/config-create.yaml
	// initrd harvester-<version>-initrd
	// boot
}

// A value that would smuggle a second kernel argument or an iPXE command
// is refused, with where it is.
func ExampleCmdline_Set() {
	cmd := ipxe.NewCmdline().
		Set("ip", "dhcp").
		SetInt("rd.net.dhcp.retry", 3).
		Set("hostname", "node1 init=/bin/sh").
		Set("harvester.install.config_url", "http://10.100.0.10/c.yaml\nchain http://elsewhere/")
	fmt.Println(cmd.Err())
	// Output:
	// [cmdline[2]: Invalid value: "hostname=node1 init=/bin/sh": value: whitespace at byte 5 would split it into two arguments, cmdline[3]: Invalid value: "harvester.install.config_url=http://10.100.0.10/c.yaml\nchain http://elsewhere/": value: newline at byte 25 would start a new iPXE command]
}

// A menu choosing between the Harvester CREATE and JOIN scripts.
func ExampleScript_Choose() {
	s := ipxe.NewScript().
		DHCP(3).
		Menu("Harvester install").
		Item("create", "Create a new cluster").
		Item("join", "Join an existing cluster").
		Choose("mode", "create", 10*time.Second).
		Label("create").Chain("http://10.100.0.10/harvester/ipxe-create").
		Label("join").Chain("http://10.100.0.10/harvester/ipxe-join")
	out, err := s.Build()
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	// Output:
	// #!ipxe
	// dhcp || dhcp || dhcp
	// menu Harvester install
	// item create Create a new cluster
	// item join Join an existing cluster
	// choose --default create --timeout 10000 mode && goto ${mode}
	// :create
	// chain http://10.100.0.10/harvester/ipxe-create
	// :join
	// chain http://10.100.0.10/harvester/ipxe-join
}

// Linting the Harvester guide's BIOS script as if a UEFI client ran it
// finds what the guide warns about.
func ExampleLint() {
	script := `#!ipxe
kernel harvester-<version>-vmlinuz ip=dhcp console=tty1
initrd harvester-<version>-initrd
`
	for _, p := range ipxe.Lint(script, ipxe.ForEFI()) {
		fmt.Println(p)
	}
	// Output:
	// line 2: kernel lacks initrd=harvester-<version>-initrd: UEFI clients load only the initrds named on the command line
	// line 4: nothing boots: no boot, chain, imgexec, sanboot, autoboot or exit command
}

// Locate finds the builds a distribution installed, under whatever names
// it uses, and says which are missing; BinaryFS serves them under the
// canonical names.
func ExampleLocate() {
	dir, _ := os.MkdirTemp("", "ipxe")
	defer os.RemoveAll(dir)
	// Fedora's names (stand-in files: iPXE builds are never committed).
	_ = os.WriteFile(filepath.Join(dir, "undionly.kpxe"), []byte("kpxe"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "ipxe-x86_64.efi"), []byte("MZ"), 0o644)

	found, err := ipxe.Locate(dir)
	fmt.Println(filepath.Base(found[ipxe.IPXEEFI]), filepath.Base(found[ipxe.UndionlyKPXE]))
	fmt.Println(err != nil, strings.Contains(err.Error(), "snponly.efi"))
	b, _ := fs.ReadFile(ipxe.BinaryFS(found), "ipxe.efi")
	fmt.Printf("%s\n", b)
	// Output:
	// ipxe-x86_64.efi undionly.kpxe
	// true true
	// MZ
}
