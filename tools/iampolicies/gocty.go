package main

import (
	"github.com/zclconf/go-cty/cty"
	ctygocty "github.com/zclconf/go-cty/cty/gocty"
)

func gocty(v cty.Value, target any) error { return ctygocty.FromCtyValue(v, target) }
