package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/m2mnet/m2m/stack/settings"
)

// OriginalGrafanaPort is the host port the TypeScript stack publishes Grafana on; m2m's default is 3000.
const originalGrafanaPort = "3001"

// mapping is how one key of the original .env becomes an m2m setting.
type mapping struct {
	from, to string // to is "" when the key is not carried
	line     int
}

// mapped is an original .env turned into m2m settings, with how every key was taken.
type mapped struct {
	values   map[string]string
	keys     []mapping
	lineOf   map[string]mapping // by m2m setting: the original key and line that set it
	notCarry []mapping
}

// mapOriginal reads the original stack's .env entries: a key m2m knows (under its name or as an alias) is taken
// under its m2m name; an empty value keeps m2m's default; any other key is reported and not carried.
func mapOriginal(raw []settings.RawEntry) (mapped, error) {
	m := mapped{values: map[string]string{}, lineOf: map[string]mapping{}}
	for _, e := range raw {
		name, known := settings.Canonical(e.Key)
		mp := mapping{from: e.Key, to: name, line: e.Line}
		if !known {
			mp.to = ""
			m.notCarry = append(m.notCarry, mp)
			continue
		}
		if prev, dup := m.lineOf[name]; dup {
			return m, fmt.Errorf("line %d: %s sets %s, which line %d sets too (as %s); keep one line", e.Line, e.Key, name, prev.line, prev.from)
		}
		m.lineOf[name] = mp
		m.keys = append(m.keys, mp)
		if strings.TrimSpace(e.Value) != "" {
			m.values[name] = e.Value
		}
	}
	return m, nil
}

// problemsInOriginal restates problems of the migrated settings against the original file: its line and key.
func problemsInOriginal(err error, from string, m mapped) error {
	var ps *settings.Problems
	if !errors.As(err, &ps) {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s cannot be migrated as it is; fix it and run m2mctl migrate again:", from)
	for _, p := range ps.List {
		if mp, ok := m.lineOf[p.Key]; ok {
			p.Line = mp.line
			if mp.from != p.Key {
				p.Key = mp.from + " (" + p.Key + ")"
			}
		}
		b.WriteString("\n  " + p.String())
	}
	return errors.New(b.String())
}

// weakGrafanaPassword reports why the original's Grafana password is not kept: the template's admin, or one the
// schema refuses (too short). "" keeps it.
func weakGrafanaPassword(v string) string {
	s, _ := settings.Lookup(settings.GrafanaPassword)
	switch {
	case v == "":
		return "was not set"
	case v == "admin":
		return "was the template's admin"
	case s.Check(v) != nil:
		return "was too short for m2m (12 characters at least)"
	}
	return ""
}
