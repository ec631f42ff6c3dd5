// Package docs holds the operator guides. It has no code: its test runs every m2mctl command that the guides
// and the README show in their fenced blocks, so a renamed flag or command fails the build, not the reader.
package docs
