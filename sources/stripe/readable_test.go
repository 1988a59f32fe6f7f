package stripe

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// firstCharge is the first charge of the committed scenario's export, as
// the importer keeps it.
func firstCharge(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "scenario", "stripe", "charges-001.json"))
	if err != nil {
		tb.Fatal(err)
	}
	start := bytes.Index(raw, []byte("{\n      \"id\": \"ch_"))
	end := bytes.Index(raw[start:], []byte("\n    }"))
	if start < 0 || end < 0 {
		tb.Fatal("no charge in the list")
	}
	return raw[start : start+end+6]
}

func TestReadable(t *testing.T) {
	charge := firstCharge(t)
	r := Readable("charge", "ch_1", charge)
	if r.Title != "charge ch_1" {
		t.Errorf("title %q", r.Title)
	}
	for _, line := range []string{"\nobject: charge\n", "\nbilling_details:\n  address:\n    city: ", "\nmetadata:\n  booking_ref: ACH-", "\npaid: true\n", "\nrefunded: false\n", "\nstatus: succeeded"} {
		if !strings.Contains(r.Text, line) {
			t.Errorf("text lacks %q:\n%s", line, r.Text)
		}
	}
	for _, not := range []string{"null", "{", "\"", "fraud_details", "application_fee"} {
		if strings.Contains(r.Text, not) {
			t.Errorf("text has %q:\n%s", not, r.Text)
		}
	}
	if len(r.Text) > len(charge)/2 {
		t.Errorf("%d characters of text for %d of JSON:\n%s", len(r.Text), len(charge), r.Text)
	}

	for _, tc := range []struct {
		name, raw, title, text string
	}{
		{"description", `{"id":"pi_1","description":"Booking ACH-7K2Q9","amount":24050}`, "payment_intent pi_1: Booking ACH-7K2Q9", "id: pi_1\ndescription: Booking ACH-7K2Q9\namount: 24050"},
		{"a nested description is no title", `{"id":"evt_1","data":{"object":{"description":"x","n":null}},"e":{"x":{}}}`, "payment_intent pi_1", "id: evt_1\ndata:\n  object:\n    description: x"},
		{"lists", `{"refunds":{"data":[{"amount":500,"x":null},{"amount":-1.5e3,"y":{"z":1}},{"w":null}],"has_more":false},"types":["card",[1,[2]]]}`, "payment_intent pi_1",
			"refunds:\n  data:\n    - amount: 500\n    - amount: -1.5e3\n      y:\n        z: 1\n  has_more: false\ntypes:\n  - card\n  - - 1\n    - - 2"},
		{"escapes and text", `{"description":"caf\u00e9 \"x\"","note":"two\nlines"}`, `payment_intent pi_1: café "x"`, "description: café \"x\"\nnote: two\nlines"},
		{"no JSON", "id,amount\nch_1,5", "payment_intent pi_1", "id,amount\nch_1,5"},
		{"trailing bytes", `{"id":"x"} {}`, "payment_intent pi_1", `{"id":"x"} {}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Readable("payment_intent", "pi_1", []byte(tc.raw))
			if r.Title != tc.title || r.Text != tc.text {
				t.Errorf("Readable =\n%q\n%q\nwant\n%q\n%q", r.Title, r.Text, tc.title, tc.text)
			}
		})
	}
}

// node is a JSON value as encoding/json's tokens give it.
type node struct {
	scalar *string // nil for null, an object or a list
	str    bool    // the scalar is a string
	object bool
	keys   []string
	kids   []*node
}

func readNode(dec *json.Decoder) *node {
	tok, _ := dec.Token()
	n := &node{}
	switch v := tok.(type) {
	case json.Delim:
		n.object = v == '{'
		for dec.More() {
			if n.object {
				k, _ := dec.Token()
				n.keys = append(n.keys, k.(string))
			}
			n.kids = append(n.kids, readNode(dec))
		}
		dec.Token() // the closing delimiter
	case string:
		n.scalar, n.str = &v, true
	case json.Number:
		s := string(v)
		n.scalar = &s
	case bool:
		s := strconv.FormatBool(v)
		n.scalar = &s
	}
	return n
}

// empty: null, "", or a container of nothing but empty values.
func (n *node) empty() bool {
	if n.scalar != nil {
		return *n.scalar == ""
	}
	for _, k := range n.kids {
		if !k.empty() {
			return false
		}
	}
	return true
}

// render writes n's lines (see Readable), knowing from the start which
// values are empty; dash is a list item's "- " waiting for its first line.
func (n *node) render(lines *[]string, indent int, dash *string) {
	emit := func(s string) {
		if *dash != "" {
			*lines = append(*lines, *dash+s)
			*dash = ""
			return
		}
		*lines = append(*lines, strings.Repeat(" ", indent)+s)
	}
	for i, k := range n.kids {
		if k.empty() {
			continue
		}
		switch {
		case n.object && k.scalar != nil:
			emit(n.keys[i] + ": " + *k.scalar)
		case n.object:
			emit(n.keys[i] + ":")
			k.render(lines, indent+2, dash)
		case k.scalar != nil:
			emit("- " + *k.scalar)
		default:
			if *dash == "" {
				*dash = strings.Repeat(" ", indent)
			}
			*dash += "- "
			k.render(lines, indent+2, dash)
		}
	}
}

// flattenByDecoder is flatten as encoding/json's tokens give it.
func flattenByDecoder(raw []byte) (text, description string, ok bool) {
	if !json.Valid(raw) {
		return "", "", false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	top := readNode(dec)
	var lines []string
	dash := ""
	switch {
	case top.scalar != nil && *top.scalar != "":
		lines = append(lines, *top.scalar)
	case top.object:
		top.render(&lines, 0, &dash)
		for i, k := range top.keys {
			if k == "description" && top.kids[i].str {
				description = *top.kids[i].scalar
			}
		}
	default:
		top.render(&lines, 0, &dash)
	}
	return strings.Join(lines, "\n"), description, true
}

// FuzzFlatten holds flatten to what encoding/json's tokens give, on any
// input: the same lines, the same description, the same verdict on what
// is JSON; and what it compacts to what json.Compact writes.
func FuzzFlatten(f *testing.F) {
	f.Add(firstCharge(f))
	f.Add([]byte(`{"description":"a","x":[1,{"y":null}],"description":"b"}`))
	f.Add([]byte(`{"a":"\ud800","b":"\xff","c":[[]],"d":{}}`))
	f.Add([]byte(`[1, "x", true, null]`))
	f.Add([]byte(`"top"`))
	f.Add([]byte(`-0.5E+10`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var compact []byte
		text, desc, ok := flatten(raw, &compact)
		wtext, wdesc, wok := flattenByDecoder(raw)
		if ok != wok || text != wtext || desc != wdesc {
			t.Fatalf("flatten(%q) =\n%q, %q, %v\nwant\n%q, %q, %v", raw, text, desc, ok, wtext, wdesc, wok)
		}
		var want bytes.Buffer
		if ok && (json.Compact(&want, raw) != nil || !bytes.Equal(compact, want.Bytes())) {
			t.Fatalf("flatten(%q) compacts to %q, json.Compact to %q", raw, compact, want.Bytes())
		}
	})
}

func BenchmarkReadable(b *testing.B) {
	charge := firstCharge(b)
	b.SetBytes(int64(len(charge)))
	for b.Loop() {
		Readable("charge", "ch_1", charge)
	}
}

// The digest from flatten's compacting is the one go-json's Compact gave
// (records already stored keep their versions), for every object of the
// committed scenario, as the API gives it and as an export indents it.
func TestReadableDigestAsCompact(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "scenario", "stripe", "*.json"))
	n := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		for _, raw := range page.Data {
			var compact bytes.Buffer
			json.Compact(&compact, raw)
			for _, form := range [][]byte{raw, compact.Bytes()} {
				if _, got := readableDigest("charge", "ch_1", form); got != digestCompacted(form) {
					t.Fatalf("%s: digest %s, json.Compact's %s", p, got, digestCompacted(form))
				}
				n++
			}
		}
	}
	if _, got := readableDigest("charge", "ch_1", []byte("not json")); got != digestCompacted([]byte("not json")) {
		t.Errorf("no JSON: digest %s, want %s", got, digestCompacted([]byte("not json")))
	}
	if n < 1000 {
		t.Fatalf("%d objects", n)
	}
}
