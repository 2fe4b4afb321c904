// Package clienttest runs the TVM's real request path in a test: an
// httptest server with the local gateway (SigV4 verified against fixed test
// identities) in front of a vend.Service on an in-memory store and a fake
// STS. Clients under test talk to it over HTTP exactly as they would to API
// Gateway.
package clienttest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sentinel-tvm/sentinel-tvm/client"
	"github.com/sentinel-tvm/sentinel-tvm/internal/gateway"
	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// Region is the region the test gateway verifies signatures for.
const Region = "us-east-1"

// Policy is the test policy: one profile per decision path.
const Policy = `
settings {
  default_duration = "15m"
  max_duration     = "1h"
  operators        = ["arn:aws:iam::111122223333:role/security-*"]
}

profile "dev-readonly" {
  role_arn     = "arn:aws:iam::111122223333:role/sentinel/dev-readonly"
  description  = "Read-only development data"
  max_duration = "1h"
}

profile "prod-admin" {
  role_arn    = "arn:aws:iam::444455556666:role/sentinel/prod-admin"
  description = "Production administration: approval"
}

profile "prod-denied" {
  role_arn = "arn:aws:iam::444455556666:role/sentinel/prod-denied"
}

rule "engineers-dev" {
  effect     = "allow"
  profiles   = ["dev-readonly"]
  principals = ["arn:aws:iam::111122223333:role/engineer-*"]
  reason     = "Engineers read development data"
}

rule "prod-admin-approval" {
  effect       = "require_approval"
  profiles     = ["prod-admin"]
  principals   = ["arn:aws:iam::111122223333:role/engineer-*"]
  approvers    = ["arn:aws:iam::111122223333:role/security-*"]
  max_duration = "30m"
  reason       = "Production administration needs a second person"
}

rule "nobody-prod-denied" {
  effect     = "deny"
  profiles   = ["prod-denied"]
  principals = ["*"]
  reason     = "Nobody uses prod-denied"
}
`

// Caller is a test caller: its signing credentials and the caller ARN the
// test gateway reports for them.
type Caller struct {
	Name        string // e.g. alice
	CallerARN   string
	Credentials aws.Credentials
}

// The test identities: Alice, an engineer (temporary credentials, so the
// session token header is exercised), and Bob, a security lead who may
// approve her requests.
var (
	Alice = Caller{Name: "alice", CallerARN: "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice",
		Credentials: aws.Credentials{AccessKeyID: "ASIAALICETESTKEY0001", SecretAccessKey: "alice-signing-secret-0001", SessionToken: "alice-signing-token-0001", Source: "clienttest"}}
	Bob = Caller{Name: "bob", CallerARN: "arn:aws:sts::111122223333:assumed-role/security-lead/bob",
		Credentials: aws.Credentials{AccessKeyID: "AKIABOBTESTKEY000002", SecretAccessKey: "bob-signing-secret-0002", Source: "clienttest"}}
)

// Server is a running test TVM.
type Server struct {
	*httptest.Server
	Store *store.Memory
	STS   *testutil.STS
	// StandInApprovals reports that the service has no GET
	// /v1/approvals/{id} route yet and the test server answers it from
	// the store, in the shape docs/api.md documents.
	StandInApprovals bool

	svc  *vend.Service
	hits sync.Map // "METHOD /resource" -> *atomic.Int64
}

// Option changes the service configuration.
type Option func(*vend.Config)

// WithRateLimit allows n requests per minute per caller.
func WithRateLimit(n int) Option { return func(c *vend.Config) { c.RateLimit = n } }

// NewServer starts the server; it stops when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts the server; Close stops it. (NewServer is for tests, Start
// for examples.)
func Start(opts ...Option) (*Server, error) {
	compiled, diags := policy.Compile([]policy.Source{{Name: "policy.hcl", Data: []byte(Policy)}})
	if diags.HasErrors() {
		return nil, fmt.Errorf("clienttest: compile: %s", diags.Error())
	}
	cfg := vend.Config{
		TableName: "sentinel-tvm-test", PolicyParameter: "/sentinel-tvm/policy", PolicyCacheTTL: vend.DefaultPolicyCacheTTL,
		RateLimit: 1000, RateWindow: time.Minute,
		Retention: vend.DefaultRetention, ApprovalTTL: vend.DefaultApprovalTTL, ApprovalWindow: vend.DefaultApprovalWindow,
		Version: "clienttest",
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{Store: store.NewMemory(store.Options{}), STS: &testutil.STS{}}
	svc, err := vend.New(cfg, vend.Deps{Policy: vend.StaticPolicy{P: compiled.Policy}, Store: s.Store, STS: s.STS})
	if err != nil {
		return nil, err
	}
	s.svc = svc
	routes := svc.Routes()
	if !slices.Contains(routes, "GET /v1/approvals/{id}") {
		s.StandInApprovals = true
		routes = append(routes, "GET /v1/approvals/{id}")
	}
	slices.Sort(routes)
	creds := gateway.StaticStore{}
	for _, id := range []Caller{Alice, Bob} {
		creds[id.Credentials.AccessKeyID] = gateway.Credential{
			Identity:        gateway.SigningIdentity{UserARN: id.CallerARN, AccountID: "111122223333", Caller: "AROATEST:" + id.Name, User: "AROATEST:" + id.Name},
			SecretAccessKey: id.Credentials.SecretAccessKey, SessionToken: id.Credentials.SessionToken,
		}
	}
	h, err := gateway.NewHandler(gateway.Config{
		Verifier:  &gateway.Verifier{Region: Region, Store: creds},
		Backend:   s.backend,
		Routes:    routes,
		AccountID: "111122223333",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	s.Server = httptest.NewServer(h)
	return s, nil
}

// Client returns a client that signs as id.
func (s *Server) Client(t testing.TB, id Caller, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := s.NewClient(id, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewClient returns a client that signs as id.
func (s *Server) NewClient(id Caller, opts ...client.Option) (*client.Client, error) {
	opts = append([]client.Option{client.WithCredentials(credentials(id.Credentials)), client.WithRegion(Region), client.WithRetryBackoff(time.Millisecond)}, opts...)
	return client.New(s.URL, opts...)
}

type credentials aws.Credentials

func (c credentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials(c), nil
}

// Hits returns how many requests reached the backend for a route
// ("POST /v1/credentials").
func (s *Server) Hits(route string) int {
	if v, ok := s.hits.Load(route); ok {
		return int(v.(*atomic.Int64).Load())
	}
	return 0
}

func (s *Server) backend(ctx context.Context, raw json.RawMessage) (events.APIGatewayProxyResponse, error) {
	var ev vend.Request
	if err := json.Unmarshal(raw, &ev); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	route := ev.HTTPMethod + " " + ev.Resource
	v, _ := s.hits.LoadOrStore(route, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	if s.StandInApprovals && route == "GET /v1/approvals/{id}" {
		return s.getApproval(ctx, ev.PathParameters["id"], ev.RequestContext.RequestID), nil
	}
	return s.svc.HandleJSON(ctx, raw)
}

func jsonAnswer(status int, v any) events.APIGatewayProxyResponse {
	b, _ := json.Marshal(v)
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

// getApproval stands in for GET /v1/approvals/{id} (docs/api.md's shape).
func (s *Server) getApproval(ctx context.Context, id, requestID string) events.APIGatewayProxyResponse {
	a, err := s.Store.GetApproval(ctx, id)
	if err != nil {
		return jsonAnswer(http.StatusNotFound, map[string]any{"error": map[string]string{
			"code": "not_found", "message": "no such approval request", "request_id": requestID}})
	}
	status := a.Status
	if (status == store.ApprovalPending || status == store.ApprovalApproved) && time.Now().After(a.ExpiresAt) {
		status = store.ApprovalExpired
	}
	decisions := []map[string]any{}
	for _, d := range a.Decisions {
		decision := "deny"
		if d.Approve {
			decision = "approve"
		}
		decisions = append(decisions, map[string]any{"approver": d.Approver, "decision": decision, "comment": d.Comment, "at": d.At})
	}
	return jsonAnswer(http.StatusOK, map[string]any{
		"approval_id": a.ID, "status": status, "profile": a.Profile, "requester": store.Identity(a.Principal, a.User),
		"rule": a.Rule, "created_at": a.CreatedAt, "expires_at": a.ExpiresAt, "decisions": decisions,
	})
}

// Decide records an approver's decision on an approval request, as the
// approve and deny routes would.
func (s *Server) Decide(t testing.TB, id string, approve bool) {
	t.Helper()
	if _, err := s.Store.DecideApproval(context.Background(), id, store.Decision{
		Approver: "arn:aws:iam::111122223333:role/security-lead", Approve: approve, Comment: "clienttest",
	}); err != nil {
		t.Fatalf("clienttest: deciding approval %s: %v", id, err)
	}
}

// Cancel cancels a pending approval request.
func (s *Server) Cancel(t testing.TB, id string) {
	t.Helper()
	if _, err := s.Store.CancelApproval(context.Background(), id, "requester"); err != nil {
		t.Fatalf("clienttest: cancelling approval %s: %v", id, err)
	}
}
