package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is an in-memory Store with the same semantics as Dynamo, for
// tests and for callers that need no persistence. Safe for concurrent use.
type Memory struct {
	opt Options

	mu          sync.Mutex
	sessions    map[string]SessionRecord
	approvals   map[string]ApprovalRequest
	events      map[string]BreakGlassEvent
	pending     map[key]string // pendingKey -> approval ID
	activeBG    map[key]string // activeBGKey -> event ID
	rates       map[key]int
	idempotency map[key]IdempotencyRecord
	blocks      map[key]Block
	leases      map[key]leaseItem
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory(opt Options) *Memory {
	return &Memory{
		opt:         opt.withDefaults(),
		sessions:    map[string]SessionRecord{},
		approvals:   map[string]ApprovalRequest{},
		events:      map[string]BreakGlassEvent{},
		pending:     map[key]string{},
		activeBG:    map[key]string{},
		rates:       map[key]int{},
		idempotency: map[key]IdempotencyRecord{},
		blocks:      map[key]Block{},
		leases:      map[key]leaseItem{},
	}
}

// Vend implements Sessions.
func (m *Memory) Vend(ctx context.Context, rk RateKey, limit int, window time.Duration, s SessionRecord) error {
	return m.vend(rk, limit, window, s, false)
}

// VendApproved implements Sessions.
func (m *Memory) VendApproved(ctx context.Context, rk RateKey, limit int, window time.Duration, s SessionRecord) error {
	if err := checkVendApproved(s); err != nil {
		return err
	}
	return m.vend(rk, limit, window, s, true)
}

func (m *Memory) vend(rk RateKey, limit int, window time.Duration, s SessionRecord, useApproval bool) error {
	if err := checkRate(limit, window); err != nil {
		return err
	}
	s, err := newSession(s)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opt.now()
	if b, ok := m.blocks[blockKey(s.Principal, s.User, s.Profile)]; ok && b.Until.After(now) {
		return &BlockedError{Until: b.Until}
	}
	start, _ := rateWindow(now, window)
	k := rateKey(rk, window, start)
	if m.rates[k] >= limit {
		return rateLimited(now, limit, window)
	}
	if _, ok := m.sessions[s.ID]; ok {
		return fmt.Errorf("%w: %s", ErrSessionExists, s.ID)
	}
	if s.BreakGlassID != "" {
		e, ok := m.events[s.BreakGlassID]
		if m.activeBG[activeBGKey(s.Principal, s.User, s.Profile)] != s.BreakGlassID || !ok || !e.ExpiresAt.After(now) {
			return fmt.Errorf("%w: break-glass event %s is closed or expired", ErrConflict, s.BreakGlassID)
		}
	}
	var used ApprovalRequest
	if useApproval {
		a, ok := m.approvals[s.ApprovalID]
		if !ok {
			return fmt.Errorf("%w: approval %s", ErrConflict, s.ApprovalID)
		}
		a = a.clone()
		if err := markUsed(s.ID)(&a, now); err != nil {
			return err
		}
		used = a
	}
	m.rates[k]++
	m.sessions[s.ID] = s
	if useApproval {
		m.approvals[used.ID] = used
	}
	return nil
}

// CountRequest implements Sessions.
func (m *Memory) CountRequest(ctx context.Context, rk RateKey, limit int, window time.Duration) error {
	if err := checkRate(limit, window); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opt.now()
	start, _ := rateWindow(now, window)
	k := rateKey(rk, window, start)
	if m.rates[k] >= limit {
		return rateLimited(now, limit, window)
	}
	m.rates[k]++
	return nil
}

// MarkSessionFailed implements Sessions.
func (m *Memory) MarkSessionFailed(ctx context.Context, id, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	switch {
	case !ok:
		return fmt.Errorf("%w: session %s", ErrNotFound, id)
	case s.Status != SessionActive:
		return fmt.Errorf("%w: session %s is %s", ErrConflict, id, s.Status)
	}
	s.Status, s.FailureReason = SessionFailed, reason
	m.sessions[id] = s
	return nil
}

// GetSession implements Sessions.
func (m *Memory) GetSession(ctx context.Context, id string) (SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return SessionRecord{}, fmt.Errorf("%w: session %s", ErrNotFound, id)
	}
	return s.at(m.opt.now()), nil
}

// ListSessionsByPrincipal implements Sessions.
func (m *Memory) ListSessionsByPrincipal(ctx context.Context, principal, user string, f SessionFilter) ([]SessionRecord, error) {
	f.Principal = ""
	return m.listSessions(f, func(s SessionRecord) bool { return s.Principal == principal && s.User == user })
}

// ListSessions implements Sessions.
func (m *Memory) ListSessions(ctx context.Context, f SessionFilter) ([]SessionRecord, error) {
	return m.listSessions(f, func(SessionRecord) bool { return true })
}

func (m *Memory) listSessions(f SessionFilter, in func(SessionRecord) bool) ([]SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opt.now()
	var out []SessionRecord
	cursor := f.Before.sk(kindSession)
	for _, s := range m.sessions {
		if in(s) && f.match(s, now) && before(createdSK(kindSession, s.IssuedAt, s.ID), cursor) {
			out = append(out, s.at(now))
		}
	}
	return newestFirst(out, f.limit(), func(s SessionRecord) string {
		return createdSK(kindSession, s.IssuedAt, s.ID)
	}), nil
}

// RevokeSession implements Sessions.
func (m *Memory) RevokeSession(ctx context.Context, id string, r Revocation) (SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opt.now()
	s, ok := m.sessions[id]
	switch {
	case !ok:
		return SessionRecord{}, fmt.Errorf("%w: session %s", ErrNotFound, id)
	case s.at(now).Status != SessionActive:
		return SessionRecord{}, fmt.Errorf("%w: session %s is %s", ErrConflict, id, s.at(now).Status)
	}
	s.Status, s.RevokedAt, s.RevokedBy, s.RevokeReason = SessionRevoked, now, r.By, r.Reason
	s.RevokeEnforcement = r.Enforcement
	m.sessions[id] = s
	return s, nil
}

// CreateApproval implements Approvals.
func (m *Memory) CreateApproval(ctx context.Context, a ApprovalRequest) (ApprovalRequest, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opt.now()
	a, err := newApproval(a, now)
	if err != nil {
		return ApprovalRequest{}, false, err
	}
	pk := pendingKey(a.Principal, a.User, a.Profile)
	if id, ok := m.pending[pk]; ok {
		if prev := m.approvals[id].at(now); prev.Status == ApprovalPending {
			return prev.clone(), false, nil
		}
	}
	if _, ok := m.approvals[a.ID]; ok {
		return ApprovalRequest{}, false, fmt.Errorf("%w: approval ID %s exists", ErrConflict, a.ID)
	}
	m.approvals[a.ID] = a
	m.pending[pk] = a.ID
	return a, true, nil
}

// GetApproval implements Approvals.
func (m *Memory) GetApproval(ctx context.Context, id string) (ApprovalRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.approvals[id]
	if !ok {
		return ApprovalRequest{}, fmt.Errorf("%w: approval %s", ErrNotFound, id)
	}
	return a.clone().at(m.opt.now()), nil
}

// ListApprovalsByRequester implements Approvals.
func (m *Memory) ListApprovalsByRequester(ctx context.Context, principal, user string, p Page) ([]ApprovalRequest, error) {
	return m.listApprovals(p, func(a ApprovalRequest) bool { return a.Principal == principal && a.User == user })
}

// ListApprovalsByStatus implements Approvals.
func (m *Memory) ListApprovalsByStatus(ctx context.Context, status ApprovalStatus, p Page) ([]ApprovalRequest, error) {
	return m.listApprovals(p, func(a ApprovalRequest) bool { return a.Status == status })
}

// listApprovals lists approvals whose effective state passes in.
func (m *Memory) listApprovals(p Page, in func(ApprovalRequest) bool) ([]ApprovalRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opt.now()
	cursor := p.Before.sk(kindApproval)
	var out []ApprovalRequest
	for _, a := range m.approvals {
		if a = a.at(now); in(a) && before(createdSK(kindApproval, a.CreatedAt, a.ID), cursor) {
			out = append(out, a.clone())
		}
	}
	return newestFirst(out, p.limit(), func(a ApprovalRequest) string {
		return createdSK(kindApproval, a.CreatedAt, a.ID)
	}), nil
}

// DecideApproval implements Approvals.
func (m *Memory) DecideApproval(ctx context.Context, id string, d Decision) (ApprovalRequest, error) {
	return m.changeApproval(id, decide(d))
}

// CancelApproval implements Approvals.
func (m *Memory) CancelApproval(ctx context.Context, id, by string) (ApprovalRequest, error) {
	return m.changeApproval(id, cancel(by))
}

// MarkApprovalUsed implements Approvals.
func (m *Memory) MarkApprovalUsed(ctx context.Context, id, sessionID string) (ApprovalRequest, error) {
	return m.changeApproval(id, markUsed(sessionID))
}

// ExpireApprovals implements Approvals.
func (m *Memory) ExpireApprovals(ctx context.Context, limit int) ([]ApprovalRequest, error) {
	m.mu.Lock()
	now := m.opt.now()
	var ids []string
	for id, a := range m.approvals {
		if (a.Status == ApprovalPending || a.Status == ApprovalApproved) && a.at(now).Status == ApprovalExpired {
			ids = append(ids, id)
		}
	}
	m.mu.Unlock()
	slices.Sort(ids)
	var out []ApprovalRequest
	for _, id := range ids {
		if len(out) >= orDefault(limit) {
			break
		}
		a, err := m.changeApproval(id, expire)
		switch {
		case errors.Is(err, ErrConflict):
			continue // expired by another sweep meanwhile
		case err != nil:
			return out, err
		}
		out = append(out, a)
	}
	return out, nil
}

func (m *Memory) changeApproval(id string, change approvalChange) (ApprovalRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opt.now()
	a, ok := m.approvals[id]
	if !ok {
		return ApprovalRequest{}, fmt.Errorf("%w: approval %s", ErrNotFound, id)
	}
	was := a.Status
	a.Decisions = slices.Clone(a.Decisions)
	if err := change(&a, now); err != nil {
		return ApprovalRequest{}, err
	}
	m.approvals[id] = a.clone()
	if pk := pendingKey(a.Principal, a.User, a.Profile); was == ApprovalPending && a.Status != ApprovalPending && m.pending[pk] == id {
		delete(m.pending, pk)
	}
	return a.at(now), nil
}

// OpenBreakGlass implements BreakGlass.
func (m *Memory) OpenBreakGlass(ctx context.Context, e BreakGlassEvent) (BreakGlassEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opt.now()
	e, err := newBreakGlass(e, now)
	if err != nil {
		return BreakGlassEvent{}, err
	}
	lk := activeBGKey(e.Principal, e.User, e.Profile)
	if id, ok := m.activeBG[lk]; ok && m.events[id].at(now).Status == BreakGlassActive {
		return BreakGlassEvent{}, fmt.Errorf("%w: break-glass event %s is active", ErrConflict, id)
	}
	if _, ok := m.events[e.ID]; ok {
		return BreakGlassEvent{}, fmt.Errorf("%w: break-glass event ID %s exists", ErrConflict, e.ID)
	}
	m.events[e.ID] = e
	m.activeBG[lk] = e.ID
	return e, nil
}

// GetBreakGlass implements BreakGlass.
func (m *Memory) GetBreakGlass(ctx context.Context, id string) (BreakGlassEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.events[id]
	if !ok {
		return BreakGlassEvent{}, fmt.Errorf("%w: break-glass event %s", ErrNotFound, id)
	}
	return e.at(m.opt.now()), nil
}

// ActiveBreakGlass implements BreakGlass.
func (m *Memory) ActiveBreakGlass(ctx context.Context, principal, user, profile string) (BreakGlassEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.activeBG[activeBGKey(principal, user, profile)]
	if !ok {
		return BreakGlassEvent{}, fmt.Errorf("%w: no active break-glass event for %s", ErrNotFound, profile)
	}
	e := m.events[id].at(m.opt.now())
	if e.Status != BreakGlassActive {
		return BreakGlassEvent{}, fmt.Errorf("%w: no active break-glass event for %s", ErrNotFound, profile)
	}
	return BreakGlassEvent{ID: e.ID, Principal: e.Principal, User: e.User, Profile: e.Profile, Status: e.Status, ExpiresAt: e.ExpiresAt}, nil
}

// ListBreakGlass implements BreakGlass.
func (m *Memory) ListBreakGlass(ctx context.Context, f BreakGlassFilter) ([]BreakGlassEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opt.now()
	var out []BreakGlassEvent
	cursor := f.Before.sk(kindBreakGlass)
	for _, e := range m.events {
		if f.match(e, now) && before(createdSK(kindBreakGlass, e.OpenedAt, e.ID), cursor) {
			out = append(out, e.at(now))
		}
	}
	return newestFirst(out, f.limit(), func(e BreakGlassEvent) string {
		return createdSK(kindBreakGlass, e.OpenedAt, e.ID)
	}), nil
}

// CloseBreakGlass implements BreakGlass.
func (m *Memory) CloseBreakGlass(ctx context.Context, id, by, comment string) (BreakGlassEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opt.now()
	e, ok := m.events[id]
	if !ok {
		return BreakGlassEvent{}, fmt.Errorf("%w: break-glass event %s", ErrNotFound, id)
	}
	if err := closeEvent(&e, by, comment, now); err != nil {
		return BreakGlassEvent{}, err
	}
	m.events[id] = e
	if lk := activeBGKey(e.Principal, e.User, e.Profile); m.activeBG[lk] == id {
		delete(m.activeBG, lk)
	}
	return e, nil
}

// PutIdempotency implements Idempotency.
func (m *Memory) PutIdempotency(ctx context.Context, r IdempotencyRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opt.now()
	r, err := newIdempotency(r, now)
	if err != nil {
		return err
	}
	k := idemKey(r.Principal, r.User, r.Key)
	if prev, ok := m.idempotency[k]; ok && now.Before(prev.ExpiresAt) {
		return fmt.Errorf("%w: idempotency key %q is used", ErrConflict, r.Key)
	}
	r.Body = slices.Clone(r.Body)
	m.idempotency[k] = r
	return nil
}

// GetIdempotency implements Idempotency.
func (m *Memory) GetIdempotency(ctx context.Context, principal, user, k string) (IdempotencyRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.idempotency[idemKey(principal, user, k)]
	if !ok || !m.opt.now().Before(r.ExpiresAt) {
		return IdempotencyRecord{}, fmt.Errorf("%w: idempotency key %q", ErrNotFound, k)
	}
	r.Body = slices.Clone(r.Body)
	return r, nil
}

// BlockVending implements Blocks.
func (m *Memory) BlockVending(ctx context.Context, b Block) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := newBlock(b, m.opt.now())
	if err != nil {
		return err
	}
	k := blockKey(b.Principal, b.User, b.Profile)
	if prev, ok := m.blocks[k]; ok && !prev.Until.Before(b.Until) {
		return nil
	}
	m.blocks[k] = b
	return nil
}

// GetBlock implements Blocks.
func (m *Memory) GetBlock(ctx context.Context, principal, user, profile string) (Block, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blocks[blockKey(principal, user, profile)]
	if !ok || !b.Until.After(m.opt.now()) {
		return Block{}, fmt.Errorf("%w: block for %s", ErrNotFound, profile)
	}
	return b, nil
}

// AcquireLease implements Leases.
func (m *Memory) AcquireLease(ctx context.Context, name, owner string, until, now time.Time) error {
	if now.IsZero() {
		now = m.opt.Now()
	}
	until, now, err := checkLease(name, owner, until, now)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := leaseKey(name)
	if prev, ok := m.leases[k]; ok && prev.ExpiresAt >= now.Unix() && prev.Owner != owner {
		return fmt.Errorf("%w: lease %s is held", ErrConflict, name)
	}
	m.leases[k] = newLeaseItem(name, owner, until, now)
	return nil
}

// ReleaseLease implements Leases.
func (m *Memory) ReleaseLease(ctx context.Context, name, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := leaseKey(name)
	if prev, ok := m.leases[k]; ok && prev.Owner == owner {
		delete(m.leases, k)
	}
	return nil
}

// newestFirst sorts by sort key, descending, and keeps at most limit.
func newestFirst[T any](items []T, limit int, sortKey func(T) string) []T {
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(sortKey(b), sortKey(a)) })
	if len(items) > limit {
		items = items[:limit]
	}
	return items
}

// clone copies the decisions, so callers never share them with the store.
func (a ApprovalRequest) clone() ApprovalRequest {
	a.Decisions = slices.Clone(a.Decisions)
	return a
}
