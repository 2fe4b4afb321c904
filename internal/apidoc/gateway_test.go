package apidoc

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestGatewayBody: the import body keeps every operation with its
// x-amazon-apigateway extensions and holds none of the constructs API
// Gateway's models do not support, and it still renders and validates.
func TestGatewayBody(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", DocumentPath))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := Gateway(src)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimPrefix(string(gw), gatewayHeader)
	for _, bad := range []string{"oneOf", "allOf", "anyOf", "#/components/", "discriminator", "links:", "example", "additionalProperties"} {
		if strings.Contains(body, bad) {
			t.Errorf("the gateway body holds %q", bad)
		}
	}
	for _, construct := range []string{"oneOf", "allOf", "#/components/responses/"} {
		if !strings.Contains(string(src), construct) {
			t.Fatalf("the source no longer holds %q: the test shows nothing", construct)
		}
	}
	orig, err := Render(src, ExampleVars)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Parse(orig)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := Render(gw, ExampleVars)
	if err != nil {
		t.Fatalf("the gateway body is not a template that renders: %v", err)
	}
	got, err := Parse(rendered)
	if err != nil {
		t.Fatalf("the gateway body is not valid OpenAPI: %v", err)
	}
	var wantOps, gotOps []string
	for path, item := range want.Paths.Map() {
		for method, op := range item.Operations() {
			wantOps = append(wantOps, method+" "+path+" "+ext(op.Extensions))
		}
	}
	for path, item := range got.Paths.Map() {
		for method, op := range item.Operations() {
			gotOps = append(gotOps, method+" "+path+" "+ext(op.Extensions))
		}
	}
	sort.Strings(wantOps)
	sort.Strings(gotOps)
	if strings.Join(wantOps, "\n") != strings.Join(gotOps, "\n") {
		t.Errorf("operations differ:\n got %v\nwant %v", gotOps, wantOps)
	}
	if len(wantOps) < 10 {
		t.Errorf("only %d operations", len(wantOps))
	}
}

// ext is an operation's x-amazon-apigateway extension names and values.
func ext(m map[string]any) string {
	var out []string
	for k, v := range m {
		if strings.HasPrefix(k, "x-amazon-apigateway-") {
			out = append(out, k+"="+strings.ReplaceAll(strings.TrimSpace(fmt.Sprint(v)), "\n", " "))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ";")
}
