package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const scopeHCL = `
settings {
  trusted_session_roles = ["arn:aws:iam::111122223333:role/engineer*"]
}

profile "scoped" {
  role_arn = "arn:aws:iam::111122223333:role/scoped"
  session_policy = {
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["arn:aws:s3:::tenant-data/${principal.account_id}/${principal.user}/*"]
      Condition = {
        NumericLessThanEquals = { "aws:MultiFactorAuthAge" = request.duration_seconds }
      }
    }]
  }
  session_tags = {
    zeta  = principal.name
    alpha = principal.account_id
    mid   = "constant value"
  }
}

profile "tags-only" {
  role_arn = "arn:aws:iam::111122223333:role/tags-only"
  session_tags = {
    team = principal.user
  }
}

profile "unscoped" {
  role_arn = "arn:aws:iam::111122223333:role/unscoped"
}

profile "names" {
  role_arn = "arn:aws:iam::111122223333:role/names"
  session_policy = {
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "s3:*"
      Resource = ["arn:aws:s3:::a/${principal.name}/*", "arn:aws:s3:::b/${principal.name}/*"]
    }]
  }
}

rule "everyone" {
  effect     = "allow"
  profiles   = ["*"]
  principals = ["*"]
}

rule "approval" {
  effect     = "require_approval"
  profiles   = ["*"]
  principals = ["arn:aws:iam::111122223333:role/needs-approval"]
  approvers  = ["arn:aws:iam::111122223333:role/security"]
}
`

// scopeRender evaluates a request and renders its scope.
func scopeRender(t *testing.T, p *Policy, caller, profile string) (Decision, Scope, error) {
	t.Helper()
	pr, err := p.Principal(caller, "", "")
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{Principal: pr, Profile: profile, Time: evMonday, Duration: 20 * time.Minute}
	d := p.Evaluate(req)
	s, err := p.Render(d, req)
	return d, s, err
}

func TestRenderEncodesValues(t *testing.T) {
	p := evPolicy(t, scopeHCL)
	for _, session := range []string{
		"alice",
		`quote"and\backslash`,
		`"]},{"Effect":"Allow","Action":"iam:PassRole","Resource":["arn:aws:iam::1:root`,
		"unicode-ü-漢字-😀",
		"<html>&amp;",
		"line\nbreak\ttab\u2028",
	} {
		t.Run(session, func(t *testing.T) {
			_, s, err := scopeRender(t, p, "arn:aws:sts::111122223333:assumed-role/engineer/"+session, "scoped")
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, []byte(s.SessionPolicy)); err != nil {
				t.Fatalf("session policy is not JSON: %v\n%s", err, s.SessionPolicy)
			}
			if buf.String() != s.SessionPolicy {
				t.Errorf("session policy is not compact:\n%s", s.SessionPolicy)
			}
			var doc struct {
				Version   string
				Statement []struct {
					Effect    string
					Action    []string
					Resource  []string
					Condition map[string]map[string]json.Number
				}
			}
			dec := json.NewDecoder(strings.NewReader(s.SessionPolicy))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("decode: %v\n%s", err, s.SessionPolicy)
			}
			if len(doc.Statement) != 1 {
				t.Fatalf("the value escaped its string: %d statements\n%s", len(doc.Statement), s.SessionPolicy)
			}
			st := doc.Statement[0]
			want := "arn:aws:s3:::tenant-data/111122223333/" + session + "/*"
			if !reflect.DeepEqual(st.Resource, []string{want}) || st.Effect != "Allow" ||
				!reflect.DeepEqual(st.Action, []string{"s3:GetObject"}) {
				t.Errorf("statement %+v, want Resource %q", st, want)
			}
			if n := st.Condition["NumericLessThanEquals"]["aws:MultiFactorAuthAge"]; n != "1200" {
				t.Errorf("request.duration_seconds rendered as %q, want the number 1200", n)
			}
			if strings.Contains(s.SessionPolicy, `\u003c`) {
				t.Errorf("HTML escaping lengthens the policy: %s", s.SessionPolicy)
			}
			// Keys come sorted, whatever the source order: the encoder's map order.
			if i, j := strings.Index(s.SessionPolicy, `"Statement"`), strings.Index(s.SessionPolicy, `"Version"`); i > j {
				t.Errorf("keys not sorted: %s", s.SessionPolicy)
			}
		})
	}
}

func TestRenderTags(t *testing.T) {
	p := evPolicy(t, scopeHCL)
	_, s, err := scopeRender(t, p, evEngineer, "scoped")
	if err != nil {
		t.Fatal(err)
	}
	want := []Tag{{"alpha", "111122223333"}, {"mid", "constant value"}, {"zeta", "engineer-dev"}}
	if !reflect.DeepEqual(s.Tags, want) {
		t.Errorf("tags %+v, want %+v", s.Tags, want)
	}

	_, s, err = scopeRender(t, p, evEngineer, "tags-only")
	if err != nil || s.SessionPolicy != "" || !reflect.DeepEqual(s.Tags, []Tag{{"team", "alice"}}) {
		t.Errorf("tags-only: %+v, %v", s, err)
	}
}

func TestRenderUnsafeValues(t *testing.T) {
	p := evPolicy(t, scopeHCL)
	for _, session := range []string{"a*", "?", "${aws:username}", "x$y"} {
		caller := "arn:aws:sts::111122223333:assumed-role/engineer/" + session
		t.Run(session, func(t *testing.T) {
			if _, _, err := scopeRender(t, p, caller, "scoped"); !errors.Is(err, ErrUnsafeValue) {
				t.Errorf("referenced session name %q: err %v, want ErrUnsafeValue", session, err)
			}
			if _, _, err := scopeRender(t, p, caller, "tags-only"); !errors.Is(err, ErrUnsafeValue) {
				t.Errorf("session name %q referenced by a tag: err %v, want ErrUnsafeValue", session, err)
			}
			// "names" reads principal.name only: the session name is not
			// interpolated, so it is harmless.
			if _, s, err := scopeRender(t, p, caller, "names"); err != nil || s.SessionPolicy == "" {
				t.Errorf("unreferenced session name %q: %+v, %v", session, s, err)
			}
		})
	}
	if _, _, err := scopeRender(t, p, "arn:aws:sts::111122223333:assumed-role/role*/alice", "names"); !errors.Is(err, ErrUnsafeValue) {
		t.Errorf("referenced role name with '*': err %v, want ErrUnsafeValue", err)
	}
}

func TestRenderSTSLimits(t *testing.T) {
	p := evPolicy(t, scopeHCL)
	var se *ScopeError

	// STS forbids commas in tag values; the compiler cannot see runtime values.
	_, _, err := scopeRender(t, p, "arn:aws:sts::111122223333:assumed-role/engineer/a,b", "tags-only")
	if !errors.As(err, &se) || !strings.Contains(se.Error(), `tag "team": values may hold only`) {
		t.Errorf("comma in tag value: err %v, want a ScopeError about tag team", err)
	}

	// A role name far beyond IAM's 64 characters (the compiler's worst case)
	// makes the policy too long.
	long := strings.Repeat("r", 1100)
	_, _, err = scopeRender(t, p, "arn:aws:sts::111122223333:assumed-role/"+long+"/alice", "names")
	if !errors.As(err, &se) || !strings.Contains(se.Error(), "STS allows 2048") {
		t.Errorf("over-long policy: err %v, want a ScopeError about the length", err)
	}
	// And a tag value above 256 characters.
	_, _, err = scopeRender(t, p, "arn:aws:sts::111122223333:assumed-role/engineer/"+strings.Repeat("s", 300), "tags-only")
	if !errors.As(err, &se) || !strings.Contains(se.Error(), "STS allows 256") {
		t.Errorf("over-long tag value: err %v, want a ScopeError", err)
	}
}

func TestRenderWithoutScope(t *testing.T) {
	p := evPolicy(t, scopeHCL)
	d, s, err := scopeRender(t, p, evEngineer, "unscoped")
	if d.Effect != Allow || err != nil || s.SessionPolicy != "" || s.Tags != nil {
		t.Errorf("unscoped profile: %s, %+v, %v", d.Effect, s, err)
	}
}

func TestRenderRefusesNonAllow(t *testing.T) {
	p := evPolicy(t, scopeHCL)
	d, _, err := scopeRender(t, p, "arn:aws:sts::111122223333:assumed-role/needs-approval/x", "scoped")
	if d.Effect != RequireApproval || err == nil {
		t.Errorf("require_approval: %s, err %v; want an error", d.Effect, err)
	}
	req := &Request{Principal: evMustPrincipal(t, p, evEngineer), Profile: "nope", Time: evMonday}
	if _, err := p.Render(p.Evaluate(req), req); err == nil {
		t.Errorf("unknown profile: no error")
	}
	if _, err := p.Render(Decision{Effect: Deny, Profile: "scoped"}, req); err == nil {
		t.Errorf("deny: no error")
	}
}
