package deployer

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckStaticRefusesWhatCannotRunFromScratch(t *testing.T) {
	text := filepath.Join(t.TempDir(), "script")
	os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755)
	tests := []struct {
		name, path, wantErr string
	}{
		{"a shell script is not an executable", text, "is not a Linux executable"},
		{"a dynamically linked program", "/usr/bin/prometheus", "is dynamically linked"},
		{"a static program", "/bin/busybox", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := os.ReadFile(tc.path)
			if errors.Is(err, os.ErrNotExist) {
				t.Skipf("%s is not on this host", tc.path)
			}
			err = checkStatic(tc.path, body)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("checkStatic(%s) = %v, want nil", tc.path, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("checkStatic(%s) = %v, want %q", tc.path, err, tc.wantErr)
			}
		})
	}
}

func TestScratchContextHoldsDockerfileFilesAndLinks(t *testing.T) {
	r, err := scratchContext(ScratchImage{
		Tag:        "x",
		Entrypoint: []string{"/bin/tool", "serve"},
		Env:        []string{"A=b c"},
		Files: []ImageFile{
			{Path: "/bin/tool", Body: []byte("ELF")},
			{Path: "/bin/sh", Link: "busybox"},
			{Path: "/var/lib/data", Dir: true, Mode: 0o700},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*tar.Header{}
	var dockerfile string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		if h.Name == "Dockerfile" {
			b, _ := io.ReadAll(tr)
			dockerfile = string(b)
		}
	}
	for _, want := range []string{"FROM scratch", "COPY rootfs/ /", `ENTRYPOINT ["/bin/tool","serve"]`, `ENV A="b c"`} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("Dockerfile %q lacks %q", dockerfile, want)
		}
	}
	if h := got["rootfs/bin/sh"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
		t.Errorf("rootfs/bin/sh = %+v, want a symlink to busybox", h)
	}
	if h := got["rootfs/var/lib/data/"]; h == nil || h.Mode != 0o700 {
		t.Errorf("rootfs/var/lib/data/ = %+v, want a directory with mode 0700", h)
	}
	for _, parent := range []string{"rootfs/bin/", "rootfs/var/", "rootfs/var/lib/"} {
		if got[parent] == nil {
			t.Errorf("parent directory %s missing from the context", parent)
		}
	}
}
