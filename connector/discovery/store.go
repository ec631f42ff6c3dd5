package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// StateFileName is the registry's state file inside its data directory.
const StateFileName = "registry.json"

const stateVersion = 1

// record is one node the registry knows. A deregistered node keeps its record (Deleted) so that its id stays
// bound to its key: otherwise every graceful shutdown would leave the id free for anyone to take.
type record struct {
	NodeID       string   `json:"nodeId"`
	BTPEndpoint  string   `json:"btpEndpoint"`
	ILPAddress   string   `json:"ilpAddress"`
	Capabilities []string `json:"capabilities"`
	Version      string   `json:"version"`
	PublicKey    string   `json:"publicKey"`
	LastSeen     int64    `json:"lastSeen"` // Unix milliseconds
	Deleted      bool     `json:"deleted,omitempty"`
	// LastDelete is the signed time (Unix ms) of the newest DELETE accepted; an older or equal one is a replay.
	LastDelete int64 `json:"lastDelete,omitempty"`
}

type stateFile struct {
	Version int      `json:"version"`
	Nodes   []record `json:"nodes"`
}

// loadState reads the state file; a missing file is an empty registry.
func loadState(dir string) (map[string]*record, error) {
	path := filepath.Join(dir, StateFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*record{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read registry state %s: %w", path, err)
	}
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("registry state %s is not valid JSON (%v); move it aside to start with an empty registry", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("registry state %s has version %d, this build reads version %d; use a matching m2m-connector", path, st.Version, stateVersion)
	}
	nodes := make(map[string]*record, len(st.Nodes))
	for i := range st.Nodes {
		r := st.Nodes[i]
		if ValidNodeID(r.NodeID) != nil || r.PublicKey == "" {
			return nil, fmt.Errorf("registry state %s: entry %d (nodeId %s) is incomplete; move the file aside to start with an empty registry", path, i, quoteShort(r.NodeID))
		}
		nodes[r.NodeID] = &r
	}
	return nodes, nil
}

// writeState replaces the state file atomically: write a temp file in the same directory, fsync it, rename
// it over the old one and fsync the directory, so that a crash leaves either the old or the new state.
func writeState(dir string, recs []record) error {
	slices.SortFunc(recs, func(a, b record) int { return strings.Compare(a.NodeID, b.NodeID) })
	b, err := json.MarshalIndent(stateFile{Version: stateVersion, Nodes: recs}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode registry state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+StateFileName+".*.tmp")
	if err != nil {
		return fmt.Errorf("write registry state in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fsync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	path := filepath.Join(dir, StateFileName)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s to fsync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
