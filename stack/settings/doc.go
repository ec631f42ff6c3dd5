package settings

import (
	"bytes"
	"fmt"
	"strings"
)

// SettingsDocFile is where the settings reference is generated.
const SettingsDocFile = "docs/settings.md"

// RenderSettingsDoc writes the Markdown reference of every setting, generated from the schema.
func RenderSettingsDoc() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!-- %s -->\n\n", GeneratedHeader)
	b.WriteString("# Settings\n\nEvery key of the `.env` that `m2mctl init` writes and `m2mctl config` checks. ")
	b.WriteString("Secrets are never printed and never enter the Compose YAML; keep the `.env` at mode 0600.\n")
	defaults := Defaults()
	for _, g := range Groups() {
		fmt.Fprintf(&b, "\n## %s\n\n| Setting | Default | Required | Secret | What it is |\n|---|---|---|---|---|\n", g)
		for _, s := range Schema() {
			if s.Group != g {
				continue
			}
			required := ""
			switch {
			case s.Required(defaults):
				required = "yes"
			case s.RequiredWhen != nil:
				required = "depends"
			}
			secret := ""
			if s.Secret {
				secret = "yes"
			}
			doc := s.Doc
			if len(s.Choices) > 0 {
				doc += " One of: `" + strings.Join(s.Choices, "`, `") + "`."
			}
			if len(s.Aliases) > 0 {
				doc += " Also read as `" + strings.Join(s.Aliases, "`, `") + "`."
			}
			if s.Generated {
				doc += " Made by `m2mctl init`."
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.Name, code(s.Default), required, secret, strings.ReplaceAll(doc, "|", `\|`))
		}
	}
	return b.Bytes()
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}
