// Command tigerbeetle is a stand-in for the TigerBeetle server's process-level behaviour, for tests on hosts
// where the real image cannot be pulled: `format` creates the data file exclusively (exit 1 if it exists),
// `start` refuses a missing or partial file and listens on TCP. It speaks no TigerBeetle protocol.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// The data file is a header, a body and a trailer; only a file with all three is "formatted".
const (
	header  = "TIGERBEETLE-STANDIN\n"
	trailer = "\nEND\n"
	// bodySize keeps the file small but more than one write, so an interrupted format leaves a partial file.
	bodySize = 64 << 10
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tigerbeetle format|start|version [flags] PATH")
		os.Exit(1)
	}
	var err error
	switch os.Args[1] {
	case "format":
		err = format(os.Args[2:])
	case "start":
		err = start(os.Args[2:])
	case "version":
		fmt.Println("TigerBeetle version 0.17.9 (stand-in)")
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func format(args []string) error {
	fs := flag.NewFlagSet("format", flag.ContinueOnError)
	cluster := fs.String("cluster", "", "cluster id")
	replica := fs.Int("replica", -1, "replica index")
	count := fs.Int("replica-count", 0, "replica count")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cluster == "" || *replica < 0 || *count < 1 || fs.NArg() != 1 {
		return errors.New("format needs --cluster, --replica, --replica-count and one PATH")
	}
	path := fs.Arg(0)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer f.Close()
	fmt.Fprintf(f, "%scluster=%s replica=%d replica-count=%d\n", header, *cluster, *replica, *count)
	half := bytes.Repeat([]byte{0xAB}, bodySize/2)
	if _, err := f.Write(half); err != nil {
		return err
	}
	// STANDIN_FORMAT_SLEEP lets a test interrupt a format half-way, leaving a partial file behind.
	if d, err := time.ParseDuration(os.Getenv("STANDIN_FORMAT_SLEEP")); err == nil {
		f.Sync()
		time.Sleep(d)
	}
	if _, err := f.Write(half); err != nil {
		return err
	}
	if _, err := io.WriteString(f, trailer); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	fmt.Printf("info: formatted %s\n", path)
	return nil
}

func start(args []string) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	addresses := fs.String("addresses", "", "IP:PORT")
	fs.String("cache-grid", "", "cache size")
	fs.Bool("development", false, "no Direct I/O")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addresses == "" || fs.NArg() != 1 {
		return errors.New("start needs --addresses and one PATH")
	}
	replica, err := checkDataFile(fs.Arg(0))
	if err != nil {
		return err
	}
	// As TigerBeetle does: every entry must be an IP literal, and replica i listens on entry i.
	list := strings.Split(*addresses, ",")
	for _, a := range list {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("--addresses=%s: %w", *addresses, err)
		}
		if net.ParseIP(host) == nil {
			return fmt.Errorf("--addresses=%s: %q is not an IP literal", *addresses, host)
		}
	}
	if replica >= len(list) {
		return fmt.Errorf("--addresses=%s has no entry for replica %d", *addresses, replica)
	}
	addr := list[replica]
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("info: listening on %s\n", ln.Addr())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return nil
}

// checkDataFile refuses a missing or partial file and returns the replica index it was formatted for.
func checkDataFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("open data file: %w", err)
	}
	if !bytes.HasPrefix(b, []byte(header)) || !bytes.HasSuffix(b, []byte(trailer)) {
		return 0, fmt.Errorf("data file %s is not fully formatted (%d bytes)", path, len(b))
	}
	var cluster string
	var replica, count int
	line, _, _ := bytes.Cut(b[len(header):], []byte("\n"))
	if _, err := fmt.Sscanf(string(line), "cluster=%s replica=%d replica-count=%d", &cluster, &replica, &count); err != nil {
		return 0, fmt.Errorf("data file %s: no replica in its header: %w", path, err)
	}
	return replica, nil
}
