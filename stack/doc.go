// Package stack builds an m2m node's deployment from its settings: the Compose project (compose-go types) with
// its services, volumes, network, health checks and one-shot markers, and its canonical YAML.
// It is pure: no Docker, no network.
package stack
