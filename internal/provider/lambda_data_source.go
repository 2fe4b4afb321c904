package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/provider/lambdazip"
)

// lambdaZips is where the data source finds its zips (tests replace it).
var lambdaZips = lambdazip.Zips

// PackageDir is where sentinel_lambda_package writes its zip, relative to
// Terraform's working directory (the root module's): under .terraform, so
// it is never committed, and relative, so the plan shows the same filename
// in every checkout, CI workspace or HCP Terraform run.
const PackageDir = ".terraform/sentinel-tvm"

type lambdaPackageDataSource struct {
	version string
	zips    func() map[string][]byte
}

type lambdaPackageModel struct {
	Architecture   types.String `tfsdk:"architecture"`
	Filename       types.String `tfsdk:"filename"`
	SourceCodeHash types.String `tfsdk:"source_code_hash"`
	Version        types.String `tfsdk:"version"`
}

func (d *lambdaPackageDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_lambda_package"
}

func (d *lambdaPackageDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The Sentinel TVM Lambda handler zip (bootstrap for provided.al2023) of this provider's own version, embedded in the provider when it was built, " +
			"so it is byte-identical on every OS. Reading the data source writes it under " + PackageDir + " in Terraform's working directory.",
		Attributes: map[string]schema.Attribute{
			"architecture": schema.StringAttribute{
				Required:    true,
				Description: `The functions' architecture: "arm64" or "amd64" (Lambda's x86_64).`,
				Validators:  []validator.String{architectureValidator{}},
			},
			"filename": schema.StringAttribute{
				Computed:    true,
				Description: "The zip's path relative to Terraform's working directory (with / separators): aws_lambda_function's filename. Named after the zip's sha256, so it is the same wherever the module is checked out.",
			},
			"source_code_hash": schema.StringAttribute{
				Computed:    true,
				Description: "The zip's sha256, base64-encoded: aws_lambda_function's source_code_hash.",
			},
			"version": schema.StringAttribute{
				Computed:    true,
				Description: "The provider's version, which the handler in the zip was built with.",
			},
		},
	}
}

type architectureValidator struct{}

func (architectureValidator) Description(context.Context) string {
	return `must be "arm64" or "amd64"`
}

func (v architectureValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (architectureValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if a := req.ConfigValue.ValueString(); a != "arm64" && a != "amd64" {
		resp.Diagnostics.AddAttributeError(req.Path, "Unknown architecture",
			fmt.Sprintf(`architecture must be "arm64" or "amd64" (Lambda's x86_64), got %q.`, a))
	}
}

func (d *lambdaPackageDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m lambdaPackageModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	arch := m.Architecture.ValueString()
	zipped := d.zips()[arch]
	if len(zipped) == 0 {
		resp.Diagnostics.AddAttributeError(path.Root("architecture"), "This provider build has no Lambda package",
			fmt.Sprintf("The sentinel provider %s was built without the embedded handler zip for %s. "+
				"Use a released provider from the registry, or build one with `make provider`; "+
				"or give the module a prebuilt zip or an S3 location instead.", d.version, arch))
		return
	}
	sum := sha256.Sum256(zipped)
	name := fmt.Sprintf("%s/handler-%s-%s.zip", PackageDir, arch, hex.EncodeToString(sum[:8]))
	if err := writeIfChanged(filepath.FromSlash(name), zipped); err != nil {
		resp.Diagnostics.AddError("Cannot write the Lambda package", fmt.Sprintf("Writing %s: %v.", name, err))
		return
	}
	m.Filename = types.StringValue(name)
	m.SourceCodeHash = types.StringValue(base64.StdEncoding.EncodeToString(sum[:]))
	m.Version = types.StringValue(d.version)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// writeIfChanged writes data to name atomically (lambdazip.WriteAtomic),
// unless name already holds it.
func writeIfChanged(name string, data []byte) error {
	if old, err := os.ReadFile(name); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return lambdazip.WriteAtomic(name, data)
}
