package deployer

import (
	"context"
	"os"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeV2403Hashes are the config-hash labels Docker Compose v2.40.3 computes for testdata/hashtest.yaml
// (working directory /srv/hashtest, SECRET=s3cret, SETTING=b, profile extra): its own ServiceHash run on the
// project compose-go v2.9.1 loads the way `docker compose up` loads it. The parity scenario in test/e2e checks
// the same against the labels of containers that a real Compose v2.40.3 made.
var composeV2403Hashes = map[string]string{
	"app":   "9f8fc5e03fdcffe8bc71840acfaa16ad09ed080e953209bd4d81c9a492b331d8",
	"db":    "b7845c929b169c2ad8403cc35a1e54c3e7237ccd233d15fbefb741a162435be4",
	"extra": "64833e0f295039c2bd88db86dde1c41de6f053d102d01a24e887a05077456f83",
	"init":  "8a65c821d523da9070c24e6891a60ef2a45a517d6496fef9663b27b067153729",
}

func loadHashProject(t *testing.T, env map[string]string, edit func([]byte) []byte) *types.Project {
	t.Helper()
	body, err := os.ReadFile("testdata/hashtest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		body = edit(body)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  "/srv/hashtest",
		ConfigFiles: []types.ConfigFile{{Filename: "/srv/hashtest/compose.yaml", Content: body}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("hashtest", true); o.Profiles = []string{"extra"} })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigHashIsComposes(t *testing.T) {
	p := loadHashProject(t, map[string]string{"SECRET": "s3cret", "SETTING": "b"}, nil)
	for name, want := range composeV2403Hashes {
		got, err := ConfigHash(p.Services[name])
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			b, _ := composeServiceJSON(p.Services[name])
			t.Errorf("service %s: hash %s, Compose v2.40.3 says %s; hashed:\n%s", name, got, want, b)
		}
	}
}

func TestConfigHashFollowsSettingsNotDependencies(t *testing.T) {
	env := map[string]string{"SECRET": "s3cret", "SETTING": "b"}
	base := loadHashProject(t, env, nil)
	hash := func(p *types.Project, svc string) string {
		h, err := ConfigHash(p.Services[svc])
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	changed := loadHashProject(t, map[string]string{"SECRET": "s3cret", "SETTING": "c"}, nil)
	if hash(changed, "app") == hash(base, "app") || hash(changed, "db") != hash(base, "db") {
		t.Errorf("SETTING changed: app changed %t (want true), db changed %t (want false)",
			hash(changed, "app") != hash(base, "app"), hash(changed, "db") != hash(base, "db"))
	}
	// Compose leaves depends_on and profiles out of the hash: a new dependency recreates nothing.
	noDeps := base.Services["app"]
	noDeps.DependsOn, noDeps.Profiles = nil, []string{"other"}
	if h, _ := ConfigHash(noDeps); h != hash(base, "app") {
		t.Errorf("dropping depends_on and adding a profile changed app's hash")
	}
}
