package evidence_test

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/scenariotest"
)

func i64(n int64) *int64 { return &n }

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// gojsonFacts is what the store decoded facts with before decodeFacts.
func gojsonFacts(b []byte) (evidence.Facts, error) {
	var f evidence.Facts
	err := gojson.Unmarshal(b, &f)
	return f, err
}

// checkDecode checks that decodeFacts and decodeFactsIn give for b what
// gojson gives (facts, or an error), and that what they read themselves,
// gojson reads alike.
func checkDecode(t *testing.T, b []byte) evidence.Facts {
	t.Helper()
	want, wantErr := gojsonFacts(b)
	var got evidence.Facts
	err := evidence.DecodeFacts(b, &got)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: decodeFacts error %v, gojson's %v", b, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ndecodeFacts %#v\ngojson      %#v", b, got, want)
	}
	var in evidence.CommonStrings
	for range 2 { // the second time, with the strings interned the first
		var interned evidence.Facts
		err := evidence.DecodeFactsIn(b, &interned, &in)
		if (err != nil) != (wantErr != nil) || err == nil && !reflect.DeepEqual(interned, want) {
			t.Fatalf("%q: decodeFactsIn %#v, %v\ngojson       %#v, %v", b, interned, err, want, wantErr)
		}
	}
	var fast evidence.Facts
	if evidence.DecodesItself(b, &fast) {
		if wantErr != nil {
			t.Fatalf("%q: decoded without gojson, which fails: %v", b, wantErr)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%q:\ndecoded itself %#v\ngojson         %#v", b, fast, want)
		}
	}
	return got
}

func TestDecodeFacts(t *testing.T) {
	full := evidence.Facts{
		Ref: "ACH-7K2Q9", Name: "Conceição Simões", Email: "c.simoes@mail.example.pt", Phone: "+351 938 440 210",
		Item: "Fiat 500 (ZE-40-VA)", Start: at("2026-11-21T15:00:00Z"), End: at("2026-11-24T15:30:00.5Z"),
		AllDay: true, Zone: "Europe/Lisbon", AmountMinor: i64(36450), PaidMinor: i64(0), RefundedMinor: i64(-1200),
		Currency: "EUR", Status: evidence.Refunded,
		Links: []evidence.Link{{Rel: "references", ID: "<a@b.example>"}, {Rel: "stripe_customer", ID: "cus_1"}},
		Attrs: map[string]string{"subject": "Reserva – <ACH-7K2Q9> & \u2028", "from": "a@b.example", "": ""},
	}
	stored, err := evidence.StoredFacts(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		in     string
		want   *evidence.Facts // nil: whatever gojson gives
		err    bool
		itself bool // decodeFacts reads it without gojson
	}{
		{"every field", string(stored), &full, false, true},
		{"empty object", `{}`, &evidence.Facts{}, false, true},
		{"whitespace", " {\t\"ref\" :\n\"a\" , \"links\" : [ { \"rel\" : \"x\" , \"id\" : \"y\" } ] ,\"attrs\":{ \"k\" : \"v\" } }\r\n",
			&evidence.Facts{Ref: "a", Links: []evidence.Link{{Rel: "x", ID: "y"}}, Attrs: map[string]string{"k": "v"}}, false, true},
		{"empty values", `{"ref":"","links":[],"attrs":{},"all_day":false}`,
			&evidence.Facts{Links: []evidence.Link{}, Attrs: map[string]string{}}, false, true},
		{"empty link", `{"links":[{},{"id":"x"},{"id":"y","rel":"z"}]}`,
			&evidence.Facts{Links: []evidence.Link{{}, {ID: "x"}, {Rel: "z", ID: "y"}}}, false, true},
		{"keys in any order", `{"attrs":{"b":"2","a":"1"},"status":"paid","ref":"R","currency":"EUR","amount_minor":5}`,
			&evidence.Facts{Ref: "R", AmountMinor: i64(5), Currency: "EUR", Status: evidence.Paid, Attrs: map[string]string{"a": "1", "b": "2"}}, false, true},
		{"escapes", `{"name":"a\"b\\c\/d\b\f\n\r\t"}`, &evidence.Facts{Name: "a\"b\\c/d\b\f\n\r\t"}, false, true},
		{"html escapes", `{"email":"\u003cx@y\u003e \u0026 \u2028\u2029"}`, &evidence.Facts{Email: "<x@y> & \u2028\u2029"}, false, true},
		{"unicode", `{"name":"Conceição – 東京 😀","attrs":{"ç":"ü"}}`,
			&evidence.Facts{Name: "Conceição – 東京 😀", Attrs: map[string]string{"ç": "ü"}}, false, true},
		{"unicode escapes", `{"name":"\u00e7\u00E7\u6771x\u0000"}`, &evidence.Facts{Name: "çç東x\x00"}, false, true},
		{"surrogate pair", `{"name":"\ud83d\ude00\uD83D\uDE00"}`, &evidence.Facts{Name: "😀😀"}, false, true},
		{"lone surrogates", `{"name":"\ud83dx\ude00\ud83d\ud83d\ude00\ud83d\n\ud83d"}`,
			&evidence.Facts{Name: "\ufffdx\ufffd\ufffd😀\ufffd\n\ufffd"}, false, true},
		{"escape and unicode", `{"name":"Jo\u00e3o \"Bárbara\" — long enough to pass the scratch bytes of the decoder, which are a hundred and twenty-eight"}`,
			&evidence.Facts{Name: "João \"Bárbara\" — long enough to pass the scratch bytes of the decoder, which are a hundred and twenty-eight"}, false, true},
		{"times", `{"start":"2026-03-29T01:30:00.123456789Z","end":"2026-10-25T01:00:00Z"}`,
			&evidence.Facts{Start: at("2026-03-29T01:30:00.123456789Z"), End: at("2026-10-25T01:00:00Z")}, false, true},
		{"start only", `{"start":"2026-03-29T01:30:00Z"}`, &evidence.Facts{Start: at("2026-03-29T01:30:00Z")}, false, true},
		{"end only", `{"end":"2026-03-29T01:30:00.1Z"}`, &evidence.Facts{End: at("2026-03-29T01:30:00.1Z")}, false, true},
		{"times with offsets", `{"start":"2026-03-29T01:30:00.5+01:00","end":"2026-10-25T01:00:00-09:30"}`, nil, false, true},
		{"time with zero offset", `{"start":"2026-03-29T01:30:00+00:00"}`, nil, false, true},
		{"time not RFC 3339", `{"start":"2026-03-29 01:30:00Z"}`, nil, true, false},
		{"time out of range", `{"start":"2026-13-29T01:30:00Z"}`, nil, true, false},
		{"time escaped", `{"start":"2026-03-29T01:30:00\u005a"}`, nil, true, false},
		{"big amounts", `{"amount_minor":9223372036854775807,"paid_minor":-9223372036854775808,"refunded_minor":0}`,
			&evidence.Facts{AmountMinor: i64(1<<63 - 1), PaidMinor: i64(-1 << 63), RefundedMinor: i64(0)}, false, true},
		{"negative amounts", `{"amount_minor":-1,"refunded_minor":-36450}`, &evidence.Facts{AmountMinor: i64(-1), RefundedMinor: i64(-36450)}, false, true},
		{"all day", `{"all_day":true}`, &evidence.Facts{AllDay: true}, false, true},
		{"many attrs", `{"attrs":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9","j":"10","k":"11","l":"12","m":"13","n":"14","o":"15","p":"16","q":"17","a":"18"}}`,
			&evidence.Facts{Attrs: map[string]string{"a": "18", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8", "i": "9", "j": "10", "k": "11", "l": "12", "m": "13", "n": "14", "o": "15", "p": "16", "q": "17"}}, false, true},
		{"attr twice", `{"attrs":{"a":"1","a":"2"}}`, &evidence.Facts{Attrs: map[string]string{"a": "2"}}, false, true},
		{"many links", `{"links":[{"rel":"1","id":"a"},{"rel":"2","id":"b"},{"rel":"3","id":"c"},{"rel":"4","id":"d"},{"rel":"5","id":"e"},{"rel":"6","id":"f"},{"rel":"7","id":"g"},{"rel":"8","id":"h"},{"rel":"9","id":"i"}]}`,
			&evidence.Facts{Links: []evidence.Link{{"1", "a"}, {"2", "b"}, {"3", "c"}, {"4", "d"}, {"5", "e"}, {"6", "f"}, {"7", "g"}, {"8", "h"}, {"9", "i"}}}, false, true},

		// Left to gojson.
		{"amount overflows", `{"amount_minor":9223372036854775808}`, nil, true, false},
		{"amount underflows", `{"amount_minor":-9223372036854775809}`, nil, true, false},
		{"twenty digits", `{"amount_minor":10000000000000000000}`, nil, true, false},
		{"minus zero", `{"amount_minor":-0}`, &evidence.Facts{AmountMinor: i64(0)}, false, false},
		{"leading zero", `{"amount_minor":07}`, nil, true, false},
		{"float", `{"amount_minor":1.0}`, nil, true, false},
		{"exponent", `{"amount_minor":1e3}`, nil, true, false},
		{"quoted amount", `{"amount_minor":"1"}`, nil, true, false},
		{"null", `{"ref":null,"start":null,"amount_minor":null,"links":null,"attrs":null}`, &evidence.Facts{}, false, false},
		{"null attr", `{"attrs":{"a":null}}`, nil, false, false},
		{"unknown key", `{"ref":"a","other":[1,{"x":null}]}`, &evidence.Facts{Ref: "a"}, false, false},
		{"key of another case", `{"Ref":"a","ALL_DAY":true}`, &evidence.Facts{Ref: "a", AllDay: true}, false, false},
		{"escaped key", `{"r\u0065f":"a"}`, &evidence.Facts{Ref: "a"}, false, false},
		{"key twice", `{"ref":"a","ref":"b"}`, &evidence.Facts{Ref: "b"}, false, false},
		{"links twice", `{"links":[{"rel":"a"}],"links":[{"id":"b"}]}`, nil, false, false},
		{"attrs twice", `{"attrs":{"a":"1"},"attrs":{"b":"2"}}`, &evidence.Facts{Attrs: map[string]string{"a": "1", "b": "2"}}, false, false},
		{"link key twice", `{"links":[{"rel":"a","rel":"b"}]}`, nil, false, false},
		{"link of another key", `{"links":[{"rel":"a","kind":"b"}]}`, nil, false, false},
		{"invalid UTF-8", "{\"name\":\"a\xffb\xe2\x82\",\"attrs\":{\"\xc0\":\"x\"}}", nil, false, false},
		{"invalid UTF-8 beside an escape", "{\"name\":\"\xe2\\u0041\xe2\x82\\n\"}", nil, false, false},
		{"bool as string", `{"all_day":"true"}`, nil, true, false},
		{"number as bool", `{"all_day":1}`, nil, true, false},
		{"string as object", `{"ref":{}}`, nil, true, false},
		{"single quote escape", `{"ref":"\'"}`, nil, true, false},
		{"bad escape", `{"ref":"\x"}`, nil, true, false},
		{"bad hex", `{"ref":"\u12g4"}`, nil, true, false},
		{"short hex", `{"ref":"\u12"}`, nil, true, false},
		{"control byte", "{\"ref\":\"a\tb\"}", nil, true, false},
		{"nul byte", "{\"ref\":\"a\x00b\"}", nil, true, false},
		{"nul after", "{\"ref\":\"a\"}\x00", nil, true, false},
		{"trailing comma", `{"ref":"a",}`, nil, true, false},
		{"trailing value", `{"ref":"a"} {}`, nil, true, false},
		{"truncated", `{"ref":"a"`, nil, true, false},
		{"truncated string", `{"ref":"a`, nil, true, false},
		{"not an object", `[]`, nil, true, false},
		{"empty", ``, nil, true, false},
		{"null facts", `null`, &evidence.Facts{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.in)
			checkDecode(t, b)
			var got evidence.Facts
			err := evidence.DecodeFacts(b, &got)
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want one: %v", err, tc.err)
			}
			if tc.want != nil && !reflect.DeepEqual(got, *tc.want) {
				t.Fatalf("got  %#v\nwant %#v", got, *tc.want)
			}
			if itself := evidence.DecodesItself(b, new(evidence.Facts)); itself != tc.itself {
				t.Fatalf("decodes itself: %v, want %v", itself, tc.itself)
			}
			if err == nil {
				want, _ := gojsonFacts(b)
				sameTime(t, got.Start, want.Start)
				sameTime(t, got.End, want.End)
			}
		})
	}
}

// sameTime checks that got is want's instant in the same location, with
// the same zone name and offset.
func sameTime(t *testing.T, got, want *time.Time) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Fatalf("time %v, gojson's %v", got, want)
	}
	if got == nil {
		return
	}
	gn, gotOff := got.Zone()
	wn, wantOff := want.Zone()
	if !got.Equal(*want) || got.Location().String() != want.Location().String() || gn != wn || gotOff != wantOff {
		t.Fatalf("time %v (%s), gojson's %v (%s)", got, got.Location(), want, want.Location())
	}
}

// TestDecodeFactsReuse checks that facts decoded into a value that held
// others are what a zero value gets: the store hands decode zero ones,
// but nothing of the old may show through if it did not.
func TestDecodeFactsReuse(t *testing.T) {
	for _, in := range []string{`{"attrs":{"new":"2"}}`, `{"attrs":{"new":"2"},"ref":null}`} {
		f := evidence.Facts{Ref: "old", Attrs: map[string]string{"old": "1"}, Links: []evidence.Link{{"a", "b"}}, AmountMinor: i64(3)}
		if err := evidence.DecodeFacts([]byte(in), &f); err != nil {
			t.Fatal(err)
		}
		if want := (evidence.Facts{Attrs: map[string]string{"new": "2"}}); !reflect.DeepEqual(f, want) {
			t.Fatalf("%s: %#v", in, f)
		}
	}
}

// storedScenarioFacts are the committed scenario's records and their
// facts in stored form: Stripe objects, calendar events, e-mails.
func storedScenarioFacts(tb testing.TB) ([]evidence.Record, [][]byte) {
	tb.Helper()
	records, _ := scenariotest.Records(tb, filepath.Join("..", "fixtures", "scenario"))
	stored := make([][]byte, len(records))
	for i, r := range records {
		b, err := evidence.StoredFacts(r.Facts)
		if err != nil {
			tb.Fatalf("%s: %v", r.ID, err)
		}
		stored[i] = b
	}
	return records, stored
}

// TestDecodeScenarioFacts decodes every record of the committed scenario
// without gojson, as gojson does.
func TestDecodeScenarioFacts(t *testing.T) {
	records, stored := storedScenarioFacts(t)
	for i, b := range stored {
		var f evidence.Facts
		if !evidence.DecodesItself(b, &f) {
			t.Fatalf("%s: facts left to gojson: %s", records[i].ID, b)
		}
		checkDecode(t, b)
	}
}

// FuzzDecodeFacts checks decodeFacts against gojson: (a) on any bytes,
// the same facts or an error from both; (b) on facts built from the
// strings and numbers, stored as Prepare stores them, the facts back, read
// without gojson.
func FuzzDecodeFacts(f *testing.F) {
	records, stored := storedScenarioFacts(f)
	// Every sixteenth record, of every source: TestDecodeScenarioFacts
	// reads them all, and so many seeds take the fuzzer a minute to start.
	for i := 0; i < len(records); i += 16 {
		r := records[i]
		var start, amount int64
		if r.Facts.Start != nil {
			start = r.Facts.Start.UnixNano()
		}
		if r.Facts.AmountMinor != nil {
			amount = *r.Facts.AmountMinor
		}
		f.Add(stored[i], r.Facts.Name, r.Facts.Attrs["subject"]+r.Facts.Attrs["location"], amount, start)
	}
	f.Add([]byte(`{"name":"\ud83d\ude00\u00e7\"\\","attrs":{"a":"1","a":"2"},"links":[],"start":"2026-03-29T01:30:00.5+01:00"}`),
		"\xff\u2028<&>", "Conceição", int64(-1<<63), int64(1<<63-1))
	f.Fuzz(func(t *testing.T, data []byte, s1, s2 string, n, ns int64) {
		checkDecode(t, data)

		facts := factsOf(s1, s2, n, ns)
		b, err := evidence.StoredFacts(facts)
		if err != nil {
			return // a time gojson does not write (a year past 9999)
		}
		got := checkDecode(t, b)
		if !evidence.DecodesItself(b, new(evidence.Facts)) {
			t.Fatalf("stored facts left to gojson: %s", b)
		}
		if !utf8.ValidString(s1) || !utf8.ValidString(s2) {
			return // gojson wrote U+FFFD for the invalid bytes
		}
		if want := evidence.NormalizeFacts(facts); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\ngot  %#v\nwant %#v", b, got, want)
		}
	})
}

// factsOf builds facts with every field from two strings and two
// numbers; the bits of n say which strings are left empty.
func factsOf(s1, s2 string, n, ns int64) evidence.Facts {
	pick := func(bit uint, s string) string {
		if n>>bit&1 == 0 {
			return s
		}
		return ""
	}
	start := time.Unix(0, ns).In(time.FixedZone("", int(n%(18*3600))))
	end := start.Add(time.Duration(n))
	paid, refunded := -n, ns
	return evidence.Facts{
		Ref: pick(0, s1), Name: pick(1, s2), Email: pick(2, s1+"@"+s2), Phone: pick(3, s2+s1), Item: pick(4, s2),
		Start: &start, End: &end, AllDay: n&(1<<5) != 0, Zone: pick(6, s1),
		AmountMinor: &n, PaidMinor: &paid, RefundedMinor: &refunded,
		Currency: pick(7, s2), Status: evidence.Status(pick(8, s1)),
		Links: []evidence.Link{{Rel: s1, ID: s2}, {Rel: s2, ID: s1}, {Rel: s1, ID: s2}},
		Attrs: map[string]string{s1: s2, s2: s1, pick(9, "subject"): s1 + s2},
	}
}

// BenchmarkDecodeFacts decodes the committed scenario's facts, one a
// loop: Stripe objects' (links and attrs), e-mails' (from, to,
// subject, …) and calendar events' (start and end), by gojson, by
// decodeFacts, and by decodeFactsIn as the store reads a batch.
func BenchmarkDecodeFacts(b *testing.B) {
	_, stored := storedScenarioFacts(b)
	b.Run("gojson", func(b *testing.B) {
		b.ReportAllocs()
		var f evidence.Facts
		for i := 0; b.Loop(); i++ {
			f = evidence.Facts{}
			if err := gojson.Unmarshal(stored[i%len(stored)], &f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeFacts", func(b *testing.B) {
		b.ReportAllocs()
		var f evidence.Facts
		for i := 0; b.Loop(); i++ {
			if err := evidence.DecodeFacts(stored[i%len(stored)], &f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeFactsIn", func(b *testing.B) { // as the store decodes a batch
		b.ReportAllocs()
		var f evidence.Facts
		var in evidence.CommonStrings
		for i := 0; b.Loop(); i++ {
			if i%256 == 0 {
				in = evidence.CommonStrings{}
			}
			if err := evidence.DecodeFactsIn(stored[i%len(stored)], &f, &in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
