package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/charmbracelet/huh"
)

// errAborted means the operator stopped the wizard; nothing was written.
var errAborted = errors.New("init cancelled; nothing was written")

// wizard asks the questions that flags have not answered, a page at a time. Each page is its own huh form:
// a page ends after a question whose answer decides what is asked next, so every form is built knowing the
// answers before it, and the same code serves the full-screen form and the accessible line-by-line mode
// (which, unlike huh's own group handling, then never asks a question that does not apply).
type wizard struct {
	qs         []question
	a          answers
	preset     map[string]bool // answered by flags (or kept by --update): not asked
	kept       map[string]bool // secrets --update keeps from the existing file
	output     string          // the .env path, for the summary
	accessible bool
	plain      bool      // no colour (NO_COLOR, TERM=dumb)
	in         io.Reader // a *lineReader in accessible mode; the terminal otherwise
	out        io.Writer
	theme      *huh.Theme
	heading    string            // the group last announced in accessible mode
	derived    map[string]string // what applyFollows gave each question
	swarm      *swarmSetup       // the Swarm's nodes and placement, asked when DEPLOY_TARGET=swarm
}

// item is one field on a page; done copies its value back into the answers (confirm fields bind a bool).
type item struct {
	q     question
	field huh.Field
	help  string // the description, printed before the prompt in accessible mode (huh shows only the title)
	done  func()
	// label names a field that fills no setting, for the message when input ends; check validates its value
	// then (huh's accessible select offers the default forever when it is refused).
	label string
	check func() error
}

func (w *wizard) run(ctx context.Context) error {
	for {
		if err := w.ask(ctx); err != nil {
			return err
		}
		choice, err := w.summary(ctx)
		if err != nil {
			return err
		}
		switch choice {
		case choiceWrite:
			return nil
		case choiceQuit:
			return errAborted
		}
		// choiceChange: ask again, with the answers given so far as the defaults.
	}
}

// ask goes through the pages once.
func (w *wizard) ask(ctx context.Context) error {
	for i := 0; i < len(w.qs); {
		if w.derived == nil {
			w.derived = map[string]string{}
		}
		applyFollows(w.qs, w.a, w.preset, w.derived)
		page, next := w.page(i)
		if len(page) > 0 {
			if err := w.runPage(ctx, page); err != nil {
				return err
			}
		}
		if w.placementDue(i, next) {
			if err := w.askPlacement(ctx); err != nil {
				return err
			}
		}
		askedBackend := slices.ContainsFunc(page, func(q question) bool { return q.name == settings.KeyBackend })
		if askedBackend && w.a.get(settings.KeyBackend) == "env" {
			ok, err := w.confirmEnvBackend(ctx)
			if err != nil {
				return err
			}
			if !ok {
				continue // the same page again: choose another backend
			}
		}
		i = next
	}
	return nil
}

// page returns the questions to ask from index i, and where the next page starts.
func (w *wizard) page(i int) ([]question, int) {
	var page []question
	for start := i; i < len(w.qs); i++ {
		q := w.qs[i]
		if q.newPage && i > start {
			return page, i
		}
		if q.applies(w.a) && !w.preset[q.name] {
			page = append(page, q)
		}
		if q.drives {
			return page, i + 1
		}
	}
	return page, i
}

func (w *wizard) runPage(ctx context.Context, page []question) error {
	items := make([]item, 0, len(page))
	for _, q := range page {
		items = append(items, w.item(q))
	}
	title := string(page[0].setting().Group)
	if err := w.runItems(ctx, title, items); err != nil {
		return err
	}
	for _, it := range items {
		if it.done != nil {
			it.done()
		}
	}
	return nil
}

// title is the field's title: the question in words, with the .env key beside it, faint where colour is on.
func (w *wizard) title(q question) string {
	if w.accessible || w.plain {
		return q.ask + " (" + q.name + ")"
	}
	return q.ask + "  \x1b[2m" + q.name + "\x1b[22m"
}

// item builds the field for q from its setting: title, description, default, choices and checks.
func (w *wizard) item(q question) item {
	s := q.setting()
	title := w.title(q)
	help := s.Doc
	if len(s.Choices) == 0 && q.kind != kindYesNo && s.Example != "" && !strings.HasPrefix(s.Example, "<") && !s.Secret {
		help += " Example: " + s.Example
	}
	if q.name == settings.KeyBackend || q.name == settings.EVMPrivateKey || q.name == settings.XRPSecret {
		help += " " + signingInactive
	}
	validate := func(v string) error {
		if strings.TrimSpace(v) == "" { // the accessible prompt's empty line keeps the shown value
			v = w.a.get(q.name)
		}
		return q.check(w.a, v)
	}
	switch q.kind {
	case kindChoice:
		f := huh.NewSelect[string]().Title(title).Description(help).
			Options(huh.NewOptions(s.Choices...)...).Value(w.a.ptr(q.name))
		return item{q: q, field: f, help: help}
	case kindYesNo:
		b := w.a.get(q.name) == "true"
		f := huh.NewConfirm().Title(title).Description(help).Value(&b)
		return item{q: q, field: f, help: help, done: func() { w.a.set(q.name, strconv.FormatBool(b)) }}
	case kindSecretFile:
		help = "The path of a file that holds it (the secret itself is never typed or shown): " + help
		if !q.required(w.a) {
			help += " Leave it empty to skip."
		}
		f := huh.NewInput().Title(title).Description(help).Value(w.a.ptr(q.name)).Validate(validate)
		return item{q: q, field: f, help: help}
	default:
		f := huh.NewInput().Title(title).Description(help).Value(w.a.ptr(q.name)).Validate(validate)
		if s.Example != "" && !strings.HasPrefix(s.Example, "<") {
			f.Placeholder(s.Example)
		}
		return item{q: q, field: f, help: help}
	}
}

func (w *wizard) runItems(ctx context.Context, title string, items []item) error {
	if w.accessible {
		for _, it := range items {
			heading := title
			if it.q.name != "" {
				heading = string(it.q.setting().Group)
			}
			if heading != w.heading {
				fmt.Fprintf(w.out, "\n== %s ==\n", heading)
				w.heading = heading
			}
			if err := w.runAccessible(it); err != nil {
				return err
			}
		}
		return nil
	}
	err := w.form(title, items).RunWithContext(ctx)
	if errors.Is(err, huh.ErrUserAborted) {
		return errAborted
	}
	return err
}

// form is one page as a full-screen huh form.
func (w *wizard) form(title string, items []item) *huh.Form {
	fields := make([]huh.Field, len(items))
	for i, it := range items {
		fields[i] = it.field
	}
	return huh.NewForm(huh.NewGroup(fields...).Title(title)).
		WithInput(w.in).WithOutput(w.out).WithTheme(w.theme).WithShowHelp(true)
}

// runAccessible asks one field line by line. huh's accessible prompts take the default at end of input,
// so the wizard checks that a line was really read: a script that runs out of answers fails instead of
// writing defaults it never chose.
func (w *wizard) runAccessible(it item) error {
	fmt.Fprintf(w.out, "\n%s\n", it.help)
	if it.q.name != "" && it.q.kind != kindChoice && it.q.kind != kindYesNo {
		if v := w.a.get(it.q.name); v != "" {
			fmt.Fprintf(w.out, "Press Enter to keep %s.\n", v)
		}
	}
	lr, _ := w.in.(*lineReader)
	before := 0
	if lr != nil {
		before = lr.lines
	}
	it.field.Init()
	it.field.Focus()
	if err := it.field.RunAccessible(w.out, w.in); err != nil {
		return err
	}
	fmt.Fprintln(w.out)
	if lr == nil || !lr.eof {
		return nil
	}
	if it.done != nil {
		it.done()
	}
	name := cmp.Or(it.q.name, it.label, "the confirmation")
	if lr.lines == before {
		return fmt.Errorf("input ended before %s was answered; answer every question, or use flags with --yes", name)
	}
	check := it.check
	if it.q.name != "" {
		check = func() error { return it.q.check(w.a, w.a.get(it.q.name)) }
	}
	if check != nil {
		if err := check(); err != nil {
			return fmt.Errorf("input ended with no valid answer for %s: %w", name, err)
		}
	}
	return nil
}

const envBackendWarning = "KEY_BACKEND=env keeps the signing keys in plain text in the .env file: anyone who can " +
	"read that file, or a backup of it, can move this node's funds. Use it for development and tests only; " +
	"in production choose aws-kms, gcp-kms or azure-kv."

// confirmEnvBackend shows the production warning of the env backend and asks to confirm it.
func (w *wizard) confirmEnvBackend(ctx context.Context) (bool, error) {
	ok := false
	confirm := huh.NewConfirm().Title("Keep the keys in .env anyway?").
		Description(envBackendWarning).Affirmative("Yes, development only").Negative("No, choose another").Value(&ok)
	items := []item{{field: confirm, help: "WARNING: " + envBackendWarning}}
	if err := w.runItems(ctx, "Keys", items); err != nil {
		return false, err
	}
	return ok, nil
}

const (
	choiceWrite  = "write"
	choiceChange = "change"
	choiceQuit   = "quit"
)

// summary shows every answer (secrets and generated values only as such) and asks what to do.
func (w *wizard) summary(ctx context.Context) (string, error) {
	text := summaryText(w.qs, w.a, w.kept)
	if w.a.get(settings.DeployTarget) == settings.TargetSwarm && w.swarm != nil && w.swarm.mgr != nil {
		text += "\n" + placementSummary(w.swarm, summaryWidth())
	}
	choice := choiceWrite
	sel := huh.NewSelect[string]().Title("Write "+w.output+"?").Options(
		huh.NewOption("Write "+w.output, choiceWrite),
		huh.NewOption("Change answers", choiceChange),
		huh.NewOption("Quit without writing", choiceQuit),
	).Value(&choice)
	var items []item
	if w.accessible {
		items = []item{{field: sel, help: "Summary:\n" + text}}
	} else {
		// A note's description is huh's small markdown: escape the _ of the names and any * or ` in the values.
		escaped := strings.NewReplacer(`\`, `\\`, "_", `\_`, "*", `\*`, "`", "\\`").Replace(text)
		note := huh.NewNote().Title("Summary").Description(escaped)
		items = []item{{field: note}, {field: sel}}
	}
	if err := w.runItems(ctx, "Summary", items); err != nil {
		return "", err
	}
	return choice, nil
}

// summaryText lists the answers that apply, then what init generates. Secrets are never shown.
func summaryText(qs []question, a answers, kept map[string]bool) string {
	var b strings.Builder
	width := summaryWidth()
	for _, q := range qs {
		if !q.applies(a) {
			continue
		}
		v := a.get(q.name)
		switch {
		case q.kind == kindSecretFile && v != "":
			v = "(read from " + v + ", not shown)"
		case kept[q.name]:
			v = "(kept from the existing file, not shown)"
		case v == "":
			v = "(empty)"
		}
		fmt.Fprintf(&b, "%-*s  %s\n", width, q.name, v)
	}
	for _, s := range settings.Schema() {
		if s.Generated {
			fmt.Fprintf(&b, "%-*s  (generated, not shown)\n", width, s.Name)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// summaryWidth is the width of the summary's name column: the longest setting name.
func summaryWidth() int {
	width := 0
	for _, s := range settings.Schema() {
		width = max(width, len(s.Name))
	}
	return width
}

// placementDue reports whether the page from question i to next passed the replica count question, after
// which a Swarm's placement is asked.
func (w *wizard) placementDue(i, next int) bool {
	if w.swarm == nil || w.a.get(settings.DeployTarget) != settings.TargetSwarm {
		return false
	}
	k := slices.IndexFunc(w.qs, func(q question) bool { return q.name == settings.TigerBeetleReplicaCount })
	return k >= i && k < next
}
