// Package devdeps pins the modules the project is being built with while packages that use them are written.
// Delete it once every module below is imported by real code.
package devdeps

import (
	_ "github.com/charmbracelet/huh"
	_ "github.com/charmbracelet/x/exp/teatest"
	_ "github.com/coder/websocket"
	_ "github.com/compose-spec/compose-go/v2/cli"
	_ "github.com/compose-spec/compose-go/v2/loader"
	_ "github.com/compose-spec/compose-go/v2/types"
	_ "github.com/creack/pty"
	_ "github.com/moby/moby/client"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/spf13/cobra"
	_ "github.com/testcontainers/testcontainers-go"
	_ "github.com/testcontainers/testcontainers-go/wait"
	_ "github.com/tigerbeetle/tigerbeetle-go"
	_ "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	_ "go.opentelemetry.io/otel/sdk/trace"
	_ "golang.org/x/crypto/sha3"
	_ "golang.org/x/term"
)
