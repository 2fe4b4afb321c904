package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// stsConditionKeys are the condition keys each STS action of a trust
// policy has, from AWS's Service Authorization Reference (AWS Security
// Token Service, "Actions defined by AWS Security Token Service"); a key
// ending in "/" stands for its family (aws:RequestTag/${TagKey}). A
// condition on a key the action does not have is false, and denies it.
var stsConditionKeys = map[string][]string{
	"sts:AssumeRole": {"aws:RequestTag/", "aws:TagKeys", "sts:TransitiveTagKeys", "sts:ExternalId",
		"sts:RoleSessionName", "iam:ResourceTag/", "sts:SourceIdentity"},
	"sts:SetSourceIdentity": {"sts:SourceIdentity"},
	"sts:TagSession":        {"aws:RequestTag/", "aws:TagKeys", "sts:TransitiveTagKeys"},
}

func keySupported(action, key string) bool {
	for _, k := range stsConditionKeys[action] {
		if k == key || (strings.HasSuffix(k, "/") && strings.HasPrefix(key, k)) {
			return true
		}
	}
	return false
}

// stringList evaluates a list of string literals.
func stringList(t *testing.T, m *module, e hclsyntax.Expression) []string {
	t.Helper()
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.CanIterateElements() {
		t.Fatalf("%s is not a literal list", m.text(e))
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, s := it.Element()
		if s.Type() != cty.String {
			t.Fatalf("%s holds a non-string", m.text(e))
		}
		out = append(out, s.AsString())
	}
	return out
}

// conditionBlocks returns a statement's condition blocks, static and
// dynamic (their content).
func conditionBlocks(st *hclsyntax.Block) []*hclsyntax.Body {
	var out []*hclsyntax.Body
	for _, c := range st.Body.Blocks {
		switch {
		case c.Type == "condition":
			out = append(out, c.Body)
		case c.Type == "dynamic" && len(c.Labels) == 1 && c.Labels[0] == "condition":
			out = append(out, nested(c, "content")[0].Body)
		}
	}
	return out
}

// TestProtectedRoleTrustPerAction: the protected role's trust policy has
// one statement per STS action the TVM's AssumeRole needs, each with only
// condition keys that action has, and still requires the TVM's
// SourceIdentity and session-ID tag.
func TestProtectedRoleTrustPerAction(t *testing.T) {
	m := parseModule(t, filepath.Join(root, "modules/protected-role"))
	trust := m.block(t, "data.aws_iam_policy_document.trust")
	seen := map[string]map[string]string{} // action -> key -> test
	for _, st := range nested(trust, "statement") {
		acts := stringList(t, m, st.Body.Attributes["actions"].Expr)
		if len(acts) != 1 {
			t.Errorf("statement %s has actions %v: one action per statement", m.text(st.Body.Attributes["sid"].Expr), acts)
			continue
		}
		act := acts[0]
		if _, ok := stsConditionKeys[act]; !ok {
			t.Errorf("the trust policy grants %s, which the TVM never needs", act)
			continue
		}
		if seen[act] != nil {
			t.Errorf("two statements grant %s", act)
		}
		seen[act] = map[string]string{}
		for _, c := range conditionBlocks(st) {
			key, ok := literal(c.Attributes["variable"].Expr)
			if !ok {
				t.Fatalf("condition variable %s is not a literal", m.text(c.Attributes["variable"].Expr))
			}
			test, _ := literal(c.Attributes["test"].Expr)
			if !keySupported(act, key) {
				t.Errorf("the %s statement tests %s, a key %s does not have: the condition is false and every AssumeRole is denied", act, key, act)
			}
			seen[act][key] = test
		}
	}
	for act := range stsConditionKeys {
		if seen[act] == nil {
			t.Errorf("no statement grants %s, which the TVM's AssumeRole needs", act)
		}
	}
	want := map[string]map[string]string{
		"sts:AssumeRole":        {"sts:SourceIdentity": "StringLike", "aws:RequestTag/sentinel:session-id": "Null"},
		"sts:SetSourceIdentity": {"sts:SourceIdentity": "StringLike"},
		"sts:TagSession":        {"aws:RequestTag/sentinel:session-id": "Null", "sts:TransitiveTagKeys": "ForAllValues:StringEquals"},
	}
	for act, keys := range want {
		for k, test := range keys {
			if seen[act][k] != test {
				t.Errorf("the %s statement must test %s with %s (got %q)", act, k, test, seen[act][k])
			}
		}
	}
}

// TestProtectedRoleGuard: the role's own sessions may not change its
// inline policies (so not delete sentinel-tvm-revocations) nor its trust
// policy.
func TestProtectedRoleGuard(t *testing.T) {
	m := parseModule(t, filepath.Join(root, "modules/protected-role"))
	guard := m.block(t, "data.aws_iam_policy_document.guard")
	sts := nested(guard, "statement")
	if len(sts) != 1 {
		t.Fatalf("guard: %d statements", len(sts))
	}
	st := sts[0]
	if e, _ := literal(st.Body.Attributes["effect"].Expr); e != "Deny" {
		t.Fatalf("guard effect %q", e)
	}
	acts := stringList(t, m, st.Body.Attributes["actions"].Expr)
	for _, a := range []string{"iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRolePermissionsBoundary"} {
		if !slices.Contains(acts, a) {
			t.Errorf("the guard does not deny %s", a)
		}
	}
	if r := m.text(st.Body.Attributes["resources"].Expr); !strings.Contains(r, "aws_iam_role.this.arn") {
		t.Errorf("the guard's resources %s do not name the role", r)
	}
	pol := m.block(t, "resource.aws_iam_role_policy.guard")
	if got := m.text(pol.Body.Attributes["policy"].Expr); got != "data.aws_iam_policy_document.guard.json" {
		t.Errorf("guard policy %s", got)
	}
}

// TestRevocationWriterGrants: the writer role trusts only the revoker and
// may only read, list and write role inline policies under the protected
// path.
func TestRevocationWriterGrants(t *testing.T) {
	m := parseModule(t, filepath.Join(root, "modules/revocation-writer"))
	trust := nested(m.block(t, "data.aws_iam_policy_document.trust"), "statement")
	if len(trust) != 1 {
		t.Fatalf("trust: %d statements", len(trust))
	}
	if acts := stringList(t, m, trust[0].Body.Attributes["actions"].Expr); !slices.Equal(acts, []string{"sts:AssumeRole"}) {
		t.Errorf("trust actions %v", acts)
	}
	p := nested(trust[0], "principals")
	if len(p) != 1 || m.text(p[0].Body.Attributes["identifiers"].Expr) != "[var.revoker_role_arn]" {
		t.Errorf("the writer must trust only var.revoker_role_arn")
	}
	write := nested(m.block(t, "data.aws_iam_policy_document.write"), "statement")
	if len(write) != 1 {
		t.Fatalf("write: %d statements", len(write))
	}
	acts := stringList(t, m, write[0].Body.Attributes["actions"].Expr)
	slices.Sort(acts)
	if !slices.Equal(acts, []string{"iam:GetRolePolicy", "iam:ListRolePolicies", "iam:PutRolePolicy"}) {
		t.Errorf("writer actions %v: the revoker needs exactly these", acts)
	}
	if r := m.text(write[0].Body.Attributes["resources"].Expr); !strings.Contains(r, "role${var.protected_role_path}*") {
		t.Errorf("writer resources %s: only the roles under protected_role_path", r)
	}
}

// TestSCPExamples: the example SCPs are policy documents that deny what
// docs/revocation.md says they deny.
func TestSCPExamples(t *testing.T) {
	type statement struct {
		Sid       string
		Effect    string
		Action    any
		Resource  any
		Condition map[string]map[string]any
	}
	list := func(v any) []string {
		switch v := v.(type) {
		case string:
			return []string{v}
		case []any:
			var out []string
			for _, s := range v {
				out = append(out, s.(string))
			}
			return out
		}
		return nil
	}
	want := map[string][]string{ // file -> actions it must deny
		"deny-assume-protected-roles.json": {"sts:AssumeRole"},
		"protect-revocation-policy.json":   {"iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:UpdateAssumeRolePolicy"},
		"deny-sso-role-names.json":         {"iam:CreateRole"},
		"deny-invoke-revoker.json":         {"lambda:InvokeFunction"},
	}
	for file, acts := range want {
		b, err := os.ReadFile(filepath.Join(root, "docs/scp", file))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Version   string
			Statement []statement
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil || doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
			t.Errorf("%s: not a policy document (%v)", file, err)
			continue
		}
		denied := map[string]bool{}
		for _, st := range doc.Statement {
			if st.Effect != "Deny" || st.Sid == "" || len(list(st.Resource)) == 0 || len(st.Condition) == 0 {
				t.Errorf("%s: statement %q must be a conditioned Deny with a Sid and resources", file, st.Sid)
			}
			for _, a := range list(st.Action) {
				denied[a] = true
			}
		}
		for _, a := range acts {
			if !denied[a] {
				t.Errorf("%s does not deny %s", file, a)
			}
		}
	}
}
