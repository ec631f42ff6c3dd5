// Package docs holds the operator guides. It has no code; its tests keep README.md and docs/**/*.md true to
// the code: every m2mctl command in a fenced block runs (for real, as a dry run, or against --help), the
// wizard transcript is replayed, the quoted error messages are matched against the code's, the peers file
// examples are loaded by the connector's parser, and every relative link resolves inside the repository.
package docs
