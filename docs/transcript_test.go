package docs

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A documented wizard session: an HTML comment with the answers typed, then the console block that shows it.
var sessionRE = regexp.MustCompile("(?s)<!-- wizard-answers: (\\[.*?\\]) -->\n```console\n\\$ m2mctl ([^\n]*)\n(.*?)```")

// Values that differ on every run: the node id offered as default, and the generated identity key.
var randomParts = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`keep m2m-[a-z0-9]{6}\.`), "keep m2m-XXXXXX."},
	{regexp.MustCompile(`public key [A-Za-z0-9+/]{43}=`), "public key KEY"},
}

// TestWizardTranscriptsAreCurrent replays the answers of every documented `m2mctl init` session through a
// pipe and compares what init prints with the transcript, which was taken on a terminal: there each typed
// answer is echoed after its prompt, so a transcript line may be the printed line plus the next answer.
func TestWizardTranscriptsAreCurrent(t *testing.T) {
	files, err := docFiles(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(t)
	found := 0
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sessionRE.FindAllStringSubmatch(string(src), -1) {
			found++
			var answers []string
			if err := json.Unmarshal([]byte(m[1]), &answers); err != nil {
				t.Fatalf("%s: wizard-answers %s: %v", f, m[1], err)
			}
			t.Run(f, func(t *testing.T) {
				got := r.wizard(t, strings.Fields(m[2]), answers)
				if err := matchTranscript(m[3], got, answers); err != nil {
					t.Errorf("%s: the transcript of `m2mctl %s` is out of date: %v\n"+
						"Run `m2mctl init --accessible` in an empty directory on a terminal, type the answers of the "+
						"wizard-answers comment, and paste what it prints.", f, m[2], err)
				}
			})
		}
	}
	if found == 0 {
		t.Fatal("no documented wizard session (<!-- wizard-answers: [...] --> before a console block) was found")
	}
}

func TestMatchTranscriptToleratesOnlyEchoedAnswersAndRandomValues(t *testing.T) {
	printed := "Q1\nNODE_ID \n\nPress Enter to keep m2m-ab12cd.\nPick: \n\nDone, public key " + strings.Repeat("A", 43) + "=\n"
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"same with answers echoed", "Q1\nNODE_ID acme\n\n\nPress Enter to keep m2m-zz99yy.\nPick: 2\n\nDone, public key " + strings.Repeat("B", 43) + "=\n", true},
		{"a prompt reworded", "Q1\nNODE_NAME acme\n\nPress Enter to keep m2m-zz99yy.\nPick: 2\n\nDone, public key KEY\n", false},
		{"an answer not typed", "Q1\nNODE_ID other\n\nPress Enter to keep m2m-zz99yy.\nPick: 2\n\nDone, public key KEY\n", false},
		{"a line missing", "Q1\nNODE_ID acme\n\nPick: 2\n\nDone, public key KEY\n", false},
		{"a line added", "Q1\nNODE_ID acme\nExtra\n\nPress Enter to keep m2m-zz99yy.\nPick: 2\n\nDone, public key KEY\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := matchTranscript(tt.doc, printed, []string{"acme", "", "2"})
			if (err == nil) != tt.ok {
				t.Errorf("matchTranscript = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// wizard runs m2mctl with args in a new directory, one answer per line on stdin, and returns what it printed.
func (r *runner) wizard(t *testing.T, args, answers []string) string {
	t.Helper()
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "TERM=dumb")
	cmd.Stdin = strings.NewReader(strings.Join(answers, "\n") + "\n")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("m2mctl %s with the documented answers: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("m2mctl %s did not finish within 30s with the documented answers", strings.Join(args, " "))
	}
	return out.String()
}

// matchTranscript compares a terminal transcript with what init printed from piped answers.
func matchTranscript(doc, printed string, answers []string) error {
	want, got := normalize(doc), normalize(printed)
	var typed []string
	for _, a := range answers {
		if a != "" {
			typed = append(typed, a)
		}
	}
	k := 0
	for i := 0; i < len(want) || i < len(got); i++ {
		if i >= len(want) {
			return fmt.Errorf("init now prints more: line %d %q", i+1, got[i])
		}
		if i >= len(got) {
			return fmt.Errorf("init no longer prints line %d %q", i+1, want[i])
		}
		if want[i] == got[i] {
			continue
		}
		if k < len(typed) && want[i] == strings.TrimSpace(got[i]+" "+typed[k]) {
			k++
			continue
		}
		return fmt.Errorf("line %d: transcript %q, init prints %q", i+1, want[i], got[i])
	}
	if k != len(typed) {
		return fmt.Errorf("the transcript shows %d of the %d typed answers; the first missing is %q", k, len(typed), typed[k])
	}
	return nil
}

// normalize trims each line, drops blank lines (a terminal adds one where it echoes an answer's newline),
// and replaces the values that change on every run.
func normalize(s string) []string {
	for _, rp := range randomParts {
		s = rp.re.ReplaceAllString(s, rp.with)
	}
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, " \t\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}
