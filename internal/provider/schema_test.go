package provider

import (
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
)

// datasourceSchema is a data source's schema with its attributes at hand.
type datasourceSchema struct {
	Attributes map[string]schema.Attribute
	full       schema.Schema
}
