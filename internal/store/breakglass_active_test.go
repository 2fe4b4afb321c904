package store

import (
	"testing"
	"time"
)

func TestMemoryActiveBreakGlass(t *testing.T) {
	testActiveBreakGlass(t, func(t *testing.T, now func() time.Time) Store { return NewMemory(Options{Now: now}) })
}

func TestDynamoActiveBreakGlass(t *testing.T) {
	testActiveBreakGlass(t, func(t *testing.T, now func() time.Time) Store {
		client, name := newTable(t)
		return NewDynamo(client, name, Options{Now: now})
	})
}

// testActiveBreakGlass: the vend path's consistent read of a person's
// active event finds it while it is active, and not once it is closed or
// expired, nor for another person or profile.
func testActiveBreakGlass(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	_, err := st.ActiveBreakGlass(ctx, alice, "", "prod")
	wantErr(t, err, ErrNotFound)
	_, err = st.OpenBreakGlass(ctx, breakGlass("bg1", alice, "prod", t0.Add(30*time.Minute)))
	must(t, err)
	e, err := st.ActiveBreakGlass(ctx, alice, "", "prod")
	if err != nil || e.ID != "bg1" || e.Status != BreakGlassActive {
		t.Fatalf("active: %+v %v", e, err)
	}
	_, err = st.ActiveBreakGlass(ctx, bob, "", "prod")
	wantErr(t, err, ErrNotFound)
	_, err = st.ActiveBreakGlass(ctx, alice, "", "dev")
	wantErr(t, err, ErrNotFound)
	_, err = st.CloseBreakGlass(ctx, "bg1", bob, "done")
	must(t, err)
	_, err = st.ActiveBreakGlass(ctx, alice, "", "prod")
	wantErr(t, err, ErrNotFound)

	_, err = st.OpenBreakGlass(ctx, breakGlass("bg2", alice, "prod", t0.Add(30*time.Minute)))
	must(t, err)
	c.Advance(31 * time.Minute)
	_, err = st.ActiveBreakGlass(ctx, alice, "", "prod")
	wantErr(t, err, ErrNotFound)
}
