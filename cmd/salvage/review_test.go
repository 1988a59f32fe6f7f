package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/export/xlsx"
	"github.com/salvagehq/salvage/internal/peer"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/xuri/excelize/v2"
)

// must runs one command line and returns its output; it fails the test
// on any exit but want.
func must(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	code, stdout, stderr := salvage(t, args...)
	if code != want {
		t.Fatalf("salvage %s: exit %d, want %d\n%s\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}

// scenarioDemo runs the demo on the committed scenario into a temporary
// directory and returns it: the case is dir/case, the workbook
// dir/review.xlsx.
func scenarioDemo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "demo")
	must(t, exitOK, "demo", "--scenario", filepath.Join("..", "..", "fixtures", "scenario"), "--out", dir)
	return dir
}

// exportedBookings is `export json` of the case, by reference, in order.
func exportedBookings(t *testing.T, caseDir string) (map[string]reconcile.Booking, []string) {
	t.Helper()
	out, _ := must(t, exitOK, "--case", caseDir, "export", "json")
	byRef := map[string]reconcile.Booking{}
	var refs []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var b reconcile.Booking
		if err := json.Unmarshal([]byte(line), &b); err != nil {
			t.Fatal(err)
		}
		byRef[b.Ref] = b
		refs = append(refs, b.Ref)
	}
	return byRef, refs
}

// TestWorkbookInLibreOffice opens the committed scenario's workbook in
// LibreOffice and reads every Bookings row back: the values must be those
// of export json.
func TestWorkbookInLibreOffice(t *testing.T) {
	dir := scenarioDemo(t)
	bookings, _ := exportedBookings(t, filepath.Join(dir, "case"))
	sheets := peer.SheetsCSV(t, filepath.Join(dir, "review.xlsx"))
	for _, name := range []string{xlsx.SheetSummary, xlsx.SheetBookings, xlsx.SheetConflicts, xlsx.SheetEvidence} {
		if len(sheets[name]) < 2 {
			t.Errorf("sheet %s: %d rows after LibreOffice", name, len(sheets[name]))
		}
	}
	rows := sheets[xlsx.SheetBookings]
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	loc, _ := time.LoadLocation("Europe/Lisbon")
	seen, checked := map[string]bool{}, 0
	for n, row := range rows[1:] {
		at := func(h string) string { return row[col[h]] }
		ref := at(xlsx.HeaderRef)
		b, ok := bookings[ref]
		if !ok {
			t.Errorf("row %d: %q is not a booking of export json", n+2, ref)
			continue
		}
		seen[ref] = true
		expect := func(h, got, want string) {
			if got != want {
				t.Errorf("%s %s: LibreOffice reads %q, export json says %q", ref, h, got, want)
			}
		}
		expect("Customer", at(xlsx.HeaderName), b.Customer.Name)
		expect("Email", at(xlsx.HeaderEmail), b.Customer.Email)
		expect("Phone", at(xlsx.HeaderPhone), b.Customer.Phone)
		expect("Item", at(xlsx.HeaderItem), b.Item)
		expect("Status", at("Status"), b.Status)
		expect("Currency", at("Currency"), b.Currency)
		expect("Needs review", at(xlsx.HeaderNeeds), map[bool]string{true: "yes", false: "no"}[b.NeedsReview])
		for h, want := range map[string]*time.Time{xlsx.HeaderStart: b.Start, xlsx.HeaderEnd: b.End} {
			got := at(h)
			if want == nil {
				expect(h, got, "")
				continue
			}
			tm, err := readLocal(got, loc)
			if err != nil {
				t.Errorf("%s %s: %v", ref, h, err)
				continue
			}
			if b.AllDay {
				w := want.In(loc)
				expect(h, tm.Format("2006-01-02"), w.Format("2006-01-02"))
			} else if !tm.Equal(*want) {
				t.Errorf("%s %s: LibreOffice reads %s (%s), export json says %s", ref, h, got, tm.UTC(), want.UTC())
			}
		}
		for h, want := range map[string]*int64{xlsx.HeaderAmount: b.AmountMinor, "Paid": b.PaidMinor, "Refunded": b.RefundedMinor} {
			got := at(h)
			if want == nil {
				expect(h, got, "")
				continue
			}
			v, err := strconv.ParseFloat(got, 64)
			if err != nil {
				t.Errorf("%s %s: %q is not a number", ref, h, got)
				continue
			}
			if minor := int64(math.Round(v * math.Pow10(xlsx.Digits(b.Currency)))); minor != *want {
				t.Errorf("%s %s: LibreOffice reads %s (%d minor), export json says %d", ref, h, got, minor, *want)
			}
		}
		if c, err := strconv.ParseFloat(at("Confidence"), 64); err != nil || math.Abs(c-b.Confidence) > 0.005 {
			t.Errorf("%s confidence: LibreOffice reads %q, export json says %v", ref, at("Confidence"), b.Confidence)
		}
		checked++
	}
	if len(seen) != len(bookings) || checked != len(bookings) {
		t.Errorf("LibreOffice read %d booking rows (%d distinct), export json has %d", checked, len(seen), len(bookings))
	}
	t.Logf("LibreOffice read %d Bookings rows equal to export json; %d Evidence rows, %d Conflicts rows",
		checked, len(sheets[xlsx.SheetEvidence])-1, len(sheets[xlsx.SheetConflicts])-1)
	sameText(t, filepath.Join(dir, "review.xlsx"), sheets)
}

// sameText: every text cell of every sheet but Summary, where excelize
// reads it, is the cell LibreOffice reads at that place. The rows'
// cells carry no reference (each is the next column), so a cell written
// in the wrong place would show here.
func sameText(t *testing.T, workbook string, sheets map[string][][]string) {
	t.Helper()
	f, err := excelize.OpenFile(workbook)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cells := 0
	for _, name := range f.GetSheetList() {
		if name == xlsx.SheetSummary {
			continue
		}
		lo, ok := sheets[name]
		if !ok {
			t.Errorf("sheet %s: not read by LibreOffice", name)
			continue
		}
		rows, err := f.GetRows(name, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(lo) {
			t.Errorf("sheet %s: excelize reads %d rows, LibreOffice %d", name, len(rows), len(lo))
		}
		for r := 0; r < min(len(rows), len(lo)); r++ {
			for c, v := range rows[r] {
				typ, err := f.GetCellType(name, cellName(c, r))
				if err != nil {
					t.Fatal(err)
				}
				if v == "" || typ != excelize.CellTypeInlineString && typ != excelize.CellTypeFormula {
					continue
				}
				got := ""
				if c < len(lo[r]) {
					got = lo[r][c]
				}
				if got != v {
					t.Errorf("sheet %s %s: LibreOffice reads %q, salvage wrote %q", name, cellName(c, r), got, v)
				}
				cells++
			}
		}
	}
	if cells == 0 {
		t.Error("no text cell compared")
	}
	t.Logf("%d text cells read alike by LibreOffice and excelize", cells)
}

func cellName(col, row int) string {
	n, _ := excelize.CoordinatesToCellName(col+1, row+1)
	return n
}

// readLocal reads a date-time as LibreOffice writes it in CSV, in loc.
func readLocal(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date-time", s)
}

// TestWorkbookSavedByLibreOffice: a workbook a reviewer's spreadsheet
// program saved again (its own shared strings, styles, date and number
// cells) reads back as salvage wrote it: the pre-filled decisions, no
// correction.
func TestWorkbookSavedByLibreOffice(t *testing.T) {
	dir := scenarioDemo(t)
	caseDir := filepath.Join(dir, "case")
	saved := peer.Resave(t, filepath.Join(dir, "review.xlsx"))
	out, _ := must(t, exitOK, "--case", caseDir, "review", "import", saved)
	for _, want := range []string{"247 bookings read, 217 changed in the case", "decisions    approve 217 · undecided 30", "corrected    0 bookings"} {
		if !strings.Contains(out, want) {
			t.Errorf("import of LibreOffice's copy does not say %q:\n%s", want, out)
		}
	}
}

// TestReviewImportRoundTrip edits the scenario's workbook as a reviewer
// would (approve, reject, fix a date, fix an email), imports it, and
// checks that the case holds exactly those changes; a second import of the
// same file changes nothing.
func TestReviewImportRoundTrip(t *testing.T) {
	dir := scenarioDemo(t)
	caseDir, book := filepath.Join(dir, "case"), filepath.Join(dir, "review.xlsx")
	bookings, refs := exportedBookings(t, caseDir)
	loc, _ := time.LoadLocation("Europe/Lisbon")

	// Pick: two bookings that need review and two that do not.
	var review, clean []string
	for _, ref := range refs {
		b := bookings[ref]
		if b.NeedsReview && b.Start != nil && b.Customer.Email != "" {
			review = append(review, ref)
		} else if !b.NeedsReview {
			clean = append(clean, ref)
		}
	}
	if len(review) < 2 || len(clean) < 2 {
		t.Fatalf("scenario has %d bookings to review with dates and email, %d clean", len(review), len(clean))
	}
	approveRef, fixRef, rejectRef, emailRef := review[0], review[1], clean[0], clean[1]
	newStart := bookings[fixRef].Start.In(loc).Add(24 * time.Hour)

	f, err := excelize.OpenFile(book)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows(xlsx.SheetBookings)
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]string{}
	for i, h := range rows[0] {
		col[h], _ = excelize.ColumnNumberToName(i + 1)
	}
	rowOf := map[string]int{}
	for i, r := range rows {
		rowOf[r[0]] = i + 1
	}
	set := func(ref, header string, v any) {
		if err := f.SetCellValue(xlsx.SheetBookings, fmt.Sprintf("%s%d", col[header], rowOf[ref]), v); err != nil {
			t.Fatal(err)
		}
	}
	set(approveRef, xlsx.HeaderDecision, "approve")
	set(fixRef, xlsx.HeaderDecision, "fix")
	set(fixRef, xlsx.HeaderStart, time.Date(newStart.Year(), newStart.Month(), newStart.Day(), newStart.Hour(), newStart.Minute(), 0, 0, time.UTC))
	set(fixRef, xlsx.HeaderNotes, "customer moved the pick-up by a day on the phone")
	set(rejectRef, xlsx.HeaderDecision, "reject")
	set(emailRef, xlsx.HeaderEmail, "new.address@example.com")
	set(emailRef, xlsx.HeaderDecision, "fix")
	edited := filepath.Join(dir, "reviewed.xlsx")
	if err := f.SaveAs(edited); err != nil {
		t.Fatal(err)
	}
	f.Close()

	out, _ := must(t, exitOK, "--case", caseDir, "review", "import", edited)
	if !strings.Contains(out, fmt.Sprintf("%d bookings read, %d changed in the case", len(refs), len(clean)+2)) {
		t.Errorf("first import printed:\n%s", out)
	}

	s, err := evidence.Open(context.Background(), caseDir, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Reviews(context.Background())
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]evidence.Review{}
	for _, ref := range clean {
		want[ref] = evidence.Review{Ref: ref, Decision: evidence.Approve}
	}
	want[approveRef] = evidence.Review{Ref: approveRef, Decision: evidence.Approve}
	want[fixRef] = evidence.Review{Ref: fixRef, Decision: evidence.Fix, Notes: "customer moved the pick-up by a day on the phone",
		Corrections: map[string]string{"start": newStart.UTC().Truncate(time.Minute).Format(time.RFC3339)}}
	want[rejectRef] = evidence.Review{Ref: rejectRef, Decision: evidence.Reject}
	want[emailRef] = evidence.Review{Ref: emailRef, Decision: evidence.Fix, Corrections: map[string]string{"customer.email": "new.address@example.com"}}
	var decidedAt time.Time
	for ref, r := range got {
		if r.DecidedAt.IsZero() || len(r.Workbook) != 64 {
			t.Errorf("%s: decided at %v from workbook %q", ref, r.DecidedAt, r.Workbook)
		}
		decidedAt = r.DecidedAt
		r.DecidedAt, r.Workbook = time.Time{}, ""
		got[ref] = r
	}
	if !reflect.DeepEqual(got, want) {
		for ref := range want {
			if !reflect.DeepEqual(got[ref], want[ref]) {
				t.Errorf("%s: case holds %+v, want %+v", ref, got[ref], want[ref])
			}
		}
		for ref := range got {
			if _, ok := want[ref]; !ok {
				t.Errorf("%s: case holds %+v, want no review", ref, got[ref])
			}
		}
	}

	// status tells how far the review went.
	out, _ = must(t, exitOK, "--case", caseDir, "status")
	if want := fmt.Sprintf("review       approve %d · reject 1 · fix 2 · undecided %d", len(clean)-1, len(refs)-len(clean)-2); !strings.Contains(out, want) {
		t.Errorf("status does not say %q:\n%s", want, out)
	}

	// The same file again: nothing changes, not even the times.
	out, _ = must(t, exitOK, "--case", caseDir, "review", "import", edited)
	if !strings.Contains(out, "0 changed in the case") {
		t.Errorf("second import printed:\n%s", out)
	}
	// The edited workbook saved again by LibreOffice means the same.
	out, _ = must(t, exitOK, "--case", caseDir, "review", "import", peer.Resave(t, edited))
	if !strings.Contains(out, "0 changed in the case") {
		t.Errorf("LibreOffice's copy of the edited workbook changed the review:\n%s", out)
	}
	s, _ = evidence.Open(context.Background(), caseDir, evidence.Options{})
	again, _ := s.Reviews(context.Background())
	s.Close()
	if r := again[fixRef]; !r.DecidedAt.Equal(decidedAt) {
		t.Errorf("a second import changed the decision time of %s", fixRef)
	}

	// The decisions flow into the restore SQL: the approved and fixed
	// bookings with their corrections, not the rejected one, not the
	// undecided ones.
	sqlFile := filepath.Join(dir, "reviewed.sql")
	must(t, exitOK, "--case", caseDir, "export", "sql", "--dialect", "sqlite", "--out", sqlFile)
	sqlText, err := os.ReadFile(sqlFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{approveRef, fixRef, emailRef, clean[2]} {
		if !strings.Contains(string(sqlText), "'"+ref+"'") {
			t.Errorf("restore SQL lacks approved or fixed booking %s", ref)
		}
	}
	if !strings.Contains(string(sqlText), "'new.address@example.com'") {
		t.Error("restore SQL lacks the corrected email")
	}
	if strings.Contains(string(sqlText), "'"+rejectRef+"'") {
		t.Errorf("restore SQL inserts the rejected booking %s", rejectRef)
	}
	if undecided := review[len(review)-1]; undecided != approveRef && undecided != fixRef && strings.Contains(string(sqlText), "'"+undecided+"'") {
		t.Errorf("restore SQL inserts the undecided booking %s", undecided)
	}

	// A new export shows the review: the fixed start, the decisions.
	must(t, exitOK, "--case", caseDir, "export", "xlsx", "--out", filepath.Join(dir, "again.xlsx"))
	f2, err := excelize.OpenFile(filepath.Join(dir, "again.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	rows, _ = f2.GetRows(xlsx.SheetBookings)
	for _, r := range rows {
		if r[0] == rejectRef && r[1] != "reject" {
			t.Errorf("the new workbook shows %s as %q, want reject", rejectRef, r[1])
		}
	}
	out, _ = must(t, exitOK, "--case", caseDir, "review", "import", filepath.Join(dir, "again.xlsx"))
	if !strings.Contains(out, "0 changed in the case") {
		t.Errorf("importing the new export changed the review:\n%s", out)
	}

	// A workbook of another case is refused, naming both.
	other := scenarioDemo(t)
	_, stderr := must(t, exitError, "--case", filepath.Join(other, "case"), "review", "import", edited)
	if !strings.Contains(stderr, "the workbook was written from another case") {
		t.Errorf("another case's workbook: %s", stderr)
	}
}

// TestFormulaInEmailStaysText: an email whose body holds a formula is shown
// as that text, in the workbook and in LibreOffice, and never runs.
func TestFormulaInEmailStaysText(t *testing.T) {
	dir := t.TempDir()
	caseDir := filepath.Join(dir, "case")
	const formula = `=HYPERLINK("http://x","y")`
	eml := strings.ReplaceAll(`From: Ana Lopes <ana.lopes@example.com>
To: bookings@carhire.example
Subject: Booking confirmation ACH-F0RM1
Date: Mon, 14 Sep 2026 10:00:00 +0100
Message-ID: <formula-1@carhire.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Booking reference: ACH-F0RM1
Name: Ana Lopes
Vehicle: Renault Clio (AA-00-AA)
Pick-up: 2026-10-01 10:00
Return: 2026-10-03 10:00
Total: €120.00

Special requests: `+formula+`
`, "\n", "\r\n")
	if err := os.WriteFile(filepath.Join(dir, "formula.eml"), []byte(eml), 0o600); err != nil {
		t.Fatal(err)
	}
	must(t, exitOK, "--case", caseDir, "init", "--timezone", "Europe/Lisbon", "--currency", "EUR")
	must(t, exitOK, "--case", caseDir, "import", "mail", filepath.Join(dir, "formula.eml"))
	must(t, exitOK, "--case", caseDir, "reconcile", "--since", "all")
	book := filepath.Join(dir, "review.xlsx")
	must(t, exitOK, "--case", caseDir, "export", "xlsx", "--out", book)

	f, err := excelize.OpenFile(book)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	found := 0
	rows, _ := f.GetRows(xlsx.SheetEvidence)
	for r, row := range rows {
		for c, v := range row {
			if !strings.Contains(v, formula) {
				continue
			}
			found++
			cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
			if fm, _ := f.GetCellFormula(xlsx.SheetEvidence, cell); fm != "" {
				t.Errorf("Evidence!%s is the formula %q", cell, fm)
			}
		}
	}
	if found == 0 {
		t.Fatalf("the email's text is not on the Evidence sheet: %q", rows)
	}
	lo := peer.SheetsCSV(t, book)
	shown := false
	for _, row := range lo[xlsx.SheetEvidence] {
		for _, v := range row {
			shown = shown || strings.Contains(v, "Special requests: "+formula)
		}
	}
	if !shown {
		t.Errorf("LibreOffice does not show the text %s: %q", formula, lo[xlsx.SheetEvidence])
	}
}

// TestWorkbookFromBriefs: the workbook's first pass reads each booking's
// brief; the workbook is the same, byte for byte, as one whose first pass
// reads the bookings' JSON (a case reconciled before briefs).
func TestWorkbookFromBriefs(t *testing.T) {
	dir := scenarioDemo(t)
	ctx := context.Background()
	s, err := evidence.Open(ctx, filepath.Join(dir, "case"), evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	briefs := 0
	for b, err := range s.BookingBriefs(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		var full struct{ Provenance any }
		if err := json.Unmarshal(b.JSON, &full); err != nil || full.Provenance != nil {
			t.Fatalf("%s: %s is not a brief (%v)", b.Ref, b.JSON, err)
		}
		briefs++
	}
	write := func(c xlsx.Case) []byte {
		t.Helper()
		c.ID = "case-briefs"
		var buf bytes.Buffer
		if _, err := xlsx.Write(ctx, &buf, c, xlsx.Options{}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	withBriefs := xlsx.FromStore(ctx, s)
	withoutBriefs := xlsx.FromStore(ctx, s)
	withoutBriefs.Briefs = nil
	a, b := write(withBriefs), write(withoutBriefs)
	if !bytes.Equal(a, b) {
		t.Errorf("the workbook from %d briefs (%d bytes) differs from the one from the bookings' JSON (%d bytes)", briefs, len(a), len(b))
	}
	if briefs == 0 {
		t.Error("the demo case has no bookings")
	}
}
