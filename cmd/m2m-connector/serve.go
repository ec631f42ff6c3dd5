package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/spf13/cobra"
)

// usageError marks a mistake in how the command was called: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func flagError(_ *cobra.Command, err error) error { return usageError{err} }

func newServeCmd() *cobra.Command {
	opts := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the connector (the default)",
		Long: "Run the connector. Settings come from the environment (the same names as the .env; see docs/settings.md).\n" +
			"Invalid settings exit 2 listing every problem. SIGTERM drains and exits 0.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			o := opts
			o.stdout, o.environ = cmd.OutOrStdout(), os.Environ()
			return serveRun(ctx, o)
		},
	}
	cmd.Flags().StringVar(&opts.bind, "bind", "", "IP to listen on (default: every interface)")
	cmd.SetFlagErrorFunc(flagError)
	return cmd
}

func newHealthcheckCmd() *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when this connector's /health/ready answers 200, else 1 (for the image's HEALTHCHECK)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				port := os.Getenv(settings.HealthCheckPort)
				if port == "" || port == "0" {
					port = "8080"
				}
				url = "http://127.0.0.1:" + port + "/health/ready"
			}
			return healthcheck(cmd.Context(), url, timeout)
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "URL to probe (default http://127.0.0.1:$HEALTH_CHECK_PORT/health/ready)")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Second, "give up after this long")
	cmd.SetFlagErrorFunc(flagError)
	return cmd
}

// healthcheck GETs url and succeeds on 200. The image has no shell or curl: this is its HEALTHCHECK.
func healthcheck(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usageError{fmt.Errorf("healthcheck --url %q: %w", url, err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{Use: "version", Short: "Print the version", Args: cobra.NoArgs, Run: func(cmd *cobra.Command, _ []string) {
		fmt.Fprintf(cmd.OutOrStdout(), "m2m-connector %s (commit %s, %s)\n", version, commit, runtime.Version())
	}}
}

// exitCode prints err and maps it: 2 for invalid settings and usage mistakes, 1 for everything else.
func exitCode(err error) int {
	var problems *settings.Problems
	switch {
	case errors.As(err, &problems):
		fmt.Fprintf(os.Stderr, "m2m-connector: invalid configuration: %v\n", err)
		return 2
	case errors.As(err, new(usageError)) || isCobraUsage(err):
		fmt.Fprintf(os.Stderr, "m2m-connector: %v\nRun 'm2m-connector --help' for usage.\n", err)
		return 2
	}
	fmt.Fprintln(os.Stderr, "m2m-connector:", err)
	return 1
}

// isCobraUsage recognises the argument errors cobra makes for the root command, whose flag-error hook is not ours.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument",
		"invalid argument", "accepts ", "bad flag syntax"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}
