package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// linkRE finds inline Markdown links; the target ends at the first space or closing parenthesis.
var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestLinksStayInsideTheRepositoryAndResolve checks every relative link of the docs: the file exists, inside
// this repository (a reader of a checkout has nothing else), and the #anchor names one of its headings.
func TestLinksStayInsideTheRepositoryAndResolve(t *testing.T) {
	files, err := docFiles(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range linkRE.FindAllStringSubmatch(withoutCode(string(src)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			if err := checkLink(root, f, target); err != "" {
				t.Errorf("%s: link %s: %s", f, target, err)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found in the docs; the link extraction is broken")
	}
}

func checkLink(root, from, target string) string {
	path, anchor, _ := strings.Cut(target, "#")
	file := filepath.Join(root, from)
	if path != "" {
		file = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
	}
	if rel, err := filepath.Rel(root, file); err != nil || strings.HasPrefix(rel, "..") {
		return "points outside the repository; link to a file in it"
	}
	if _, err := os.Stat(file); err != nil {
		return "no such file"
	}
	if anchor == "" {
		return ""
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	if !set(headingAnchors(string(src)))[anchor] {
		return "no heading with anchor #" + anchor
	}
	return ""
}

func set(list []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}

// headingAnchors are the anchors GitHub gives the headings of a Markdown file: lower case, punctuation
// dropped, spaces to hyphens, a repeated one suffixed -1, -2, ….
func headingAnchors(src string) []string {
	var out []string
	seen := map[string]int{}
	for _, line := range strings.Split(withoutCode(src), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out = append(out, a+"-"+strconv.Itoa(n))
		} else {
			out = append(out, a)
		}
		seen[a]++
	}
	return out
}

// withoutCode blanks the fenced blocks, whose lines are neither headings nor links.
func withoutCode(src string) string {
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		_, fence, _, ok := openingFence(lines[i])
		if !ok {
			continue
		}
		for lines[i] = ""; i+1 < len(lines) && !closesFence(lines[i+1], fence); i++ {
			lines[i+1] = ""
		}
		if i+1 < len(lines) {
			lines[i+1] = ""
			i++
		}
	}
	return strings.Join(lines, "\n")
}

func TestCheckLinkRejectsWhatAReaderCannotFollow(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ target, want string }{
		{"../shared/DESIGN.md", "outside the repository"},
		{"docs/no-such-guide.md", "no such file"},
		{"docs/operators/production-deployment-guide.md#no-such-section", "no heading"},
		{"docs/operators/production-deployment-guide.md#backup-and-restore", ""},
		{"#the-stack", ""},
	}
	for _, tt := range tests {
		if got := checkLink(root, "README.md", tt.target); !strings.Contains(got, tt.want) || (tt.want == "") != (got == "") {
			t.Errorf("checkLink(README.md, %s) = %q, want %q", tt.target, got, tt.want)
		}
	}
}

func TestHeadingAnchorsFollowGitHub(t *testing.T) {
	src := "# Peer onboarding guide\n## Configure: `init`\n```sh\n# not a heading\n```\n## Ports and firewall\n## Ports and firewall\n"
	want := []string{"peer-onboarding-guide", "configure-init", "ports-and-firewall", "ports-and-firewall-1"}
	if got := headingAnchors(src); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("headingAnchors = %q, want %q", got, want)
	}
}
