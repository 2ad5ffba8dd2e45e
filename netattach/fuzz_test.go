package netattach

import (
	"strings"
	"testing"
)

// FuzzParseConfig: any spec.config string, parsed as Multus parses it and
// validated, gives errors or nothing, never a panic; what parses cleanly
// parses again to the same plugin types.
func FuzzParseConfig(f *testing.F) {
	f.Add(pxeNetConfNAD().config())
	f.Add(bridgeNetworkNAD().config())
	f.Add(`{ "cniVersion": "0.3.1", "name": "pxe-net-conf", "plugins": [ { "type": "cnv-bridge", "bridge": "br1", "ipam": {} }, { "type": "cnv-tuning" (1) } ] }`)
	f.Add(bridgeConf(`"vlanTrunk":[{"id":1},{"minID":"7","maxID":3},{}],"vlan":9`))
	f.Add(listConf(`"mac":"zz","sysctl":{"kernel.x":"1"},"mtu":-1`))
	f.Add(`{"cniVersion":"0.3.1","name":"n","plugins":[{"type":"sriov","vlan":5}]}`)
	f.Add(`null`)
	f.Add(`{"plugins":null,"name":1}`)
	f.Fuzz(func(t *testing.T, config string) {
		nad := nadWithConfig("net", config)
		errs, _ := ValidateNAD(nad)
		nc, err := ParseConfig(config)
		if err != nil {
			// An empty config is only a warning: Multus then reads a file.
			if len(errs) == 0 && strings.TrimSpace(config) != "" {
				t.Fatalf("ParseConfig failed (%v) but ValidateNAD found nothing", err)
			}
			return
		}
		again, err := ParseConfig(config)
		if err != nil || len(again.Plugins) != len(nc.Plugins) {
			t.Fatalf("second parse differs: %v", err)
		}
		for i, p := range nc.Plugins {
			if p.Type == "" {
				t.Fatalf("plugin %d without a type passed libcni", i)
			}
		}
	})
}
