package main

import (
	"context"
	"time"

	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/deployer"
)

// connect opens the Docker engine itself, with a bounded wait; its error is one line with the fix. It is for the
// commands that move images and volumes as Docker knows them (images, backup, migrate); the deploy commands
// (plan, up, status, logs, down) go through deployer.Target instead (openTarget).
func connect(ctx context.Context) (*client.Client, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return deployer.Connect(cctx)
}
