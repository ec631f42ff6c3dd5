package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack/settings"
)

// tigerBeetleMinMemory is TigerBeetle's hardware guide: "A replica requires at least 6 GiB RAM per machine."
const tigerBeetleMinMemory = 6 << 30

// warnLowMemory prints one line to w when the engine that will run TigerBeetle has less memory than TigerBeetle's
// hardware guide asks for. It is a warning, not an error: a development host runs with a small cache grid.
// Failing to ask the engine is not worth a line either: the command that follows reports an unreachable engine.
func warnLowMemory(ctx context.Context, w io.Writer, project *types.Project, target deployer.Target) {
	if _, ok := project.Services[settings.ServiceTigerBeetle]; !ok {
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
			return line
		}
	}
	return ""
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
