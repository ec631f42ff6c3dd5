package settings

import (
	"strings"
	"testing"
)

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
