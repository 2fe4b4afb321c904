package policy

// BundleFormat names the bundle schema. Load refuses any other.
const BundleFormat = "sentinel-tvm/policy-bundle/v1"

// Bundle is the canonical compiled policy, the JSON that the compiler emits,
// Terraform stores in SSM and the service loads. Lists of blocks are sorted
// by name and nothing in it depends on file names, file order, the machine
// or the time, so the same sources always give the same bytes. Durations are
// whole seconds; 0 means "not set". Expressions are kept as their HCL source
// text, checked at compile time and parsed again by Load.
type Bundle struct {
	Format     string             `json:"format"`
	Settings   BundleSettings     `json:"settings"`
	Profiles   []BundleProfile    `json:"profiles"`
	Rules      []BundleRule       `json:"rules"`
	BreakGlass []BundleBreakGlass `json:"break_glass"`
}

// BundleSettings is the compiled `settings` block, defaults filled in.
type BundleSettings struct {
	DefaultDuration     int64    `json:"default_duration_seconds"`
	MaxDuration         int64    `json:"max_duration_seconds"`
	Operators           []string `json:"operators"`
	TrustedSessionRoles []string `json:"trusted_session_roles"`
	// TrustedSessionRoleIDs, when set, pins the trusted session roles to
	// these role unique IDs (AROA...): a role that only shares a name is
	// not trusted.
	TrustedSessionRoleIDs []string `json:"trusted_session_role_ids,omitempty"`
}

// BundleProfile is one compiled `profile` block.
type BundleProfile struct {
	Name            string `json:"name"`
	RoleARN         string `json:"role_arn"`
	Description     string `json:"description,omitempty"`
	DefaultDuration int64  `json:"default_duration_seconds,omitempty"`
	MaxDuration     int64  `json:"max_duration_seconds,omitempty"`
	SessionPolicy   string `json:"session_policy,omitempty"` // HCL expression source
	SessionTags     string `json:"session_tags,omitempty"`   // HCL expression source
}

// BundleRule is one compiled `rule` block.
type BundleRule struct {
	Name          string          `json:"name"`
	Effect        string          `json:"effect"`
	Profiles      []string        `json:"profiles"`
	Principals    []string        `json:"principals"`
	Users         []string        `json:"users,omitempty"`
	Accounts      []string        `json:"accounts,omitempty"`
	OrgIDs        []string        `json:"org_ids,omitempty"`
	SourceIPs     []string        `json:"source_ips,omitempty"`
	Condition     string          `json:"condition,omitempty"` // HCL expression source
	Schedule      *BundleSchedule `json:"schedule,omitempty"`
	MaxDuration   int64           `json:"max_duration_seconds,omitempty"`
	Approvers     []string        `json:"approvers,omitempty"`
	ApproverUsers []string        `json:"approver_users,omitempty"`
	MinApprovals  int             `json:"min_approvals,omitempty"`
	Reason        string          `json:"reason,omitempty"`
}

// BundleSchedule is a rule's compiled `schedule` block. Start and End are
// minutes after midnight in Timezone, End may be 1440 and may be below Start
// (the window crosses midnight and belongs to the day it starts on).
type BundleSchedule struct {
	Days     []string `json:"days"`
	Start    int      `json:"start_minute"`
	End      int      `json:"end_minute"`
	Timezone string   `json:"timezone"`
}

// BundleBreakGlass is one compiled `break_glass` block.
type BundleBreakGlass struct {
	Name                   string   `json:"name"`
	Profiles               []string `json:"profiles"`
	Principals             []string `json:"principals"`
	MaxDuration            int64    `json:"max_duration_seconds"`
	ReasonCodes            []string `json:"reason_codes"`
	MinJustificationLength int      `json:"min_justification_length"`
}
