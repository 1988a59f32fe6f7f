package xlsx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/salvagehq/salvage/timeline"
	"github.com/xuri/excelize/v2"
)

var lisbon, _ = time.LoadLocation("Europe/Lisbon")

func ptime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func pint(v int64) *int64 { return &v }

// testCase is a small case: three bookings (one needing review, with a
// conflict), their records, one booking whose customer typed a formula.
// testRecords are the records of testCase, every version, in id order.
// testRecords are a case's records in the order it stored them: not by
// id, each record's versions oldest first.
func testRecords() []evidence.Record {
	return []evidence.Record{
		{ID: "stripe:pi_1", Source: evidence.Stripe, Via: "file", Kind: "payment_intent", Raw: []byte(`{"id":"pi_1"}`), Facts: evidence.Facts{PaidMinor: pint(24050), Currency: "EUR"}},
		{ID: "mail:<2@x>", Version: 1, Source: evidence.Mail, Via: "mbox", Kind: "email", Raw: []byte("Subject: Change ACH-1002 (first draft)\r\n\r\nAn older version"), Facts: evidence.Facts{Ref: "ACH-1002"}},
		{ID: "ics:abc", Source: evidence.Calendar, Via: "ics", Kind: "event", OccurredAt: *ptime("2026-08-30T10:00:00Z"), Raw: []byte("SUMMARY:ACH-1002 BMW\r\nDTSTART:20260909T083000Z\r\n"),
			Facts: evidence.Facts{Ref: "ACH-1002", Start: ptime("2026-09-09T08:30:00Z")}},
		{ID: "mail:<3@x>", Source: evidence.Mail, Via: "mbox", Kind: "email", Raw: []byte(`Subject: Booking ACH-1003` + "\r\n\r\n" + `=HYPERLINK("http://x","y")`), Facts: evidence.Facts{Ref: "ACH-1003"}},
		{ID: "mail:<2@x>", Version: 2, Source: evidence.Mail, Via: "mbox", Kind: "email", Raw: []byte("Subject: Change ACH-1002\r\n\r\nNew date; token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked"), Facts: evidence.Facts{Ref: "ACH-1002"}},
		{ID: "mail:<1@x>", Source: evidence.Mail, Via: "mbox", Kind: "email", Raw: []byte("Subject: Booking ACH-1001\r\n\r\nThanks Ana"), Facts: evidence.Facts{Ref: "ACH-1001", AmountMinor: pint(24050), Currency: "EUR"}},
		{ID: "transcript:s:1", Source: evidence.Transcript, Via: "claude-code", Kind: "agent-step", Raw: []byte(`{}`)},
	}
}

// newestOf is the newest version of each of records that has several.
func newestOf(records []evidence.Record) map[string]int {
	n, newest := map[string]int{}, map[string]int{}
	for _, r := range records {
		n[r.ID]++
		if n[r.ID] > 1 {
			newest[r.ID] = max(newest[r.ID], r.Version)
		}
	}
	return newest
}

func testCase(t testing.TB) Case {
	t.Helper()
	bookings := []reconcile.Booking{
		{
			Ref: "ACH-1001", Status: "confirmed", Customer: reconcile.Customer{Name: "Ana Lopes", Email: "ana@example.com", Phone: "+351912345678"},
			Item: "Renault Clio (AA-00-AA)", Start: ptime("2026-09-01T09:00:00Z"), End: ptime("2026-09-05T09:00:00Z"),
			AmountMinor: pint(24050), Currency: "EUR", PaidMinor: pint(24050), RefundedMinor: pint(0), Confidence: 0.97,
			Evidence: []string{"mail:<1@x>", "stripe:pi_1"}, Sources: []string{"mail", "stripe"},
			Provenance: map[string]reconcile.Source{"start": {Evidence: "mail:<1@x>", Rule: "newest change"}},
		},
		{
			Ref: "ACH-1002", Status: "changed", Customer: reconcile.Customer{Name: "Björn Groß", Email: "bjorn@example.com"},
			Item: "BMW Série 1 (XZ-22-QP)", Start: ptime("2026-09-10T08:30:00Z"), End: ptime("2026-09-12T08:30:00Z"),
			AmountMinor: pint(31000), Currency: "EUR", Confidence: 0.55, NeedsReview: true,
			Reasons:  []reconcile.Reason{{Code: "conflict", Detail: "start differs"}},
			Evidence: []string{"ics:abc", "mail:<2@x>"}, Sources: []string{"calendar", "mail"},
			Provenance: map[string]reconcile.Source{"start": {Evidence: "mail:<2@x>", Rule: "newest change"}},
			Conflicts: []reconcile.Conflict{{Field: "start", Chosen: "2026-09-10T08:30:00Z", Values: []reconcile.ConflictValue{
				{Value: "2026-09-10T08:30:00Z", Evidence: []string{"mail:<2@x>"}}, {Value: "2026-09-09T08:30:00Z", Evidence: []string{"ics:abc"}}}}},
		},
		{
			Ref: "ACH-1003", Status: "confirmed", Customer: reconcile.Customer{Name: `=HYPERLINK("http://x","y")`, Email: "x@example.com"},
			Item: "+Fiat 500", Start: ptime("2026-09-20T00:00:00+01:00"), End: ptime("2026-09-22T00:00:00+01:00"), AllDay: true,
			AmountMinor: pint(9000), Currency: "JPY", Confidence: 0.9,
			Evidence: []string{"mail:<3@x>"}, Sources: []string{"mail"},
		},
	}
	records := testRecords()
	var raw [][]byte
	for _, b := range bookings {
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, j)
	}
	return Case{
		ID:   "case-one",
		Zone: lisbon,
		Summary: Summary{Reconciled: *ptime("2026-11-20T10:00:00Z"), Since: *ptime("2026-08-20T02:00:00Z"),
			IncidentAt: *ptime("2026-11-18T14:28:32Z"), Incident: "the agent ran volumeDelete",
			Counts: reconcile.Summary{Bookings: 3, NeedsReview: 1, Review: map[string]int{"conflict": 1}, ByStatus: map[string]int{"confirmed": 2, "changed": 1}}},
		Bookings: func(keep func(int) bool) iter.Seq2[[]byte, error] {
			return func(yield func([]byte, error) bool) {
				for i, j := range raw {
					if keep != nil && !keep(i) {
						j = nil
					}
					if !yield(j, nil) {
						return
					}
				}
			}
		},
		BookingsAt: func(indices []int) iter.Seq2[[]byte, error] {
			return func(yield func([]byte, error) bool) {
				for _, i := range indices {
					if !yield(raw[i], nil) {
						return
					}
				}
			}
		},
		Records: func(rawOf, textOf func(string) bool) iter.Seq2[evidence.Record, error] {
			return func(yield func(evidence.Record, error) bool) {
				for _, r := range records {
					if !rawOf(r.ID) {
						r.Raw = nil
					}
					if r.Readable != nil && !textOf(r.ID) {
						r.Readable = &evidence.Readable{Title: r.Readable.Title}
					}
					if !yield(r, nil) {
						return
					}
				}
			}
		},
		Newest: func() (map[string]int, error) { return newestOf(records), nil },
		Describe: func(r evidence.Record) (string, string) {
			head, body, _ := strings.Cut(string(r.Raw), "\r\n\r\n")
			return strings.TrimPrefix(head, "Subject: "), body
		},
	}
}

func write(t testing.TB, c Case, opt Options) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Write(context.Background(), &buf, c, opt)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), st
}

func open(t testing.TB, data []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// rowOf finds the row of ref on sheet, and the column index of each header.
func rowOf(t testing.TB, f *excelize.File, sheet, ref string) (int, map[string]string) {
	t.Helper()
	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string]string{}
	for i, h := range rows[0] {
		cols[h], _ = excelize.ColumnNumberToName(i + 1)
	}
	for i, row := range rows {
		if len(row) > 0 && row[0] == ref {
			return i + 1, cols
		}
	}
	t.Fatalf("%s not on %s", ref, sheet)
	return 0, nil
}

func TestWorkbookLayout(t *testing.T) {
	c := testCase(t)
	tl := &fixedTimeline{rows: []timeline.Row{
		{Type: "marker", Time: *ptime("2026-08-20T02:00:00Z"), Local: ptime("2026-08-20T02:00:00Z").In(lisbon), Action: "marker.last_backup", Summary: "Last backup"},
		{Type: "event", Time: *ptime("2026-08-30T10:00:00Z"), Local: ptime("2026-08-30T10:00:00Z").In(lisbon), Source: "calendar", Actor: "staff",
			Action: "calendar.created", Booking: "ACH-1002", Summary: "=cmd|' /C calc'!A0", Evidence: []string{"ics:abc"}},
		{Type: "event", Source: "mail", Booking: "ACH-7777", Summary: "a booking salvage did not rebuild"},
	}}
	c.Timeline = func(known timeline.Known, newest map[string]int) (TimelineBuilder, error) {
		if !reflect.DeepEqual(newest, map[string]int{"mail:<2@x>": 2}) {
			t.Errorf("the timeline is told the newest versions are %v", newest)
		}
		// The workbook says which booking holds a record, and gives its
		// id back from its number.
		for id, want := range map[string]string{"ics:abc": "ACH-1002", "stripe:pi_1": "ACH-1001", "mail:<9@x>": ""} {
			j, ok := known.Find(id)
			if ok != (want != "") {
				t.Errorf("Find(%s) = %v, want %v", id, ok, !ok)
				continue
			}
			if _, ref := known.Booking(j); ok && (ref != want || known.ID(j) != id) {
				t.Errorf("Find(%s) = %d: Booking %q, ID %q; want %q, %q", id, j, ref, known.ID(j), want, id)
			}
		}
		return tl, nil
	}
	data, st := write(t, c, Options{})
	// The timeline is given every record the case holds, every version.
	if n := len(testRecords()); tl.added != n {
		t.Errorf("the timeline was given %d records, want %d", tl.added, n)
	}
	if st.Bookings != 3 || st.NeedsReview != 1 || st.Conflicts != 1 || st.Evidence != 5 {
		t.Errorf("stats = %+v", st)
	}
	if want := []string{SheetSummary, SheetBookings, SheetConflicts, SheetEvidence, SheetTimeline}; !reflect.DeepEqual(st.Sheets, want) || st.Timeline != 3 {
		t.Errorf("sheets %v (timeline %d rows), want %v", st.Sheets, st.Timeline, want)
	}
	f := open(t, data)
	tlRows, _ := f.GetRows(SheetTimeline)
	if len(tlRows) != 4 || tlRows[1][0] != "2026-08-20 03:00" || tlRows[2][8] != "=cmd|' /C calc'!A0" || tlRows[3][6] != "ACH-7777" {
		t.Errorf("Timeline sheet: %q", tlRows)
	}
	// A record's newest version is its Evidence row.
	evRows, _ := f.GetRows(SheetEvidence)
	for _, row := range evRows {
		if strings.Contains(strings.Join(row, "|"), "first draft") {
			t.Errorf("an older version on the Evidence sheet: %q", row)
		}
	}
	if fm, _ := f.GetCellFormula(SheetTimeline, "I3"); fm != "" {
		t.Errorf("outside text on the Timeline sheet is the formula %q", fm)
	}
	if fm, _ := f.GetCellFormula(SheetTimeline, "G3"); fm != `HYPERLINK("#'Bookings'!A2","ACH-1002")` {
		t.Errorf("timeline → booking link %q", fm)
	}
	rows, _ := f.GetRows(SheetBookings)
	// The booking that needs review comes first, with an empty decision;
	// the others are pre-approved.
	if rows[1][colRef] != "ACH-1002" || len(rows[1]) <= colDecision || rows[1][colDecision] != "" {
		t.Errorf("first row %q", rows[1])
	}
	if rows[2][colRef] != "ACH-1001" || rows[2][colDecision] != "approve" || rows[3][colDecision] != "approve" {
		t.Errorf("rows 2, 3: %q / %q", rows[2], rows[3])
	}
	// Real dates in the case's zone (Lisbon is UTC+1 in September) and
	// amounts as numbers in their currency.
	r, cols := rowOf(t, f, SheetBookings, "ACH-1001")
	raw, _ := f.GetCellValue(SheetBookings, fmt.Sprintf("%s%d", cols[HeaderStart], r), excelize.Options{RawCellValue: true})
	if got := FromSerial(mustFloat(t, raw), lisbon); !got.Equal(*ptime("2026-09-01T09:00:00Z")) || got.Hour() != 10 {
		t.Errorf("start cell %s = %v", raw, got)
	}
	if shown, _ := f.GetCellValue(SheetBookings, fmt.Sprintf("%s%d", cols[HeaderStart], r)); shown != "2026-09-01 10:00" {
		t.Errorf("start shown as %q", shown)
	}
	if v, _ := f.GetCellValue(SheetBookings, fmt.Sprintf("%s%d", cols[HeaderAmount], r), excelize.Options{RawCellValue: true}); v != "240.5" {
		t.Errorf("amount cell %q, want 240.5", v)
	}
	if shown, _ := f.GetCellValue(SheetBookings, fmt.Sprintf("%s%d", cols[HeaderAmount], r)); !strings.Contains(shown, "240.50") || !strings.Contains(shown, "EUR") {
		t.Errorf("amount shown as %q", shown)
	}
	r3, _ := rowOf(t, f, SheetBookings, "ACH-1003")
	if v, _ := f.GetCellValue(SheetBookings, fmt.Sprintf("%s%d", cols[HeaderAmount], r3), excelize.Options{RawCellValue: true}); v != "9000" {
		t.Errorf("JPY amount cell %q, want 9000 (no minor units)", v)
	}
	// Outside text that looks like a formula stays text.
	for _, cell := range []string{fmt.Sprintf("%s%d", cols[HeaderName], r3), fmt.Sprintf("%s%d", cols[HeaderItem], r3)} {
		if formula, _ := f.GetCellFormula(SheetBookings, cell); formula != "" {
			t.Errorf("%s holds the formula %q", cell, formula)
		}
	}
	if v, _ := f.GetCellValue(SheetBookings, fmt.Sprintf("%s%d", cols[HeaderName], r3)); v != `=HYPERLINK("http://x","y")` {
		t.Errorf("name cell %q", v)
	}
	// The Evidence sheet lists the records in the order the case stored
	// them, each used record's newest version once.
	ev, _ := f.GetRows(SheetEvidence)
	var got []string
	for _, row := range ev[1:] {
		got = append(got, row[0]+" "+row[1])
	}
	if want := []string{"stripe:pi_1 ACH-1001", "ics:abc ACH-1002", "mail:<3@x> ACH-1003", "mail:<2@x> ACH-1002", "mail:<1@x> ACH-1001"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Evidence rows (id, booking):\n%q\nwant\n%q", got, want)
	}
	// Bookings link to their first evidence row, evidence back to its booking.
	for ref, want := range map[string]string{"ACH-1001": `HYPERLINK("#'Evidence'!A2","2 records →")`, "ACH-1002": `HYPERLINK("#'Evidence'!A3","2 records →")`} {
		r, _ := rowOf(t, f, SheetBookings, ref)
		if link, _ := f.GetCellFormula(SheetBookings, fmt.Sprintf("%s%d", cols["Evidence"], r)); link != want {
			t.Errorf("%s: evidence link %q, want %q", ref, link, want)
		}
	}
	back, _ := f.GetCellFormula(SheetEvidence, "B2")
	if back != fmt.Sprintf(`HYPERLINK("#'Bookings'!A%d","ACH-1001")`, r) {
		t.Errorf("evidence → booking link %q", back)
	}
	// The planted token is redacted in the evidence text.
	for _, row := range ev {
		for _, c := range row {
			if strings.Contains(c, "ghp_abcdefghijklmnopqrstuvwxyz0123456789") {
				t.Errorf("secret in the workbook: %q", c)
			}
		}
	}
	// Header frozen, autofilter, decision list, highlighting.
	panes, _ := f.GetPanes(SheetBookings)
	if !panes.Freeze || panes.YSplit != 1 {
		t.Errorf("panes %+v", panes)
	}
	dvs, _ := f.GetDataValidations(SheetBookings)
	if len(dvs) != 1 || dvs[0].Sqref != "B2:B4" || !strings.Contains(dvs[0].Formula1, "approve,reject,fix") {
		t.Errorf("data validations %+v", dvs)
	}
	cf, _ := f.GetConditionalFormats(SheetBookings)
	if len(cf) != 1 {
		t.Errorf("conditional formats %+v", cf)
	}
	// The Summary carries the case id where review import looks for it.
	if id, err := workbookCase(f); err != nil || id != "case-one" {
		t.Errorf("case id %q, %v", id, err)
	}
}

func mustFloat(t testing.TB, s string) float64 {
	t.Helper()
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return v
}

func TestWorkbookIsDeterministic(t *testing.T) {
	a, _ := write(t, testCase(t), Options{})
	b, _ := write(t, testCase(t), Options{})
	if !bytes.Equal(a, b) {
		t.Error("two workbooks of the same case differ")
	}
}

// TestIdsInChunks: evidence ids gathered in chunks of a few bytes make
// the workbook they make in one.
func TestIdsInChunks(t *testing.T) {
	one, _ := write(t, testCase(t), Options{})
	defer func(n int) { idChunkSize = n }(idChunkSize)
	for _, n := range []int{1, 7, 64} {
		idChunkSize = n
		if many, _ := write(t, testCase(t), Options{}); !bytes.Equal(one, many) {
			t.Errorf("ids in chunks of %d bytes: the workbook differs", n)
		}
	}
}

func TestSheetsContinueAtTheRowLimit(t *testing.T) {
	data, st := write(t, testCase(t), Options{MaxRows: 3}) // two data rows a sheet
	want := []string{SheetSummary, SheetBookings, "Bookings (2)", SheetConflicts, SheetEvidence, "Evidence (2)", "Evidence (3)"}
	if !reflect.DeepEqual(st.Sheets, want) {
		t.Fatalf("sheets %v, want %v", st.Sheets, want)
	}
	f := open(t, data)
	rows, _ := f.GetRows("Bookings (2)")
	if len(rows) != 2 || rows[0][0] != HeaderRef || rows[1][0] != "ACH-1003" {
		t.Errorf("Bookings (2): %q", rows)
	}
	// ACH-1003's only record is the third the case stored: Evidence (2),
	// row 2.
	r, cols := rowOf(t, f, "Bookings (2)", "ACH-1003")
	link, _ := f.GetCellFormula("Bookings (2)", fmt.Sprintf("%s%d", cols["Evidence"], r))
	if link != `HYPERLINK("#'Evidence (2)'!A2","1 record →")` {
		t.Errorf("link %q", link)
	}
	if v, _ := f.GetCellValue("Evidence (2)", "A2"); v != "mail:<3@x>" {
		t.Errorf("Evidence (2)!A2 = %q", v)
	}
	// Every row of every Bookings sheet is read back.
	reviews, err := ReadReview(bytes.NewReader(data), ReviewCase{ID: "case-one", Zone: lisbon})
	if err != nil || len(reviews) != 3 {
		t.Fatalf("ReadReview: %d reviews, %v", len(reviews), err)
	}
}

func TestLongTextIsCutWithAMarker(t *testing.T) {
	c := testCase(t)
	long := strings.Repeat("ação 😀 ", 10000) // 80,000 runes, emoji 2 UTF-16 units
	inner := c.Describe
	c.Describe = func(r evidence.Record) (string, string) {
		title, _ := inner(r)
		return title, long
	}
	data, _ := write(t, c, Options{MaxTextChars: MaxCellChars, EvidenceText: TextAll})
	f := open(t, data)
	v, _ := f.GetCellValue(SheetEvidence, "R2")
	if n := utf16Len(v); n > MaxCellChars || n < MaxCellChars-100 {
		t.Errorf("cut text is %d UTF-16 units", n)
	}
	if !strings.Contains(v, "more characters; the full text is in the case]") || !strings.HasPrefix(long, strings.Split(v, "\n…")[0]) {
		t.Errorf("cut text ends %q", v[len(v)-120:])
	}
	// By default the Evidence sheet shows the first 2,000 characters.
	data, _ = write(t, c, Options{EvidenceText: TextAll})
	v, _ = open(t, data).GetCellValue(SheetEvidence, "R2")
	if n := utf16Len(v); n > 2000 || n < 1900 || !strings.Contains(v, "the full text is in the case]") {
		t.Errorf("default excerpt is %d UTF-16 units: …%q", n, v[max(0, len(v)-80):])
	}
	// The marker counts what was cut from the whole text.
	if head, cut := excerpt(strings.Repeat("a", 20000), 100); cut != 19961 || utf16Len(head+fmt.Sprintf(cutMarker, cut)) != 100 {
		t.Errorf("excerpt: %q, %d cut", head, cut)
	}
	if got := fit("short", 10); got != "short" {
		t.Errorf("fit cut a short text: %q", got)
	}
}

// By default the Evidence rows of the bookings that need review show their
// record's text, the others their facts and title; TextAll shows every
// record's text. The Summary says which.
func TestEvidenceTextOfBookingsToReview(t *testing.T) {
	for _, tc := range []struct {
		show EvidenceText
		want []string // id, booking, title, text of each Evidence row
		text int      // rows that show their text
		note string
	}{
		{TextToReview, []string{
			`stripe:pi_1 ACH-1001 {"id":"pi_1"} / `,
			"ics:abc ACH-1002 SUMMARY:ACH-1002 BMW\r\nDTSTART:20260909T083000Z / ",
			"mail:<3@x> ACH-1003 Booking ACH-1003 / ",
			"mail:<2@x> ACH-1002 Change ACH-1002 / New date; token ghp_…6789 leaked",
			"mail:<1@x> ACH-1001 Booking ACH-1001 / ",
		}, 2, "5 records behind the bookings, on the Evidence sheet; the text of the 2 behind the bookings to review, and the facts and title of the others (salvage export xlsx --evidence-text all shows every record's text)"},
		{TextAll, []string{
			`stripe:pi_1 ACH-1001 {"id":"pi_1"} / `,
			"ics:abc ACH-1002 SUMMARY:ACH-1002 BMW\r\nDTSTART:20260909T083000Z / ",
			"mail:<3@x> ACH-1003 Booking ACH-1003 / =HYPERLINK(\"http://x\",\"y\")",
			"mail:<2@x> ACH-1002 Change ACH-1002 / New date; token ghp_…6789 leaked",
			"mail:<1@x> ACH-1001 Booking ACH-1001 / Thanks Ana",
		}, 5, "5 records behind the bookings, on the Evidence sheet, each with its text"},
	} {
		t.Run(tc.show.String(), func(t *testing.T) {
			data, st := write(t, testCase(t), Options{EvidenceText: tc.show})
			f := open(t, data)
			rows, err := f.GetRows(SheetEvidence)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, row := range rows[1:] {
				row = append(row, make([]string, 18)...)
				got = append(got, strings.TrimSpace(row[0]+" "+row[1]+" "+row[16])+" / "+strings.TrimSpace(row[17]))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Evidence rows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if st.EvidenceText != tc.text {
				t.Errorf("Stats.EvidenceText = %d, want %d", st.EvidenceText, tc.text)
			}
			summary, _ := f.GetRows(SheetSummary)
			found := false
			for _, row := range summary {
				if len(row) > 1 && row[0] == "Evidence" {
					found = true
					if row[1] != tc.note {
						t.Errorf("Summary says %q\nwant %q", row[1], tc.note)
					}
				}
			}
			if !found {
				t.Error("no Evidence line on the Summary")
			}
		})
	}
	if _, err := ParseEvidenceText("some"); err == nil || !strings.Contains(err.Error(), "review, all") {
		t.Errorf("ParseEvidenceText(some): %v", err)
	}
	if v, err := ParseEvidenceText("all"); v != TextAll || err != nil {
		t.Errorf("ParseEvidenceText(all) = %v, %v", v, err)
	}
}

// edit changes cells of the Bookings row of ref, by header.
func edit(t testing.TB, f *excelize.File, ref string, values map[string]any) {
	t.Helper()
	r, cols := rowOf(t, f, SheetBookings, ref)
	for h, v := range values {
		if err := f.SetCellValue(SheetBookings, fmt.Sprintf("%s%d", cols[h], r), v); err != nil {
			t.Fatal(err)
		}
	}
}

func saved(t testing.TB, f *excelize.File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReviewRoundTrip(t *testing.T) {
	data, _ := write(t, testCase(t), Options{})
	c := ReviewCase{ID: "case-one", Zone: lisbon, Known: func(ref string) bool { return strings.HasPrefix(ref, "ACH-") }}

	// Untouched: every pre-approved booking approved, nothing corrected.
	got, err := ReadReview(bytes.NewReader(data), c)
	if err != nil {
		t.Fatal(err)
	}
	want := []evidence.Review{{Ref: "ACH-1002"}, {Ref: "ACH-1001", Decision: "approve"}, {Ref: "ACH-1003", Decision: "approve"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("untouched workbook read as %+v", got)
	}

	// A reviewer fixes a date and an email, rejects one, approves one with
	// a note, and sorts the rows.
	f := open(t, data)
	edit(t, f, "ACH-1002", map[string]any{HeaderDecision: "Fix", HeaderStart: time.Date(2026, 9, 9, 9, 30, 0, 0, time.UTC), HeaderEmail: "bjorn.gross@example.com"})
	edit(t, f, "ACH-1001", map[string]any{HeaderDecision: "reject", HeaderNotes: "customer cancelled by phone"})
	edit(t, f, "ACH-1003", map[string]any{HeaderNotes: "checked with the branch", HeaderAmount: 9500})
	edit(t, f, "ACH-1002", map[string]any{HeaderAmount: "1.234,50 €"}) // typed as text, the European way
	if err := f.SetCellValue(SheetBookings, "T2", "ignored: not a column salvage reads"); err != nil {
		t.Fatal(err)
	}
	got, err = ReadReview(bytes.NewReader(saved(t, f)), c)
	if err != nil {
		t.Fatal(err)
	}
	// excelize writes a time's wall clock: 09:30 typed means 09:30 in Lisbon.
	want = []evidence.Review{
		{Ref: "ACH-1002", Decision: "fix", Corrections: map[string]string{"start": "2026-09-09T08:30:00Z", "customer.email": "bjorn.gross@example.com", "amount_minor": "123450"}},
		{Ref: "ACH-1001", Decision: "reject", Notes: "customer cancelled by phone"},
		{Ref: "ACH-1003", Decision: "approve", Notes: "checked with the branch", Corrections: map[string]string{"amount_minor": "9500"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("review read as\n%+v\nwant\n%+v", got, want)
	}

	// A new export shows the review; reading it back gives the same.
	c2 := testCase(t)
	c2.Reviews = map[string]evidence.Review{}
	for _, r := range want {
		c2.Reviews[r.Ref] = r
	}
	again, _ := write(t, c2, Options{})
	got, err = ReadReview(bytes.NewReader(again), c)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("re-exported review read as %+v, %v", got, err)
	}
}

func TestReviewProblems(t *testing.T) {
	data, _ := write(t, testCase(t), Options{})
	known := ReviewCase{ID: "case-one", Zone: lisbon, Known: func(ref string) bool { return ref != "ACH-1003" }}
	all := ReviewCase{ID: "case-one", Zone: lisbon}
	for _, tc := range []struct {
		name string
		edit func(f *excelize.File)
		c    ReviewCase
		want string
	}{
		{"bad date", func(f *excelize.File) { edit(t, f, "ACH-1001", map[string]any{HeaderStart: "31/02/2026"}) }, all,
			`Bookings!K3 (Start): "31/02/2026" is not a date-time`},
		{"bad email", func(f *excelize.File) { edit(t, f, "ACH-1001", map[string]any{HeaderEmail: "ana at example"}) }, all,
			`Bookings!H3 (Email): "ana at example" is not an email address`},
		{"bad decision", func(f *excelize.File) { edit(t, f, "ACH-1001", map[string]any{HeaderDecision: "maybe"}) }, all,
			`Bookings!B3 (Decision): "maybe" is not a decision`},
		{"bad amount", func(f *excelize.File) { edit(t, f, "ACH-1001", map[string]any{HeaderAmount: "lots"}) }, all,
			`Bookings!M3 (Amount): "lots" is not an amount`},
		{"amount in another currency", func(f *excelize.File) { edit(t, f, "ACH-1001", map[string]any{HeaderAmount: "USD 250.00"}) }, all,
			`Bookings!M3 (Amount): "USD 250.00" is in USD; the booking is in EUR`},
		{"changed reference", func(f *excelize.File) { edit(t, f, "ACH-1001", map[string]any{HeaderRef: "ACH-9999"}) }, all,
			`Bookings!A3 (Reference): the reference was changed from "ACH-1001" to "ACH-9999"`},
		{"unknown reference", func(f *excelize.File) {}, known,
			`Bookings!A4 (Reference): unknown reference "ACH-1003"`},
		{"added row", func(f *excelize.File) { f.SetCellValue(SheetBookings, "A9", "ACH-2000") }, all,
			`Bookings!A9 (Reference): unknown reference "ACH-2000": this row was not written by salvage`},
		{"other case", func(f *excelize.File) {}, ReviewCase{ID: "case-two"},
			`the workbook was written from another case: it belongs to case case-one, this case is case-two`},
		{"renamed header", func(f *excelize.File) { f.SetCellValue(SheetBookings, "B1", "Verdict") }, all,
			`Bookings row 1: no "Decision" column`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := open(t, data)
			tc.edit(f)
			_, err := ReadReview(bytes.NewReader(saved(t, f)), tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant it to say %s", err, tc.want)
			}
			var re *ReviewError
			if tc.name != "other case" && !errors.As(err, &re) {
				t.Errorf("error is %T, want *ReviewError", err)
			}
		})
	}
	if _, err := ReadReview(strings.NewReader("not a zip"), all); !errors.Is(err, ErrNotWorkbook) {
		t.Errorf("a text file: %v", err)
	}
}

func FuzzReadReview(f *testing.F) {
	data, _ := write(f, testCase(f), Options{})
	f.Add(data)
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ReadReview(bytes.NewReader(b), ReviewCase{ID: "case-one", Zone: lisbon})
	})
}

// fixedTimeline is a timeline of given rows that counts the records added.
type fixedTimeline struct {
	rows  []timeline.Row
	added int
}

func (f *fixedTimeline) Add(*evidence.Record)         { f.added++ }
func (f *fixedTimeline) Rows() iter.Seq[timeline.Row] { return slices.Values(f.rows) }

// A record a booking uses that the case does not hold still gets its
// Evidence row, after those of the records it holds (in id order),
// saying so; the rows before it are whole.
func TestEvidenceNotInTheCase(t *testing.T) {
	c := testCase(t)
	all := c.Records
	c.Records = func(rawOf, textOf func(string) bool) iter.Seq2[evidence.Record, error] {
		return func(yield func(evidence.Record, error) bool) {
			for r, err := range all(rawOf, textOf) {
				if r.ID != "mail:<1@x>" && r.ID != "stripe:pi_1" && !yield(r, err) {
					return
				}
			}
		}
	}
	data, st := write(t, c, Options{})
	if st.Evidence != 5 {
		t.Errorf("%d evidence rows, want 5", st.Evidence)
	}
	rows, _ := open(t, data).GetRows(SheetEvidence)
	var got []string
	for _, row := range rows[1:] {
		text := ""
		if len(row) > 16 {
			text = row[16]
		}
		got = append(got, row[0]+" "+strings.SplitN(text, ":", 2)[0])
	}
	want := []string{"ics:abc SUMMARY", "mail:<3@x> Booking ACH-1003", "mail:<2@x> Change ACH-1002", "mail:<1@x> not in the case", "stripe:pi_1 not in the case"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Evidence rows (id, title):\n%q\nwant\n%q", got, want)
	}
}

// A version newer than the case said was the newest (the case changed
// under the workbook) fails the workbook rather than give a record two
// rows.
func TestVersionAfterTheNewest(t *testing.T) {
	c := testCase(t)
	c.Newest = func() (map[string]int, error) { return map[string]int{}, nil }
	_, err := Write(context.Background(), io.Discard, c, Options{})
	if err == nil || !strings.Contains(err.Error(), "mail:<2@x>") || !strings.Contains(err.Error(), "write it again") {
		t.Fatalf("Write = %v, want the record and what to do", err)
	}
}
