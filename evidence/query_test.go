package evidence

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// storeOf is a new store holding the records of batches, each committed
// in one transaction by one import job.
func storeOf(t *testing.T, batches ...[]Record) *Store {
	t.Helper()
	s := newStore(t)
	ctx := context.Background()
	job, err := s.StartJob(ctx, "test", batches[0][0].Source, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, recs := range batches {
		if _, err := s.Commit(ctx, job, Batch{Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// manyRecords is a store of n records (several read batches), every
// third with a second version.
func manyRecords(t *testing.T, n int) *Store {
	t.Helper()
	var first, second []Record
	for i := range n {
		first = append(first, rec(fmt.Sprintf("stripe:pi_%05d", n-1-i), "api", fmt.Sprintf(`{"i":%d}`, i)))
	}
	for i := 0; i < n; i += 3 {
		r := rec(fmt.Sprintf("stripe:pi_%05d", i), "api", fmt.Sprintf(`{"i":%d,"v":2}`, i))
		r.Facts.Name = "second"
		second = append(second, r)
	}
	return storeOf(t, first, second)
}

// Records are read in batches, decoded on every core: they still come in
// id and version order, each with its facts and raw bytes.
func TestRecordsInOrderAcrossBatches(t *testing.T) {
	const n = 3*recordBatchSize + 17
	s := manyRecords(t, n)
	ctx := context.Background()
	for _, q := range []Query{{AllVersions: true, WithRaw: true}, {WithRaw: true}, {AllVersions: true}, {AllVersions: true, Lean: true}, {WithRaw: true, Lean: true}} {
		var got []string
		for r, err := range s.Records(ctx, q) {
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			i := 0
			fmt.Sscanf(strings.TrimPrefix(r.ID, "stripe:pi_"), "%d", &i)
			if (r.Version == 2) != (r.Facts.Name == "second") || r.Facts.Ref != "ACH-7K2Q9" {
				t.Fatalf("%+v: %s v%d has the facts %+v", q, r.ID, r.Version, r.Facts)
			}
			if q.WithRaw != (len(r.Raw) > 0) || q.WithRaw && !strings.Contains(string(r.Raw), fmt.Sprintf(`"i":%d`, map[bool]int{true: i, false: n - 1 - i}[r.Version == 2])) {
				t.Fatalf("%+v: %s v%d has the raw bytes %q", q, r.ID, r.Version, r.Raw)
			}
			if lean := r.Locator == "" && r.Digest == "" && r.JobID == 0 && r.ImportedAt.IsZero() && r.SHA256 == [32]byte{}; lean != q.Lean {
				t.Fatalf("%+v: %s v%d: locator %q, digest %q, job %d, imported %v", q, r.ID, r.Version, r.Locator, r.Digest, r.JobID, r.ImportedAt)
			}
			got = append(got, fmt.Sprintf("%s v%d", r.ID, r.Version))
		}
		var want []string
		for i := range n {
			id := fmt.Sprintf("stripe:pi_%05d", i)
			switch {
			case i%3 != 0:
				want = append(want, id+" v1")
			case q.AllVersions:
				want = append(want, id+" v1", id+" v2")
			default:
				want = append(want, id+" v2")
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%+v: %d records, want %d, in order", q, len(got), len(want))
		}
	}
}

// Stopping early ends the query: the store answers the next one.
func TestRecordsStopEarly(t *testing.T) {
	s := manyRecords(t, 2*recordBatchSize)
	ctx := context.Background()
	for stop := range []int{0, 1, recordBatchSize + 3} {
		k := 0
		for _, err := range s.Records(ctx, Query{WithRaw: true}) {
			if err != nil {
				t.Fatal(err)
			}
			if k == stop {
				break
			}
			k++
		}
		if _, err := s.Stats(ctx); err != nil {
			t.Fatalf("after stopping at %d: %v", stop, err)
		}
	}
}

// A record whose facts do not decode ends the sequence with an error
// after the records before it; a cancelled context ends it with an error,
// never quietly.
func TestRecordsErrors(t *testing.T) {
	const n = 2*recordBatchSize + 5
	s := manyRecords(t, n)
	ctx := context.Background()
	bad := fmt.Sprintf("stripe:pi_%05d", recordBatchSize+1)
	if _, err := s.DB().Exec(`UPDATE records SET facts = '{"ref": 7' WHERE id = ?`, bad); err != nil {
		t.Fatal(err)
	}
	k := 0
	var last error
	for r, err := range s.Records(ctx, Query{AllVersions: true}) {
		if err != nil {
			last = err
			break
		}
		if r.ID >= bad {
			t.Fatalf("%s read, after the bad record %s", r.ID, bad)
		}
		k++
	}
	if last == nil || !strings.Contains(last.Error(), bad) {
		t.Errorf("error %v, want one naming %s", last, bad)
	}
	if want := recordBatchSize + 1 + (recordBatchSize+1+2)/3; k != want {
		t.Errorf("%d records before the error, want %d", k, want)
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	k, last = 0, nil
	for _, err := range s.Records(cctx, Query{Sources: []Source{Stripe}}) {
		if err != nil {
			last = err
			break
		}
		if k++; k == 10 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("after cancelling: %d records, error %v, want context.Canceled", k, last)
	}
}

// What an importer stores for people to read comes back when a query asks,
// with each version its own, and then stands in for the raw bytes; records
// without it still have theirs.
func TestReadable(t *testing.T) {
	withText := func(id, raw, title string) Record {
		r := rec(id, "mbox", raw)
		r.Source, r.Kind = Mail, "email"
		if title != "" {
			r.Readable = &Readable{Title: title, Text: "text of " + raw}
		}
		return r
	}
	s := storeOf(t,
		[]Record{withText("mail:<a@x>", "first", "Booking"), withText("mail:<b@x>", "plain", "")},
		[]Record{withText("mail:<a@x>", "second", "Booking, moved")})
	ctx := context.Background()
	show := func(q Query) string {
		var out []string
		for r, err := range s.Records(ctx, q) {
			if err != nil {
				t.Fatal(err)
			}
			line := fmt.Sprintf("%s v%d raw=%q", r.ID, r.Version, r.Raw)
			if r.Readable != nil {
				line += fmt.Sprintf(" readable=%q/%q", r.Readable.Title, r.Readable.Text)
			}
			out = append(out, line)
		}
		return strings.Join(out, "\n")
	}
	for _, tc := range []struct {
		q    Query
		want string
	}{
		{Query{AllVersions: true, WithRaw: true}, `mail:<a@x> v1 raw="first"
mail:<a@x> v2 raw="second"
mail:<b@x> v1 raw="plain"`},
		{Query{AllVersions: true, WithRaw: true, Readable: true}, `mail:<a@x> v1 raw="" readable="Booking"/"text of first"
mail:<a@x> v2 raw="" readable="Booking, moved"/"text of second"
mail:<b@x> v1 raw="plain"`},
		{Query{Readable: true, Lean: true, InStoreOrder: true}, `mail:<b@x> v1 raw=""
mail:<a@x> v2 raw="" readable="Booking, moved"/"text of second"`},
	} {
		if got := show(tc.q); got != tc.want {
			t.Errorf("%+v:\n%s\nwant\n%s", tc.q, got, tc.want)
		}
	}
}

// A query that wants the text of some records only reads the others'
// titles, however long, and their text stays empty.
func TestReadableTitleOnly(t *testing.T) {
	long := strings.Repeat("A long subject ", 40) // longer than what is read for a title
	var recs []Record
	for _, c := range []struct{ id, title, text string }{
		{"mail:<a@x>", "Booking", strings.Repeat("text ", 100)},
		{"mail:<b@x>", long, "the text of b"},
		{"mail:<c@x>", "Short", "tiny"},
		{"mail:<d@x>", "Wanted", strings.Repeat("kept ", 100)},
	} {
		r := rec(c.id, "mbox", "raw of "+c.id)
		r.Source, r.Kind = Mail, "email"
		r.Readable = &Readable{Title: c.title, Text: c.text}
		recs = append(recs, r)
	}
	s := storeOf(t, recs)
	var got []string
	q := Query{WithRaw: true, Readable: true, Lean: true, TextOf: func(id string) bool { return id == "mail:<d@x>" }}
	for r, err := range s.Records(context.Background(), q) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Readable == nil {
			t.Fatalf("%s: no readable", r.ID)
		}
		got = append(got, fmt.Sprintf("%s %q/%d raw=%q", r.ID, r.Readable.Title, len(r.Readable.Text), r.Raw))
	}
	want := []string{`mail:<a@x> "Booking"/0 raw=""`, fmt.Sprintf(`mail:<b@x> %q/0 raw=""`, long), `mail:<c@x> "Short"/0 raw=""`, `mail:<d@x> "Wanted"/500 raw=""`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Rows stored before their titles were (schema 6) hold none: the
	// titles come from the packs.
	if _, err := s.db.Exec(`UPDATE records SET title = NULL`); err != nil {
		t.Fatal(err)
	}
	var again []string
	for r, err := range s.Records(context.Background(), q) {
		if err != nil {
			t.Fatal(err)
		}
		again = append(again, fmt.Sprintf("%s %q/%d raw=%q", r.ID, r.Readable.Title, len(r.Readable.Text), r.Raw))
	}
	if !reflect.DeepEqual(again, want) {
		t.Errorf("without titles in the rows:\n%s\nwant\n%s", strings.Join(again, "\n"), strings.Join(want, "\n"))
	}
}

// A record an importer gave a title without a Readable comes back with it
// where a query reads Readable, and without its raw bytes where the query
// wants its title alone.
func TestTitleWithoutReadable(t *testing.T) {
	a, b := rec("ics:a", "gcal", `{"summary":"A"}`), rec("ics:b", "gcal", `{"summary":""}`)
	a.Source, b.Source = Calendar, Calendar
	a.Title = "A"
	s := storeOf(t, []Record{a, b})
	show := func(q Query) string {
		var out []string
		for r, err := range s.Records(context.Background(), q) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %q raw=%q readable=%v", r.ID, r.Title, r.Raw, r.Readable != nil))
		}
		return strings.Join(out, "\n")
	}
	none := func(string) bool { return false }
	for _, tc := range []struct {
		q    Query
		want string
	}{
		{Query{WithRaw: true}, `ics:a "" raw="{\"summary\":\"A\"}" readable=false
ics:b "" raw="{\"summary\":\"\"}" readable=false`},
		{Query{WithRaw: true, Readable: true, Lean: true}, `ics:a "A" raw="{\"summary\":\"A\"}" readable=false
ics:b "" raw="{\"summary\":\"\"}" readable=false`},
		{Query{WithRaw: true, Readable: true, Lean: true, TextOf: none}, `ics:a "A" raw="" readable=false
ics:b "" raw="{\"summary\":\"\"}" readable=false`},
	} {
		if got := show(tc.q); got != tc.want {
			t.Errorf("%+v:\n%s\nwant\n%s", tc.q, got, tc.want)
		}
	}
}

// Versions counts every version of every record, as Stats does.
func TestVersions(t *testing.T) {
	ctx := context.Background()
	if n, err := newStore(t).Versions(ctx); n != 0 || err != nil {
		t.Errorf("empty case: %d, %v", n, err)
	}
	s := manyRecords(t, 100)
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var all int64
	for _, v := range st.Versions {
		all += v
	}
	if n, err := s.Versions(ctx); n != all || n != 134 || err != nil {
		t.Errorf("Versions = %d, %v; Stats: %d", n, err, all)
	}
}

// NewestVersions names the records with more than one version, each with
// its newest, as reading them all finds.
func TestNewestVersions(t *testing.T) {
	ctx := context.Background()
	if m, err := newStore(t).NewestVersions(ctx); len(m) != 0 || err != nil {
		t.Errorf("empty case: %v, %v", m, err)
	}
	s := manyRecords(t, 100)
	want := map[string]int{}
	count := map[string]int{}
	for r, err := range s.Records(ctx, Query{AllVersions: true, Lean: true, InStoreOrder: true}) {
		if err != nil {
			t.Fatal(err)
		}
		count[r.ID]++
		want[r.ID] = max(want[r.ID], r.Version)
	}
	for id, n := range count {
		if n == 1 {
			delete(want, id)
		}
	}
	got, err := s.NewestVersions(ctx)
	if err != nil || !maps.Equal(got, want) || len(got) != 34 {
		t.Errorf("NewestVersions = %v, %v; want the %d of %v", got, err, len(want), want)
	}
}

// Read batches are used again once handed over: the records kept from
// earlier batches keep their own facts.
func TestRecordsKeptAcrossBatches(t *testing.T) {
	const n = 6*recordBatchSize + 5
	var recs []Record
	for i := range n {
		r := rec(fmt.Sprintf("stripe:pi_%05d", i), "api", fmt.Sprintf(`{"i":%d}`, i))
		r.Facts.Name = fmt.Sprintf("customer %05d", i)
		recs = append(recs, r)
	}
	s := storeOf(t, recs)
	ctx := context.Background()
	var kept []Record
	for r, err := range s.Records(ctx, Query{Lean: true}) {
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, r)
	}
	for i, r := range kept {
		if want := fmt.Sprintf("customer %05d", i); r.Facts.Name != want {
			t.Fatalf("%s kept the name %q, want %q", r.ID, r.Facts.Name, want)
		}
	}
}

// Raw bytes given back are read into again, and what is read is right.
func TestReleaseRaw(t *testing.T) {
	s := manyRecords(t, 2*recordBatchSize)
	ctx := context.Background()
	want := map[string]string{}
	for round := range 3 {
		for r, err := range s.Records(ctx, Query{AllVersions: true, WithRaw: true}) {
			if err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprintf("%s v%d", r.ID, r.Version)
			if round == 0 {
				want[key] = string(r.Raw)
			} else if string(r.Raw) != want[key] {
				t.Fatalf("round %d: %s reads %q, want %q", round, key, r.Raw, want[key])
			}
			ReleaseRaw(r.Raw)
		}
	}
	for _, n := range []int{0, 1, 1000, 1024, 1025, 64 << 10, 64<<10 + 1} {
		b := newRaw(n)
		if len(b) != n {
			t.Errorf("newRaw(%d) has %d bytes", n, len(b))
		}
		ReleaseRaw(b)
	}
}

// A lean read gives what a full read gives of a record, whatever its
// kind and zone hold (they are not packed) and whenever it happened
// (before 1970: a negative time), or when nobody knows.
func TestLeanReadAsFull(t *testing.T) {
	ctx := context.Background()
	a := rec("stripe:pi_1", "api", `{"id":"pi_1"}`)
	a.Kind, a.Zone = "odd\x1fkind|", "Zone\x1f/With"
	a.OccurredAt = time.Date(1965, 3, 1, 12, 0, 0, 123, time.UTC)
	b := rec("stripe:pi_2", "file", `{"id":"pi_2"}`)
	b.OccurredAt = time.Time{}
	s := storeOf(t, []Record{a, b}, []Record{func() Record { r := rec("stripe:pi_2", "file", `{"id":"pi_2","v":2}`); return r }()})
	full := map[string]Record{}
	for r, err := range s.Records(ctx, Query{AllVersions: true, WithRaw: true, Readable: true}) {
		if err != nil {
			t.Fatal(err)
		}
		full[fmt.Sprint(r.ID, r.Version)] = r
	}
	for _, q := range []Query{{AllVersions: true, Lean: true}, {AllVersions: true, Lean: true, WithRaw: true}, {AllVersions: true, Lean: true, Readable: true, InStoreOrder: true}} {
		n := 0
		for r, err := range s.Records(ctx, q) {
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			n++
			want := full[fmt.Sprint(r.ID, r.Version)]
			if r.Source != want.Source || r.Via != want.Via || r.Kind != want.Kind || r.Zone != want.Zone ||
				!r.OccurredAt.Equal(want.OccurredAt) || r.OccurredAt.IsZero() != want.OccurredAt.IsZero() ||
				q.WithRaw && string(r.Raw) != string(want.Raw) || !reflect.DeepEqual(r.Facts, want.Facts) {
				t.Errorf("%+v: %s v%d\n got %+v\nwant %+v", q, r.ID, r.Version, r, want)
			}
		}
		if n != 3 {
			t.Errorf("%+v: %d records, want 3", q, n)
		}
	}
}

// A lean read packs a row into one column: ids, kinds and zones from
// outside come back whole, whatever they hold.
func TestLeanOddValues(t *testing.T) {
	odd := []Record{rec("mail:<a:1b:c@x>", "mbox", "one"), rec("ics:9:uid", "ics", "two"), rec("stripe:pi_é", "file", "three")}
	odd[0].Kind, odd[0].Zone = "e:mail\x1e\x1f", "Zone/With:colon"
	odd[1].Kind, odd[1].Zone = "12:", ""
	odd[2].Kind = "ação"
	s := storeOf(t, odd)
	for _, q := range []Query{{Lean: true}, {Lean: true, WithRaw: true, InStoreOrder: true}, {Lean: true, AllVersions: true}} {
		n := 0
		for r, err := range s.Records(context.Background(), q) {
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			var want *Record
			for k := range odd {
				if odd[k].ID == r.ID {
					want = &odd[k]
				}
			}
			if want == nil || r.Kind != want.Kind || r.Zone != want.Zone || r.Facts.Ref != want.Facts.Ref || q.WithRaw && string(r.Raw) != string(want.Raw) {
				t.Errorf("%+v: read %q kind %q zone %q raw %q", q, r.ID, r.Kind, r.Zone, r.Raw)
			}
			n++
		}
		if n != len(odd) {
			t.Errorf("%+v: %d records, want %d", q, n, len(odd))
		}
	}
	for _, bad := range []string{"", "3:abc", "x:", "3:abc1:k0:", "3:abc1:k0:stripe", "-2:a1:k0:\x1e{}", "9:abc1:k0:\x1e{}"} {
		if _, _, err := cutLean([]byte(bad), make([][]byte, 3)); err == nil {
			t.Errorf("cutLean(%q) did not fail", bad)
		}
	}
	head := make([][]byte, 3)
	packed, facts, err := cutLean([]byte("3:a:b2:\x1e:0:stripe\x1fapi\x1e{\"ref\":\"x\"}"), head)
	if err != nil || string(head[0]) != "a:b" || string(head[1]) != "\x1e:" || head[2] == nil || len(head[2]) != 0 || string(packed) != "stripe\x1fapi" || string(facts) != `{"ref":"x"}` {
		t.Errorf("cutLean: %q %q %q, %v", head, packed, facts, err)
	}
	// A title, or none.
	for in, want := range map[string][]byte{"1:a1:k0:5:Hello\x1e{}": []byte("Hello"), "1:a1:k0:-1:\x1e{}": nil, "1:a1:k0:0:\x1e{}": {}} {
		head := make([][]byte, 4)
		if _, _, err := cutLean([]byte(in), head); err != nil || (head[3] == nil) != (want == nil) || string(head[3]) != string(want) {
			t.Errorf("cutLean(%q): title %q, %v; want %q", in, head[3], err, want)
		}
	}
}

func TestUnpackLean(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"stripe\x1fapi\x1f2\x1f-123", 4, ""},
		{"stripe\x1fapi\x1f2\x1f", 4, ""},
		{"stripe\x1fapi\x1f2", 4, "3 fields"},
		{"stripe\x1fa\x1fpi\x1f2\x1f1", 4, "more than 4 fields"},
		{"stripe\x1fapi\x1f2\x1f5\x1fjob-1.pack\x1f0\x1f10\x1f0", 8, ""},
	} {
		fields := make([][]byte, tc.n)
		err := unpackFields([]byte(tc.in), fields)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("unpackFields(%q, %d) = %v, want %q", tc.in, tc.n, err, tc.want)
		}
	}
	for in, want := range map[string]int64{"0": 0, "-1": -1, "9223372036854775807": math.MaxInt64, "-9223372036854775808": math.MinInt64, "1765": 1765} {
		if got, err := atoi([]byte(in)); got != want || err != nil {
			t.Errorf("atoi(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-", "1a", "12345678901234567890", "1 "} {
		if _, err := atoi([]byte(in)); err == nil {
			t.Errorf("atoi(%q) did not fail", in)
		}
	}
}
