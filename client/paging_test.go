package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sentinel-tvm/sentinel-tvm/client"
	"github.com/sentinel-tvm/sentinel-tvm/internal/clienttest"
)

// TestPagingThroughTheService pages the caller's sessions through the
// service's own routes: pages of two, then the sequence of all of them.
func TestPagingThroughTheService(t *testing.T) {
	srv := clienttest.NewServer(t)
	ctx := context.Background()
	alice := srv.Client(t, clienttest.Alice)
	for range 3 {
		if _, err := alice.Credentials(ctx, client.CredentialsRequest{Profile: "dev-readonly"}, client.FormatNative); err != nil {
			t.Fatal(err)
		}
	}
	want, err := alice.ListSessions(ctx, client.SessionFilter{})
	if err != nil || len(want) != 3 {
		t.Fatalf("sessions = %+v, %v", want, err)
	}
	p1, err := alice.ListSessionsPage(ctx, client.SessionFilter{}, client.PageOptions{Limit: 2})
	if err != nil || len(p1.Sessions) != 2 || p1.NextToken == "" {
		t.Fatalf("page 1 = %+v, %v", p1, err)
	}
	p2, err := alice.ListSessionsPage(ctx, client.SessionFilter{}, client.PageOptions{Limit: 2, NextToken: p1.NextToken})
	if err != nil || len(p2.Sessions) != 1 || p2.NextToken != "" {
		t.Fatalf("page 2 = %+v, %v", p2, err)
	}
	got := append(p1.Sessions, p2.Sessions...)
	if !slices.EqualFunc(got, want, func(a, b client.Session) bool { return a.SessionID == b.SessionID }) {
		t.Fatalf("pages = %+v, want %+v", got, want)
	}
	// The token with another filter is refused.
	_, err = alice.ListSessionsPage(ctx, client.SessionFilter{ActiveOnly: true}, client.PageOptions{NextToken: p1.NextToken})
	if !client.IsCode(err, client.CodeInvalidRequest) {
		t.Fatalf("token with another filter: %v", err)
	}
	all, err := client.Collect(alice.AllSessions(ctx, client.SessionFilter{}))
	if err != nil || len(all) != 3 {
		t.Fatalf("AllSessions = %+v, %v", all, err)
	}
}

// fakePages answers GET /v1/sessions with n sessions in pages of size,
// its tokens being the offset; repeat makes every token the same.
func fakePages(t *testing.T, n, size int, repeat bool) (*client.Client, *int) {
	t.Helper()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		off := 0
		if tok := r.URL.Query().Get("next_token"); tok != "" {
			fmt.Sscanf(tok, "o%d", &off)
		}
		body := `{"sessions":[`
		for i := off; i < min(off+size, n); i++ {
			if i > off {
				body += ","
			}
			body += fmt.Sprintf(`{"session_id":"s%d","principal":"p","profile":"x","status":"active"}`, i)
		}
		body += "]"
		if off+size < n {
			next := off + size
			if repeat {
				next = size
			}
			body += fmt.Sprintf(`,"next_token":"o%d"`, next)
		}
		w.Write([]byte(body + "}"))
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.WithRegion("us-west-2"), client.WithRetries(0),
		client.WithCredentials(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}, nil
		})))
	if err != nil {
		t.Fatal(err)
	}
	return c, &calls
}

func TestAllSessionsReadsEveryPage(t *testing.T) {
	c, calls := fakePages(t, 250, 100, false)
	got, err := client.Collect(c.AllSessions(context.Background(), client.SessionFilter{}))
	if err != nil || len(got) != 250 || got[0].SessionID != "s0" || got[249].SessionID != "s249" || *calls != 3 {
		t.Fatalf("%d sessions in %d calls, %v", len(got), *calls, err)
	}
	// A loop that stops early reads no further page.
	c, calls = fakePages(t, 250, 100, false)
	for s, err := range c.AllSessions(context.Background(), client.SessionFilter{}) {
		if err != nil || s.SessionID == "s5" {
			break
		}
	}
	if *calls != 1 {
		t.Fatalf("%d calls after a break on the first page", *calls)
	}
	// A service answering the same token again ends with an error.
	c, _ = fakePages(t, 500, 100, true)
	if _, err := client.Collect(c.AllSessions(context.Background(), client.SessionFilter{})); err == nil {
		t.Fatal("a repeated next_token did not end the sequence")
	}
}
