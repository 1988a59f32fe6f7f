package timeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// writeAll writes tl in every format.
func writeAll(t testing.TB, tl *Timeline) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, write := range map[string]func(*bytes.Buffer) error{
		"text":  func(b *bytes.Buffer) error { return tl.WriteText(b, TextOptions{Width: 160}) },
		"jsonl": func(b *bytes.Buffer) error { return tl.WriteJSONL(b) },
		"csv":   func(b *bytes.Buffer) error { return tl.WriteCSV(b) },
		"md":    func(b *bytes.Buffer) error { return tl.WriteMarkdown(b) },
		"html":  func(b *bytes.Buffer) error { return tl.WriteHTML(b) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
		out[name] = b.Bytes()
	}
	return out
}

// scenarioTimeline is the timeline of the committed scenario's case, with
// the evidence details the HTML page shows.
func scenarioTimeline(t testing.TB) *Timeline {
	t.Helper()
	tl, err := FromStore(context.Background(), scenarioCase(t), Options{Details: true})
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// TestGolden compares the postmortem draft and the jsonl of the committed
// scenario with testdata/scenario.md and scenario.jsonl (go test -update
// rewrites them), and checks that a second case built from the same
// scenario writes the same bytes in every format.
func TestGolden(t *testing.T) {
	first := writeAll(t, scenarioTimeline(t))
	for _, name := range []string{"md", "jsonl"} {
		path := filepath.Join("testdata", "scenario."+name)
		if *update {
			if err := os.WriteFile(path, first[name], 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d bytes)", path, len(first[name]))
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./timeline -run TestGolden -update to write it)", err)
		}
		if !bytes.Equal(first[name], want) {
			t.Errorf("%s differs from %s: %s (go test -update rewrites it after a deliberate change)", name, path, firstDiff(first[name], want))
		}
	}
	second := writeAll(t, scenarioTimeline(t))
	for name, b := range first {
		if !bytes.Equal(b, second[name]) {
			t.Errorf("%s: two builds of the same case differ: %s", name, firstDiff(b, second[name]))
		}
	}
}

// firstDiff describes the first line where a and b differ.
func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + itoa(i+1) + ":\n  got:  " + clip(x, 300) + "\n  want: " + clip(y, 300)
		}
	}
	return "same lines"
}

func itoa(n int) string { return count(n) }

// truthIncident is fixtures/scenario/truth/incident.json.
type truthIncident struct {
	IncidentAt time.Time `json:"incident_at"`
	DetectedAt time.Time `json:"detected_at"`
	LastBackup time.Time `json:"last_backup"`
	Incident   struct {
		Credential string `json:"credential"`
		Transcript string `json:"transcript"`
	} `json:"incident"`
}

func readTruth(t testing.TB) truthIncident {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(scenarioDir, "truth", "incident.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in truthIncident
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	return in
}

// TestPostmortemIncident checks the incident section of the postmortem
// draft against the scenario's ground truth: the deletion time, the
// credential by its fingerprint only, and the file it was found in.
func TestPostmortemIncident(t *testing.T) {
	tl := scenarioTimeline(t)
	var b bytes.Buffer
	if err := tl.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	truth := readTruth(t)
	section := md[strings.Index(md, "## The incident, minute by minute"):]
	section = section[:strings.Index(section, "\n## ")]

	when := regexp.MustCompile(`(?m)^- \*\*When:\*\* (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (\S+)`).FindStringSubmatch(section)
	if when == nil {
		t.Fatalf("no **When:** line in the incident section:\n%s", section)
	}
	at, err := time.ParseInLocation("2006-01-02 15:04:05", when[1], tl.Location)
	if err != nil {
		t.Fatal(err)
	}
	if !at.Equal(truth.IncidentAt) {
		t.Errorf("the draft says the deletion was at %s (%s), the ground truth %s", at.UTC().Format(time.RFC3339), when[0], truth.IncidentAt.Format(time.RFC3339))
	}
	if want := truth.IncidentAt.UTC().Format("15:04:05") + " UTC"; !strings.Contains(when[0]+section, want) {
		t.Errorf("the incident section does not give the UTC time %q", want)
	}

	cred := regexp.MustCompile(`(?m)^- \*\*Credential:\*\* ` + "`([^`]+)`" + `.*found in ` + "`([^`]+)`").FindStringSubmatch(section)
	if cred == nil {
		t.Fatalf("no **Credential:** line naming a credential and a file:\n%s", section)
	}
	fingerprints := map[string]string{}
	for _, s := range plantedSecrets(t) {
		fingerprints[evidence.Fingerprint(s)] = s
	}
	if _, ok := fingerprints[cred[1]]; !ok || !strings.Contains(cred[1], "…") {
		t.Errorf("the credential %q is not the fingerprint of a planted secret", cred[1])
	}
	file := regexp.MustCompile(`found in (\S+)`).FindStringSubmatch(truth.Incident.Credential)
	if file == nil {
		t.Fatalf("ground truth names no file: %q", truth.Incident.Credential)
	}
	if cred[2] != file[1] {
		t.Errorf("the draft says the credential was found in %q, the ground truth %q", cred[2], file[1])
	}

	// The detection and the backup, against the ground truth too.
	if d, ok := tl.Marker(Detection); !ok || !d.Time.Equal(truth.DetectedAt) {
		t.Errorf("detection marker %v (found %v), ground truth %s", d.Time, ok, truth.DetectedAt)
	}
	if lb, ok := tl.Marker(LastBackup); !ok || !lb.Time.Equal(truth.LastBackup) {
		t.Errorf("last backup marker %v (found %v), ground truth %s", lb.Time, ok, truth.LastBackup)
	}
	for _, want := range []string{"## Summary", "## Markers", "## Impact", "## The incident, minute by minute",
		"### Safeguards that were absent", "## Recovery", "## Open questions", "approval mode `bypassPermissions`"} {
		if !strings.Contains(md, want) {
			t.Errorf("the draft has no %q", want)
		}
	}
}

// recordID matches the evidence ids of the scenario's sources.
var recordID = regexp.MustCompile(`\b(?:stripe|ics|gcal|mail|transcript):\S+`)

// TestNoSecretInAnyOutput writes every format of the scenario's timeline
// and looks for each secret the scenario plants: none may appear, in any
// form, nor anything the secret rules would find.
func TestNoSecretInAnyOutput(t *testing.T) {
	outs := writeAll(t, scenarioTimeline(t))
	secrets := plantedSecrets(t)
	for name, b := range outs {
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds the planted secret %s", name, evidence.Fingerprint(s))
			}
			// JSON escapes: the page's data escapes & < > and quotes.
			if esc, _ := json.Marshal(s); bytes.Contains(b, esc[1:len(esc)-1]) {
				t.Errorf("%s holds the planted secret %s, JSON-escaped", name, evidence.Fingerprint(s))
			}
		}
	}
	// Nor anything the secret rules would find, in the texts: record ids
	// (which the rules can mistake for "credential-search: <uuid>") are
	// left out, as they are the evidence's own names.
	check := func(where, text string) {
		text = recordID.ReplaceAllString(text, "ID")
		if found := evidence.FindSecrets(text); len(found) > 0 {
			t.Errorf("%s: the secret rules find %s (rule %s) in %q", where, evidence.Fingerprint(found[0].Value), found[0].Rule, clip(text, 200))
		}
	}
	for i, line := range strings.Split(string(outs["jsonl"]), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"subject", "booking", "summary", "basis"} {
			check("jsonl line "+itoa(i+1)+" "+c, m[c].(string))
		}
	}
	for i, line := range strings.Split(string(outs["md"]), "\n") {
		check("md line "+itoa(i+1), line)
	}
	tl := scenarioTimeline(t)
	for i := range tl.Events {
		check("evidence detail of "+tl.Events[i].Evidence[0].ID, tl.Detail(&tl.Events[i]))
	}
}

// TestScenarioData checks the data forms of the scenario's timeline: every
// jsonl line is an object with every column, the csv has the header and a
// row per line of jsonl, events are in time order, and the happenings seen
// twice are one event.
func TestScenarioData(t *testing.T) {
	tl := scenarioTimeline(t)
	outs := writeAll(t, tl)
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(outs["jsonl"]))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("jsonl line %d: %v", len(lines)+1, err)
		}
		for _, c := range Columns {
			if _, ok := m[c]; !ok && c != "via" {
				t.Fatalf("jsonl line %d has no %q: %s", len(lines)+1, c, sc.Text())
			}
		}
		lines = append(lines, m)
	}
	rows, err := csv.NewReader(bytes.NewReader(outs["csv"])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(Columns, ",") {
		t.Errorf("csv header %v, want %v", rows[0], Columns)
	}
	if len(rows)-1 != len(lines) || len(lines) != len(tl.Events)+len(tl.Markers) {
		t.Errorf("csv rows %d, jsonl lines %d, events+markers %d", len(rows)-1, len(lines), len(tl.Events)+len(tl.Markers))
	}
	var prev time.Time
	untimed := false
	for i, m := range lines {
		ts := m["time"].(string)
		if ts == "" {
			untimed = true
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("line %d: time %q: %v", i+1, ts, err)
		}
		if untimed || at.Before(prev) {
			t.Fatalf("line %d at %s is out of order (after %s, or after an untimed event)", i+1, ts, prev.Format(time.RFC3339Nano))
		}
		prev = at
	}
	counts := countBySource(tl.Events)
	t.Logf("scenario: %d events (%v), %d markers, %d untimed; jsonl %d bytes, md %d bytes, html %d bytes",
		len(tl.Events), counts, len(tl.Markers), tl.Untimed, len(outs["jsonl"]), len(outs["md"]), len(outs["html"]))

	// A payment the scenario shows through its payment intent, charge,
	// checkout session and their Stripe events is one event.
	merged := 0
	for _, e := range tl.Events {
		if e.Action == PaymentSucceeded && len(e.Evidence) >= 3 {
			merged++
			kinds := map[string]bool{}
			for _, w := range e.Evidence {
				kinds[w.Kind] = true
			}
			if !kinds["payment_intent"] || !kinds["charge"] {
				t.Errorf("merged payment %v lacks its intent or charge", e.Evidence)
			}
		}
	}
	if merged == 0 {
		t.Error("no payment event joins its Stripe objects")
	}
	// Calendar entries read from the ICS export and the API are one event
	// with both channels.
	both := 0
	for _, e := range tl.Events {
		if e.Source == evidence.Calendar {
			v := strings.Join(e.Vias(), ",")
			if strings.Contains(v, "gcal") && strings.Contains(v, "ics") {
				both++
			}
		}
	}
	if both == 0 {
		t.Error("no calendar event shows both the ICS export and the API")
	}
}

// TestRecordOrderDoesNotMatter builds the scenario's timeline from its
// records in id order and in shuffled orders (each record's versions kept
// together, in order), half of them with Options.GroupedByID, one without
// Options.Newest: every format is the same as FromStore's, which reads
// them in the order they were stored, knowing each record's newest
// version.
func TestRecordOrderDoesNotMatter(t *testing.T) {
	ctx := context.Background()
	s := scenarioCase(t)
	want := writeAll(t, scenarioTimeline(t))
	opts, err := StoreOptions(ctx, s, Options{Details: true})
	if err != nil {
		t.Fatal(err)
	}
	var byID [][]evidence.Record // each id's versions, ids in order
	for r, err := range s.Records(ctx, evidence.Query{AllVersions: true}) {
		if err != nil {
			t.Fatal(err)
		}
		if n := len(byID); n > 0 && byID[n-1][0].ID == r.ID {
			byID[n-1] = append(byID[n-1], r)
		} else {
			byID = append(byID, []evidence.Record{r})
		}
	}
	for seed := range uint64(4) {
		order := slices.Clone(byID)
		if seed > 0 {
			rand.New(rand.NewPCG(seed, seed)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		records := func(yield func(evidence.Record, error) bool) {
			for _, versions := range order {
				for _, r := range versions {
					if !yield(r, nil) {
						return
					}
				}
			}
		}
		o := opts
		// Shuffled by id, each id's versions together: also as grouped,
		// and without knowing which version is each record's newest.
		o.GroupedByID = seed%2 == 1
		if seed == 2 {
			o.Newest = nil
		}
		tl, err := Build(ctx, records, o)
		if err != nil {
			t.Fatal(err)
		}
		for name, got := range writeAll(t, tl) {
			if !bytes.Equal(got, want[name]) {
				i := 0
				for i < len(got) && got[i] == want[name][i] {
					i++
				}
				t.Errorf("order %d: %s differs from FromStore's at byte %d: %q, want %q", seed, name, i, got[max(0, i-80):min(len(got), i+80)], want[name][max(0, i-80):min(len(want[name]), i+80)])
			}
		}
	}
}

// Builder.Rows makes each event as its row is given: its rows are the
// scenario timeline's, in order, and a reader may stop early.
func TestBuilderRowsAsTimeline(t *testing.T) {
	ctx := context.Background()
	s := scenarioCase(t)
	want := slices.Collect(scenarioTimeline(t).Rows())
	build := func() *Builder {
		opts, err := StoreOptions(ctx, s, Options{Details: true})
		if err != nil {
			t.Fatal(err)
		}
		b := NewBuilder(opts)
		for r, err := range s.Records(ctx, evidence.Query{AllVersions: true, InStoreOrder: true}) {
			if err != nil {
				t.Fatal(err)
			}
			b.Add(&r)
		}
		return b
	}
	k := 0
	for r := range build().Rows() {
		if k >= len(want) {
			t.Fatal("more rows than the timeline's")
		}
		w := want[k]
		if r.Type != w.Type || !r.Time.Equal(w.Time) || r.Action != w.Action || r.Summary != w.Summary || r.Subject != w.Subject ||
			r.Booking != w.Booking || !slices.Equal(r.Evidence, w.Evidence) || !slices.Equal(r.Via, w.Via) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", k, r, w)
		}
		k++
	}
	if k != len(want) {
		t.Fatalf("%d rows, want %d", k, len(want))
	}
	n := 0
	for range build().Rows() {
		if n++; n == 10 {
			break
		}
	}
}
