package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
)

func TestConfigTargetSwarmPrintsAStackFile(t *testing.T) {
	env := filepath.Join(t.TempDir(), ".env")
	body := "NODE_ID=m2m-abc123\nTIGERBEETLE_CLUSTER_ID=5\nGRAFANA_PASSWORD=long-enough-password\nEVM_ADDRESS=0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\n" +
		"TIGERBEETLE_REPLICA_COUNT=3\nTIGERBEETLE_REPLICA_ADDRESSES=10.0.0.1:3000,10.0.0.2:3000,10.0.0.3:3000\n"
	if err := os.WriteFile(env, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runDeploy(t, "config", "--env-file", env, "--target", "swarm")
	if code != 0 || !strings.Contains(stdout, "mode: replicated-job") || !strings.Contains(stdout, "tigerbeetle-2:") {
		t.Fatalf("exit %d, stderr %s\nstdout:\n%s", code, stderr, stdout)
	}
	if strings.Contains(stdout, "long-enough-password") {
		t.Fatal("the stack file holds GRAFANA_PASSWORD")
	}
	// Without --target, DEPLOY_TARGET decides.
	if err := os.WriteFile(env, []byte(body+"DEPLOY_TARGET=swarm\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ := runDeploy(t, "config", "--env-file", env); code != 0 || !strings.Contains(stdout, "replicated-job") {
		t.Fatalf("DEPLOY_TARGET=swarm: exit %d, no stack file", code)
	}
	if code, _, stderr := runDeploy(t, "config", "--env-file", env, "--target", "kubernetes"); code != exitUsage || !strings.Contains(stderr, `--target "kubernetes"`) {
		t.Fatalf("--target kubernetes: exit %d, %s", code, stderr)
	}
}

func TestSwarmErrorsNameTheFix(t *testing.T) {
	err := explainDeployError(fmt.Errorf("up: %w", &deployer.MissingSecretError{Key: stack.SecretGrafanaPassword, Name: "m2m_grafana_password"}))
	if err == nil || !strings.Contains(err.Error(), "set GRAFANA_PASSWORD in .env") {
		t.Errorf("missing secret: %v", err)
	}
	left := &deployer.SwarmVolumesError{Project: "m2m", Removed: []string{"m2m_grafana-data"},
		Left: []deployer.NodeVolumes{{Node: "10.0.0.12 (abc)", Volumes: []string{"m2m_tigerbeetle-data-1"}}, {Node: "10.0.0.13 (def)", Volumes: []string{"m2m_tigerbeetle-data-2"}}}}
	err = explainDeployError(fmt.Errorf("down: %w", left))
	for _, want := range []string{"node 10.0.0.12 (abc):  docker volume rm m2m_tigerbeetle-data-1", "node 10.0.0.13 (def):  docker volume rm m2m_tigerbeetle-data-2", "removed (1)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("volumes left on other nodes: %v, want %q", err, want)
		}
	}
}
