// Package tfdocs renders a Terraform module's inputs and outputs as the
// Markdown tables terraform-docs writes (between <!-- BEGIN_TF_DOCS --> and
// <!-- END_TF_DOCS -->), from the .tf files alone. `go run ./tools/tfdocs
// DIR...` rewrites each DIR's README.md; the contract tests fail when a
// README is stale.
package tfdocs

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Markers delimit the generated part of a README.
const (
	Begin = "<!-- BEGIN_TF_DOCS -->"
	End   = "<!-- END_TF_DOCS -->"
)

type input struct{ name, desc, typ, def string }
type output struct{ name, desc string }

// Render returns the generated section (markers included) for the module
// in dir.
func Render(dir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	p := hclparse.NewParser()
	var ins []input
	var outs []output
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			return "", errors.New(diags.Error())
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			if len(b.Labels) != 1 {
				continue
			}
			src := func(name string) string {
				a, ok := b.Body.Attributes[name]
				if !ok {
					return ""
				}
				r := a.Expr.Range()
				return string(r.SliceBytes(file.Bytes))
			}
			desc := ""
			if a, ok := b.Body.Attributes["description"]; ok {
				if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type().FriendlyName() == "string" {
					desc = v.AsString()
				}
			}
			switch b.Type {
			case "variable":
				ins = append(ins, input{b.Labels[0], desc, src("type"), src("default")})
			case "output":
				outs = append(outs, output{b.Labels[0], desc})
			}
		}
	}
	sort.Slice(ins, func(i, j int) bool {
		ri, rj := ins[i].def == "", ins[j].def == ""
		if ri != rj {
			return ri // required inputs first
		}
		return ins[i].name < ins[j].name
	})
	sort.Slice(outs, func(i, j int) bool { return outs[i].name < outs[j].name })

	var sb strings.Builder
	sb.WriteString(Begin + "\n## Inputs\n\n")
	if len(ins) == 0 {
		sb.WriteString("No inputs.\n")
	} else {
		sb.WriteString("| Name | Description | Type | Default | Required |\n|------|-------------|------|---------|:--------:|\n")
		for _, in := range ins {
			def, req := "n/a", "yes"
			if in.def != "" {
				def, req = code(in.def), "no"
			}
			fmt.Fprintf(&sb, "| <a name=\"input_%s\"></a> [%s](#input_%s) | %s | %s | %s | %s |\n", in.name, in.name, in.name, cell(in.desc), code(in.typ), def, req)
		}
	}
	sb.WriteString("\n## Outputs\n\n")
	if len(outs) == 0 {
		sb.WriteString("No outputs.\n")
	} else {
		sb.WriteString("| Name | Description |\n|------|-------------|\n")
		for _, o := range outs {
			fmt.Fprintf(&sb, "| <a name=\"output_%s\"></a> [%s](#output_%s) | %s |\n", o.name, o.name, o.name, cell(o.desc))
		}
	}
	sb.WriteString(End)
	return sb.String(), nil
}

// code renders HCL source in a table cell: inline code for one line, a
// <pre> block for more (as terraform-docs does).
func code(s string) string {
	if s == "" {
		return "n/a"
	}
	if !strings.Contains(s, "\n") {
		return "`" + strings.ReplaceAll(s, "|", "\\|") + "`"
	}
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "|", "&#124;", "\n", "<br/>").Replace(s)
	return "<pre>" + s + "</pre>"
}

func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

// Splice replaces the generated section of readme with section; a README
// without the markers gets it appended.
func Splice(readme, section string) string {
	i, j := strings.Index(readme, Begin), strings.Index(readme, End)
	if i < 0 || j < i {
		return strings.TrimRight(readme, "\n") + "\n\n" + section + "\n"
	}
	return readme[:i] + section + readme[j+len(End):]
}
