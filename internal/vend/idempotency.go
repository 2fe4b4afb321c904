package vend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

// IdempotencyHeader names the request header of idempotent retries.
const IdempotencyHeader = "Idempotency-Key"

// IdempotencyTTL is how long a key replays its first response.
const IdempotencyTTL = 24 * time.Hour

var idempotencyKeyRE = regexp.MustCompile(`^[\x21-\x7E]{1,255}$`)

// header returns a request header, whatever its case, and whether the
// request has it at all: a header sent with an empty value is there.
func header(req *Request, name string) (string, bool) {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	for k, vs := range req.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0], true
		}
	}
	return "", false
}

// idempotent wraps a state-creating route: with an Idempotency-Key, a
// retried request (same person, key, method, path and body) gets the first
// successful response again without changing anything; the same key with
// another request is a conflict. Failures are not kept, so a retry after
// one runs again. Without the header the route runs as it is. Keys are per
// person: nobody can read or block another's.
//
// The credentials route is not wrapped: its response holds credentials,
// which are never stored.
func (s *Service) idempotent(route routeFunc) routeFunc {
	return func(ctx context.Context, c *call) (Response, *apiError) {
		key, ok := header(c.req, IdempotencyHeader)
		if !ok {
			return route(ctx, c)
		}
		// An empty key is a malformed key, not a missing one: the client
		// meant to make the request safe to retry, and it would not be.
		if !idempotencyKeyRE.MatchString(key) {
			return Response{}, fail(CodeInvalidRequest, "%s must be 1-255 printable ASCII characters without spaces", IdempotencyHeader)
		}
		if _, aerr := s.loadPolicy(ctx, c); aerr != nil { // sets the trusted user
			return Response{}, aerr
		}
		sum := sha256.Sum256([]byte(c.req.HTTPMethod + " " + c.req.Path + "\n" + c.req.Body))
		hash := hex.EncodeToString(sum[:])
		prev, err := s.d.Store.GetIdempotency(ctx, c.caller.ARN, c.caller.User, key)
		switch {
		case err == nil && prev.RequestHash == hash:
			resp := jsonResponse(prev.StatusCode, nil)
			resp.Body = string(prev.Body)
			resp.Headers["Idempotent-Replayed"] = "true"
			return resp, nil
		case err == nil:
			return Response{}, fail(CodeConflict, "this %s was used with a different request", IdempotencyHeader)
		case !errors.Is(err, store.ErrNotFound):
			return Response{}, failCause(CodeUnavailable, err, "the request could not be checked for a retry; try again later")
		}
		resp, aerr := route(ctx, c)
		if aerr != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
			return resp, aerr
		}
		now := s.d.Now().UTC()
		err = s.d.Store.PutIdempotency(context.WithoutCancel(ctx), store.IdempotencyRecord{
			Principal: c.caller.ARN, User: c.caller.User, Key: key, RequestHash: hash,
			StatusCode: resp.StatusCode, Body: []byte(resp.Body), CreatedAt: now, ExpiresAt: now.Add(IdempotencyTTL),
		})
		if err != nil {
			// The change is committed; a concurrent retry with the same key
			// may have stored its answer first. Answer this one anyway.
			s.d.Log.Warn("idempotency record not stored", "request_id", c.requestID, "error", shortError(err))
		}
		return resp, nil
	}
}
