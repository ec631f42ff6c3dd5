package main

import (
	"fmt"

	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/stack/settings"
)

// printWritten says what was written, and where the stack will run on a Swarm.
func printWritten(opts *initOptions, v settings.Values, gen generated, backup string, sw *swarmSetup) {
	out := opts.io.Out
	if !opts.yes && opts.io.IsInteractive() {
		fmt.Fprintln(out) // below the form's last line
	}
	if backup != "" {
		fmt.Fprintf(out, "Kept the previous settings as %s.\n", backup)
	}
	fmt.Fprintf(out, "Wrote %s (mode 0600). Keep it private: it holds this node's keys and passwords.\n", opts.output)
	fmt.Fprintf(out, "Node %s, public key %s\n", v.String(settings.NodeID), identity.EncodePublicKey(gen.publicKey))
	if v.String(settings.DeployTarget) == settings.TargetSwarm {
		fmt.Fprintf(out, "On the swarm:\n%s", placementText(sw.nodes, sw.p))
	}
}

func printNextSteps(opts *initOptions, v settings.Values, sw *swarmSetup) {
	out := opts.io.Out
	swarm := v.String(settings.DeployTarget) == settings.TargetSwarm
	fmt.Fprintf(out, "\nNext steps:\n")
	if v.String(settings.BTPTLS) == "acme" {
		where := "this host"
		if swarm {
			edge, _ := sw.nodes.byID(sw.p.edge)
			where = "the edge node (" + edge.Addr + ")"
		}
		fmt.Fprintf(out, "  point %s at %s (a DNS A/AAAA record) and open TCP ports %s and %s to the internet:\n"+
			"      the CA checks the name on %s before it issues the certificate\n",
			v.String(settings.BTPDomain), where, v.String(settings.BTPPort), v.String(settings.BTPTLSPort), v.String(settings.BTPTLSPort))
	}
	up := "m2mctl up"
	if opts.output != ".env" {
		up += " --env-file " + opts.output
	}
	if swarm {
		fmt.Fprintf(out, "  m2mctl images save m2m-images.tar, then m2mctl images load m2m-images.tar on each node\n"+
			"      every node needs the stack's images (skip this when they come from a registry)\n")
		fmt.Fprintf(out, "  %s\n      deploy the stack, on a manager (or with DOCKER_HOST pointing at one)\n", up)
		fmt.Fprintf(out, "  m2mctl status\n      check that every service is running, and on which node\n")
		return
	}
	fmt.Fprintf(out, "  %s\n      deploy the stack\n", up)
	fmt.Fprintf(out, "  m2mctl status\n      check that every service is healthy; the connector's own check is\n")
	fmt.Fprintf(out, "      curl http://127.0.0.1:%s/health/ready\n", v.String(settings.HealthCheckPort))
	if v.Bool(settings.PrometheusEnabled) {
		fmt.Fprintf(out, "  http://127.0.0.1:%s\n      Grafana: user admin, password %s in %s\n",
			v.String(settings.GrafanaPort), settings.GrafanaPassword, opts.output)
	}
}
