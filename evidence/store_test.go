package evidence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 18, 14, 23, 5, 0, time.UTC)

func fixedClock() func() time.Time {
	t := t0
	return func() time.Time { t = t.Add(time.Second); return t }
}

func newStore(t testing.TB) *Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Case.Timezone = "Europe/Lisbon"
	s, err := Init(context.Background(), filepath.Join(t.TempDir(), "case"), cfg, Options{Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func rec(id, via, raw string) Record {
	amount := int64(18450)
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("WET", 0))
	return Record{
		ID: id, Source: Stripe, Via: via, Kind: "payment_intent", OccurredAt: t0, Zone: "Europe/Lisbon",
		Facts: Facts{Ref: "ACH-7K2Q9", AmountMinor: &amount, Currency: "eur", Start: &start,
			Links: []Link{{Rel: "stripe_customer", ID: "cus_2"}, {Rel: "stripe_customer", ID: "cus_1"}, {Rel: "stripe_customer", ID: "cus_2"}}},
		Raw: []byte(raw), Locator: "test",
	}
}

func TestCommitOutcomes(t *testing.T) {
	// Each step commits one batch into the same case; counts and stored
	// versions accumulate.
	steps := []struct {
		name      string
		batch     Batch
		want      Counts
		versions  int // rows in records after the step
		sightings int
	}{
		{"first import", Batch{Records: []Record{rec("stripe:pi_1", "api", `{"v":1}`), rec("stripe:pi_2", "api", `{"v":1}`)}},
			Counts{New: 2}, 2, 0},
		{"same objects again are a no-op", Batch{Records: []Record{rec("stripe:pi_1", "api", `{"v":1}`)}},
			Counts{Unchanged: 1}, 2, 0},
		{"a changed object is a new version", Batch{Records: []Record{rec("stripe:pi_1", "api", `{"v":2}`)}},
			Counts{NewVersion: 1}, 3, 0},
		{"an older version read again (an old export after the API) is unchanged", Batch{Records: []Record{rec("stripe:pi_1", "api", `{"v":1}`)}},
			Counts{Unchanged: 1}, 3, 0},
		{"a duplicate inside one batch is stored once", Batch{Records: []Record{rec("stripe:pi_3", "api", `x`), rec("stripe:pi_3", "api", `x`)}},
			Counts{New: 1, Unchanged: 1}, 4, 0},
		{"the same content through another channel is a sighting", Batch{Records: []Record{rec("stripe:pi_2", "file", `{"v":1}`)}},
			Counts{Unchanged: 1}, 4, 1},
		{"other bytes with the same digest are the same version", Batch{Records: []Record{
			func() Record { r := rec("stripe:pi_4", "imap", "a\r\nb"); r.Digest = "same"; return r }(),
			func() Record { r := rec("stripe:pi_4", "mbox", "a\nb"); r.Digest = "same"; return r }(),
		}}, Counts{New: 1, Unchanged: 1}, 5, 2},
		{"rejected input is kept and counted", Batch{Rejected: []Rejected{{Source: Mail, Via: "mbox", Locator: "a.mbox:10", Reason: "no headers", Raw: []byte("junk")}}},
			Counts{Rejected: 1}, 5, 2},
	}
	s := newStore(t)
	ctx := context.Background()
	job, err := s.StartJob(ctx, "test", Stripe, []string{"--since", "2026-08-01"})
	if err != nil {
		t.Fatal(err)
	}
	var total Counts
	for _, st := range steps {
		got, err := s.Commit(ctx, job, st.batch)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != st.want {
			t.Errorf("%s: counts %+v, want %+v", st.name, got, st.want)
		}
		total = total.Add(st.want)
		if n := count(t, s, "records"); n != st.versions {
			t.Errorf("%s: %d stored versions, want %d", st.name, n, st.versions)
		}
		if n := count(t, s, "sightings"); n != st.sightings {
			t.Errorf("%s: %d sightings, want %d", st.name, n, st.sightings)
		}
	}
	if err := s.FinishJob(ctx, job, JobDone, nil); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].Counts != total || jobs[0].Status != JobDone || jobs[0].Args[1] != "2026-08-01" {
		t.Errorf("jobs = %+v, want one done job with counts %+v", jobs, total)
	}

	var versions []string
	for r, err := range s.Records(ctx, Query{AllVersions: true, WithRaw: true}) {
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, fmt.Sprintf("%s v%d %s", r.ID, r.Version, r.Raw))
	}
	want := []string{`stripe:pi_1 v1 {"v":1}`, `stripe:pi_1 v2 {"v":2}`, `stripe:pi_2 v1 {"v":1}`, `stripe:pi_3 v1 x`, "stripe:pi_4 v1 a\r\nb"}
	if strings.Join(versions, "|") != strings.Join(want, "|") {
		t.Errorf("stored versions\n got %q\nwant %q", versions, want)
	}
	var latest []string
	for r, err := range s.Records(ctx, Query{Sources: []Source{Stripe}}) {
		if err != nil {
			t.Fatal(err)
		}
		latest = append(latest, fmt.Sprintf("%s v%d", r.ID, r.Version))
	}
	if got := strings.Join(latest, ","); got != "stripe:pi_1 v2,stripe:pi_2 v1,stripe:pi_3 v1,stripe:pi_4 v1" {
		t.Errorf("latest versions = %s", got)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records[Stripe] != 4 || st.Versions[Stripe] != 5 || st.Sightings[Stripe] != 2 || st.Rejected[Mail] != 1 || st.Records[Calendar] != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFactsStoredCanonical(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	job, _ := s.StartJob(ctx, "test", Stripe, nil)
	if _, err := s.Commit(ctx, job, Batch{Records: []Record{rec("stripe:pi_1", "api", "x")}}); err != nil {
		t.Fatal(err)
	}
	for r, err := range s.Records(ctx, Query{}) {
		if err != nil {
			t.Fatal(err)
		}
		f := r.Facts
		if f.Currency != "EUR" || *f.AmountMinor != 18450 || f.Start.Location() != time.UTC || !f.Start.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("facts = %+v", f)
		}
		if len(f.Links) != 2 || f.Links[0].ID != "cus_1" || f.Links[1].ID != "cus_2" {
			t.Errorf("links not sorted and de-duplicated: %+v", f.Links)
		}
		if !r.OccurredAt.Equal(t0) || r.SHA256 != Hash([]byte("x")) {
			t.Errorf("record = %+v", r)
		}
	}
}

func TestCommitIsAllOrNothing(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	job, _ := s.StartJob(ctx, "test", Stripe, nil)
	bad := rec("stripe:pi_2", "api", "y")
	bad.Source = "fax"
	_, err := s.Commit(ctx, job, Batch{
		Records:     []Record{rec("stripe:pi_1", "api", "x"), bad},
		Checkpoints: []Checkpoint{{"stripe/payment_intents", "pi_2"}},
	})
	if err == nil {
		t.Fatal("commit of a batch with an invalid record succeeded")
	}
	if n := count(t, s, "records"); n != 0 {
		t.Errorf("%d records stored from a failed batch", n)
	}
	if _, ok, _ := s.Checkpoint(ctx, "stripe/payment_intents"); ok {
		t.Error("checkpoint saved from a failed batch")
	}
}

func TestCheckpointsLastValueWins(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	job, _ := s.StartJob(ctx, "test", Stripe, nil)
	for _, v := range [][]Checkpoint{{{"a", "1"}, {"b", "x"}, {"a", "2"}}, {{"a", "3"}}} {
		if _, err := s.Commit(ctx, job, Batch{Checkpoints: v}); err != nil {
			t.Fatal(err)
		}
	}
	for key, want := range map[string]string{"a": "3", "b": "x"} {
		if got, ok, err := s.Checkpoint(ctx, key); err != nil || !ok || got != want {
			t.Errorf("checkpoint %s = %q, %v, %v; want %q", key, got, ok, err, want)
		}
	}
	if _, ok, err := s.Checkpoint(ctx, "c"); ok || err != nil {
		t.Errorf("missing checkpoint: ok=%v err=%v", ok, err)
	}
}

func TestCaseFilesArePrivate(t *testing.T) {
	// With a permissive umask, nothing in the case may be readable by others.
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	s := newStore(t)
	ctx := context.Background()
	job, _ := s.StartJob(ctx, "test", Stripe, nil)
	if _, err := s.Commit(ctx, job, Batch{Records: []Record{rec("stripe:pi_1", "api", "x")}}); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(s.Dir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ConfigFile, DBFile, DBFile + "-wal", DBFile + "-shm"} {
		if _, err := os.Stat(filepath.Join(s.Dir(), name)); err != nil {
			t.Errorf("expected %s in the case: %v", name, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, t.TempDir(), Options{}); !errors.Is(err, ErrNoCase) || !strings.Contains(err.Error(), "salvage init") {
		t.Errorf("open of an empty dir: %v, want ErrNoCase with a hint", err)
	}
	s := newStore(t)
	if _, err := Init(ctx, s.Dir(), DefaultConfig(), Options{}); !errors.Is(err, ErrCaseExists) {
		t.Errorf("init over a case: %v, want ErrCaseExists", err)
	}
	if _, err := s.DB().Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(ctx, s.Dir(), Options{})
	if !errors.Is(err, ErrNewerCase) || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("open of a newer case: %v, want ErrNewerCase naming version 99", err)
	}
}

func TestMigrationsFromEveryVersion(t *testing.T) {
	// A case at any older schema version opens and ends at SchemaVersion.
	ctx := context.Background()
	for from := 0; from < SchemaVersion; from++ {
		dir := t.TempDir()
		s, err := Init(ctx, dir, DefaultConfig(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		// Rebuild the database at version `from`.
		for _, name := range []string{DBFile, DBFile + "-wal", DBFile + "-shm"} {
			os.Remove(filepath.Join(dir, name))
		}
		db, err := sql.Open("sqlite", dsn(filepath.Join(dir, DBFile)))
		if err != nil {
			t.Fatal(err)
		}
		if err := migrate(ctx, db, migrations[:from]); err != nil {
			t.Fatal(err)
		}
		db.Close()
		s, err = Open(ctx, dir, Options{})
		if err != nil {
			t.Fatalf("open case at schema %d: %v", from, err)
		}
		var v int
		s.DB().QueryRow(`PRAGMA user_version`).Scan(&v)
		if v != SchemaVersion {
			t.Errorf("from %d: schema %d after open, want %d", from, v, SchemaVersion)
		}
		s.Close()
	}
}

// flipByte alters the first raw byte of the row query selects (its pack and
// offset), behind the store's back.
func flipByte(t *testing.T, s *Store, query string) {
	t.Helper()
	var pack string
	var off int64
	if err := s.DB().QueryRow(query).Scan(&pack, &off); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir(), rawDir, pack), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0x20
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFindsAlteredBytes(t *testing.T) {
	tests := []struct {
		name  string
		alter func(t *testing.T, s *Store)
		want  []string
	}{
		{"record bytes", func(t *testing.T, s *Store) {
			flipByte(t, s, `SELECT raw_pack, raw_off FROM records WHERE id = 'stripe:pi_2'`)
		}, []string{"record stripe:pi_2 v1: raw bytes hash to"}},
		{"record hash", func(t *testing.T, s *Store) {
			s.DB().Exec(`UPDATE records SET sha256 = zeroblob(32) WHERE id = 'stripe:pi_1' AND version = 2`)
		}, []string{"record stripe:pi_1 v2: raw bytes hash to"}},
		{"sighting bytes", func(t *testing.T, s *Store) {
			flipByte(t, s, `SELECT raw_pack, raw_off FROM sightings`)
		}, []string{"sighting stripe:pi_1 via mbox"}},
		{"rejected bytes", func(t *testing.T, s *Store) {
			flipByte(t, s, `SELECT raw_pack, raw_off FROM rejected`)
		}, []string{"rejected mail a.mbox:1"}},
		{"pack truncated", func(t *testing.T, s *Store) {
			var pack string
			var off int64
			s.DB().QueryRow(`SELECT raw_pack, raw_off FROM rejected`).Scan(&pack, &off)
			os.Truncate(filepath.Join(s.Dir(), rawDir, pack), off)
		}, []string{"rejected mail a.mbox:1: raw bytes missing: pack job-1.pack has no 2 bytes"}},
		{"pack deleted", func(t *testing.T, s *Store) {
			s.Close() // the reader keeps packs open
			matches, _ := filepath.Glob(filepath.Join(s.Dir(), rawDir, "*.pack"))
			for _, m := range matches {
				os.Remove(m)
			}
		}, []string{"record stripe:pi_1 v1: raw bytes missing", "record stripe:pi_2 v1: raw bytes missing", "record stripe:pi_1 v2: raw bytes missing",
			"sighting stripe:pi_1 via mbox: raw bytes missing", "rejected mail a.mbox:1: raw bytes missing: pack job-1.pack does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			ctx := context.Background()
			job, _ := s.StartJob(ctx, "test", Stripe, nil)
			if _, err := s.Commit(ctx, job, Batch{
				Records: []Record{rec("stripe:pi_1", "api", "a"), rec("stripe:pi_2", "api", "b"), rec("stripe:pi_1", "api", "c"),
					func() Record { r := rec("stripe:pi_1", "mbox", "c\r\n"); r.Digest = HexHash([]byte("c")); return r }()},
				Rejected: []Rejected{{Source: Mail, Via: "mbox", Locator: "a.mbox:1", Reason: "bad", Raw: []byte("zz")}},
			}); err != nil {
				t.Fatal(err)
			}
			s.FinishJob(ctx, job, JobDone, nil)
			rep, err := s.Verify(ctx, nil)
			if err != nil || !rep.OK() || rep.Records != 3 || rep.Sightings != 1 || rep.Rejected != 1 {
				t.Fatalf("before tampering: %+v, %v", rep, err)
			}
			tt.alter(t, s)
			if s2, err := Open(ctx, s.Dir(), Options{}); err == nil { // a fresh reader sees the files as they are now
				defer s2.Close()
				s = s2
			} else {
				t.Fatal(err)
			}
			rep, err = s.Verify(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range rep.Mismatches {
				got = append(got, m.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("mismatches %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("mismatch %q, want it to start %q", got[i], w)
				}
			}
		})
	}
}

func TestStaleJobsAreMarkedInterrupted(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	alive, _ := s.StartJob(ctx, "alive", Mail, nil)
	dead, _ := s.StartJob(ctx, "dead", Mail, nil)
	// The dead job's process "dies": its lock goes, its row stays running.
	dead.lock.Close()

	other, err := Open(ctx, s.Dir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	jobs, _ := other.Jobs(ctx)
	got := map[string]JobStatus{}
	for _, j := range jobs {
		got[j.Importer] = j.Status
	}
	if got["alive"] != JobRunning || got["dead"] != JobInterrupted {
		t.Errorf("job statuses = %v, want alive running and dead interrupted", got)
	}
	if err := s.FinishJob(ctx, alive, JobDone, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.lockPath(alive.ID)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock file of a finished job left behind: %v", err)
	}
}

func count(t testing.TB, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// BenchmarkCommit1KB measures storing new 1 KB records in batches of 1,000,
// the shape of a large import. Goal: ≥ 50,000 records/s on 2 cores.
func BenchmarkCommit1KB(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	job, _ := s.StartJob(ctx, "bench", Mail, nil)
	raw := []byte(strings.Repeat("Booking reference: ACH-7K2Q9. Pick-up: 12 Mar 2026 10:00. ", 18)[:1024])
	const batchSize = 1000
	batch := Batch{Records: make([]Record, 0, batchSize)}
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rec(fmt.Sprintf("mail:<%d@bench.example>", i), "mbox", "")
		r.Source, r.Kind = Mail, "email"
		r.Raw = append([]byte(fmt.Sprintf("%012d", i)), raw[12:]...)
		batch.Records = append(batch.Records, r)
		if len(batch.Records) == batchSize || i == b.N-1 {
			batch.Checkpoints = []Checkpoint{{"bench", fmt.Sprint(i)}}
			if _, err := s.Commit(ctx, job, batch); err != nil {
				b.Fatal(err)
			}
			batch.Records = batch.Records[:0]
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// FuzzCommit: whatever an importer hands over, a record that passes Validate
// commits, and reads back with the same bytes and facts.
func FuzzCommit(f *testing.F) {
	f.Add("mail:<a@b>", "mbox", "email", []byte("Subject: x\r\n\r\nhi"), "ACH-1", "eur", int64(100))
	f.Add("ics:Ω≈ç√:20261101T100000Z", "ics", "event", []byte{0, 0xff, 0xfe}, "", "", int64(0))
	f.Add("stripe:pi_1", "api", "payment_intent", []byte{}, "ref\x00", "EUR", int64(-5))
	s := newStore(f)
	ctx := context.Background()
	job, _ := s.StartJob(ctx, "fuzz", Mail, nil)
	f.Fuzz(func(t *testing.T, id, via, kind string, raw []byte, ref, currency string, amount int64) {
		r := Record{ID: id, Source: Mail, Via: via, Kind: kind, Raw: raw,
			Facts: Facts{Ref: ref, Currency: currency, AmountMinor: &amount, Attrs: map[string]string{ref: kind}}}
		if r.Validate() != nil {
			return
		}
		// The same inputs are the same version; any other input is a new one.
		r.Digest = HexHash([]byte(fmt.Sprintf("%q %q %q %q %q %q %d", id, via, kind, raw, ref, currency, amount)))
		if _, err := s.Commit(ctx, job, Batch{Records: []Record{r}}); err != nil {
			t.Fatalf("valid record did not commit: %v", err)
		}
		for got, err := range s.Records(ctx, Query{WithRaw: true, AllVersions: true}) {
			if err != nil {
				t.Fatal(err)
			}
			if got.ID == id && got.Digest == r.Digest {
				if string(got.Raw) != string(raw) || got.Facts.Ref != ref || *got.Facts.AmountMinor != amount || got.Facts.Attrs[ref] != kind || got.Via != via {
					t.Fatalf("read back %+v, stored %+v", got, r)
				}
				return
			}
		}
		t.Fatalf("%s not found after commit", id)
	})
}
