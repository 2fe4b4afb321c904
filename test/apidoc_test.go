package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sentinel-tvm/sentinel-tvm/internal/apidoc"
)

// TestAPIReferenceUpToDate: docs/api.md is what tools/apidoc renders from
// api/openapi.yaml (`make docs` rewrites it), and the README links it.
func TestAPIReferenceUpToDate(t *testing.T) {
	doc, err := apidoc.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, apidoc.MarkdownPath))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != apidoc.Markdown(doc) {
		t.Errorf("%s is stale: run make docs", apidoc.MarkdownPath)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "]("+apidoc.MarkdownPath+")") {
		t.Errorf("README.md does not link %s", apidoc.MarkdownPath)
	}
}
