package stack

import (
	"context"
	"strconv"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/stack/settings/settingstest"
)

func TestACMEPublishesTheBTPListenerOn443AsWellAsBTPPort(t *testing.T) {
	for _, tt := range []struct {
		mode string
		want []uint32
	}{{"off", []uint32{4000}}, {"acme", []uint32{4000, 443}}} {
		env := settingstest.Sample()
		env[settings.BTPTLS] = tt.mode
		env[settings.BTPDomain] = "node.example.com"
		v, err := settings.Parse(env)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Project(context.Background(), v, LoadOptions{WorkingDir: t.TempDir(), Environment: env})
		if err != nil {
			t.Fatal(err)
		}
		var got []uint32
		for _, port := range p.Services[settings.ServiceConnector].Ports {
			if port.Target == ContainerBTPPort {
				n, err := strconv.ParseUint(port.Published, 10, 32)
				if err != nil {
					t.Fatalf("published port %q: %v", port.Published, err)
				}
				got = append(got, uint32(n))
			}
		}
		if len(got) != len(tt.want) || got[0] != tt.want[0] || (len(got) > 1 && got[1] != tt.want[1]) {
			t.Errorf("BTP_TLS=%s: host ports of the BTP listener %v; want %v", tt.mode, got, tt.want)
		}
	}
}
