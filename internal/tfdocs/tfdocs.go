// Package tfdocs renders a Terraform module's requirements, providers,
// resources, inputs and outputs as the Markdown tables terraform-docs writes (between <!-- BEGIN_TF_DOCS --> and
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
type requirement struct{ name, version, source string }
type resource struct{ kind, typ, name string } // kind: "resource" or "data source"

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
	var reqs []requirement
	var res []resource
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			return "", errors.New(diags.Error())
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			switch {
			case b.Type == "terraform":
				reqs = append(reqs, requirements(b)...)
				continue
			case (b.Type == "resource" || b.Type == "data") && len(b.Labels) == 2:
				kind := "resource"
				if b.Type == "data" {
					kind = "data source"
				}
				res = append(res, resource{kind, b.Labels[0], b.Labels[1]})
				continue
			}
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
	sb.WriteString(Begin + "\n")
	writeTables(&sb, reqs, res)
	inRows := make([]string, len(ins))
	for i, in := range ins {
		def, req := "n/a", "yes"
		if in.def != "" {
			def, req = code(in.def), "no"
		}
		inRows[i] = fmt.Sprintf("| %s | %s | %s | %s | %s |", anchor("input", in.name), cell(in.desc), code(in.typ), def, req)
	}
	writeSection(&sb, "Inputs", "| Name | Description | Type | Default | Required |\n|------|-------------|------|---------|:--------:|", inRows)
	sb.WriteString("\n")
	outRows := make([]string, len(outs))
	for i, o := range outs {
		outRows[i] = fmt.Sprintf("| %s | %s |", anchor("output", o.name), cell(o.desc))
	}
	writeSection(&sb, "Outputs", "| Name | Description |\n|------|-------------|", outRows)
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

// requirements reads a terraform block's required_version and
// required_providers.
func requirements(b *hclsyntax.Block) []requirement {
	var out []requirement
	if a, ok := b.Body.Attributes["required_version"]; ok {
		if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type().FriendlyName() == "string" {
			out = append(out, requirement{name: "terraform", version: v.AsString()})
		}
	}
	for _, rp := range b.Body.Blocks {
		if rp.Type != "required_providers" {
			continue
		}
		for name, a := range rp.Body.Attributes {
			r := requirement{name: name}
			if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type().IsObjectType() {
				if v.Type().HasAttribute("version") {
					r.version = v.GetAttr("version").AsString()
				}
				if v.Type().HasAttribute("source") {
					r.source = v.GetAttr("source").AsString()
				}
			}
			out = append(out, r)
		}
	}
	return out
}

// writeTables writes the Requirements, Providers and Resources tables.
func writeTables(sb *strings.Builder, reqs []requirement, res []resource) {
	sort.Slice(reqs, func(i, j int) bool {
		if (reqs[i].name == "terraform") != (reqs[j].name == "terraform") {
			return reqs[i].name == "terraform"
		}
		return reqs[i].name < reqs[j].name
	})
	writeSection(sb, "Requirements", versionHeader, versionRows("requirement", reqs))
	// Providers: those whose resources or data sources the module uses.
	used := map[string]bool{}
	for _, r := range res {
		used[strings.SplitN(r.typ, "_", 2)[0]] = true
	}
	var provs []requirement
	for _, r := range reqs {
		if r.name != "terraform" && used[r.name] {
			provs = append(provs, r)
		}
	}
	sb.WriteString("\n")
	writeSection(sb, "Providers", versionHeader, versionRows("provider", provs))
	sort.Slice(res, func(i, j int) bool {
		if res[i].typ != res[j].typ {
			return res[i].typ < res[j].typ
		}
		if res[i].name != res[j].name {
			return res[i].name < res[j].name
		}
		return res[i].kind < res[j].kind
	})
	sources := map[string]string{}
	for _, r := range reqs {
		sources[r.name] = r.source
	}
	resRows := make([]string, len(res))
	for i, r := range res {
		prov, short, found := strings.Cut(r.typ, "_")
		if !found {
			short = r.typ // a provider's eponymous type, e.g. external
		}
		src := sources[prov]
		if src == "" {
			src = "hashicorp/" + prov
		}
		dir := "resources"
		if r.kind == "data source" {
			dir = "data-sources"
		}
		resRows[i] = fmt.Sprintf("| [%s.%s](https://registry.terraform.io/providers/%s/latest/docs/%s/%s) | %s |", r.typ, r.name, src, dir, short, r.kind)
	}
	sb.WriteString("\n")
	writeSection(sb, "Resources", "| Name | Type |\n|------|------|", resRows)
	sb.WriteString("\n")
}

// versionHeader heads the Requirements and Providers tables.
const versionHeader = "| Name | Version |\n|------|---------|"

// versionRows are the rows of the Requirements or Providers table; kind
// prefixes each row's anchor.
func versionRows(kind string, reqs []requirement) []string {
	rows := make([]string, len(reqs))
	for i, r := range reqs {
		rows[i] = fmt.Sprintf("| %s | %s |", anchor(kind, r.name), cell(r.version))
	}
	return rows
}

// anchor is a table's Name cell, linkable as #KIND_NAME (as terraform-docs
// writes it).
func anchor(kind, name string) string {
	return fmt.Sprintf("<a name=\"%s_%s\"></a> [%s](#%s_%s)", kind, name, name, kind, name)
}

// writeSection writes a "## TITLE" section: a table of header and rows, or
// "No title." when there are no rows.
func writeSection(sb *strings.Builder, title, header string, rows []string) {
	fmt.Fprintf(sb, "## %s\n\n", title)
	if len(rows) == 0 {
		fmt.Fprintf(sb, "No %s.\n", strings.ToLower(title))
		return
	}
	sb.WriteString(header + "\n")
	for _, r := range rows {
		sb.WriteString(r + "\n")
	}
}
