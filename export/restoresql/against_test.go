package restoresql

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/salvagehq/salvage/evidence"
)

// TestCheckScenario checks every booking of the scenario, rebuilt from all
// evidence, against its restored database, in each dialect: the bookings of
// the backup are present (those changed since differ, with the fields that
// changed), the lost ones are new. Writing only the new ones and loading
// them then restores every lost booking and changes no row.
func TestCheckScenario(t *testing.T) {
	s := loadScenario(t)
	bookings := s.reconcile(false)
	reviews := s.review(bookings)
	sel, err := Choose(bookings, reviews, false)
	if err != nil {
		t.Fatal(err)
	}
	cs := testCase(len(bookings))
	dir := t.TempDir()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			srv := startServer(t, d)
			x := srv.fresh(t, true)
			before := x.checksums(t, restoredTables...)
			target, err := ParseTarget(d, x.DSN, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			checks, sum, err := target.Check(context.Background(), s.mapping, sel.Items, &cs)
			if err != nil {
				t.Fatal(err)
			}
			sameRows(t, "after the check", before, x.checksums(t, restoredTables...))
			if len(checks) != len(sel.Items) {
				t.Fatalf("%d checks for %d bookings", len(checks), len(sel.Items))
			}
			counts := map[string]int{}
			for i, ck := range checks {
				tb := s.truth[ck.Ref]
				want := evidence.DispositionNew
				switch {
				case tb == nil:
				case tb.InBackup && tb.ChangedAfterBackup:
					want = evidence.DispositionDiffers
				case tb.InBackup:
					want = evidence.DispositionPresent
				}
				counts[want]++
				if ck.State != want {
					t.Errorf("%s: %s (%v), want %s (in backup %v, changed since %v)", ck.Ref, ck.State, ck.Fields, want,
						tb != nil && tb.InBackup, tb != nil && tb.ChangedAfterBackup)
				}
				if ck.State == evidence.DispositionDiffers && len(ck.Fields) == 0 {
					t.Errorf("%s differs in no field", ck.Ref)
				}
				if ck.State == evidence.DispositionNew && sel.Chosen[i] && len(ck.Unresolved) > 0 {
					t.Errorf("%s: approved, new, but finds no %v", ck.Ref, ck.Unresolved)
				}
			}
			if counts[evidence.DispositionPresent] < 50 || counts[evidence.DispositionNew] < 240 || counts[evidence.DispositionDiffers] == 0 {
				t.Errorf("the scenario should have 54 present, 3 differing and 243 new bookings: %v", counts)
			}
			if sum.New+sum.Present+sum.Differ != len(checks) || sum.Against != target.Redacted {
				t.Errorf("summary %+v", sum)
			}
			for _, ck := range checks {
				if ck.State == evidence.DispositionDiffers {
					t.Logf("%s differs in %s", ck.Ref, strings.Join(ck.Fields, ", "))
				}
			}
			t.Logf("%s: %d present, %d differ, %d new", d, sum.Present, sum.Differ, sum.New)

			// Only the new ones, loaded: every lost booking is there.
			var items []Item
			for i, ck := range checks {
				if sel.Chosen[i] && ck.State == evidence.DispositionNew {
					items = append(items, sel.Items[i])
				}
			}
			path, _ := writeFile(t, dir, items, Options{Dialect: d, Mapping: s.mapping, Case: cs, Against: sum})
			x.mustLoad(t, path)
			unchanged(t, before, x.checksums(t, restoredTables...))
			have := map[string]bool{}
			for _, r := range x.rows(t, "SELECT ref FROM bookings") {
				have[r[0]] = true
			}
			for _, tb := range s.list {
				if len(tb.Sources) > 0 && !have[tb.Ref] {
					t.Errorf("%s is not in the database", tb.Ref)
				}
			}
			// Checked again: all there.
			checks, sum, err = target.Check(context.Background(), s.mapping, sel.Items, &cs)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Present < len(items) {
				t.Errorf("after the load only %d present, %d written: %+v", sum.Present, len(items), sum)
			}
			for i, ck := range checks {
				if sel.Chosen[i] && s.truth[ck.Ref] != nil && ck.State == evidence.DispositionNew {
					t.Errorf("%s still new after the load", ck.Ref)
				}
			}
		})
	}
}

// TestCheckIsReadOnly opens each database as Check does and tries to write
// through the connection: the database refuses.
func TestCheckIsReadOnly(t *testing.T) {
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			srv := startServer(t, d)
			x := srv.fresh(t, true)
			target, err := ParseTarget(d, x.DSN, nil)
			if err != nil {
				t.Fatal(err)
			}
			before := x.checksums(t, restoredTables...)
			c, err := target.open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			for _, q := range []string{"INSERT INTO vehicles (id, plate, model, category, daily_rate_minor) VALUES (999, 'ZZ-99-ZZ', 'x', 'x', 1)",
				"CREATE TABLE salvage_probe (id INTEGER)", "DELETE FROM payments"} {
				if _, err := c.query(context.Background(), q, nil); err == nil {
					t.Errorf("%s: the check's connection ran %q", d, q)
				} else {
					t.Logf("%s refuses %q: %v", d, q, err)
				}
				if d == Postgres {
					break // the transaction is aborted after the first refusal
				}
			}
			c.close()
			sameRows(t, "after writes were tried", before, x.checksums(t, restoredTables...))
			if d == SQLite {
				if _, err := os.Stat(x.name + "-journal"); err == nil {
					t.Errorf("a journal was left beside %s", x.name)
				}
			}
		})
	}
}
