package store

import (
	"testing"
	"time"
)

func TestMemory(t *testing.T) {
	runSuite(t, func(t *testing.T, now func() time.Time) Store {
		return NewMemory(Options{Now: now})
	})
}
