package cli

import (
	"context"
	"testing"

	"github.com/sentinel-tvm/sentinel-tvm/internal/clienttest"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

// TestCommandsSendTheirClientMode: the service records on the session how
// the credentials were asked for: credentials (a credential_process) and
// exec say so.
func TestCommandsSendTheirClientMode(t *testing.T) {
	skipWithoutSh(t)
	srv := clienttest.NewServer(t)
	flags := tvmSetup(t, srv)
	if r := tvmMain(append([]string{"credentials", "--profile", "dev-readonly"}, flags...)...); r.code != 0 {
		t.Fatalf("credentials: %d %s", r.code, r.stderr)
	}
	if r := tvmMain(append(append([]string{"exec"}, flags...), "--profile", "dev-readonly", "--", "/bin/sh", "-c", "true")...); r.code != 0 {
		t.Fatalf("exec: %d %s", r.code, r.stderr)
	}
	sessions, err := srv.Store.ListSessions(context.Background(), store.SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, s := range sessions {
		got[s.Client]++
	}
	if len(sessions) != 2 || got["credential_process"] != 1 || got["exec"] != 1 {
		t.Fatalf("session client modes: %v", got)
	}
}
