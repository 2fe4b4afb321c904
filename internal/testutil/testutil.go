// Package testutil holds the test doubles that more than one package's
// tests use: a settable clock, a buffer safe for concurrent writers, and a
// fake STS. It is imported by tests only.
package testutil

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"
)

// Clock is a settable clock, safe for concurrent use. Pass its Now where
// the code under test takes a clock.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { c := &Clock{}; c.Set(t); return c }

// Now returns the clock's time, in UTC.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Advance moves the clock d forward (backward when negative).
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers:
// the log or output of code running in other goroutines.
type SyncBuffer struct {
	// Limit, when positive, bounds the buffer: a write that takes it past
	// Limit bytes first drops the oldest half, so a long run keeps its tail.
	Limit int

	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Limit > 0 && s.b.Len()+len(p) > s.Limit {
		s.b.Next(s.b.Len() / 2)
	}
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Len returns how many bytes the buffer holds.
func (s *SyncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// Reset empties the buffer.
func (s *SyncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}
