package apidoc

import (
	"strings"
	"testing"
)

// Render is templatefile(): the two variables, escapes, and nothing else.
func TestRender(t *testing.T) {
	got, err := Render([]byte(`title: "${title}"`+"\n"+`uri: "${lambda_invoke_arn}"`+"\n"+`lit: "$${x} %%{y}"`), Vars{Title: "t", LambdaInvokeARN: "arn:x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "title: \"t\"\nuri: \"arn:x\"\nlit: \"${x} %{y}\""; string(got) != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	if _, err := Render([]byte(`x: "${other}"`), ExampleVars); err == nil || !strings.Contains(err.Error(), "other") {
		t.Errorf("an unknown variable: %v", err)
	}
}

func TestLoadRejectsAnInvalidDocument(t *testing.T) {
	_, err := Parse([]byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n        '200': {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/Nope'}}}}\n"))
	if err == nil {
		t.Error("a dangling $ref loads")
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"POST /v1/approvals/{id}/approve": "post-v1approvalsidapprove",
		"GET /v1/break-glass":             "get-v1break-glass",
		"NativeCredentials":               "nativecredentials",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
