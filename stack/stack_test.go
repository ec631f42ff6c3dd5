package stack

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// sample is a complete, valid configuration with a value for every secret, so tests can check none leaks.
func sample() map[string]string {
	return map[string]string{
		NodeID:               "m2m-abc123",
		EVMAddress:           "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		EVMPrivateKey:        "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
		TigerBeetleClusterID: "340282366920938463463374607431768211455",
		GrafanaPassword:      "s3cret-grafana-password-XYZ",
		NodePrivateKey:       "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
	}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadReportsEveryProblemWithItsLine(t *testing.T) {
	path := writeFile(t, t.TempDir(), ".env", `# node
NODE_ID=m2m-abc123
EVM_ADDRESS=0x12345
TIGERBEETLE_CLUSTER_ID=99
GRAFANA_PASSWORD=long-enough-password
BTP_PORT=abc
EVM_PRIVATE_KEY=0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318
SETTLEMENT_PREFERENCE=btc
`)
	_, err := Load(path)
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load: want *Problems, got %v", err)
	}
	want := []struct {
		key  string
		line int
	}{{EVMAddress, 3}, {BTPPort, 6}, {SettlementPreference, 8}}
	if len(ps.List) != len(want) {
		t.Fatalf("want %d problems, got %d:\n%v", len(want), len(ps.List), err)
	}
	for i, w := range want {
		if ps.List[i].Key != w.key || ps.List[i].Line != w.line {
			t.Errorf("problem %d = %s line %d, want %s line %d", i, ps.List[i].Key, ps.List[i].Line, w.key, w.line)
		}
	}
	msg := err.Error()
	for _, s := range []string{"line 3", "line 6", "line 8", "0x followed by 40 hex digits", "evm, xrp, both"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q:\n%s", s, msg)
		}
	}
}

func TestLoadNeverRepeatsASecret(t *testing.T) {
	path := writeFile(t, t.TempDir(), ".env", "NODE_ID=m2m-abc123\nTIGERBEETLE_CLUSTER_ID=7\nGRAFANA_PASSWORD=short\nEVM_PRIVATE_KEY=0xnot-a-key-but-secret\n")
	_, err := Load(path)
	if err == nil {
		t.Fatal("want problems")
	}
	for _, secret := range []string{"short", "0xnot-a-key-but-secret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error repeats the secret %q:\n%v", secret, err)
		}
	}
	if !strings.Contains(err.Error(), GrafanaPassword) {
		t.Errorf("error does not name %s:\n%v", GrafanaPassword, err)
	}
}

func TestLoadNamesMissingRequiredSettings(t *testing.T) {
	path := writeFile(t, t.TempDir(), ".env", "SETTLEMENT_PREFERENCE=xrp\nKEY_BACKEND=aws-kms\n")
	_, err := Load(path)
	if err == nil {
		t.Fatal("want problems")
	}
	for _, key := range []string{NodeID, XRPAddress, AWSRegion, AWSKMSKeyID, TigerBeetleClusterID, GrafanaPassword} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("missing %s not reported:\n%v", key, err)
		}
	}
	if strings.Contains(err.Error(), EVMAddress) {
		t.Errorf("EVM_ADDRESS reported although settlement is xrp only:\n%v", err)
	}
}

func TestDotenvSyntax(t *testing.T) {
	tests := []struct {
		name, line, wantKey, wantValue, wantProblem string
	}{
		{"plain", "LOG_LEVEL=debug", LogLevel, "debug", ""},
		{"export prefix", "export LOG_LEVEL=warn", LogLevel, "warn", ""},
		{"double quotes", `PEERS_FILE="/data/my peers.yaml"`, PeersFile, "/data/my peers.yaml", ""},
		{"single quotes", `PEERS_FILE='/data/a#b.yaml'`, PeersFile, "/data/a#b.yaml", ""},
		{"inline comment", "LOG_LEVEL=error # quiet", LogLevel, "error", ""},
		{"typo suggests", "LOG_LEVLE=debug", "", "", "did you mean LOG_LEVEL?"},
		{"not key=value", "just words", "", "", "is not KEY=VALUE"},
		{"bad quotes", `PEERS_FILE="/data`, "", "", "double-quoted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, problems := parseDotenv(strings.NewReader("# comment\n\n" + tt.line + "\n"))
			if tt.wantProblem != "" {
				if len(problems) != 1 || !strings.Contains(problems[0].String(), tt.wantProblem) || problems[0].Line != 3 {
					t.Fatalf("problems = %v, want one on line 3 containing %q", problems, tt.wantProblem)
				}
				return
			}
			if len(problems) != 0 {
				t.Fatalf("unexpected problems %v", problems)
			}
			if got := entries[tt.wantKey]; got.value != tt.wantValue || got.line != 3 {
				t.Errorf("%s = %q (line %d), want %q (line 3)", tt.wantKey, got.value, got.line, tt.wantValue)
			}
		})
	}
	_, problems := parseDotenv(strings.NewReader("LOG_LEVEL=info\nLOG_LEVEL=debug\n"))
	if len(problems) != 1 || !strings.Contains(problems[0].Msg, "first on line 1") {
		t.Errorf("duplicate key: problems = %v", problems)
	}
}

func TestRenderEnvLoadsBack(t *testing.T) {
	in := sample()
	in[PeersFile] = "/data/my peers.yaml"
	path := writeFile(t, t.TempDir(), ".env", string(RenderEnv(in)))
	v, err := Load(path)
	if err != nil {
		t.Fatalf("Load(RenderEnv(sample)): %v", err)
	}
	for k, want := range in {
		if v[k] != want {
			t.Errorf("%s = %q, want %q", k, v[k], want)
		}
	}
	if v[LogLevel] != "info" {
		t.Errorf("default LOG_LEVEL = %q, want info", v[LogLevel])
	}
}

func TestFromEnvironIgnoresOtherVariables(t *testing.T) {
	env := []string{"PATH=/bin", "HOME=/root"}
	for k, v := range sample() {
		env = append(env, k+"="+v)
	}
	v, err := FromEnviron(env)
	if err != nil {
		t.Fatalf("FromEnviron: %v", err)
	}
	if v.Int(BTPPort) != 4000 || v.String(NodeID) != "m2m-abc123" || !v.Settlement("evm") || v.Settlement("xrp") {
		t.Errorf("unexpected values: BTP_PORT=%d NODE_ID=%s", v.Int(BTPPort), v.String(NodeID))
	}
}

func TestDuplicateHostPortsAreRefused(t *testing.T) {
	raw := sample()
	raw[GrafanaPort] = "9090"
	_, err := Parse(raw)
	if err == nil || !strings.Contains(err.Error(), "same host port as PROMETHEUS_PORT") {
		t.Fatalf("want a duplicate-port problem, got %v", err)
	}
}

func TestGeneratedFilesAreFresh(t *testing.T) {
	files, err := GeneratedFiles()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		have, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			t.Fatalf("%s: %v (run `make generate`)", name, err)
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s is stale: run `make generate` and commit the result", name)
		}
	}
}

func TestYAMLIsByteStable(t *testing.T) {
	a, _ := YAML(Build(Defaults()))
	b, _ := YAML(Build(Defaults()))
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same settings differ")
	}
}

func TestYAMLHoldsNoSecret(t *testing.T) {
	raw := sample()
	v, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	y, err := YAML(Build(v))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Schema() {
		if s.Secret && raw[s.Name] != "" && bytes.Contains(y, []byte(raw[s.Name])) {
			t.Errorf("YAML contains the value of secret %s", s.Name)
		}
	}
}

// TestComposeFileLoadsBackWithCompose loads the checked-in YAML the way `docker compose` does (compose-go's
// CLI loader, .env made from .env.example plus sample values) and checks the stack's shape.
func TestComposeFileLoadsBackWithCompose(t *testing.T) {
	dir := t.TempDir()
	y, _ := os.ReadFile(filepath.Join("..", ComposeFile))
	writeFile(t, dir, ComposeFile, string(y))
	example, _ := os.ReadFile(filepath.Join("..", ExampleFile))
	var env strings.Builder
	for _, line := range strings.Split(string(example), "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			if _, set := sample()[k]; set {
				continue
			}
		}
		env.WriteString(line + "\n")
	}
	for k, v := range sample() {
		env.WriteString(k + "=" + v + "\n")
	}
	writeFile(t, dir, ".env", env.String())

	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, ComposeFile)},
		cli.WithWorkingDirectory(dir), cli.WithEnvFiles(), cli.WithDotEnv, cli.WithProfiles([]string{ProfileTracing, ProfileDiscovery}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose-go cannot load %s: %v", ComposeFile, err)
	}
	checkStackShape(t, p)
	if got := p.Services[ServiceGrafana].Environment["GF_SECURITY_ADMIN_PASSWORD"]; got == nil || *got != sample()[GrafanaPassword] {
		t.Errorf("grafana password not resolved from .env")
	}
}

func TestProjectMatchesBuild(t *testing.T) {
	v, err := Parse(sample())
	if err != nil {
		t.Fatal(err)
	}
	p, err := Project(context.Background(), v, LoadOptions{WorkingDir: t.TempDir(), Environment: sample(),
		Profiles: []string{ProfileTracing, ProfileDiscovery}})
	if err != nil {
		t.Fatal(err)
	}
	checkStackShape(t, p)
}

func checkStackShape(t *testing.T, p *types.Project) {
	t.Helper()
	want := []string{ServiceConnector, ServiceDiscovery, ServiceGrafana, ServiceJaeger, ServicePrometheus, ServiceTigerBeetle, ServiceFormat}
	if got := strings.Join(p.ServiceNames(), ","); got != strings.Join(slices.Sorted(slices.Values(want)), ",") {
		t.Fatalf("services = %s, want %v", got, want)
	}
	deps := map[[2]string]struct {
		cond     string
		required bool
	}{
		{ServiceTigerBeetle, ServiceFormat}:    {types.ServiceConditionCompletedSuccessfully, true},
		{ServiceConnector, ServiceTigerBeetle}: {types.ServiceConditionHealthy, true},
		{ServicePrometheus, ServiceConnector}:  {types.ServiceConditionStarted, false},
		{ServiceGrafana, ServicePrometheus}:    {types.ServiceConditionStarted, false},
	}
	for pair, want := range deps {
		got, ok := p.Services[pair[0]].DependsOn[pair[1]]
		if !ok || got.Condition != want.cond || got.Required != want.required {
			t.Errorf("%s depends_on %s = %+v, want %+v", pair[0], pair[1], got, want)
		}
	}
	for name, s := range p.Services {
		if name == ServiceFormat {
			if s.Restart != types.RestartPolicyNo || s.HealthCheck != nil {
				t.Errorf("format one-shot: restart %q, healthcheck %v", s.Restart, s.HealthCheck)
			}
		} else {
			if s.Restart != types.RestartPolicyUnlessStopped {
				t.Errorf("%s restart = %q", name, s.Restart)
			}
			if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
				t.Errorf("%s has no health check", name)
			}
		}
		if s.Logging == nil || s.Logging.Options["max-size"] == "" {
			t.Errorf("%s has no log rotation", name)
		}
		if _, ok := s.Networks[NetworkName]; !ok {
			t.Errorf("%s is not on %s", name, NetworkName)
		}
	}
	for _, v := range []string{VolumeTigerBeetle, VolumeConnector, VolumeLogs, VolumePrometheus, VolumeGrafana} {
		if _, ok := p.Volumes[v]; !ok {
			t.Errorf("volume %s missing", v)
		}
	}
	if n, ok := p.Networks[NetworkName]; !ok || n.Driver != "bridge" {
		t.Errorf("network %s = %+v", NetworkName, n)
	}
	c := p.Services[ServiceConnector]
	if c.User != "1001:1001" || !c.ReadOnly || strings.Join(c.CapDrop, ",") != "ALL" || strings.Join(c.SecurityOpt, ",") != "no-new-privileges:true" {
		t.Errorf("connector is not locked down: user %q read_only %v cap_drop %v security_opt %v", c.User, c.ReadOnly, c.CapDrop, c.SecurityOpt)
	}
	if tb := p.Services[ServiceTigerBeetle]; strings.Join(tb.SecurityOpt, ",") != "seccomp=unconfined" || len(tb.CapAdd) != 0 || tb.Privileged {
		t.Errorf("tigerbeetle gets more than seccomp=unconfined: %v %v %v", tb.SecurityOpt, tb.CapAdd, tb.Privileged)
	}
	for _, name := range []string{ServicePrometheus, ServiceGrafana, ServiceJaeger} {
		for _, port := range p.Services[name].Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %d on %q, want 127.0.0.1 only", name, port.Target, port.HostIP)
			}
		}
	}
	if !strings.HasSuffix(p.Services[ServiceTigerBeetle].Image, ":"+TigerBeetleRelease) {
		t.Errorf("tigerbeetle image %q is not pinned to %s", p.Services[ServiceTigerBeetle].Image, TigerBeetleRelease)
	}
}

func TestFromEnvironForJudgesOnlyTheServicesSettings(t *testing.T) {
	// The connector's container receives no GRAFANA_PASSWORD; monitoring being on must not fail it.
	env := []string{"NODE_ID=m2m-abc123", "TIGERBEETLE_CLUSTER_ID=5", "SETTLEMENT_PREFERENCE=xrp", "XRP_ADDRESS=rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh",
		"XRP_SECRET=sEdTM1uX8pu2do5XvTnutH6HsouMaM2", "GRAFANA_PORT=not-a-port"}
	connector := func(s Setting) bool { return slices.Contains(s.Services, ServiceConnector) }
	if _, err := FromEnvironFor(env, connector); err != nil {
		t.Fatalf("connector settings judged with another service's rules: %v", err)
	}
	_, err := FromEnviron(env)
	if err == nil || !strings.Contains(err.Error(), GrafanaPassword) || !strings.Contains(err.Error(), GrafanaPort) {
		t.Fatalf("whole-node validation should name GRAFANA_PASSWORD and GRAFANA_PORT, got %v", err)
	}
}
