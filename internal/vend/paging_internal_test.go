package vend

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

// TestCollectSkipsHiddenRecords pages through a list of which the caller
// sees one record in seven: every visible record once, in order, however
// the hidden ones fall across batches.
func TestCollectSkipsHiddenRecords(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []store.Cursor // newest first
	for i := 250; i > 0; i-- {
		all = append(all, store.Cursor{Time: base.Add(time.Duration(i/3) * time.Second), ID: fmt.Sprintf("%032x", i)})
	}
	after := func(c, cur store.Cursor) bool {
		return cur.IsZero() || c.Time.Before(cur.Time) || (c.Time.Equal(cur.Time) && c.ID < cur.ID)
	}
	reads := 0
	list := func(cur store.Cursor, size int) ([]store.Cursor, error) {
		reads++
		var out []store.Cursor
		for _, c := range all {
			if after(c, cur) && len(out) < size {
				out = append(out, c)
			}
		}
		return out, nil
	}
	visible := func(c store.Cursor) bool { var n int; fmt.Sscanf(c.ID, "%x", &n); return n%7 == 0 }
	var want []store.Cursor
	for _, c := range all {
		if visible(c) {
			want = append(want, c)
		}
	}
	for _, wide := range []bool{false, true} {
		for _, limit := range []int{1, 2, 5, 100} {
			var got []store.Cursor
			cur := store.Cursor{}
			for range 100 {
				recs, err := collect(limit+1, wide, cur, list, func(c store.Cursor) store.Cursor { return c }, visible)
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) <= limit {
					got = append(got, recs...)
					break
				}
				got = append(got, recs[:limit]...)
				cur = recs[limit-1]
			}
			if !slices.Equal(got, want) {
				t.Fatalf("wide %v, limit %d: %d records, want %d", wide, limit, len(got), len(want))
			}
		}
	}
	if reads == 0 {
		t.Fatal("no reads")
	}
}

func TestPageTokens(t *testing.T) {
	p := pageRequest{limit: 2, digest: queryDigest("sessions", "arn:aws:iam::111122223333:role/x", "", "", "false")}
	at := store.Cursor{Time: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), ID: "0123456789abcdef0123456789abcdef"}
	tok, err := decodePageToken(p.nextToken(at))
	if err != nil || tok.Query != p.digest || tok.Time != at.Time.Unix() || tok.ID != at.ID {
		t.Fatalf("round trip: %+v, %v", tok, err)
	}
	// The digest tells the filters apart, also where values could run
	// together.
	if queryDigest("sessions", "a", "bc", "") == queryDigest("sessions", "a", "b", "c") {
		t.Fatal("the digest runs filters together")
	}
	for _, bad := range []string{
		"", "!", "e30", // {}
		b64(`{"v":2,"q":"x","t":1,"id":"0123456789abcdef0123456789abcdef"}`),
		b64(`{"v":1,"q":"x","t":0,"id":"0123456789abcdef0123456789abcdef"}`),
		b64(`{"v":1,"q":"x","t":1,"id":"../etc"}`),
		b64(`{"v":1,"q":"","t":1,"id":"0123456789abcdef0123456789abcdef"}`),
		b64(`{"v":1,"q":"x","t":1,"id":"0123456789abcdef0123456789abcdef","extra":1}`),
		b64(`{"v":1,"q":"x","t":1,"id":"0123456789abcdef0123456789abcdef"}{}`),
	} {
		if _, err := decodePageToken(bad); err == nil {
			t.Errorf("token %q decoded", bad)
		}
	}
}

func b64(s string) string { return encodeToken([]byte(s)) }
