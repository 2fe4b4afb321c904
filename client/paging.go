package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// MaxPageLimit is the largest page the list routes answer (and their
// default).
const MaxPageLimit = 100

// PageOptions ask a list route for one page: at most Limit records (0
// means the service's default, MaxPageLimit), starting after the page
// whose answer carried NextToken ("" for the first page). A NextToken is
// valid only with the same filters and caller as the page it came from.
type PageOptions struct {
	Limit     int
	NextToken string
}

func (p PageOptions) set(q url.Values) {
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.NextToken != "" {
		q.Set("next_token", p.NextToken)
	}
}

// SessionPage is one page of GET /v1/sessions.
type SessionPage struct {
	Sessions []Session `json:"sessions"`
	// NextToken is set when more sessions follow: PageOptions.NextToken
	// of the next page.
	NextToken string `json:"next_token,omitempty"`
}

// ApprovalPage is one page of GET /v1/approvals.
type ApprovalPage struct {
	Approvals []Approval `json:"approvals"`
	NextToken string     `json:"next_token,omitempty"`
}

// BreakGlassPage is one page of GET /v1/break-glass.
type BreakGlassPage struct {
	Events    []BreakGlassEvent `json:"events"`
	NextToken string            `json:"next_token,omitempty"`
}

// ListSessionsPage reads one page of sessions:
// GET /v1/sessions[?profile=&principal=&active=true&limit=&next_token=].
func (c *Client) ListSessionsPage(ctx context.Context, f SessionFilter, p PageOptions) (*SessionPage, error) {
	q := f.query()
	p.set(q)
	return getPage[SessionPage](ctx, c, "/v1/sessions", q)
}

// ListApprovalsPage reads one page of approval requests:
// GET /v1/approvals[?status=&limit=&next_token=].
func (c *Client) ListApprovalsPage(ctx context.Context, status string, p PageOptions) (*ApprovalPage, error) {
	q := approvalQuery(status)
	p.set(q)
	return getPage[ApprovalPage](ctx, c, "/v1/approvals", q)
}

// ListBreakGlassPage reads one page of break-glass events:
// GET /v1/break-glass[?active=true&limit=&next_token=].
func (c *Client) ListBreakGlassPage(ctx context.Context, activeOnly bool, p PageOptions) (*BreakGlassPage, error) {
	q := breakGlassQuery(activeOnly)
	p.set(q)
	return getPage[BreakGlassPage](ctx, c, "/v1/break-glass", q)
}

// AllSessions yields every session f selects, newest first, reading page
// after page (of MaxPageLimit) as the loop asks for more. An error ends
// the sequence, yielded with a zero Session.
func (c *Client) AllSessions(ctx context.Context, f SessionFilter) iter.Seq2[Session, error] {
	return all(func(token string) ([]Session, string, error) {
		p, err := c.ListSessionsPage(ctx, f, PageOptions{NextToken: token})
		if err != nil {
			return nil, "", err
		}
		return p.Sessions, p.NextToken, nil
	})
}

// AllApprovals yields every approval request GET /v1/approvals lists for
// status, newest first, page after page (see AllSessions).
func (c *Client) AllApprovals(ctx context.Context, status string) iter.Seq2[Approval, error] {
	return all(func(token string) ([]Approval, string, error) {
		p, err := c.ListApprovalsPage(ctx, status, PageOptions{NextToken: token})
		if err != nil {
			return nil, "", err
		}
		return p.Approvals, p.NextToken, nil
	})
}

// AllBreakGlass yields every break-glass event the caller may see, newest
// first, page after page (see AllSessions).
func (c *Client) AllBreakGlass(ctx context.Context, activeOnly bool) iter.Seq2[BreakGlassEvent, error] {
	return all(func(token string) ([]BreakGlassEvent, string, error) {
		p, err := c.ListBreakGlassPage(ctx, activeOnly, PageOptions{NextToken: token})
		if err != nil {
			return nil, "", err
		}
		return p.Events, p.NextToken, nil
	})
}

// all turns a page reader into a sequence. A token seen twice (a service
// that does not advance) ends it with an error rather than a loop.
func all[T any](read func(token string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		token := ""
		seen := map[string]bool{}
		for {
			items, next, err := read(token)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			if seen[next] {
				yield(zero, fmt.Errorf("client: the service answered the same next_token twice"))
				return
			}
			seen[next] = true
			token = next
		}
	}
}

// Collect gathers a sequence such as AllSessions' into a slice, stopping
// at the first error.
func Collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for it, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, it)
	}
	return out, nil
}

func getPage[P any](ctx context.Context, c *Client, path string, q url.Values) (*P, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, path, q, nil, &raw); err != nil {
		return nil, err
	}
	p := new(P)
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, fmt.Errorf("client: GET %s: the answer is not the expected JSON: %w", path, err)
	}
	return p, nil
}
