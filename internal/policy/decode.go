package policy

import (
	"fmt"
	"math/big"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder turns static HCL attributes into Go values, collecting every
// problem as a diagnostic with the attribute's range.
type decoder struct {
	diags hcl.Diagnostics
}

func (d *decoder) add(diags ...*hcl.Diagnostic) { d.diags = append(d.diags, diags...) }

// value evaluates a static attribute (no variables, no functions) and
// converts it to want. ok is false when the attribute is absent, null, or
// wrong (a diagnostic is recorded in that last case).
func (d *decoder) value(attr *hcl.Attribute, want cty.Type, wantName string) (cty.Value, bool) {
	if attr == nil {
		return cty.NilVal, false
	}
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		d.add(diags...)
		return cty.NilVal, false
	}
	if v.IsNull() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, want)
	if err != nil || !cv.IsWhollyKnown() {
		d.add(errorAt(attr.Expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s required.", attr.Name, wantName))
		return cty.NilVal, false
	}
	if cv.CanIterateElements() {
		for it := cv.ElementIterator(); it.Next(); {
			if _, e := it.Element(); e.IsNull() {
				d.add(errorAt(attr.Expr.Range(), "Incorrect attribute value type",
					"Inappropriate value for attribute %q: %s required; an element is null.", attr.Name, wantName))
				return cty.NilVal, false
			}
		}
	}
	return cv, true
}

func (d *decoder) str(attr *hcl.Attribute) (string, bool) {
	v, ok := d.value(attr, cty.String, "string")
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

func (d *decoder) bool(attr *hcl.Attribute) (bool, bool) {
	v, ok := d.value(attr, cty.Bool, "bool")
	if !ok {
		return false, false
	}
	return v.True(), true
}

// strList decodes a list of strings; an empty list is reported unless
// allowEmpty.
func (d *decoder) strList(attr *hcl.Attribute, allowEmpty bool) ([]string, bool) {
	v, ok := d.value(attr, cty.List(cty.String), "list of string")
	if !ok {
		return nil, false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	if len(out) == 0 && !allowEmpty {
		d.add(errorAt(attr.Expr.Range(), "Empty list", "%q must list at least one value.", attr.Name))
		return nil, false
	}
	return out, true
}

// integer decodes a whole number within [lo, hi].
func (d *decoder) integer(attr *hcl.Attribute, lo, hi int) (int, bool) {
	v, ok := d.value(attr, cty.Number, "number")
	if !ok {
		return 0, false
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if acc != big.Exact || n < int64(lo) || n > int64(hi) {
		d.add(errorAt(attr.Expr.Range(), "Invalid value", "%q must be a whole number from %d to %d.", attr.Name, lo, hi))
		return 0, false
	}
	return int(n), true
}

// duration decodes a Go duration string ("15m", "1h") of whole seconds,
// above zero and at most max.
func (d *decoder) duration(attr *hcl.Attribute, max time.Duration) (time.Duration, bool) {
	s, ok := d.str(attr)
	if !ok {
		return 0, false
	}
	dur, err := time.ParseDuration(s)
	switch {
	case err != nil:
		d.add(errorAt(attr.Expr.Range(), "Invalid duration",
			"%q must be a duration such as \"15m\" or \"1h\" (Go duration syntax); %q does not parse.", attr.Name, s))
		return 0, false
	case dur <= 0 || dur%time.Second != 0:
		d.add(errorAt(attr.Expr.Range(), "Invalid duration", "%q must be a positive whole number of seconds; got %q.", attr.Name, s))
		return 0, false
	case max > 0 && dur > max:
		d.add(errorAt(attr.Expr.Range(), "Duration too long", "%q is %s; sessions last at most %s (STS role chaining).", attr.Name, fmtDuration(dur), fmtDuration(max)))
		return 0, false
	}
	return dur, true
}

// fmtDuration renders a duration as a policy author writes it: "1h",
// "15m", "1h30m", "90s".
func fmtDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	s := d.String()
	if len(s) > 2 && s[len(s)-2:] == "0s" && (s[len(s)-3] == 'm' || s[len(s)-3] == 'h') {
		s = s[:len(s)-2]
	}
	if len(s) > 2 && s[len(s)-2:] == "0m" && s[len(s)-3] == 'h' {
		s = s[:len(s)-2]
	}
	return s
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func quoteList(l []string) string {
	s := ""
	for i, v := range l {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", v)
	}
	return s
}
