package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sentinel-tvm/sentinel-tvm/internal/apidoc"
)

// -render writes the rendered document and nothing else: docs/api.md of
// the root is neither written nor needed.
func TestRenderOnly(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("../..", apidoc.DocumentPath))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, filepath.Dir(apidoc.DocumentPath)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, apidoc.DocumentPath), src, 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := apidoc.Render(src, apidoc.ExampleVars)
	if err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "openapi.yaml")
	if err := run(root, "", out, nil); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("-render FILE did not write the rendered document")
	}
	var stdout bytes.Buffer
	if err := run(root, "", "-", &stdout); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), want) {
		t.Error("-render - did not write the rendered document to stdout")
	}
	if _, err := os.Stat(filepath.Join(root, apidoc.MarkdownPath)); !os.IsNotExist(err) {
		t.Errorf("-render wrote %s (or stat failed: %v)", apidoc.MarkdownPath, err)
	}
}
