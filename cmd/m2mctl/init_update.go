package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"strings"

	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/stack/settings"
)

// existing is the .env that `init --update` starts from: the settings it sets, by their canonical names.
type existing map[string]string

// readExisting reads the .env at path for --update. A key that is not a setting is named and left out.
func readExisting(path string, warn io.Writer) (existing, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usageErrorf("--update starts from the existing %s, and there is none: run m2mctl init without --update to write one", path)
	}
	if err != nil {
		return nil, fmt.Errorf("--update: %w", err)
	}
	defer f.Close()
	raw, problems := settings.ReadRaw(f)
	if len(problems) > 0 {
		lines := make([]string, len(problems))
		for i, p := range problems {
			lines[i] = fmt.Sprintf("line %d: %s %s", p.Line, p.Key, p.Msg)
		}
		return nil, usageErrorf("--update cannot read %s; fix it, or start again with --force:\n  %s", path, strings.Join(lines, "\n  "))
	}
	old := existing{}
	for _, e := range raw {
		name, known := settings.Canonical(e.Key)
		if !known {
			fmt.Fprintf(warn, "note: %s (line %d of %s) is not an m2m setting; it is not carried over\n", e.Key, e.Line, path)
			continue
		}
		if e.Value != "" {
			old[name] = e.Value
		}
	}
	return old, nil
}

// applyExisting offers the existing values as the answers of the questions no flag answered. A secret, asked
// for as a file, is not asked again: it is kept unless its flag names a new file. It returns the secrets kept.
func applyExisting(qs []question, a answers, preset map[string]bool, old existing) map[string]bool {
	kept := map[string]bool{}
	for _, q := range qs {
		v, ok := old[q.name]
		if !ok || preset[q.name] {
			continue
		}
		if q.kind == kindSecretFile {
			kept[q.name] = true
			continue
		}
		if q.kind == kindYesNo {
			v = normalBool(v)
		}
		a.set(q.name, v)
	}
	return kept
}

// keepGenerated keeps the existing cluster id, Grafana password and identity key instead of new ones: a
// ledger's data files carry the cluster id, and peers know the node by its key.
func keepGenerated(gen *generated, old existing) error {
	for name := range gen.values {
		if v, ok := old[name]; ok {
			gen.values[name] = v
		}
	}
	v, ok := old[settings.NodePrivateKey]
	if !ok {
		return nil
	}
	key, err := identity.ParsePrivateKey(v)
	if err != nil {
		return usageError{fmt.Errorf("the existing .env: %w", err)}
	}
	gen.publicKey = key.Public().(ed25519.PublicKey)
	return nil
}

// mergeExisting is what --update writes: the existing settings, less those of questions that no longer apply
// (a key that a change of backend no longer uses does not stay behind in plain text), with the answers and
// the kept secrets on top.
func mergeExisting(qs []question, a answers, old existing, kept map[string]bool, values map[string]string, warn io.Writer) map[string]string {
	out := maps.Clone(old)
	for _, q := range qs {
		_, had := out[q.name]
		switch {
		case !q.applies(a):
			if had {
				fmt.Fprintf(warn, "note: %s is not used with these answers; it is removed from the .env\n", q.name)
			}
			delete(out, q.name)
		case kept[q.name] && values[q.name] == "":
		case values[q.name] == "":
			delete(out, q.name) // answered empty
		}
	}
	maps.Copy(out, values)
	return out
}

// existingReplicaPort is the port of the existing TIGERBEETLE_REPLICA_ADDRESSES, so that --update moves no
// replica's port unless told to; else port.
func existingReplicaPort(old existing, port int) int {
	first, _, _ := strings.Cut(old[settings.TigerBeetleReplicaAddresses], ",")
	if ap, err := netip.ParseAddrPort(strings.TrimSpace(first)); err == nil && ap.Port() != 0 {
		return int(ap.Port())
	}
	return port
}

// replicaCountWarning says that a ledger formatted with one replica count does not start with another.
func replicaCountWarning(old existing, now string) string {
	was, ok := old[settings.TigerBeetleReplicaCount]
	if !ok {
		was = "1"
	}
	if was == now {
		return ""
	}
	return fmt.Sprintf("%s changes from %s to %s: TigerBeetle fixes the replica count when it formats the data files, "+
		"so data files formatted for %s replicas do not start with %s: keep %s, or remove the ledger's volumes and start a new, empty ledger",
		settings.TigerBeetleReplicaCount, was, now, was, now, was)
}
