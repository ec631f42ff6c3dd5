// Command buildimages builds the stand-in images (TigerBeetle, Grafana, Prometheus) under a tag prefix, for
// trying m2mctl by hand on a host with no registry: go run ./test/standin/buildimages -prefix m2mtry
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/test/standin"
)

func main() {
	prefix := flag.String("prefix", "m2m-standin", "image name prefix: PREFIX/tigerbeetle:standin, …")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cli, err := deployer.Connect(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer cli.Close()
	for name, build := range map[string]func(context.Context, deployer.ImageBuilder, string) error{
		"tigerbeetle": standin.BuildTigerBeetle, "grafana": standin.BuildGrafana, "prometheus": standin.BuildPrometheus,
	} {
		tag := *prefix + "/" + name + ":standin"
		if err := build(ctx, cli, tag); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(tag)
	}
}
