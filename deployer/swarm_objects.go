package deployer

import (
	"context"
	"fmt"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// objects finds every secret and config of the stack and returns their ids; with create it makes the missing
// ones (a secret from the values given to OpenSwarm, a config from its file), without it leaves them out (Plan).
// An existing object is used as it is: Swarm secrets and configs cannot change.
func (s *Swarm) objects(ctx context.Context, p *types.Project, create bool) (swarmRefs, error) {
	refs := swarmRefs{secrets: map[string]string{}, configs: map[string]string{}}
	secrets, err := s.cli.SecretList(ctx, client.SecretListOptions{})
	if err != nil {
		return refs, fmt.Errorf("list secrets: %w", Explain(err))
	}
	for key, obj := range p.Secrets {
		for _, have := range secrets.Items {
			if have.Spec.Name == obj.Name {
				refs.secrets[key] = have.ID
			}
		}
		if refs.secrets[key] != "" || !create {
			continue
		}
		value := s.secrets[key]
		if len(value) == 0 {
			return refs, &MissingSecretError{Key: key, Name: obj.Name}
		}
		res, err := s.cli.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{
			Annotations: swarm.Annotations{Name: obj.Name, Labels: map[string]string{labelStackNamespace: p.Name}}, Data: value}})
		if err != nil {
			return refs, fmt.Errorf("create secret %s: %w", obj.Name, Explain(err))
		}
		refs.secrets[key] = res.ID
	}
	configs, err := s.cli.ConfigList(ctx, client.ConfigListOptions{})
	if err != nil {
		return refs, fmt.Errorf("list configs: %w", Explain(err))
	}
	for key := range p.Configs {
		name := configName(p, key)
		for _, have := range configs.Items {
			if have.Spec.Name == name {
				refs.configs[key] = have.ID
			}
		}
		if refs.configs[key] != "" || !create {
			continue
		}
		data, err := configContent(p, key)
		if err != nil {
			return refs, err
		}
		res, err := s.cli.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
			Annotations: swarm.Annotations{Name: name, Labels: map[string]string{labelStackNamespace: p.Name}}, Data: data}})
		if err != nil {
			return refs, fmt.Errorf("create config %s: %w", name, Explain(err))
		}
		refs.configs[key] = res.ID
	}
	return refs, nil
}

// MissingSecretError is a Swarm secret the stack needs that neither exists nor was given a value.
type MissingSecretError struct {
	Key, Name string
}

func (e *MissingSecretError) Error() string {
	return fmt.Sprintf("swarm secret %s (%s) does not exist and no value was given for it", e.Name, e.Key)
}
