package policy

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the diagnostics section of testdata/diagnostics/*/*.txtar with what the compiler reports")

// TestCompileDiagnostics compiles the policy files of each archive in
// testdata/diagnostics/GROUP/CASE.txtar and compares every diagnostic, as
// FormatDiagnostic renders it (one per line), with the archive's
// "diagnostics" section; an empty section means the files compile without
// a warning. Every file but "diagnostics" is a policy source, named as
// Compile sees it. The sources are compiled in several orders: the output
// must not depend on it.
//
// After a deliberate change to the compiler's wording, run
//
//	go test ./internal/policy -run TestCompileDiagnostics -update
//
// and review the diff of testdata/diagnostics like any other change.
func TestCompileDiagnostics(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "diagnostics", "*", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 60 {
		t.Fatalf("found %d archives in testdata/diagnostics, want the whole suite", len(paths))
	}
	for _, path := range paths {
		name := filepath.ToSlash(strings.TrimSuffix(strings.TrimPrefix(path, filepath.Join("testdata", "diagnostics")+string(filepath.Separator)), ".txtar"))
		t.Run(name, func(t *testing.T) {
			a, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var srcs []Source
			want := -1
			for i, f := range a.Files {
				if f.Name == "diagnostics" {
					want = i
					continue
				}
				srcs = append(srcs, Source{Name: f.Name, Data: f.Data})
			}
			if want < 0 {
				t.Fatalf("%s has no -- diagnostics -- section", path)
			}
			_, got := compileSources(t, srcs)
			for _, order := range otherOrders(srcs) {
				if _, again := compileSources(t, order); !slices.Equal(again, got) {
					t.Errorf("the diagnostics depend on the order of the files: with %s:\n%s\nwith %s:\n%s",
						sourceNames(srcs), quoteLines(got), sourceNames(order), quoteLines(again))
				}
			}
			if *update {
				a.Files[want].Data = []byte(lines(got))
				if err := os.WriteFile(path, txtar.Format(a), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			checkDiags(t, got, splitLines(string(a.Files[want].Data)))
		})
	}
}

// compileSources compiles srcs in their order and returns the result and
// every diagnostic as FormatDiagnostic renders it.
func compileSources(t *testing.T, srcs []Source) (*Compiled, []string) {
	t.Helper()
	c, diags := Compile(srcs)
	var got []string
	for _, d := range diags {
		got = append(got, FormatDiagnostic(d))
	}
	if diags.HasErrors() && c != nil {
		t.Errorf("Compile returned a result with errors")
	}
	if !diags.HasErrors() && c == nil {
		t.Errorf("Compile returned no result and no errors")
	}
	return c, got
}

// otherOrders is srcs reversed and rotated by one.
func otherOrders(srcs []Source) [][]Source {
	if len(srcs) < 2 {
		return nil
	}
	rev := slices.Clone(srcs)
	slices.Reverse(rev)
	return [][]Source{rev, append(slices.Clone(srcs[1:]), srcs[0])}
}

func sourceNames(srcs []Source) string {
	var names []string
	for _, s := range srcs {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

func lines(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return strings.Join(l, "\n") + "\n"
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
