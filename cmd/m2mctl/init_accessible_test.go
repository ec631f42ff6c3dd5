package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/stack/settings"
)

// linePipe feeds lines through an io.Pipe, one line per Write and so one per Read, the way a person types.
func linePipe(t *testing.T, lines []string) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		for _, l := range lines {
			if _, err := pw.Write([]byte(l + "\n")); err != nil {
				return
			}
		}
		pw.Close()
	}()
	t.Cleanup(func() { pr.CloseWithError(io.ErrClosedPipe) })
	return pr
}

// A session that corrects two mistakes, refuses the env backend's warning and then picks AWS KMS.
var xrpAWSSession = []string{
	"my-node",                            // NODE_ID
	"",                                   // DEPLOY_TARGET: keep compose
	"2",                                  // SETTLEMENT_PREFERENCE: xrp
	"rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTi", // XRP_ADDRESS with a typo: refused
	testXRPAddress,
	"",          // XRPL_WSS_URL: keep the default
	"1",         // KEY_BACKEND: env
	"n",         // ... no, not in production
	"2",         // KEY_BACKEND: aws-kms
	"eu-west-1", // AWS_REGION
	"alias/m2m-node",
	"",     // AWS_ACCESS_KEY_ID: instance role
	"",     // AWS_SECRET_ACCESS_KEY file: none
	"",     // PROMETHEUS_ENABLED: keep yes
	"8080", // BTP_PORT: the health port's default: refused
	"4100",
	"",  // HEALTH_CHECK_PORT: keep 8080
	"1", // LOG_LEVEL: debug
	"y", // PEER_DISCOVERY_ENABLED
	"https://discovery.example.com",
	"1",                // BTP_TLS: acme, offered for a node in discovery
	"node.example.com", // BTP_DOMAIN
	"",                 // ACME_EMAIL: none
	"",                 // PEER_ANNOUNCE_ADDRESS: keep wss://node.example.com:4100, made of the name and BTP_PORT
	"",                 // summary: write
}

func TestInitAccessibleModeWritesWhatWasAnswered(t *testing.T) {
	feeds := []struct {
		name string
		in   func(t *testing.T) io.Reader
	}{
		{"one line per read", func(t *testing.T) io.Reader { return linePipe(t, xrpAWSSession) }},
		{"all lines in one read", func(*testing.T) io.Reader { return strings.NewReader(strings.Join(xrpAWSSession, "\n") + "\n") }},
	}
	for _, feed := range feeds {
		t.Run(feed.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			res := runInit(t, feed.in(t), "--output", path)
			if res.code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
			}
			v := loadWritten(t, path)
			want := map[string]string{
				settings.NodeID: "my-node", settings.SettlementPreference: "xrp", settings.XRPAddress: testXRPAddress,
				settings.XRPLWSSURL: "wss://xrplcluster.com", settings.KeyBackend: "aws-kms", settings.AWSRegion: "eu-west-1",
				settings.AWSKMSXRPKeyID: "alias/m2m-node", settings.PrometheusEnabled: "true", settings.BTPPort: "4100",
				settings.HealthCheckPort: "8080", settings.LogLevel: "debug", settings.PeerDiscoveryEnabled: "true",
				settings.PeerDiscoveryEndpoints: "https://discovery.example.com", settings.PeerAnnounceAddress: "wss://node.example.com:4100",
				settings.BTPTLS: "acme", settings.BTPDomain: "node.example.com", settings.EVMAddress: "",
			}
			for k, w := range want {
				if got := v.String(k); got != w {
					t.Errorf("%s = %q, want %q", k, got, w)
				}
			}
			for _, shown := range []string{
				"checksum",                   // the XRP typo, explained
				"development and tests only", // the env backend's warning
				"is already the port of HEALTH_CHECK_PORT", // the port clash
				"This node's name on the network",          // the schema's doc as the help text
			} {
				if !strings.Contains(res.stderr, shown) {
					t.Errorf("the dialogue does not show %q", shown)
				}
			}
			if n := strings.Count(res.stderr, doc(settings.KeyBackend)); n != 2 {
				t.Errorf("KEY_BACKEND asked %d times, want 2 (again after refusing env)", n)
			}
			if strings.Contains(res.stderr, doc(settings.EVMAddress)) {
				t.Errorf("asked for an EVM address although the node settles on XRP only")
			}
			assertNoSecretPrinted(t, v, res.printed())
		})
	}
}

func TestInitAccessibleModeStopsWithoutWriting(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		code  int
		want  string
	}{
		{"input ends early", xrpAWSSession[:10], exitFailed, "input ended before AWS_KMS_XRP_KEY_ID was answered"},
		{"input ends after an invalid answer", []string{"NOT a node id"}, exitFailed, "no valid answer for NODE_ID"},
		{"quit at the summary", append(copyLines(xrpAWSSession[:len(xrpAWSSession)-1]), "3"), exitFailed, "nothing was written"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			res := runInit(t, linePipe(t, tt.lines), "--output", path)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.want) {
				t.Fatalf("exit %d, want %d with %q; stderr:\n%s", res.code, tt.code, tt.want, res.stderr)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("a file was written (%v)", err)
			}
		})
	}
}

func TestInitAccessibleModeCanChangeAnswersAtTheSummary(t *testing.T) {
	lines := copyLines(xrpAWSSession[:len(xrpAWSSession)-1])
	lines = append(lines, "2") // change answers: every question again, the answers so far as defaults
	lines = append(lines, "", "", "", "", "", "2", "", "", "", "", "", "", "", "", "", "", "1", "", "", "", "1")
	//                     id  tgt set xrp wss be  reg key ak  sk  mon btp hp  log dis end tls dom acm ann sum
	path := filepath.Join(t.TempDir(), ".env")
	res := runInit(t, linePipe(t, lines), "--output", path)
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	v := loadWritten(t, path)
	if v.String(settings.NodeID) != "my-node" || v.String(settings.BTPPort) != "4100" || v.String(settings.KeyBackend) != "aws-kms" ||
		v.String(settings.BTPDomain) != "node.example.com" || v.String(settings.PeerAnnounceAddress) != "wss://node.example.com:4100" {
		t.Errorf("answers not kept through the second round: NODE_ID=%s BTP_PORT=%s KEY_BACKEND=%s BTP_DOMAIN=%s PEER_ANNOUNCE_ADDRESS=%s",
			v.String(settings.NodeID), v.String(settings.BTPPort), v.String(settings.KeyBackend), v.String(settings.BTPDomain), v.String(settings.PeerAnnounceAddress))
	}
}

func TestInitFlagsAnswerTheirQuestions(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	lines := []string{"", "", testXRPAddress, "", "", "", "", "", "", "", ""}
	//                id  tgt xrp            wss sk  mon btp hp  log dis sum
	res := runInit(t, linePipe(t, lines), "--output", path, "--settlement", "xrp", "--key-backend", "aws-kms",
		"--aws-region", "eu-west-1", "--aws-kms-xrp-key-id", "k", "--aws-access-key-id", "")
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	for _, name := range []string{settings.SettlementPreference, settings.KeyBackend, settings.AWSRegion, settings.AWSAccessKeyID} {
		if strings.Contains(res.stderr, doc(name)) {
			t.Errorf("%s was asked although its flag was given", name)
		}
	}
	if !strings.Contains(res.stderr, doc(settings.AWSSecretAccessKey)) {
		t.Errorf("%s was not asked, and no flag answered it", settings.AWSSecretAccessKey)
	}
	loadWritten(t, path)
}

func copyLines(s []string) []string { return append([]string(nil), s...) }

// doc is a setting's help text, which the wizard prints when, and only when, it asks for the setting.
func doc(name string) string {
	s, _ := settings.Lookup(name)
	return s.Doc
}

func TestInitAccessibleModeEndsOnInterruptWhileWaitingForInput(t *testing.T) {
	pr, pw := io.Pipe() // nothing is ever typed
	defer pw.Close()
	var out, errOut strings.Builder
	streams := &ioStreams{In: pr, Out: &out, ErrOut: &errOut}
	ctx, cancel := context.WithCancel(context.Background())
	path := filepath.Join(t.TempDir(), ".env")
	done := make(chan int, 1)
	go func() { done <- run(ctx, streams, []string{"init", "--output", path}) }()
	time.Sleep(100 * time.Millisecond) // let it reach the first prompt
	cancel()
	select {
	case code := <-done:
		if code != exitFailed {
			t.Errorf("exit %d, want %d", code, exitFailed)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("init did not end after its context was cancelled")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a file was written (%v)", err)
	}
}

// The newcomer's first run with KEY_BACKEND=env: the key is asked, skipped with an empty line, and the .env is
// written without it; every prompt is a question in words with its .env key beside it.
func TestInitAccessibleModeLetsTheEnvKeyBeSkipped(t *testing.T) {
	lines := []string{"new-node", "", "1", testEVMAddress, "", "1", "y", "", "", "", "", "", "", ""}
	//                id          tgt evm  address        rpc be   ok   key mon btp hp log dis sum
	path := filepath.Join(t.TempDir(), ".env")
	res := runInit(t, linePipe(t, lines), "--output", path)
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	v := loadWritten(t, path)
	if v.String(settings.KeyBackend) != "env" || v.String(settings.EVMPrivateKey) != "" || v.String(settings.EVMAddress) != testEVMAddress {
		t.Errorf("KEY_BACKEND=%s EVM_PRIVATE_KEY set=%v EVM_ADDRESS=%s; want env, no key, the address",
			v.String(settings.KeyBackend), v.String(settings.EVMPrivateKey) != "", v.String(settings.EVMAddress))
	}
	for _, shown := range []string{
		"What is this node's name on the network? (NODE_ID)",
		askOf(settings.EVMPrivateKey) + " (" + settings.EVMPrivateKey + ")",
		"Leave it empty to skip.",
		"Settlement signing is not active in this release",
	} {
		if !strings.Contains(res.stderr, shown) {
			t.Errorf("the dialogue does not show %q", shown)
		}
	}
}

// Every field's title is a question in words; the key alone is not a title.
func TestEveryQuestionIsAskedInWords(t *testing.T) {
	for _, q := range questions() {
		if !strings.HasSuffix(q.ask, "?") || strings.Contains(q.ask, q.name) || len(strings.Fields(q.ask)) < 3 {
			t.Errorf("%s is asked as %q; want a question in words, without the key", q.name, q.ask)
		}
	}
}
