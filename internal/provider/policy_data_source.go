package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

// policyFileNameRE is what a key of files must be: a plain file name, no
// directories, ending in .hcl (.test.hcl for test cases).
var policyFileNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+\.hcl$`)

type policyDataSource struct{}

type policyModel struct {
	Dir      types.String `tfsdk:"dir"`
	Files    types.Map    `tfsdk:"files"`
	RunTests types.Bool   `tfsdk:"run_tests"`
	Bundle   types.String `tfsdk:"bundle"`
	SHA256   types.String `tfsdk:"sha256"`
	RoleARNs types.List   `tfsdk:"role_arns"`
	Profiles types.List   `tfsdk:"profiles"`
	Warnings types.List   `tfsdk:"warnings"`
}

func (d *policyDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_policy"
}

func (d *policyDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Compiles a Sentinel TVM policy (HCL) into its canonical JSON bundle and runs its *.test.hcl cases. " +
			"Every compiler error fails the plan and every warning is shown in it, each as FILE:LINE:COL with the block it is in; " +
			"a failed test case fails the plan naming the case, what it expected and what it got.",
		Attributes: map[string]schema.Attribute{
			"dir": schema.StringAttribute{
				Optional:    true,
				Description: "A directory whose *.hcl files (not subdirectories) are the policy; *.test.hcl files hold its test cases. Give this or files.",
			},
			"files": schema.MapAttribute{
				Optional:    true,
				ElementType: types.StringType,
				Description: "The policy as file name => HCL content (e.g. rendered with templatefile). Names are plain file names ending in .hcl; *.test.hcl files hold test cases. Give this or dir.",
			},
			"run_tests": schema.BoolAttribute{
				Optional:    true,
				Description: "Run the policy's *.test.hcl cases; a failed case is an error. Default true. When false the test files are not read at all.",
			},
			"bundle": schema.StringAttribute{
				Computed:    true,
				Description: "The compiled policy: canonical JSON, what the service loads.",
			},
			"sha256": schema.StringAttribute{
				Computed:    true,
				Description: "The hex sha256 of bundle.",
			},
			"role_arns": schema.ListAttribute{
				Computed:    true,
				ElementType: types.StringType,
				Description: "Every role ARN the policy can vend, sorted and unique: what the vending function may assume.",
			},
			"profiles": schema.ListAttribute{
				Computed:    true,
				ElementType: types.StringType,
				Description: "The policy's profile names, sorted.",
			},
			"warnings": schema.ListAttribute{
				Computed:    true,
				ElementType: types.StringType,
				Description: "The compiler's warnings, one line each (FILE:LINE:COL: warning: ... (in BLOCK)); they are also shown as warnings in the plan.",
			},
		},
	}
}

func (d *policyDataSource) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	var m policyModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Through a module call, inputs are unknown while the configuration is
	// validated: only known values are checked here, and Read checks the
	// rest once every value is known.
	if m.Dir.IsUnknown() || m.Files.IsUnknown() {
		return
	}
	hasDir, hasFiles := !m.Dir.IsNull(), !m.Files.IsNull()
	if exactlyOneSource(&resp.Diagnostics, hasDir, hasFiles) {
		return
	}
	if hasDir && !m.Dir.IsUnknown() && m.Dir.ValueString() == "" {
		resp.Diagnostics.AddAttributeError(path.Root("dir"), "Empty policy directory name", "dir must name a directory of *.hcl files.")
	}
	if hasFiles && !m.Files.IsUnknown() {
		if len(m.Files.Elements()) == 0 {
			resp.Diagnostics.AddAttributeError(path.Root("files"), "No policy files", "files must hold at least one policy file (name => HCL content).")
		}
		for name := range m.Files.Elements() {
			if !policyFileNameRE.MatchString(name) {
				resp.Diagnostics.AddAttributeError(path.Root("files").AtMapKey(name), "Bad policy file name",
					fmt.Sprintf("%q is not a plain file name ending in .hcl (or .test.hcl for test cases), without directories.", name))
			}
		}
	}
}

// exactlyOneSource adds the error of a configuration with both dir and
// files or neither, and reports whether it did.
func exactlyOneSource(diags *diag.Diagnostics, hasDir, hasFiles bool) bool {
	if hasDir != hasFiles {
		return false
	}
	diags.AddAttributeError(path.Root("dir"), "Give exactly one of dir and files",
		"sentinel_policy compiles either a directory (dir) or file contents (files), not both and not neither.")
	return true
}

func (d *policyDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m policyModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if exactlyOneSource(&resp.Diagnostics, !m.Dir.IsNull(), !m.Files.IsNull()) {
		return
	}
	runTests := m.RunTests.IsNull() || m.RunTests.ValueBool()

	var (
		srcs []policy.Source
		attr path.Path
	)
	if !m.Dir.IsNull() {
		attr = path.Root("dir")
		dir := m.Dir.ValueString()
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			resp.Diagnostics.AddAttributeError(attr, "Policy directory not readable", fmt.Sprintf("%q is not a readable directory.", dir))
			return
		}
		var err error
		if srcs, err = policy.ReadDir(dir); err != nil {
			resp.Diagnostics.AddAttributeError(attr, "Policy directory not readable", fmt.Sprintf("Reading %s: %v.", dir, err))
			return
		}
	} else {
		attr = path.Root("files")
		files := map[string]string{}
		resp.Diagnostics.Append(m.Files.ElementsAs(ctx, &files, false)...)
		if resp.Diagnostics.HasError() {
			return
		}
		for name, content := range files {
			srcs = append(srcs, policy.Source{Name: name, Data: []byte(content)})
		}
		slices.SortFunc(srcs, func(a, b policy.Source) int { return strings.Compare(a.Name, b.Name) })
	}
	if !runTests {
		srcs = slices.DeleteFunc(srcs, func(s policy.Source) bool { return policy.IsTestFile(s.Name) })
	}
	if !slices.ContainsFunc(srcs, func(s policy.Source) bool { return !policy.IsTestFile(s.Name) }) {
		resp.Diagnostics.AddAttributeError(attr, "No policy files", "The policy has no *.hcl file other than test files (*.test.hcl).")
		return
	}

	compiled, diags := policy.Compile(srcs)
	blocks := newBlockFinder(srcs)
	var warnings []string
	for _, hd := range diags {
		summary, detail := describe(hd, blocks)
		at := attrFor(attr, hd.Subject)
		if hd.Severity == hcl.DiagError {
			resp.Diagnostics.AddAttributeError(at, summary, detail)
			continue
		}
		resp.Diagnostics.AddAttributeWarning(at, summary, detail)
		warnings = append(warnings, policy.FormatDiagnostic(hd)+" (in "+blocks.name(hd)+")")
	}
	if diags.HasErrors() {
		return
	}
	if runTests {
		for _, r := range compiled.Policy.RunTests(compiled.Tests) {
			if r.Failure != "" {
				resp.Diagnostics.AddAttributeError(attrFor(attr, &r.Case.Range), fmt.Sprintf("Policy test %q failed", r.Case.Name), r.String())
			}
		}
		if resp.Diagnostics.HasError() {
			return
		}
	}

	m.Bundle = types.StringValue(string(compiled.Bundle))
	m.SHA256 = types.StringValue(compiled.SHA256)
	m.RoleARNs = stringList(compiled.RoleARNs, &resp.Diagnostics)
	m.Profiles = stringList(compiled.Profiles, &resp.Diagnostics)
	m.Warnings = stringList(warnings, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// attrFor is the configuration attribute a diagnostic points at: with
// files, the element of the file it is in; with dir, dir.
func attrFor(attr path.Path, subject *hcl.Range) path.Path {
	if subject != nil && attr.Equal(path.Root("files")) {
		return attr.AtMapKey(subject.Filename)
	}
	return attr
}

func stringList(s []string, diags *diag.Diagnostics) types.List {
	if s == nil {
		s = []string{}
	}
	l, d := types.ListValueFrom(context.Background(), types.StringType, s)
	diags.Append(d...)
	return l
}

// describe renders a compiler diagnostic for Terraform: the summary starts
// with FILE:LINE:COL, the detail ends naming the block the problem is in.
func describe(d *hcl.Diagnostic, blocks *blockFinder) (summary, detail string) {
	summary = d.Summary
	if d.Subject != nil {
		summary = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary)
	}
	detail = strings.Join(strings.Fields(d.Detail), " ")
	if detail != "" {
		detail += "\n\n"
	}
	return summary, detail + "In " + blocks.name(d) + "."
}

// blockFinder names the policy block a diagnostic's position is in.
type blockFinder struct {
	bodies map[string]*hclsyntax.Body
}

func newBlockFinder(srcs []policy.Source) *blockFinder {
	f := &blockFinder{bodies: map[string]*hclsyntax.Body{}}
	for _, s := range srcs {
		// A file with syntax errors still yields the blocks before them.
		file, _ := hclsyntax.ParseConfig(s.Data, s.Name, hcl.InitialPos)
		if file != nil {
			if body, ok := file.Body.(*hclsyntax.Body); ok {
				f.bodies[s.Name] = body
			}
		}
	}
	return f
}

// name returns e.g. `rule "oncall" > schedule`, "the top level of FILE"
// outside every block, or "the policy as a whole" without a position.
func (f *blockFinder) name(d *hcl.Diagnostic) string {
	if d.Subject == nil {
		return "the policy as a whole"
	}
	var parts []string
	body := f.bodies[d.Subject.Filename]
	for body != nil {
		var inner *hclsyntax.Body
		for _, b := range body.Blocks {
			if b.Range().ContainsPos(d.Subject.Start) {
				label := b.Type
				for _, l := range b.Labels {
					label += fmt.Sprintf(" %q", l)
				}
				parts = append(parts, label)
				inner = b.Body
				break
			}
		}
		body = inner
	}
	if len(parts) == 0 {
		return "the top level of " + d.Subject.Filename
	}
	return "block " + strings.Join(parts, " > ")
}
