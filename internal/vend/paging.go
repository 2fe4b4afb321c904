package vend

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

// Paging of the list routes (docs/api.md, "Paging"). A list answers at
// most limit records (1 to MaxPageLimit, default MaxPageLimit) and, when
// more follow, a next_token; the same request with next_token=<it> reads
// the next page. A token holds the position of the page's last record (its
// creation time and ID, both already in the answer) and a digest of the
// query it belongs to: the route, the caller's identity and the filters.
// A token given with another route, caller or filter is refused (400
// invalid_request), so a page is always read as the caller's own query.
// The digest is not a secret (there is no per-deployment key), so a
// caller could forge a token; that only moves the start of the caller's
// own list, because every page is read with the caller's identity and
// filters, and each record is checked as without a token.

// MaxPageLimit is the largest and default page size of the list routes.
const MaxPageLimit = store.DefaultListLimit

const pageTokenVersion = 1

// pageToken is the decoded next_token.
type pageToken struct {
	V     int    `json:"v"`
	Query string `json:"q"`
	Time  int64  `json:"t"`
	ID    string `json:"id"`
}

// pageRequest is a list request's paging: the page size and where it
// starts.
type pageRequest struct {
	limit  int
	after  store.Cursor
	digest string // the query's, which a token must carry
}

// queryDigest names a list query: the route, the caller and the filters.
func queryDigest(route, caller string, filters ...string) string {
	h := sha256.New()
	for _, s := range append([]string{route, caller}, filters...) {
		h.Write([]byte(strconv.Itoa(len(s)) + ":" + s))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// readPage reads the limit and next_token query parameters of a list
// route; filters are the route's filter values, in a fixed order.
func readPage(c *call, route string, filters ...string) (pageRequest, *apiError) {
	p := pageRequest{limit: MaxPageLimit, digest: queryDigest(route, c.caller.Identity(), filters...)}
	if v, ok := query(c, "limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageLimit || strings.TrimLeft(v, "0123456789") != "" {
			return pageRequest{}, fail(CodeInvalidRequest, "limit must be a whole number from 1 to %d", MaxPageLimit)
		}
		p.limit = n
	}
	v, ok := query(c, "next_token")
	if !ok {
		return p, nil
	}
	tok, err := decodePageToken(v)
	if err != nil {
		return pageRequest{}, fail(CodeInvalidRequest, "next_token is malformed: pass the next_token of a previous answer unchanged")
	}
	if subtle.ConstantTimeCompare([]byte(tok.Query), []byte(p.digest)) != 1 {
		return pageRequest{}, fail(CodeInvalidRequest,
			"next_token belongs to another query: repeat the request that answered it (same caller and filters), or start again without next_token")
	}
	p.after = store.Cursor{Time: time.Unix(tok.Time, 0).UTC(), ID: tok.ID}
	return p, nil
}

func decodePageToken(v string) (pageToken, error) {
	var tok pageToken
	if len(v) > 512 {
		return tok, errMalformedToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return tok, err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tok); err != nil {
		return tok, err
	}
	if dec.More() || tok.V != pageTokenVersion || tok.Time <= 0 || !idRE.MatchString(tok.ID) || tok.Query == "" {
		return tok, errMalformedToken
	}
	return tok, nil
}

type tokenError string

func (e tokenError) Error() string { return string(e) }

const errMalformedToken = tokenError("malformed page token")

// nextToken is the token of the page after the record at last.
func (p pageRequest) nextToken(last store.Cursor) string {
	b, _ := json.Marshal(pageToken{V: pageTokenVersion, Query: p.digest, Time: last.Time.Unix(), ID: last.ID})
	return encodeToken(b)
}

func encodeToken(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// collect reads the records of list after `after` that keep accepts,
// newest first, until it holds n of them or the list ends. list reads
// one batch of at most size records after a cursor (batches of n, or of
// MaxPageLimit when wide is set: a keep that drops many records, so
// fewer round trips); pos is a record's position. The reading is bounded
// by the list, as without paging: a caller who may see few of many
// records costs a longer read, never a wrong page.
func collect[T any](n int, wide bool, after store.Cursor, list func(after store.Cursor, size int) ([]T, error), pos func(T) store.Cursor, keep func(T) bool) ([]T, error) {
	size := n
	if wide {
		size = max(n, MaxPageLimit)
	}
	var out []T
	for {
		batch, err := list(after, size)
		if err != nil {
			return nil, err
		}
		for _, r := range batch {
			if keep(r) && len(out) < n {
				out = append(out, r)
			}
		}
		if len(out) >= n || len(batch) < size {
			return out, nil
		}
		after = pos(batch[len(batch)-1])
	}
}

// page cuts records (newest first, up to p.limit+1 of them) to one page,
// adding next_token to body when more follow.
func page[T any](p pageRequest, records []T, pos func(T) store.Cursor, body map[string]any) []T {
	if len(records) > p.limit {
		records = records[:p.limit]
		body["next_token"] = p.nextToken(pos(records[len(records)-1]))
	}
	return records
}
