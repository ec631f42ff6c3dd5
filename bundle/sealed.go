// Package bundle writes and checks sealed archives — a tar whose last entry lists the size and SHA-256 of every
// other entry — and uses them to carry the stack's images to a host without a registry.
//
// The seal is an extra tar entry rather than a sidecar file so that one file travels and `docker load`, which
// reads only manifest.json and the files it names, still accepts the archive as it is.
package bundle

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
)

// SealName is the name of the archive's last entry: the seal.
const SealName = "m2m-seal.json"

// ErrCorrupt is wrapped by every CorruptError.
var ErrCorrupt = errors.New("archive is corrupt")

// CorruptError says why an archive failed its check: truncated, an entry changed, added or missing.
type CorruptError struct {
	Path   string
	Reason string
}

func (e *CorruptError) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Reason) }
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// Seal is the archive's last entry: what it holds (Meta, the caller's own JSON) and a checksum per entry.
type Seal struct {
	Format  string           `json:"format"`
	Meta    json.RawMessage  `json:"meta"`
	Entries map[string]Entry `json:"entries"`
}

// Entry is one sealed file.
type Entry struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// SealWriter copies tar entries into w, checksumming them, and writes the seal on Close.
type SealWriter struct {
	tw      *tar.Writer
	format  string
	entries map[string]Entry
}

// NewSealWriter starts a sealed archive of the given format name on w.
func NewSealWriter(w io.Writer, format string) *SealWriter {
	return &SealWriter{tw: tar.NewWriter(w), format: format, entries: map[string]Entry{}}
}

// WriteEntry adds one entry; body is read to hdr.Size for regular files.
func (s *SealWriter) WriteEntry(hdr *tar.Header, body io.Reader) error {
	if hdr.Name == SealName {
		return fmt.Errorf("entry name %s is reserved for the seal", SealName)
	}
	if err := s.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", hdr.Name, err)
	}
	h := headerHash(hdr)
	n, err := io.Copy(io.MultiWriter(s.tw, h), body)
	if err != nil {
		return fmt.Errorf("write %s: %w", hdr.Name, err)
	}
	s.entries[hdr.Name] = Entry{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	return nil
}

// CopyTar copies every entry of the tar stream r into the archive, each name prefixed with prefix.
func (s *SealWriter) CopyTar(r io.Reader, prefix string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar stream: %w", err)
		}
		hdr.Name = prefix + hdr.Name
		if err := s.WriteEntry(hdr, tr); err != nil {
			return err
		}
	}
}

// Close writes the seal with meta (marshalled to JSON) as the last entry and ends the archive.
func (s *SealWriter) Close(meta any) error {
	m, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	body, err := json.MarshalIndent(Seal{Format: s.format, Meta: m, Entries: s.entries}, "", "  ")
	if err != nil {
		return err
	}
	if err := s.tw.WriteHeader(&tar.Header{Name: SealName, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := s.tw.Write(body); err != nil {
		return err
	}
	return s.tw.Close()
}

// Verify reads the archive at path to its end and checks every entry against the seal; it returns the seal.
// progress, when not nil, is called with the bytes read so far. Any failure is a *CorruptError.
func Verify(path, format string, progress func(int64)) (*Seal, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return VerifyReader(path, f, format, progress)
}

// VerifyReader is Verify on an open stream; name is used in errors.
func VerifyReader(name string, r io.Reader, format string, progress func(int64)) (*Seal, error) {
	corrupt := func(format string, a ...any) error {
		return &CorruptError{Path: name, Reason: fmt.Sprintf(format, a...)}
	}
	cr := &countingReader{r: r, progress: progress}
	tr := tar.NewReader(cr)
	got := map[string]Entry{}
	var seal *Seal
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, corrupt("unreadable after %d bytes (truncated or damaged): %v", cr.n, err)
		}
		if seal != nil {
			return nil, corrupt("entry %s follows the seal (%s): the archive was altered", hdr.Name, SealName)
		}
		if hdr.Name == SealName {
			seal = &Seal{}
			if err := json.NewDecoder(tr).Decode(seal); err != nil {
				return nil, corrupt("the seal %s is unreadable: %v", SealName, err)
			}
			continue
		}
		h := headerHash(hdr)
		n, err := io.Copy(h, tr)
		if err != nil {
			return nil, corrupt("entry %s is cut short after %d bytes (truncated): %v", hdr.Name, cr.n, err)
		}
		got[hdr.Name] = Entry{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	}
	if seal == nil {
		return nil, corrupt("no seal (%s) at the end: the file is truncated or was not written by m2mctl", SealName)
	}
	if seal.Format != format {
		return nil, corrupt("it is a %q archive, not %q", seal.Format, format)
	}
	for _, name := range sortedNames(seal.Entries) {
		g, ok := got[name]
		switch {
		case !ok:
			return nil, corrupt("entry %s is missing", name)
		case g != seal.Entries[name]:
			return nil, corrupt("entry %s does not match its checksum (sha256 %s, sealed %s): the file was modified or damaged", name, g.SHA256, seal.Entries[name].SHA256)
		}
	}
	for _, name := range sortedNames(got) {
		if _, ok := seal.Entries[name]; !ok {
			return nil, corrupt("entry %s is not in the seal: the archive was altered", name)
		}
	}
	return seal, nil
}

// headerHash starts an entry's checksum with the header fields that change what is unpacked (type, link
// target, mode), so that a retargeted link fails the check as a changed body does.
func headerHash(hdr *tar.Header) hash.Hash {
	h := sha256.New()
	fmt.Fprintf(h, "%c\x00%s\x00%o\x00", hdr.Typeflag, hdr.Linkname, hdr.Mode)
	return h
}

func sortedNames(m map[string]Entry) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.n)
	}
	return n, err
}
