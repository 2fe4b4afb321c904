// Package provider is the Terraform provider sentinel-tvm/sentinel: the
// plan-time work of the Terraform module, with no Go toolchain and no
// external program on the machine that plans. Two data sources:
// sentinel_policy compiles a policy with internal/policy (the compiler the
// CLI uses) and runs its tests; sentinel_lambda_package writes the Lambda
// handler zip embedded in this provider's binary at build time.
package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
)

// Address is the provider's registry address.
const Address = "registry.terraform.io/sentinel-tvm/sentinel"

// New returns a constructor for the provider of the given version (the
// release's version, "dev" in development builds).
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &sentinelProvider{version: version} }
}

type sentinelProvider struct {
	version string
}

func (p *sentinelProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "sentinel"
	resp.Version = p.version
}

func (p *sentinelProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Plan-time work of the Sentinel TVM Terraform module: compiles and tests the HCL policy, and supplies the Lambda handler zip of the same version. Needs no configuration, no credentials and no Go toolchain.",
	}
}

func (p *sentinelProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (p *sentinelProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		func() datasource.DataSource { return &policyDataSource{} },
		func() datasource.DataSource { return &lambdaPackageDataSource{version: p.version, zips: lambdaZips} },
	}
}

func (p *sentinelProvider) Resources(context.Context) []func() resource.Resource { return nil }
