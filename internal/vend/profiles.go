package vend

import (
	"context"
	"net/http"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

// Access values of GET /v1/profiles.
const (
	AccessAllow           = "allow"
	AccessRequireApproval = "require_approval"
	AccessBreakGlass      = "break_glass"
)

type profileEntry struct {
	Name            string `json:"name"`
	Description     string `json:"description,omitempty"`
	RoleARN         string `json:"role_arn"`
	Access          string `json:"access"`
	Rule            string `json:"rule"`
	DurationSeconds int64  `json:"duration_seconds,omitempty"` // what a request naming no duration gets (allow only)

	// break_glass only: what opening an event takes.
	ReasonCodes            []string `json:"reason_codes,omitempty"`
	MinJustificationLength int      `json:"min_justification_length,omitempty"`
}

// profiles answers GET /v1/profiles: the profiles this caller may request
// now (from this address), and how. Profiles it may not request are left
// out; explicit denies are never turned into break_glass.
func (s *Service) profiles(ctx context.Context, c *call) (Response, *apiError) {
	p, aerr := s.loadPolicy(ctx, c)
	if aerr != nil {
		return Response{}, aerr
	}
	now := s.d.Now().UTC()
	entries := []profileEntry{}
	for _, name := range p.ProfileNames() {
		req := policy.Request{Principal: *c.caller, Profile: name, Time: now, SourceIP: c.sourceIP, Client: c.client}
		d := p.Evaluate(&req)
		access, rule := "", d.Rule
		var bgBlock *policy.BundleBreakGlass
		switch {
		case d.Effect == policy.Allow:
			access = AccessAllow
		case d.Effect == policy.RequireApproval:
			access = AccessRequireApproval
		case d.Rule == policy.DefaultDeny:
			if bg, ok := p.BreakGlassFor(*c.caller, name); ok {
				access, rule, bgBlock = AccessBreakGlass, bg.Name, &bg
			}
		}
		if access == "" {
			continue
		}
		prof, _ := p.Profile(name)
		e := profileEntry{
			Name: name, Description: prof.Description, RoleARN: prof.RoleARN, Access: access, Rule: rule,
			DurationSeconds: int64(d.Duration.Seconds()),
		}
		if bgBlock != nil {
			// The service's own floor: at least one character.
			e.ReasonCodes, e.MinJustificationLength = bgBlock.ReasonCodes, max(bgBlock.MinJustificationLength, 1)
		}
		entries = append(entries, e)
	}
	return jsonResponse(http.StatusOK, map[string]any{"profiles": entries}), nil
}
