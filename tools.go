//go:build tools

// This file pins modules that packages still being written depend on, so that
// concurrent work does not race on go.mod. It is never compiled.
package pxekit

import (
	_ "github.com/cavaliergopher/cpio"
	_ "github.com/containernetworking/cni/libcni"
	_ "github.com/insomniacslk/dhcp/dhcpv4"
	_ "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	_ "github.com/pin/tftp/v3"
	_ "github.com/ulikunitz/xz"
	_ "github.com/vishvananda/netlink"
	_ "github.com/vishvananda/netns"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/net/ipv4"
	_ "golang.org/x/sys/unix"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/util/validation/field"
	_ "k8s.io/utils/cpuset"
	_ "kubevirt.io/api/core/v1"
	_ "sigs.k8s.io/yaml"
)
