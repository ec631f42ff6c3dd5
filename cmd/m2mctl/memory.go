package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// tigerBeetleMinMemory is TigerBeetle's hardware guide: "A replica requires at least 6 GiB RAM per machine."
const tigerBeetleMinMemory = 6 << 30

// warnLowMemory prints one line to w when the engine that will run TigerBeetle has less memory than TigerBeetle's
// hardware guide asks for. It is a warning, not an error: a development host runs with a small cache grid.
// Failing to ask the engine is not worth a line either: the command that follows reports an unreachable engine.
func warnLowMemory(ctx context.Context, w io.Writer, project *types.Project, target deployer.Target) {
	if !runsTigerBeetle(project) {
		return
	}
	if line := engineMemoryWarning(ctx, target); line != "" {
		fmt.Fprintln(w, line)
	}
}

// engineMemoryWarning is the line warnLowMemory prints when the target's nodes have too little memory for
// TigerBeetle, or "".
func engineMemoryWarning(ctx context.Context, target deployer.Target) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nodes, err := target.Nodes(ctx)
	if err != nil {
		return ""
	}
	for _, n := range nodes {
		if line := lowMemoryWarning(n.Memory); line != "" {
			if len(nodes) > 1 { // a Swarm: say which node
				line = strings.Replace(line, "the Docker engine has", "the Docker engine of node "+n.Name+" has", 1)
			}
			return line
		}
	}
	return ""
}

// runsTigerBeetle reports whether the project runs a TigerBeetle server: the one of a single host, or the
// replicas of a cluster (tigerbeetle-0, -1, …).
func runsTigerBeetle(p *types.Project) bool {
	if _, ok := p.Services[settings.ServiceTigerBeetle]; ok {
		return true
	}
	_, ok := p.Services[stack.ReplicaService(0)]
	return ok
}

// lowMemoryWarning is the line warnLowMemory prints for an engine with total bytes of memory, or "".
func lowMemoryWarning(total int64) string {
	if total <= 0 || total >= tigerBeetleMinMemory {
		return ""
	}
	return fmt.Sprintf("warning: the Docker engine has %.1f GiB of memory; TigerBeetle's hardware guide asks for at least 6 GiB "+
		"per replica machine. Add memory for production; on a small development host set %s=256MiB in .env.",
		float64(total)/(1<<30), settings.TigerBeetleCacheGrid)
}
