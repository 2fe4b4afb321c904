package policy

import (
	"bytes"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns the canonical formatting of an HCL policy file (the same
// layout `terraform fmt` produces). Files with syntax errors are not
// formatted: their diagnostics come back instead.
func Format(src Source) ([]byte, hcl.Diagnostics) {
	if _, diags := hclsyntax.ParseConfig(src.Data, src.Name, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	out := hclwrite.Format(src.Data)
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	return out, nil
}
