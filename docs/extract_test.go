package docs

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// docCommand is one m2mctl invocation shown in a fenced block of a document.
type docCommand struct {
	File string   // as given to extractCommands
	Line int      // 1-based line where the command starts
	Args []string // the words after m2mctl
}

func (c docCommand) String() string {
	return fmt.Sprintf("%s:%d: m2mctl %s", c.File, c.Line, strings.Join(c.Args, " "))
}

// Which fenced blocks hold commands. In sh, bash, shell, zsh and untagged blocks every line is a command;
// in console blocks only the lines after a "$ " prompt are (the rest is output); other blocks (text, yaml,
// ini, json…) hold no commands. A transcript therefore goes in a console block, output in a text block.
var shellLangs = map[string]bool{"": true, "sh": true, "bash": true, "shell": true, "zsh": true}

// placeholderRE finds a <placeholder> word: a command in a fenced block must be runnable as written.
var placeholderRE = regexp.MustCompile(`(^|\s)<[A-Za-z][A-Za-z0-9_.-]*>`)

// extractCommands returns every m2mctl command in the fenced code blocks of a Markdown document.
func extractCommands(file, src string) ([]docCommand, error) {
	var out []docCommand
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		indent, fence, lang, ok := openingFence(lines[i])
		if !ok {
			continue
		}
		start := i + 1
		end := start
		for end < len(lines) && !closesFence(lines[end], fence) {
			end++
		}
		if shellLangs[lang] || lang == "console" {
			body := make([]string, 0, end-start)
			for _, l := range lines[start:end] {
				body = append(body, strings.TrimPrefix(l, indent))
			}
			cmds, err := blockCommands(file, start+1, body, lang == "console")
			if err != nil {
				return nil, err
			}
			out = append(out, cmds...)
		}
		i = end
	}
	return out, nil
}

// openingFence recognises ``` or ~~~ (three or more), possibly indented (inside a list item).
func openingFence(line string) (indent, fence, lang string, ok bool) {
	trimmed := strings.TrimLeft(line, " \t")
	indent = line[:len(line)-len(trimmed)]
	for _, ch := range []string{"`", "~"} {
		n := len(trimmed) - len(strings.TrimLeft(trimmed, ch))
		if n >= 3 {
			info := strings.Fields(strings.TrimSpace(trimmed[n:]))
			if len(info) > 0 {
				lang = strings.ToLower(strings.Trim(info[0], "{}."))
			}
			return indent, trimmed[:n], lang, true
		}
	}
	return "", "", "", false
}

func closesFence(line, fence string) bool {
	t := strings.TrimSpace(line)
	return strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == ""
}

// blockCommands reads the shell lines of one block; firstLine is the line number of body[0].
func blockCommands(file string, firstLine int, body []string, console bool) ([]docCommand, error) {
	var out []docCommand
	for i := 0; i < len(body); i++ {
		lineNo := firstLine + i
		line := body[i]
		if console {
			after, ok := strings.CutPrefix(strings.TrimLeft(line, " "), "$ ")
			if !ok {
				continue
			}
			line = after
		}
		line, words, last, err := logicalLine(body, i, line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, lineNo, err)
		}
		i = last
		found := false
		for _, simple := range words {
			if args, ok := m2mctlArgs(simple); ok {
				out = append(out, docCommand{File: file, Line: lineNo, Args: args})
				found = true
			}
		}
		if found && placeholderRE.MatchString(line) {
			return nil, fmt.Errorf("%s:%d: %q has a <placeholder>; write a real value so the command runs as written",
				file, lineNo, strings.TrimSpace(line))
		}
		// A here-document's body is data, not commands.
		if m := heredocRE.FindStringSubmatch(line); m != nil {
			for i+1 < len(body) && strings.TrimSpace(body[i+1]) != m[1] {
				i++
			}
			i++
		}
	}
	return out, nil
}

// logicalLine joins line (body[i], without its prompt) with the lines that continue it — after a trailing
// backslash, or inside an open quote — and splits it. last is the index of the last body line it took.
func logicalLine(body []string, i int, line string) (text string, words [][]string, last int, err error) {
	for {
		if strings.HasSuffix(strings.TrimRight(line, " "), `\`) && i+1 < len(body) {
			line = strings.TrimSuffix(strings.TrimRight(line, " "), `\`) + " " + strings.TrimLeft(body[i+1], " ")
			i++
			continue
		}
		words, err = shellSplit(line)
		if errors.Is(err, errUnterminated) && i+1 < len(body) {
			line += "\n" + body[i+1]
			i++
			continue
		}
		return line, words, i, err
	}
}

var errUnterminated = errors.New("unterminated quote")

var heredocRE = regexp.MustCompile(`<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)

// m2mctlArgs recognises a simple command that runs m2mctl (m2mctl, ./bin/m2mctl, go run ./cmd/m2mctl), after
// any VAR=value assignments and sudo/env/time/exec prefixes, and returns its arguments.
func m2mctlArgs(words []string) ([]string, bool) {
	i := 0
	for i < len(words) && (isAssignment(words[i]) || prefixes[words[i]]) {
		i++
	}
	if i >= len(words) {
		return nil, false
	}
	if path.Base(words[i]) == "m2mctl" {
		return append([]string{}, words[i+1:]...), true
	}
	if words[i] == "go" && i+2 < len(words) && words[i+1] == "run" && path.Base(words[i+2]) == "m2mctl" {
		return append([]string{}, words[i+3:]...), true
	}
	return nil, false
}

var prefixes = map[string]bool{"sudo": true, "env": true, "time": true, "exec": true, "command": true}

var assignmentRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func isAssignment(w string) bool { return assignmentRE.MatchString(w) }

// shellSplit splits one shell line into simple commands (at &&, ||, |, ; and &) of words, the way sh would
// after quote removal: quotes group, backslash escapes, # starts a comment, and redirections with their
// targets (> f, 2>&1, < f, <<EOF) are dropped. Variables and $(…) are left as written.
func shellSplit(line string) ([][]string, error) {
	var (
		cmds    [][]string
		cur     []string
		word    strings.Builder
		inWord  bool
		skipTgt bool // the next word is a redirection's target
	)
	endWord := func() {
		if inWord {
			if skipTgt {
				skipTgt = false
			} else {
				cur = append(cur, word.String())
			}
		}
		word.Reset()
		inWord = false
	}
	endCmd := func() {
		endWord()
		if len(cur) > 0 {
			cmds = append(cmds, cur)
		}
		cur = nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("%w ' in %q", errUnterminated, line)
			}
			word.WriteString(line[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
					i++
				}
				word.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, fmt.Errorf("%w \" in %q", errUnterminated, line)
			}
			inWord = true
		case c == '\\' && i+1 < len(line):
			i++
			word.WriteByte(line[i])
			inWord = true
		case c == ' ' || c == '\t':
			endWord()
		case c == '\n':
			endCmd()
		case c == '#' && !inWord:
			endCmd()
			return cmds, nil
		case c == ';' || c == '|' || c == '&':
			if c == '&' && i+1 < len(line) && line[i+1] == '>' { // &> file
				endWord()
				i++
				skipTgt = true
				continue
			}
			endCmd()
			if i+1 < len(line) && (line[i+1] == c) {
				i++
			}
		case c == '>' || c == '<':
			if inWord && strings.Trim(word.String(), "0123456789") == "" { // 2> : the digits are the fd
				word.Reset()
				inWord = false
			}
			endWord()
			for i+1 < len(line) && (line[i+1] == '>' || line[i+1] == '<') {
				i++
			}
			if i+1 < len(line) && line[i+1] == '&' { // >&2, 2>&1: no target word
				i++
				for i+1 < len(line) && strings.IndexByte("0123456789-", line[i+1]) >= 0 {
					i++
				}
				continue
			}
			skipTgt = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	endCmd()
	return cmds, nil
}
