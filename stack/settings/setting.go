// Package settings is the schema of every .env setting of an m2m node, and loading and validating a .env.
// Standard library only: the connector imports it, and nothing of Compose comes with it.
package settings

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Group orders settings in the .env, the wizard and the docs.
type Group string

const (
	GroupNode       Group = "Node"
	GroupSettlement Group = "Settlement"
	GroupKeys       Group = "Keys"
	GroupNetwork    Group = "Network"
	GroupLedger     Group = "Ledger"
	GroupDiscovery  Group = "Peer discovery"
	GroupMonitoring Group = "Monitoring"
	GroupImages     Group = "Images"
)

// Groups lists the groups in the order they are written.
var groupOrder = []Group{GroupNode, GroupSettlement, GroupKeys, GroupNetwork, GroupLedger, GroupDiscovery, GroupMonitoring, GroupImages}

// Groups returns the groups in the order the .env, the wizard and the docs present them.
func Groups() []Group { return slices.Clone(groupOrder) }

// Setting declares one .env key. Everything else — the wizard's prompts, .env.example, validation errors, the
// Compose environment and the docs table — is derived from these declarations.
type Setting struct {
	Name    string
	Group   Group
	Doc     string // one line, what it is for
	Default string // applied when the key is absent or empty
	Example string // what a valid value looks like, shown in errors and .env.example
	Secret  bool   // never printed, never in YAML; .env is written 0600
	// Generated settings are made by `m2mctl init` (random) and never typed by the operator.
	Generated bool
	// Choices, when set, are the only valid values.
	Choices []string
	// RequiredWhen reports whether the key must be set given the other values; nil means optional.
	RequiredWhen func(Values) bool
	// Validate checks a non-empty value; nil accepts anything.
	Validate func(string) error
	// Services receive the key in their container environment (as ${NAME} in the YAML, resolved from .env).
	Services []string
	// Aliases are other spellings of the same setting (another stack's names) that a .env may use instead;
	// `m2mctl config` notes each one used, and nothing m2m writes uses them.
	Aliases []string
}

// Required reports whether the setting must have a value, given the others.
func (s Setting) Required(v Values) bool { return s.RequiredWhen != nil && s.RequiredWhen(v) }

// Check validates a non-empty value against the choices and the validator.
func (s Setting) Check(value string) error {
	if len(s.Choices) > 0 && !slices.Contains(s.Choices, value) {
		return fmt.Errorf("must be one of %s", strings.Join(s.Choices, ", "))
	}
	if s.Validate != nil {
		return s.Validate(value)
	}
	return nil
}

// Lookup returns the setting called name.
func Lookup(name string) (Setting, bool) {
	for _, s := range Schema() {
		if s.Name == name {
			return s, true
		}
	}
	return Setting{}, false
}

// Values holds settings by name, defaults applied. Only Load, FromEnviron and Validate make a trusted one.
type Values map[string]string

// String returns the value of name ("" if unset).
func (v Values) String(name string) string { return v[name] }

// Int returns the value of name as an int; validated values always parse.
func (v Values) Int(name string) int {
	n, _ := strconv.Atoi(v[name])
	return n
}

// Uint64 returns the value of name as a uint64; validated values always parse.
func (v Values) Uint64(name string) uint64 {
	n, _ := strconv.ParseUint(v[name], 10, 64)
	return n
}

// Bool returns the value of name as a bool (see ParseBool).
func (v Values) Bool(name string) bool {
	b, _ := ParseBool(v[name])
	return b
}

// List splits a comma-separated value, trimming blanks and dropping empty items.
func (v Values) List(name string) []string {
	var out []string
	for _, item := range strings.Split(v[name], ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Settlement reports whether the settlement preference includes chain ("evm" or "xrp").
func (v Values) Settlement(chain string) bool {
	p := v[SettlementPreference]
	return p == chain || p == "both"
}

// ParseBool is the one reading of a boolean setting: true, 1, yes, y, on, or false, 0, no, n, off, in any
// case; empty is false.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "y", "on":
		return true, nil
	case "false", "0", "no", "n", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("must be true or false")
}
