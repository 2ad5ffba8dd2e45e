// Package pxekit is an embeddable SDK for network-booting bare-metal machines
// and KubeVirt virtual machines. This package only documents; the work is in
// its subpackages. See README.md for the package map and the boot flow.
package pxekit
