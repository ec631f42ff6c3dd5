package settings_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/stack/settings/settingstest"
)

func environ(extra ...string) []string {
	var out []string
	for k, v := range settingstest.Sample() {
		out = append(out, k+"="+v)
	}
	return append(out, extra...)
}

// A Swarm secret reaches the code as a file: NAME_FILE names it and the value is the file's content.
func TestSecretReadFromTheFileNamedByItsFileVariable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grafana_password")
	if err := os.WriteFile(path, []byte("from-the-secret-file-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range environ() {
		if !strings.HasPrefix(kv, settings.GrafanaPassword+"=") {
			env = append(env, kv)
		}
	}
	v, err := settings.FromEnviron(append(env, settings.GrafanaPassword+"_FILE="+path))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.String(settings.GrafanaPassword); got != "from-the-secret-file-123" {
		t.Errorf("GRAFANA_PASSWORD = %q, want the file's content", got)
	}
	_, err = settings.FromEnviron(append(env, settings.GrafanaPassword+"_FILE=/no/such/secret"))
	if err == nil || !strings.Contains(err.Error(), "GRAFANA_PASSWORD_FILE=/no/such/secret") {
		t.Errorf("an unreadable secret file: %v, want a problem naming the variable and the path", err)
	}
	if err != nil && strings.Contains(err.Error(), "from-the-secret-file-123") {
		t.Error("the error repeats a secret")
	}
}

func TestFileVariableOfANonSecretIsIgnored(t *testing.T) {
	v, err := settings.FromEnviron(environ(settings.LogLevel + "_FILE=/no/such/file"))
	if err != nil || v.String(settings.LogLevel) != "info" {
		t.Fatalf("LOG_LEVEL_FILE read: %v %q", err, v.String(settings.LogLevel))
	}
}

func TestReplicaSettings(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  string // "" = valid
	}{
		{"three replicas on one host", []string{"TIGERBEETLE_REPLICA_COUNT=3"}, ""},
		{"two replicas", []string{"TIGERBEETLE_REPLICA_COUNT=2"}, "TIGERBEETLE_REPLICA_COUNT=2: must be one of 1, 3, 6"},
		{"subnet not a network address", []string{"NETWORK_SUBNET=10.1.2.3/24"}, "NETWORK_SUBNET=10.1.2.3/24: must be an IPv4 subnet"},
		{"swarm without addresses", []string{"DEPLOY_TARGET=swarm"}, "TIGERBEETLE_REPLICA_ADDRESSES: is required"},
		{"swarm with a name", []string{"DEPLOY_TARGET=swarm", "TIGERBEETLE_REPLICA_ADDRESSES=tb0:3000"}, `"tb0:3000" is not IP:port`},
		{"swarm with too few addresses", []string{"DEPLOY_TARGET=swarm", "TIGERBEETLE_REPLICA_COUNT=3", "TIGERBEETLE_REPLICA_ADDRESSES=10.0.0.1:3000,10.0.0.2:3000"},
			"lists 2 addresses but TIGERBEETLE_REPLICA_COUNT=3"},
		{"swarm with three", []string{"DEPLOY_TARGET=swarm", "TIGERBEETLE_REPLICA_COUNT=3", "TIGERBEETLE_REPLICA_ADDRESSES=10.0.0.1:3000,10.0.0.2:3000,10.0.0.3:3000"}, ""},
		{"connector address list", []string{"TIGERBEETLE_ADDRESS=10.0.0.1:3000,tigerbeetle-1:3000"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := settings.FromEnviron(environ(tc.extra...))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestReplicaIPsAreFixedInTheSubnet(t *testing.T) {
	v := settings.Values{settings.NetworkSubnet: "10.9.0.0/16"}
	got := v.ReplicaIPs(3)
	if len(got) != 3 || got[0].String() != "10.9.0.10" || got[2].String() != "10.9.0.12" {
		t.Fatalf("ReplicaIPs = %v", got)
	}
}
