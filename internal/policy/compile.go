package policy

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA time zones from the binary, not the machine

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Source is one policy file: Name (a path) appears in diagnostics only.
type Source struct {
	Name string
	Data []byte
}

// TestSuffix marks policy test files.
const TestSuffix = ".test.hcl"

// IsTestFile reports whether a policy file name holds test cases.
func IsTestFile(name string) bool { return strings.HasSuffix(name, TestSuffix) }

// ReadDir reads every *.hcl file of dir (not subdirectories), sorted by name.
func ReadDir(dir string) ([]Source, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var srcs []Source
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, Source{Name: path, Data: data})
	}
	return srcs, nil
}

// Compiled is the result of a successful Compile.
type Compiled struct {
	Bundle   []byte     // canonical JSON
	SHA256   string     // hex sha256 of Bundle
	Policy   *Policy    // Bundle, loaded
	RoleARNs []string   // every role the policy can vend, sorted, unique
	Profiles []string   // profile names, sorted
	Tests    []TestCase // the cases of the *.test.hcl sources, in file order
}

var (
	rootSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "settings"},
		{Type: "profile", LabelNames: []string{"name"}},
		{Type: "rule", LabelNames: []string{"name"}},
		{Type: "break_glass", LabelNames: []string{"name"}},
		{Type: "test", LabelNames: []string{"name"}}, // only to say where it belongs
	}}
	settingsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "default_duration"}, {Name: "max_duration"}, {Name: "operators"}, {Name: "trusted_session_roles"},
		{Name: "trusted_session_role_ids"},
	}}
	profileSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "role_arn", Required: true}, {Name: "description"}, {Name: "default_duration"},
		{Name: "max_duration"}, {Name: "session_policy"}, {Name: "session_tags"},
	}}
	ruleSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "effect", Required: true}, {Name: "profiles", Required: true}, {Name: "principals", Required: true},
			{Name: "users"}, {Name: "accounts"}, {Name: "org_ids"}, {Name: "source_ips"}, {Name: "condition"},
			{Name: "max_duration"}, {Name: "approvers"}, {Name: "approver_users"}, {Name: "min_approvals"}, {Name: "reason"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "schedule"}},
	}
	scheduleSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "days"}, {Name: "hours"}, {Name: "timezone"},
	}}
	breakGlassSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "profiles", Required: true}, {Name: "principals", Required: true}, {Name: "max_duration"},
		{Name: "reason_codes", Required: true}, {Name: "min_justification_length"},
	}}
)

// Defaults of the settings block.
const (
	DefaultDefaultDuration = 15 * time.Minute
	DefaultMaxDuration     = time.Hour
	// MinSTSDuration is the shortest session STS issues; shorter policy
	// durations draw a warning.
	MinSTSDuration = 15 * time.Minute
)

var (
	profileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	blockNameRE   = regexp.MustCompile(`^[^\s\p{C}](?:[^\p{C}]{0,126}[^\s\p{C}])?$`)
	roleARNRE     = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)
	orgIDRE       = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	hoursRE       = regexp.MustCompile(`^(\d\d):(\d\d)-(\d\d):(\d\d)$`)
	reasonCodeRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	blockNameRule = "1 to 128 printable characters, not starting or ending with a space"
	dayNames      = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	effectNames   = []string{string(Allow), string(Deny), string(RequireApproval)}
)

// compiler holds the state of one Compile.
type compiler struct {
	decoder
	settings     *hcl.Block
	bundle       Bundle
	profileRange map[string]hcl.Range
	ruleRange    map[string]hcl.Range
	bgRange      map[string]hcl.Range
	globs        []globUse // profiles globs to check once all profiles are known
	usersRules   []hcl.Range
	tests        []*hcl.Block
	files        map[string][]byte
}

type globUse struct {
	pattern string
	rng     hcl.Range
}

// Compile parses and checks policy sources (files ending in .test.hcl hold
// test cases) and returns the canonical bundle. Every problem is reported
// in one pass, in file and position order; warnings come back with a
// successful result too. Syntax errors stop there, as they do in
// Terraform: what follows them in a file cannot be read reliably, and
// checking it would only add follow-on errors.
func Compile(srcs []Source) (*Compiled, hcl.Diagnostics) {
	out, diags := compile(srcs)
	SortDiagnostics(diags)
	return out, diags
}

// SortDiagnostics orders diagnostics by file, line and column; those with
// no position (about the policy as a whole) come last, in the order found.
func SortDiagnostics(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil && b.Subject == nil:
			return 0
		case a.Subject == nil:
			return 1
		case b.Subject == nil:
			return -1
		}
		return cmp.Or(
			cmp.Compare(a.Subject.Filename, b.Subject.Filename),
			cmp.Compare(a.Subject.Start.Byte, b.Subject.Start.Byte),
		)
	})
}

func compile(srcs []Source) (*Compiled, hcl.Diagnostics) {
	c := &compiler{
		profileRange: map[string]hcl.Range{},
		ruleRange:    map[string]hcl.Range{},
		bgRange:      map[string]hcl.Range{},
		files:        map[string][]byte{},
	}
	sorted := append([]Source(nil), srcs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	files := make([]*hcl.File, len(sorted))
	for i, src := range sorted {
		c.files[src.Name] = src.Data
		file, diags := hclsyntax.ParseConfig(src.Data, src.Name, hcl.InitialPos)
		c.add(diags...)
		files[i] = file
	}
	if c.diags.HasErrors() {
		return nil, c.diags
	}
	policyFiles := 0
	for i, src := range sorted {
		file := files[i]
		if IsTestFile(src.Name) {
			c.tests = append(c.tests, c.testBlocks(file.Body)...)
			continue
		}
		policyFiles++
		content, diags := file.Body.Content(rootSchema)
		c.add(diags...)
		for _, b := range content.Blocks {
			switch b.Type {
			case "settings":
				c.decodeSettings(b)
			case "profile":
				c.decodeProfile(b)
			case "rule":
				c.decodeRule(b)
			case "break_glass":
				c.decodeBreakGlass(b)
			case "test":
				c.add(errorAt(b.DefRange, "Test in a policy file",
					"test blocks belong in files ending in %q; %s holds policy.", TestSuffix, src.Name))
			}
		}
	}
	if policyFiles == 0 {
		c.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No policy",
			Detail: "No policy files (*.hcl other than *" + TestSuffix + "): with no policy, no credentials are vended."})
	}
	if c.settings == nil {
		c.bundle.Settings = BundleSettings{DefaultDuration: seconds(DefaultDefaultDuration), MaxDuration: seconds(DefaultMaxDuration)}
	}
	if c.bundle.Settings.Operators == nil {
		c.bundle.Settings.Operators = []string{}
	}
	if c.bundle.Settings.TrustedSessionRoles == nil {
		c.bundle.Settings.TrustedSessionRoles = []string{}
	}
	if policyFiles > 0 && len(c.bundle.Profiles) == 0 {
		c.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No profiles",
			Detail: "The policy defines no profile block, so it could never vend credentials."})
	}
	c.checkProfileGlobs()
	c.checkCrossBlock()
	c.checkCallerValues()
	if c.diags.HasErrors() {
		c.decodeTests(nil) // the cases' own problems, in the same pass
		return nil, c.diags
	}
	sort.Slice(c.bundle.Profiles, func(i, j int) bool { return c.bundle.Profiles[i].Name < c.bundle.Profiles[j].Name })
	sort.Slice(c.bundle.Rules, func(i, j int) bool { return c.bundle.Rules[i].Name < c.bundle.Rules[j].Name })
	sort.Slice(c.bundle.BreakGlass, func(i, j int) bool { return c.bundle.BreakGlass[i].Name < c.bundle.BreakGlass[j].Name })
	if c.bundle.Rules == nil {
		c.bundle.Rules = []BundleRule{}
	}
	if c.bundle.BreakGlass == nil {
		c.bundle.BreakGlass = []BundleBreakGlass{}
	}
	c.bundle.Format = BundleFormat
	js, err := encodeJSON(c.bundle)
	if err != nil {
		c.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Internal error", Detail: err.Error()})
		return nil, c.diags
	}
	bundle := []byte(js)
	p, err := Load(bundle)
	if err != nil {
		c.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Internal error", Detail: "the compiled bundle does not load: " + err.Error()})
		return nil, c.diags
	}
	out := &Compiled{Bundle: bundle, Policy: p, SHA256: p.SHA256(), Profiles: p.ProfileNames()}
	roles := map[string]bool{}
	for _, pr := range c.bundle.Profiles {
		if !roles[pr.RoleARN] {
			roles[pr.RoleARN] = true
			out.RoleARNs = append(out.RoleARNs, pr.RoleARN)
		}
	}
	sort.Strings(out.RoleARNs)
	out.Tests = c.decodeTests(p)
	if c.diags.HasErrors() {
		return nil, c.diags
	}
	return out, c.diags
}

// SHA256Hex is the hex sha256 of data, as bundles are identified.
func SHA256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// checkName checks a block label and that it is not already taken.
func (c *compiler) checkName(b *hcl.Block, kind string, re *regexp.Regexp, rule string, seen map[string]hcl.Range) (string, bool) {
	name, rng := b.Labels[0], b.LabelRanges[0]
	if !re.MatchString(name) {
		c.add(errorAt(rng, "Invalid "+kind+" name", "%q is not a valid %s name: %s.", name, kind, rule))
		return name, false
	}
	if prev, dup := seen[name]; dup {
		c.add(errorAt(rng, "Duplicate "+kind, "A %s named %q was already defined at %s.", kind, name, where(prev)))
		return name, false
	}
	seen[name] = b.DefRange
	return name, true
}

func (c *compiler) decodeSettings(b *hcl.Block) {
	if c.settings != nil {
		c.add(errorAt(b.DefRange, "Duplicate settings block", "Only one settings block is allowed; the first is at %s.", where(c.settings.DefRange)))
		return
	}
	c.settings = b
	content, diags := b.Body.Content(settingsSchema)
	c.add(diags...)
	a := content.Attributes
	s := BundleSettings{DefaultDuration: seconds(DefaultDefaultDuration), MaxDuration: seconds(DefaultMaxDuration)}
	maxDur, hasMax := c.sessionDuration(a["max_duration"])
	if hasMax {
		s.MaxDuration = seconds(maxDur)
	}
	if def, ok := c.sessionDuration(a["default_duration"]); ok {
		s.DefaultDuration = seconds(def)
		if def > time.Duration(s.MaxDuration)*time.Second {
			c.add(errorAt(a["default_duration"].Expr.Range(), "Default above maximum",
				"default_duration (%s) exceeds max_duration (%s).", fmtDuration(def), fmtDuration(time.Duration(s.MaxDuration)*time.Second)))
		}
	} else if a["default_duration"] == nil && hasMax && maxDur < DefaultDefaultDuration {
		s.DefaultDuration = seconds(maxDur)
	}
	s.Operators, _ = c.arnGlobs(a["operators"], true)
	s.TrustedSessionRoles, _ = c.arnGlobs(a["trusted_session_roles"], true)
	if ids, ok := c.strList(a["trusted_session_role_ids"], true); ok {
		for _, id := range ids {
			if !roleIDRE.MatchString(id) {
				c.add(errorAt(a["trusted_session_role_ids"].Expr.Range(), "Invalid role ID",
					"%q is not an IAM role's unique ID such as \"AROA3XFRBF535PLBIFPI4\" (aws iam get-role --query Role.RoleId).", id))
			}
		}
		if len(ids) > 0 && len(s.TrustedSessionRoles) == 0 {
			c.add(errorAt(a["trusted_session_role_ids"].Expr.Range(), "Role IDs without trusted session roles",
				"trusted_session_role_ids pins roles that trusted_session_roles names; it names none."))
		}
		s.TrustedSessionRoleIDs = ids
	}
	c.bundle.Settings = s
}

// sessionDuration decodes a max_duration or default_duration attribute (at
// most MaxSessionDuration); ok is false when it is absent or invalid. It
// refuses durations STS cannot issue: a max_duration below the minimum
// means the block can never vend, and a default_duration below it would be
// advertised (GET /v1/profiles, policy explain) and then refused. Both are
// errors (docs/policy-language.md, "Durations").
func (c *compiler) sessionDuration(attr *hcl.Attribute) (d time.Duration, ok bool) {
	d, ok = c.duration(attr, MaxSessionDuration)
	if ok && d < MinSTSDuration {
		what := "a session under this block could never be vended"
		if attr.Name == "default_duration" {
			what = "the default would be advertised and then refused"
		}
		c.add(errorAt(attr.Expr.Range(), "Duration below the STS minimum",
			"%q is %s, but STS issues sessions of %s at least: %s. Use %s or more.", attr.Name, fmtDuration(d), fmtDuration(MinSTSDuration), what, fmtDuration(MinSTSDuration)))
	}
	return d, ok
}

// arnGlobs decodes a list of principal ARN globs: each must be "*" or start
// with "arn:". Role session ARNs and role paths draw warnings, since the
// principal ARN of a role session is the role's ARN without its path.
func (c *compiler) arnGlobs(attr *hcl.Attribute, allowEmpty bool) ([]string, bool) {
	list, ok := c.strList(attr, allowEmpty)
	if !ok {
		return nil, false
	}
	for _, g := range list {
		switch {
		case g != "*" && !strings.HasPrefix(g, "arn:"):
			c.add(errorAt(attr.Expr.Range(), "Invalid principal glob",
				"%q in %q is not an ARN glob: principals are matched by ARN, e.g. \"arn:aws:iam::111122223333:role/engineer-*\", or \"*\" for anyone.", g, attr.Name))
			ok = false
		case strings.Contains(g, ":assumed-role/"):
			c.add(warningAt(attr.Expr.Range(), "Session ARN in principal glob",
				"%q will never match: a role session's principal ARN is its role's, \"arn:aws:iam::ACCOUNT:role/NAME\".", g))
		case strings.Contains(g, ":role/") && strings.Contains(g[strings.Index(g, ":role/")+6:], "/"):
			c.add(warningAt(attr.Expr.Range(), "Role path in principal glob",
				"%q will never match a role session: the request context names the role without its path.", g))
		}
	}
	return list, ok
}

func (c *compiler) decodeProfile(b *hcl.Block) {
	name, nameOK := c.checkName(b, "profile", profileNameRE, "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", c.profileRange)
	content, diags := b.Body.Content(profileSchema)
	c.add(diags...)
	a := content.Attributes
	p := BundleProfile{Name: name}
	if arn, ok := c.str(a["role_arn"]); ok {
		if !roleARNRE.MatchString(arn) {
			c.add(errorAt(a["role_arn"].Expr.Range(), "Invalid role ARN",
				"role_arn %q is not an IAM role ARN such as \"arn:aws:iam::111122223333:role/NAME\".", arn))
		}
		p.RoleARN = arn
	}
	p.Description, _ = c.str(a["description"])
	maxDur, hasMax := c.sessionDuration(a["max_duration"])
	if hasMax {
		p.MaxDuration = seconds(maxDur)
	}
	if def, ok := c.sessionDuration(a["default_duration"]); ok {
		p.DefaultDuration = seconds(def)
		if hasMax && def > maxDur {
			c.add(errorAt(a["default_duration"].Expr.Range(), "Default above maximum",
				"default_duration (%s) exceeds the profile's max_duration (%s).", fmtDuration(def), fmtDuration(maxDur)))
		}
	}
	var policyExpr, tagsExpr hcl.Expression
	if attr := a["session_policy"]; attr != nil {
		policyExpr = c.scopeExpr(attr, &p.SessionPolicy)
	}
	if attr := a["session_tags"]; attr != nil {
		tagsExpr = c.scopeExpr(attr, &p.SessionTags)
	}
	if policyExpr != nil {
		c.checkScope(a["session_policy"], policyExpr, nil, name)
	}
	if tagsExpr != nil {
		c.checkScope(a["session_tags"], nil, tagsExpr, name)
	}
	if nameOK {
		c.bundle.Profiles = append(c.bundle.Profiles, p)
	}
}

// scopeExpr checks the references of a scoping expression and keeps its
// source text in *dst. It returns nil when the expression is unusable.
func (c *compiler) scopeExpr(attr *hcl.Attribute, dst *string) hcl.Expression {
	_, diags := checkReferences(attr.Expr)
	c.add(diags...)
	if diags.HasErrors() {
		return nil
	}
	v, diags := attr.Expr.Value(unknownContext)
	c.add(diags...)
	if diags.HasErrors() {
		return nil
	}
	if t := v.Type(); !(t.IsObjectType() || t.IsMapType() || t == cty.DynamicPseudoType) {
		c.add(errorAt(attr.Expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: an object is required, got %s.", attr.Name, t.FriendlyName()))
		return nil
	}
	*dst = c.exprSource(attr.Expr)
	return attr.Expr
}

// checkScope renders a scoping expression with the longest plausible request
// values and reports whatever would break the STS limits.
func (c *compiler) checkScope(attr *hcl.Attribute, policyExpr, tagsExpr hcl.Expression, profileName string) {
	_, err := renderScope(policyExpr, tagsExpr, worstCaseContext(profileName))
	if err == nil {
		return
	}
	summary := "Invalid session policy"
	if tagsExpr != nil {
		summary = "Invalid session tags"
	}
	if se, ok := err.(*ScopeError); ok {
		// Problems that typical values show too are the document's own; only
		// those that the longest values cause need saying how they arose.
		typical := map[string]bool{}
		if _, err := renderScope(policyExpr, tagsExpr, typicalContext(profileName)); err != nil {
			if te, ok := err.(*ScopeError); ok {
				for _, p := range te.Problems {
					typical[p] = true
				}
			}
		}
		for _, p := range se.Problems {
			if !typical[p] {
				p += " (rendered with the longest plausible request values)"
			}
			c.add(errorAt(attr.Expr.Range(), summary, "%s", sentence(p)))
		}
		return
	}
	c.add(errorAt(attr.Expr.Range(), summary, "%s", sentence(err.Error())))
}

// sentence ends s with a full stop unless it already ends a sentence.
func sentence(s string) string {
	if strings.HasSuffix(s, ".") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}

// typicalValues are the example values of docs/policy-language.md "The principal".
var typicalValues = map[string]cty.Value{
	"principal.arn":            cty.StringVal("arn:aws:iam::111122223333:role/engineer-dev"),
	"principal.caller_arn":     cty.StringVal("arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"),
	"principal.type":           cty.StringVal(TypeAssumedRole),
	"principal.account_id":     cty.StringVal("111122223333"),
	"principal.name":           cty.StringVal("engineer-dev"),
	"principal.session_name":   cty.StringVal("alice"),
	"principal.user":           cty.StringVal("alice"),
	"principal.user_id":        cty.StringVal("AROAEXAMPLE:alice"),
	"principal.org_id":         cty.StringVal("o-a1b2c3d4e5"),
	"request.duration_seconds": cty.NumberIntVal(900),
	"request.source_ip":        cty.StringVal("10.1.2.3"),
	"request.time":             cty.StringVal("2026-03-02T12:00:00Z"),
	"request.client":           cty.StringVal(ClientOther),
}

// typicalContext has every variable at a typical value (the worst case for
// any that typicalValues lacks).
func typicalContext(profile string) *hcl.EvalContext {
	return evalContext(func(root, attr string) cty.Value {
		if root == "request" && attr == "profile" {
			return cty.StringVal(profile)
		}
		if v, ok := typicalValues[root+"."+attr]; ok {
			return v
		}
		return variables[root][attr].worstCase
	})
}

// exprSource is the source text of an expression as written.
func (c *compiler) exprSource(expr hcl.Expression) string {
	rng := expr.Range()
	return string(rng.SliceBytes(c.files[rng.Filename]))
}

// decisionBlock checks the name of a rule or break_glass block (decisions
// name either, so default-deny is reserved) and decodes its body.
func (c *compiler) decisionBlock(b *hcl.Block, kind string, schema *hcl.BodySchema, seen map[string]hcl.Range) (string, bool, *hcl.BodyContent) {
	name, nameOK := c.checkName(b, kind, blockNameRE, blockNameRule, seen)
	if name == DefaultDeny {
		c.add(errorAt(b.LabelRanges[0], "Reserved name", "%q names decisions that no rule made; choose another name.", DefaultDeny))
		nameOK = false
	}
	content, diags := b.Body.Content(schema)
	c.add(diags...)
	return name, nameOK, content
}

func (c *compiler) decodeRule(b *hcl.Block) {
	name, nameOK, content := c.decisionBlock(b, "rule", ruleSchema, c.ruleRange)
	a := content.Attributes
	r := BundleRule{Name: name}
	if eff, ok := c.str(a["effect"]); ok {
		if !contains(effectNames, eff) {
			c.add(errorAt(a["effect"].Expr.Range(), "Invalid effect",
				"effect must be one of %s; got %q.%s", quoteList(effectNames), eff, suggestion(eff, effectNames)))
		}
		r.Effect = eff
	}
	if l, ok := c.strList(a["profiles"], false); ok {
		r.Profiles = l
		c.noteProfileGlobs(a["profiles"], l)
	}
	r.Principals, _ = c.arnGlobs(a["principals"], false)
	r.Users, _ = c.strList(a["users"], false)
	if l, ok := c.strList(a["accounts"], false); ok {
		for _, acct := range l {
			if !isAccountID(acct) {
				c.add(errorAt(a["accounts"].Expr.Range(), "Invalid account ID", "%q is not a 12-digit AWS account ID.", acct))
			}
		}
		r.Accounts = l
	}
	if l, ok := c.strList(a["org_ids"], false); ok {
		for _, id := range l {
			if !orgIDRE.MatchString(id) {
				c.add(errorAt(a["org_ids"].Expr.Range(), "Invalid organization ID", "%q is not an AWS Organizations ID such as \"o-a1b2c3d4e5\".", id))
			}
		}
		r.OrgIDs = l
	}
	if l, ok := c.strList(a["source_ips"], false); ok {
		for _, cidr := range l {
			if p, ok := c.cidr(a["source_ips"], cidr); ok {
				r.SourceIPs = append(r.SourceIPs, p)
			}
		}
	}
	if attr := a["condition"]; attr != nil {
		if r.Condition = c.condition(attr); r.Condition != "" {
			c.warnConditionErrors(attr, r.Effect)
		}
	}
	for i, sb := range content.Blocks {
		if i > 0 {
			c.add(errorAt(sb.DefRange, "Duplicate schedule block", "A rule takes one schedule block; the first is at %s.", where(content.Blocks[0].DefRange)))
			continue
		}
		r.Schedule = c.decodeSchedule(sb)
	}
	if d, ok := c.sessionDuration(a["max_duration"]); ok {
		r.MaxDuration = seconds(d)
		if r.Effect == string(Deny) {
			c.add(warningAt(a["max_duration"].Expr.Range(), "Ignored max_duration", "max_duration caps sessions a rule allows; a deny rule allows none."))
		}
	}
	r.Approvers, _ = c.arnGlobs(a["approvers"], false)
	r.ApproverUsers, _ = c.strList(a["approver_users"], false)
	if n, ok := c.integer(a["min_approvals"], 1, 10); ok {
		r.MinApprovals = n
	}
	if r.Effect == string(RequireApproval) {
		if a["approvers"] == nil {
			c.add(errorAt(b.DefRange, "Missing approvers", "A require_approval rule needs approvers: globs over the ARNs of the principals who may approve."))
		}
		if r.MinApprovals == 0 {
			r.MinApprovals = 1
		}
	} else if r.Effect != "" {
		for _, n := range []string{"approvers", "approver_users", "min_approvals"} {
			if attr := a[n]; attr != nil {
				c.add(errorAt(attr.NameRange, "Unexpected "+n, "%s is only valid with effect = \"require_approval\", not %q.", n, r.Effect))
			}
		}
	}
	r.Reason, _ = c.str(a["reason"])
	if a["users"] != nil || a["approver_users"] != nil {
		c.usersRules = append(c.usersRules, b.DefRange)
	}
	c.warnClientOnly(&r, content)
	if nameOK {
		c.bundle.Rules = append(c.bundle.Rules, r)
	}
}

// cidr parses a CIDR (or a single address, taken as /32 or /128) and refuses
// host bits, which usually mean a typo.
func (c *compiler) cidr(attr *hcl.Attribute, s string) (string, bool) {
	if addr, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(addr, addr.BitLen()).String(), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		c.add(errorAt(attr.Expr.Range(), "Invalid CIDR", "%q is not a CIDR block such as \"10.0.0.0/8\" or an IP address.", s))
		return "", false
	}
	if p.Masked() != p {
		c.add(errorAt(attr.Expr.Range(), "Invalid CIDR", "%q has host bits set. Did you mean %q?", s, p.Masked().String()))
		return "", false
	}
	return p.String(), true
}

// condition checks a rule condition: only principal.* and request.*, and a
// bool result.
func (c *compiler) condition(attr *hcl.Attribute) string {
	_, diags := checkReferences(attr.Expr)
	c.add(diags...)
	if diags.HasErrors() {
		return ""
	}
	v, diags := attr.Expr.Value(unknownContext)
	c.add(diags...)
	if diags.HasErrors() {
		return ""
	}
	// Only a bool (or a value whose type is known only per request, such as
	// try()'s): a string converts to bool only when it is "true" or "false",
	// so `condition = principal.org_id` would fail every request, matching
	// every deny and no allow.
	if t := v.Type(); t != cty.Bool && t != cty.DynamicPseudoType {
		c.add(errorAt(attr.Expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute \"condition\": bool required, got %s.", t.FriendlyName()))
		return ""
	}
	return c.exprSource(attr.Expr)
}

func (c *compiler) decodeSchedule(b *hcl.Block) *BundleSchedule {
	content, diags := b.Body.Content(scheduleSchema)
	c.add(diags...)
	a := content.Attributes
	s := &BundleSchedule{Days: []string{}, Start: 0, End: 1440, Timezone: "UTC"}
	if days, ok := c.strList(a["days"], false); ok {
		seen := map[string]bool{}
		for _, d := range days {
			if !contains(dayNames, d) {
				c.add(errorAt(a["days"].Expr.Range(), "Invalid day", "%q is not a day; use %s.%s", d, quoteList(dayNames), suggestion(strings.ToLower(d), dayNames)))
				continue
			}
			seen[d] = true
		}
		for _, d := range dayNames {
			if seen[d] {
				s.Days = append(s.Days, d)
			}
		}
	} else {
		s.Days = append(s.Days, dayNames...)
	}
	if h, ok := c.str(a["hours"]); ok {
		start, end, err := parseHours(h)
		if err != "" {
			c.add(errorAt(a["hours"].Expr.Range(), "Invalid hours", "%q: %s", h, err))
		}
		s.Start, s.End = start, end
	}
	if tz, ok := c.str(a["timezone"]); ok {
		if _, err := time.LoadLocation(tz); err != nil || tz == "" || tz == "Local" {
			c.add(errorAt(a["timezone"].Expr.Range(), "Invalid timezone", "%q is not an IANA time zone name such as \"UTC\" or \"Europe/Berlin\".", tz))
		}
		s.Timezone = tz
	}
	return s
}

// parseHours parses "HH:MM-HH:MM" into minutes after midnight; the end may
// be 24:00 and may come before the start (the window crosses midnight).
func parseHours(h string) (start, end int, problem string) {
	m := hoursRE.FindStringSubmatch(h)
	if m == nil {
		return 0, 0, `hours must look like "08:00-18:00" (start-end, 24-hour clock).`
	}
	n := make([]int, 4)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	start, end = n[0]*60+n[1], n[2]*60+n[3]
	switch {
	case n[0] > 23 || n[1] > 59:
		return 0, 0, "the start must be a time from 00:00 to 23:59."
	case n[3] > 59 || end > 1440:
		return 0, 0, "the end must be a time from 00:00 to 24:00."
	case start == end || (start == 0 && end == 0):
		return 0, 0, "the window is empty: start and end are equal (use \"00:00-24:00\" for the whole day)."
	}
	if end == 0 {
		end = 1440
	}
	return start, end, ""
}

func (c *compiler) decodeBreakGlass(b *hcl.Block) {
	name, nameOK, content := c.decisionBlock(b, "break_glass", breakGlassSchema, c.bgRange)
	a := content.Attributes
	bg := BundleBreakGlass{Name: name, MaxDuration: seconds(DefaultMaxDuration)}
	if l, ok := c.strList(a["profiles"], false); ok {
		bg.Profiles = l
		c.noteProfileGlobs(a["profiles"], l)
	}
	bg.Principals, _ = c.arnGlobs(a["principals"], false)
	if d, ok := c.sessionDuration(a["max_duration"]); ok {
		bg.MaxDuration = seconds(d)
	}
	if codes, ok := c.strList(a["reason_codes"], false); ok {
		seen := map[string]bool{}
		for _, code := range codes {
			switch {
			case !reasonCodeRE.MatchString(code):
				c.add(errorAt(a["reason_codes"].Expr.Range(), "Invalid reason code", "%q must be 1 to 64 lowercase letters, digits, '_' or '-'.", code))
			case seen[code]:
				c.add(errorAt(a["reason_codes"].Expr.Range(), "Duplicate reason code", "%q is listed twice.", code))
			}
			seen[code] = true
		}
		bg.ReasonCodes = codes
	}
	if n, ok := c.integer(a["min_justification_length"], 0, 1000); ok {
		bg.MinJustificationLength = n
	}
	if nameOK {
		c.bundle.BreakGlass = append(c.bundle.BreakGlass, bg)
	}
}

func (c *compiler) noteProfileGlobs(attr *hcl.Attribute, globs []string) {
	for _, g := range globs {
		c.globs = append(c.globs, globUse{pattern: g, rng: attr.Expr.Range()})
	}
}

// checkProfileGlobs reports profiles globs that match no profile.
func (c *compiler) checkProfileGlobs() {
	names := sortedKeys(c.profileRange)
	if len(names) == 0 {
		return // "No profiles" says it once
	}
	for _, g := range c.globs {
		if !anyMatches(g.pattern, names) {
			c.add(errorAt(g.rng, "Profile glob matches no profile",
				"%q matches none of the profiles (%s).%s", g.pattern, strings.Join(names, ", "), suggestion(g.pattern, names)))
		}
	}
}

func anyMatches(pattern string, names []string) bool {
	for _, n := range names {
		if matchGlob(pattern, n) {
			return true
		}
	}
	return false
}

// IsProfileName reports whether s is a valid profile name (the compiler's
// rule, shared with the service's request checks).
func IsProfileName(s string) bool { return profileNameRE.MatchString(s) }

// IsOrgID reports whether s looks like an AWS Organizations ID.
func IsOrgID(s string) bool { return orgIDRE.MatchString(s) }
