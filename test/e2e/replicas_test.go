package e2e

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// Three replicas on one host (the Compose target): every replica formatted and healthy at its fixed address,
// and `docker compose up` on the emitted YAML agrees — it recreates nothing m2mctl made.
func TestThreeReplicasOnOneHost(t *testing.T) {
	wallTime(t)
	var b [1]byte
	rand.Read(b[:])
	// A subnet of its own, so that scenarios side by side do not overlap.
	subnet := fmt.Sprintf("10.79.%d.0/24", 1+int(b[0])%250)
	p := newProject(t, projectOptions{settings: map[string]string{settings.TigerBeetleReplicaCount: "3", settings.NetworkSubnet: subnet}})
	p.up()
	rep, code := p.status()
	if code != 0 {
		t.Fatalf("status after up: exit %d: %+v", code, rep.Services)
	}
	for i := range 3 {
		if row := rep.service(t, stack.ReplicaService(i)); !row.OK || row.Health != "healthy" {
			t.Errorf("replica %d: %+v, want running and healthy", i, row)
		}
		if row := rep.service(t, stack.ReplicaFormatService(i)); !row.OK {
			t.Errorf("format of replica %d: %+v, want completed", i, row)
		}
	}
	bin := os.Getenv(envComposeBin)
	if bin == "" {
		t.Skipf("set %s to a Compose v2 binary to compare with docker compose", envComposeBin)
	}
	file := filepath.Join(p.dir, stack.ComposeFile)
	if err := os.WriteFile(file, []byte(p.mustCtl(time.Minute, "config").stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	before := p.containerIDs()
	out, err := p.compose(bin, file, "up", "-d", "--wait", "--pull", "never", "--wait-timeout", "180")
	if err != nil {
		t.Fatalf("docker compose up -d --wait on the three-replica stack m2mctl made: %v\n%s%s", err, out, p.diagnose())
	}
	p.sameContainers("docker compose up after m2mctl up (three replicas)", before, p.containerIDs())
	if strings.Contains(out, "Recreate") {
		t.Errorf("docker compose recreated containers:\n%s", out)
	}
}
