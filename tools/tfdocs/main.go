// Command tfdocs rewrites the inputs/outputs tables of each module
// directory's README.md: go run ./tools/tfdocs . modules/protected-role
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sentinel-tvm/sentinel-tvm/internal/tfdocs"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tfdocs DIR...")
		os.Exit(2)
	}
	for _, dir := range os.Args[1:] {
		section, err := tfdocs.Render(dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tfdocs: %s: %v\n", dir, err)
			os.Exit(1)
		}
		path := filepath.Join(dir, "README.md")
		old, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			fmt.Fprintln(os.Stderr, "tfdocs:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(path, []byte(tfdocs.Splice(string(old), section)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "tfdocs:", err)
			os.Exit(1)
		}
	}
}
