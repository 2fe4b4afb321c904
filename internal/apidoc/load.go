// Package apidoc loads the HTTP API's OpenAPI document (api/openapi.yaml)
// and renders its reference, docs/api.md. The document is a Terraform
// template (api.tf renders it with templatefile), so Load renders it the
// same way, with HCL's template engine, before kin-openapi parses and
// validates it. Tests of the handler and the Go client load it here too.
package apidoc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// DocumentPath is the document, relative to the repository root.
const DocumentPath = "api/openapi.yaml"

// Vars are the template variables api.tf passes to templatefile().
type Vars struct {
	Title           string // var.name
	LambdaInvokeARN string // aws_lambda_function.api.invoke_arn
}

// ExampleVars are placeholder values for rendering outside Terraform.
var ExampleVars = Vars{
	Title:           "sentinel-tvm",
	LambdaInvokeARN: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:111122223333:function:sentinel-tvm-api/invocations",
}

// Render evaluates the template src as templatefile() does: only the
// variables of Vars exist, $${ and %%{ are literal.
func Render(src []byte, v Vars) ([]byte, error) {
	tmpl, diags := hclsyntax.ParseTemplate(src, DocumentPath, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s", diags.Error())
	}
	val, diags := tmpl.Value(&hcl.EvalContext{Variables: map[string]cty.Value{
		"title":             cty.StringVal(v.Title),
		"lambda_invoke_arn": cty.StringVal(v.LambdaInvokeARN),
	}})
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s", diags.Error())
	}
	if !val.Type().Equals(cty.String) || !val.IsKnown() || val.IsNull() {
		return nil, fmt.Errorf("%s: the template does not render to a string", DocumentPath)
	}
	return []byte(val.AsString()), nil
}

// Parse parses and validates a rendered document, its links included
// (checkLinks: kin-openapi does not follow them).
func Parse(rendered []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rendered)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", DocumentPath, err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableSchemaFormatValidation(),
		openapi3.EnableSchemaPatternValidation(), openapi3.EnableSchemaDefaultsValidation(), openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", DocumentPath, err)
	}
	if err := checkLinks(doc); err != nil {
		return nil, fmt.Errorf("%s has invalid links: %w", DocumentPath, err)
	}
	return doc, nil
}

// Load reads the document under the repository root, renders it with
// ExampleVars, parses and validates it.
func Load(root string) (*openapi3.T, error) {
	src, err := os.ReadFile(filepath.Join(root, DocumentPath))
	if err != nil {
		return nil, err
	}
	rendered, err := Render(src, ExampleVars)
	if err != nil {
		return nil, err
	}
	return Parse(rendered)
}
