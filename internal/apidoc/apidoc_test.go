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

// Parse checks links, which kin-openapi does not follow: the target
// operation, its parameters and body members, and the response pointers.
func TestParseRejectsBrokenLinks(t *testing.T) {
	const doc = `openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /x:
    post:
      operationId: create
      requestBody: {content: {application/json: {schema: {type: object, properties: {name: {type: string}}}}}}
      responses:
        '201':
          description: created
          content: {application/json: {schema: {type: object, properties: {id: {type: string}, items: {type: array, items: {type: object, properties: {id: {type: string}}}}}}}}
          links:
%s
  /x/{id}:
    get:
      operationId: read
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {'200': {description: ok}}
`
	good := "            a: {operationId: read, parameters: {id: $response.body#/id}}\n" +
		"            b: {operationId: read, parameters: {path.id: $response.body#/items/0/id}}\n" +
		"            c: {operationId: create, requestBody: {name: $response.body#/id}}"
	if _, err := Parse([]byte(strings.Replace(doc, "%s", good, 1))); err != nil {
		t.Fatalf("valid links: %v", err)
	}
	for link, want := range map[string]string{
		"a: {operationId: nope, parameters: {id: $response.body#/id}}":       `no operation "nope"`,
		"a: {operationId: read, parameters: {id: $response.body#/nope}}":     "has no /nope",
		"a: {operationId: read, parameters: {id: $request.path.id}}":         "only $response.body",
		"a: {operationId: read, parameters: {ident: $response.body#/id}}":    "has no parameter ident",
		"a: {operationId: read, parameters: {query.id: $response.body#/id}}": "has no parameter query.id",
		"a: {operationId: create, requestBody: {nope: $response.body#/id}}":  "no member nope",
	} {
		_, err := Parse([]byte(strings.Replace(doc, "%s", "            "+link, 1)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("link %s: err = %v, want %q", link, err, want)
		}
	}
}
