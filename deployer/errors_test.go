package deployer

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConnectErrorsSayWhatToDo(t *testing.T) {
	dir := t.TempDir()
	denied := filepath.Join(dir, "denied.sock")
	ln, err := net.Listen("unix", denied)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	os.Chmod(denied, 0)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name, host, want string
		skip             bool
	}{
		{"no socket file", "unix://" + filepath.Join(dir, "missing.sock"), "cannot reach the Docker engine at unix://", false},
		{"nothing listens on the TCP port", "tcp://" + closedAddr, "cannot reach the Docker engine at tcp://" + closedAddr, false},
		{"socket without permission", "unix://" + denied, "permission denied on the Docker socket", os.Geteuid() == 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip {
				t.Skip("root is never denied a socket")
			}
			t.Setenv("DOCKER_HOST", tc.host)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			cli, err := Connect(ctx)
			if err == nil {
				cli.Close()
				t.Fatalf("Connect to %s succeeded", tc.host)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Connect to %s: %q, want one line containing %q", tc.host, err, tc.want)
			}
			if !strings.Contains(err.Error(), "DOCKER_HOST") && !strings.Contains(err.Error(), "docker group") {
				t.Errorf("Connect to %s: %q does not say how to fix it", tc.host, err)
			}
		})
	}
}
