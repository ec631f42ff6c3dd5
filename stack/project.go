package stack

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// ComposeFile is the name the stack's YAML has at the repository root.
const ComposeFile = "docker-compose-production.yml"

// YAML writes the project as canonical Compose YAML, headed by a generated-file comment. The output is
// byte-stable: the same settings give the same bytes.
func YAML(p *types.Project) ([]byte, error) {
	body, err := p.MarshalYAML()
	if err != nil {
		return nil, fmt.Errorf("marshal project %s: %w", p.Name, err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", settings.GeneratedHeader)
	b.WriteString("# The m2m node stack. Secrets are not here: values come from .env (see .env.example).\n")
	b.WriteString("# Deploy with `m2mctl up`, or `docker compose -f " + ComposeFile + " up -d --wait` from this directory.\n")
	b.Write(body)
	return b.Bytes(), nil
}

// LoadOptions say how to turn the stack into the project that is deployed.
type LoadOptions struct {
	ProjectName string   // default "m2m"
	WorkingDir  string   // the directory holding .env and templates/; relative bind mounts resolve against it
	Profiles    []string // enabled profiles, e.g. "tracing", "discovery"
	// Environment resolves ${VAR} references: the .env values (secrets included), as Compose would read them.
	Environment map[string]string
}

// Project builds the stack from v, writes it as YAML and loads that YAML back with compose-go's loader,
// interpolated with opts.Environment and normalized: exactly the project `docker compose` would see for the
// same file and .env.
func Project(ctx context.Context, v settings.Values, opts LoadOptions) (*types.Project, error) {
	body, err := YAML(Build(v))
	if err != nil {
		return nil, err
	}
	return load(ctx, body, opts)
}

// SwarmStack is Project for a Docker Swarm: the stack of SwarmProject, loaded back as the docker CLI would
// load its stack file.
func SwarmStack(ctx context.Context, v settings.Values, opts LoadOptions) (*types.Project, error) {
	p, err := SwarmProject(v, opts.Profiles)
	if err != nil {
		return nil, err
	}
	body, err := p.MarshalYAML()
	if err != nil {
		return nil, fmt.Errorf("marshal stack %s: %w", p.Name, err)
	}
	opts.Profiles = nil // already applied
	return load(ctx, body, opts)
}

func load(ctx context.Context, body []byte, opts LoadOptions) (*types.Project, error) {
	name := opts.ProjectName
	if name == "" {
		name = ProjectName
	}
	dir, err := filepath.Abs(opts.WorkingDir)
	if err != nil {
		return nil, fmt.Errorf("working directory %q: %w", opts.WorkingDir, err)
	}
	env := types.Mapping{}
	for k, val := range opts.Environment {
		env[k] = val
	}
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, ComposeFile), Content: body}},
		Environment: env,
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(name, true)
		o.Profiles = opts.Profiles
	})
	if err != nil {
		return nil, fmt.Errorf("load the stack as Compose project %s: %w", name, err)
	}
	return p, nil
}

// GeneratedFiles returns the files `make generate` writes, by path relative to the repository root.
func GeneratedFiles() (map[string][]byte, error) {
	y, err := YAML(Build(settings.Defaults()))
	if err != nil {
		return nil, err
	}
	return map[string][]byte{ComposeFile: y, settings.ExampleFile: settings.RenderExample(), settings.SettingsDocFile: settings.RenderSettingsDoc()}, nil
}
