package templates_test

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/templates"
)

// mountTarget returns where service mounts the templates folder source (e.g. "./templates/prometheus").
func mountTarget(t *testing.T, p *types.Project, service, source string) string {
	t.Helper()
	s, ok := p.Services[service]
	if !ok {
		t.Fatalf("the default stack has no %s service", service)
	}
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == source {
			return v.Target
		}
	}
	t.Fatalf("service %s does not mount %s", service, source)
	return ""
}

func read(t *testing.T, name string) string {
	t.Helper()
	data, err := fs.ReadFile(templates.FS(), name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The templates name paths and addresses that stack/build.go decides; this keeps the two in step.
func TestTemplatesMatchWhereTheStackMountsThem(t *testing.T) {
	p := stack.Build(settings.Defaults())

	prom := mountTarget(t, p, settings.ServicePrometheus, "./templates/prometheus")
	cfg := read(t, "prometheus/prometheus.yml")
	if want := prom + "/rules/*.yml"; !strings.Contains(cfg, want) {
		t.Errorf("prometheus.yml does not load %s, where the stack mounts the rules", want)
	}
	if want := fmt.Sprintf("%q", fmt.Sprintf("%s:%d", settings.ServiceConnector, stack.ContainerHealthPort)); !strings.Contains(cfg, want) {
		t.Errorf("prometheus.yml does not scrape %s, the connector's metrics port on the stack network", want)
	}

	prov := mountTarget(t, p, settings.ServiceGrafana, "./templates/grafana/provisioning")
	if prov != "/etc/grafana/provisioning" {
		t.Errorf("Grafana's provisioning is mounted at %s; Grafana reads /etc/grafana/provisioning", prov)
	}
	dash := mountTarget(t, p, settings.ServiceGrafana, "./templates/grafana/dashboards")
	if want := "path: " + dash; !strings.Contains(read(t, "grafana/provisioning/dashboards/m2m.yml"), want) {
		t.Errorf("the dashboard provider does not read %s, where the stack mounts the dashboards", dash)
	}
	if want := "http://" + settings.ServicePrometheus + ":9090"; !strings.Contains(read(t, "grafana/provisioning/datasources/prometheus.yml"), want) {
		t.Errorf("the Grafana datasource does not point at %s", want)
	}
}
