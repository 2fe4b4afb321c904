// Command apidoc writes the HTTP API reference, docs/api.md, and the body
// API Gateway imports, api/openapi.gateway.yaml, from api/openapi.yaml (run from the repository root; make docs runs it):
//
//	go run ./tools/apidoc [-root DIR] [-openapi FILE]
//	go run ./tools/apidoc [-root DIR] -render FILE
//
// -openapi also writes the document rendered as Terraform renders it (with
// placeholder values), for tools that need plain OpenAPI. -render writes
// only that rendered document (validated first, "-" for stdout) and leaves
// docs/api.md alone: scripts/schemathesis.sh uses it.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sentinel-tvm/sentinel-tvm/internal/apidoc"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	rendered := flag.String("openapi", "", "also write the rendered OpenAPI document to this file")
	renderOnly := flag.String("render", "", "write only the rendered OpenAPI document to this file (- for stdout), not docs/api.md")
	flag.Parse()
	if flag.NArg() > 0 || (*rendered != "" && *renderOnly != "") {
		fmt.Fprintln(os.Stderr, "usage: apidoc [-root DIR] [-openapi FILE | -render FILE]")
		os.Exit(2)
	}
	if err := run(*root, *rendered, *renderOnly, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apidoc:", err)
		os.Exit(1)
	}
}

// run renders and validates the document; with renderOnly it writes only
// the rendered document there (stdout for "-"), otherwise docs/api.md and,
// with renderedPath, the rendered document too.
func run(root, renderedPath, renderOnly string, stdout io.Writer) error {
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
	switch renderOnly {
	case "":
	case "-":
		_, err := stdout.Write(out)
		return err
	default:
		return os.WriteFile(renderOnly, out, 0o644)
	}
	if renderedPath != "" {
		if err := os.WriteFile(renderedPath, out, 0o644); err != nil {
			return err
		}
	}
	gw, err := apidoc.Gateway(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, apidoc.GatewayPath), gw, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, apidoc.MarkdownPath), []byte(apidoc.Markdown(doc)), 0o644)
}
