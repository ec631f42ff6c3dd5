// Command generate writes the files at the repository root that are derived from the stack package:
// docker-compose-production.yml and .env.example. `make generate` runs it; stack's tests fail when they are stale.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/m2mnet/m2m/stack"
)

func main() {
	dir := "."
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	files, err := stack.GeneratedFiles()
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, body, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "generate:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", path)
	}
}
