package docs

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestExtractCommandsFindsWhatAReaderWouldRun(t *testing.T) {
	fence := "```"
	tests := []struct {
		name string
		doc  string
		want []string // "line: arg|arg|…"
	}{
		{"sh block, flags kept",
			fence + "sh\nm2mctl up --dry-run\n" + fence,
			[]string{"2: up|--dry-run"}},
		{"untagged block counts as shell",
			fence + "\nm2mctl status -o json\n" + fence,
			[]string{"2: status|-o|json"}},
		{"text and yaml blocks are not commands",
			fence + "text\nm2mctl up --nope\n" + fence + "\n" + fence + "yaml\nm2mctl: x\n" + fence,
			nil},
		{"prose outside a fence is not a command",
			"Run `m2mctl up --whatever` now.\nm2mctl down\n",
			nil},
		{"console block: only prompted lines",
			fence + "console\n$ m2mctl init --accessible\nm2mctl up\n  m2mctl status\n" + fence,
			[]string{"2: init|--accessible"}},
		{"continuation lines are one command",
			fence + "sh\nm2mctl init --yes --settlement xrp \\\n  --xrp-address rX \\\n  --key-backend aws-kms\n" + fence,
			[]string{"2: init|--yes|--settlement|xrp|--xrp-address|rX|--key-backend|aws-kms"}},
		{"pipes, && and redirections",
			fence + "sh\nm2mctl config > docker-compose.yml && docker compose up -d\nm2mctl status -o json 2>&1 | jq .services\n" + fence,
			[]string{"2: config", "3: status|-o|json"}},
		{"comments, assignments, sudo and paths",
			fence + "bash\nmake up   # builds m2mctl and runs `m2mctl up`\nDOCKER_HOST=unix:///run/d.sock sudo ./bin/m2mctl logs connector --tail 50\ngo run ./cmd/m2mctl init --help\n" + fence,
			[]string{"3: logs|connector|--tail|50", "4: init|--help"}},
		{"quotes group words",
			fence + "sh\nm2mctl config --env-file 'my node.env' --profile \"tracing\"\n" + fence,
			[]string{"2: config|--env-file|my node.env|--profile|tracing"}},
		{"here-document bodies are data",
			fence + "sh\ncat > peers.yaml <<'EOF'\nm2mctl up --in-a-heredoc\nEOF\nm2mctl plan\n" + fence,
			[]string{"5: plan"}},
		{"a quote open across lines is one command",
			fence + "sh\ndocker run img -c '\n  m2mctl up --inside-quotes\n  tar -x'\nm2mctl status\n" + fence,
			[]string{"5: status"}},
		{"indented fence inside a list item",
			"1. Deploy:\n\n   " + fence + "sh\n   m2mctl up\n   " + fence + "\n",
			[]string{"4: up"}},
		{"tilde fence, longer closing fence",
			"~~~sh\nm2mctl down\n~~~~\nm2mctl up\n",
			[]string{"2: down"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, err := extractCommands("doc.md", tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cmds {
				got = append(got, strconv.Itoa(c.Line)+": "+strings.Join(c.Args, "|"))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestExtractCommandsRejectsWhatCannotRunAsWritten(t *testing.T) {
	fence := "```"
	tests := []struct {
		name, doc, want string
	}{
		{"placeholder", fence + "sh\nm2mctl logs <service>\n" + fence, "placeholder"},
		{"unterminated quote", fence + "sh\nm2mctl config --env-file 'x\n" + fence, "unterminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := extractCommands("doc.md", tt.doc)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "doc.md:2") {
				t.Errorf("err = %v, want one naming doc.md:2 and %q", err, tt.want)
			}
		})
	}
}
