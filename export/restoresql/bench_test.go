package restoresql

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/salvagehq/salvage/internal/peer"
)

// benchItems makes n bookings from the scenario's, each with its own
// reference and customer.
func benchItems(b *testing.B, n int) []Item {
	s := loadScenario(b)
	base := s.reconcile(true)
	items := make([]Item, n)
	for i := range items {
		bk := base[i%len(base)]
		bk.Ref = fmt.Sprintf("%s-%06d", bk.Ref, i)
		bk.Customer.Email = strconv.Itoa(i) + "." + bk.Customer.Email
		items[i] = Item{Booking: bk}
	}
	return items
}

// BenchmarkWrite250k writes the restore SQL of 250,000 bookings, into
// salvage_bookings, for each dialect (goal: at most 5 s).
func BenchmarkWrite250k(b *testing.B) {
	items := benchItems(b, 250_000)
	defer debug.SetGCPercent(debug.SetGCPercent(GCPercent)) // as salvage export sql runs
	for _, d := range Dialects {
		b.Run(string(d), func(b *testing.B) {
			var n int64
			for b.Loop() {
				cw := &countWriter{}
				if _, err := Write(cw, items, Options{Dialect: d, Case: testCase(len(items))}); err != nil {
					b.Fatal(err)
				}
				n = cw.n
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/write")
			b.ReportMetric(float64(n)/(1<<20), "MB")
		})
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkPsqlVsCopy250k loads the PostgreSQL restore SQL of 250,000
// bookings with psql into a fresh database, and COPY of the same rows
// into the same table of another fresh database, in the same run, and
// reports both times and their ratio (goal: at most 2). Runs alternate
// which goes first; each starts after a CHECKPOINT.
func BenchmarkPsqlVsCopy250k(b *testing.B) {
	items := benchItems(b, 250_000)
	dir := b.TempDir()
	restore := filepath.Join(dir, "restore.sql")
	f, err := os.Create(restore)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := Write(f, items, Options{Dialect: Postgres, Case: testCase(len(items))}); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("written in %v", time.Since(start))
	// The same rows as COPY's text: the table, then the data.
	copyPath := filepath.Join(dir, "copy.sql")
	if err := writeCopy(copyPath, items); err != nil {
		b.Fatal(err)
	}
	pg := peer.StartPostgres(b)
	var psqlS, copyS float64
	run := 0
	for b.Loop() {
		order := []string{"psql", "copy"}
		if run%2 == 1 {
			order = []string{"copy", "psql"}
		}
		for _, what := range order {
			db := fmt.Sprintf("%s%d", what, run)
			pg.Psql(b, "postgres", "CREATE DATABASE "+db)
			path := restore
			if what == "copy" {
				path = copyPath
				pg.Psql(b, db, standaloneDDL(Postgres)) // the table exists before the timing starts
			}
			pg.Psql(b, "postgres", "CHECKPOINT") // neither run pays for the other's writes
			cmd := pg.PsqlCommand(context.Background(), db, "-f", path)
			t0 := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", what, err, out)
			}
			el := time.Since(t0).Seconds()
			if what == "psql" {
				psqlS += el
			} else {
				copyS += el
			}
			if got := pg.Psql(b, db, "SELECT count(*) FROM "+StandaloneTable); got != strconv.Itoa(len(items))+"\n" {
				b.Fatalf("%s loaded %q rows", what, got)
			}
		}
		run++
	}
	b.ReportMetric(psqlS/float64(run), "psql-s")
	b.ReportMetric(copyS/float64(run), "copy-s")
	b.ReportMetric(psqlS/copyS, "ratio")
}

// writeCopy writes COPY salvage_bookings FROM STDIN with the items' rows.
func writeCopy(path string, items []Item) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	m := Standalone()
	p := newPlan(Postgres, m)
	t := m.Tables[0]
	fmt.Fprintf(w, "COPY %s (", p.q(t.Name))
	for i, c := range t.Columns {
		if i > 0 {
			w.WriteString(", ")
		}
		w.WriteString(p.q(c.Name))
	}
	w.WriteString(") FROM STDIN;\n")
	cs := testCase(len(items))
	var line []byte
	for i := range items {
		r, err := p.eval(&items[i], &cs)
		if err != nil {
			return err
		}
		line = line[:0]
		for k, v := range r[0] {
			if k > 0 {
				line = append(line, '\t')
			}
			if line, err = appendCopy(line, v); err != nil {
				return err
			}
		}
		line = append(line, '\n')
		w.Write(line)
	}
	w.WriteString("\\.\n")
	return w.Flush()
}
