package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestDistinctApproversArePeople: a trusted user approving through two
// roles (two IAM Identity Center permission sets) is one approver, so
// min_approvals needs another person. Memory and DynamoDB share the
// transition that decides it.
func TestDistinctApproversArePeople(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	st := NewMemory(Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	const (
		requester = "arn:aws:iam::111122223333:role/AWSReservedSSO_Engineering_01"
		security  = "arn:aws:iam::111122223333:role/AWSReservedSSO_Security_02"
		admin     = "arn:aws:iam::444455556666:role/AWSReservedSSO_Admin_03"
	)
	in := ApprovalRequest{ID: "ap1", Principal: requester, User: "dana@example.com", Profile: "prod", Rule: "r",
		MinApprovals: 2, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if _, _, err := st.CreateApproval(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DecideApproval(ctx, "ap1", Decision{Approver: Identity(security, "erin@example.com"), Approve: true}); err != nil {
		t.Fatal(err)
	}
	_, err := st.DecideApproval(ctx, "ap1", Decision{Approver: Identity(admin, "erin@example.com"), Approve: true})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("erin's second role: err %v, want ErrConflict", err)
	}
	got, err := st.DecideApproval(ctx, "ap1", Decision{Approver: Identity(admin, "frank@example.com"), Approve: true})
	if err != nil || got.Status != ApprovalApproved || len(got.Decisions) != 2 {
		t.Fatalf("frank: %+v, %v", got, err)
	}

	// Untrusted principals stay one person per principal ARN.
	for identity, want := range map[string]string{
		Identity(security, "erin@example.com"): "user:erin@example.com",
		Identity(admin, "erin@example.com"):    "user:erin@example.com",
		Identity(security, ""):                 security,
	} {
		if got := Person(identity); got != want {
			t.Errorf("Person(%q) = %q, want %q", identity, got, want)
		}
	}
}
