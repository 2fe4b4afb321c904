// Command apidoc writes the HTTP API reference, docs/api.md, from
// api/openapi.yaml (run from the repository root; make docs runs it):
//
//	go run ./tools/apidoc/cmd/apidoc [-root DIR] [-openapi FILE]
//
// -openapi also writes the document rendered as Terraform renders it (with
// placeholder values), for tools that need plain OpenAPI.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sentinel-tvm/sentinel-tvm/tools/apidoc"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	rendered := flag.String("openapi", "", "also write the rendered OpenAPI document to this file")
	flag.Parse()
	if err := run(*root, *rendered); err != nil {
		fmt.Fprintln(os.Stderr, "apidoc:", err)
		os.Exit(1)
	}
}

func run(root, renderedPath string) error {
	src, err := os.ReadFile(filepath.Join(root, apidoc.DocumentPath))
	if err != nil {
		return err
	}
	out, err := apidoc.Render(src, apidoc.ExampleVars)
	if err != nil {
		return err
	}
	doc, err := apidoc.Parse(out)
	if err != nil {
		return err
	}
	if renderedPath != "" {
		if err := os.WriteFile(renderedPath, out, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(root, apidoc.MarkdownPath), []byte(apidoc.Markdown(doc)), 0o644)
}
