package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFormatIsExclusiveAndStartRefusesPartialFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0_0.tigerbeetle")
	args := []string{"--cluster=7", "--replica=0", "--replica-count=1", path}
	if err := format(args); err != nil {
		t.Fatalf("first format: %v", err)
	}
	if _, err := checkDataFile(path); err != nil {
		t.Fatalf("a formatted file is refused: %v", err)
	}
	before, _ := os.ReadFile(path)
	if err := format(args); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second format over an existing file: %v, want it refused", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("a refused format changed the existing file")
	}
	partial := filepath.Join(dir, "partial")
	os.WriteFile(partial, before[:len(before)/2], 0o600)
	if _, err := checkDataFile(partial); err == nil {
		t.Error("a half-written data file was accepted")
	}
	if err := start([]string{"--addresses=tigerbeetle:3000", path}); err == nil || !strings.Contains(err.Error(), "not an IP literal") {
		t.Errorf("start with a host name: %v, want it refused like the real TigerBeetle", err)
	}
}

func TestStartFindsItsReplicaIndexInTheDataFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0_2.tigerbeetle")
	if err := format([]string{"--cluster=7", "--replica=2", "--replica-count=3", path}); err != nil {
		t.Fatal(err)
	}
	replica, err := checkDataFile(path)
	if err != nil || replica != 2 {
		t.Fatalf("checkDataFile = %d, %v; want replica 2", replica, err)
	}
	err = start([]string{"--addresses=127.0.0.1:1,127.0.0.1:2", path})
	if err == nil || !strings.Contains(err.Error(), "no entry for replica 2") {
		t.Errorf("start of replica 2 with two addresses: %v, want it refused", err)
	}
}
