package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

// Durations STS cannot issue (below 15 minutes) are compile errors, both as
// caps (a block that could never vend) and as defaults (a default that
// GET /v1/profiles and policy explain would advertise and vend refuse).

const durProfile = `
profile "p" {
  role_arn = "arn:aws:iam::111122223333:role/p"
}
`

const durRule = `
rule "r" {
  effect     = "allow"
  profiles   = ["p"]
  principals = ["*"]
}
`

func TestDurationsBelowTheSTSMinimum(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		wantErr   string // "" = compiles
	}{
		{"settings cap", `settings { max_duration = "14m59s" }` + durProfile + durRule, `"max_duration" is 14m59s`},
		{"settings default", `settings { default_duration = "10m" }` + durProfile + durRule, `"default_duration" is 10m`},
		{"profile cap", `
profile "p" {
  role_arn     = "arn:aws:iam::111122223333:role/p"
  max_duration = "10m"
}
` + durRule, `"max_duration" is 10m`},
		{"profile default", `
profile "p" {
  role_arn         = "arn:aws:iam::111122223333:role/p"
  default_duration = "5m"
}
` + durRule, `"default_duration" is 5m`},
		{"rule cap", durProfile + `
rule "r" {
  effect       = "allow"
  profiles     = ["p"]
  principals   = ["*"]
  max_duration = "899s"
}
`, `"max_duration" is 14m59s`},
		{"break-glass cap", durProfile + durRule + `
break_glass "bg" {
  profiles     = ["p"]
  principals   = ["*"]
  reason_codes = ["incident"]
  max_duration = "10m"
}
`, `"max_duration" is 10m`},
		{"exactly the minimum", `settings {
  default_duration = "15m"
  max_duration     = "15m"
}` + durProfile + durRule, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, diags := Compile([]Source{{Name: "policy.hcl", Data: []byte(tc.src)}})
			if tc.wantErr == "" {
				if diags.HasErrors() {
					t.Fatalf("unexpected errors: %s", diags.Error())
				}
				if c.Policy.settings.DefaultDuration != 900 {
					t.Errorf("default %d s, want 900", c.Policy.settings.DefaultDuration)
				}
				return
			}
			if !diags.HasErrors() {
				t.Fatalf("compiled; want an error mentioning %s", tc.wantErr)
			}
			if !strings.Contains(diags.Error(), tc.wantErr) || !strings.Contains(diags.Error(), "Duration below the STS minimum") {
				t.Errorf("errors %q; want one about %s", diags.Error(), tc.wantErr)
			}
		})
	}
}

// TestLoadRefusesShortDurations: a bundle not made by the compiler cannot
// bring a short duration past Load either, so the profiles listing, explain
// and vend never meet one.
func TestLoadRefusesShortDurations(t *testing.T) {
	c, diags := Compile([]Source{{Name: "policy.hcl", Data: []byte(durProfile + durRule)}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, err := Load(c.Bundle); err != nil {
		t.Fatalf("the compiled bundle does not load: %v", err)
	}
	for name, edit := range map[string]func(b *Bundle){
		"settings default": func(b *Bundle) { b.Settings.DefaultDuration = 600 },
		"settings max":     func(b *Bundle) { b.Settings.MaxDuration, b.Settings.DefaultDuration = 600, 600 },
		"profile default":  func(b *Bundle) { b.Profiles[0].DefaultDuration = 600 },
		"profile max":      func(b *Bundle) { b.Profiles[0].MaxDuration = 600 },
		"rule max":         func(b *Bundle) { b.Rules[0].MaxDuration = 600 },
	} {
		t.Run(name, func(t *testing.T) {
			var b Bundle
			if err := json.Unmarshal(c.Bundle, &b); err != nil {
				t.Fatal(err)
			}
			edit(&b)
			raw, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Load(raw); err == nil {
				t.Fatal("a bundle with a 10-minute duration loaded")
			}
		})
	}
}
