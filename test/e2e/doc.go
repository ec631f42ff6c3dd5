// Package e2e checks the whole m2m deployment end to end on a real Docker engine: m2mctl init/up/status/down,
// the stack's containers, Prometheus scraping the connector, faults and recovery, and parity with
// `docker compose`. The tests live in the _test.go files; README.md says how to run them.
package e2e
