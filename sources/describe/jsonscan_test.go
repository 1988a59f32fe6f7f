package describe

import (
	"path/filepath"
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/scenariotest"
)

// decodedDescription is what decoding the whole object gives.
func decodedDescription(raw []byte) (string, bool) {
	var obj struct {
		Description string `json:"description"`
	}
	if err := gojson.Unmarshal(raw, &obj); err != nil {
		return "", false
	}
	return obj.Description, true
}

var descriptionSeeds = []string{
	`{"id":"pi_1","object":"payment_intent","amount":13950,"description":"Booking ACH-2DHB4 · Clio","metadata":{"booking_ref":"ACH-2DHB4"},"charges":{"data":[{"id":"ch_1","description":null}]},"livemode":false,"x":-1.5e+3}`,
	"{\n  \"description\": \"Reserva n.º 7 — carrinha\",\n  \"amount\": 0\n}",
	`{"description":null}`,
	`{"description":"a","description":"b"}`,
	`{"description":"a","description":null}`,
	`{"Description":"case"}`,
	`{"description":"esc \" aped"}`,
	`{"description":"\u00e9"}`,
	`{"description":12}`,
	`{"a":[1,2,{"b":[true,false,null]}],"description":"deep"}`,
	`{"a":01,"description":"x"}`,
	`{"a":1.,"description":"x"}`,
	`{"description":"x",}`,
	`{"description":"x"} trailing`,
	`{"description":"x"}   `,
	`[{"description":"x"}]`,
	`{}`,
	``,
	"{\"description\":\"bad \xff utf8\"}",
	"{\"description\":\"tab\there\"}",
	`{"a":"\ud800","description":"x"}`,
}

// TestTopString: where the quick read answers, it answers what decoding
// the whole object does; the plain Stripe form is read quickly.
func TestTopString(t *testing.T) {
	for _, s := range descriptionSeeds {
		checkTopString(t, []byte(s))
	}
	for _, s := range descriptionSeeds[:2] {
		if _, _, ok := topString([]byte(s), "description"); !ok {
			t.Errorf("topString(%q) left it to the decoder", s)
		}
	}
}

func checkTopString(t *testing.T, raw []byte) {
	t.Helper()
	want, decodes := decodedDescription(raw)
	if got := stripeDescription(raw); got != want {
		t.Fatalf("stripeDescription(%q) = %q, decoding gives %q", raw, got, want)
	}
	v, found, ok := topString(raw, "description")
	if !ok {
		return
	}
	if !decodes {
		t.Fatalf("topString(%q) read %q, %v but the decoder refuses it", raw, v, found)
	}
	if v != want || !found && want != "" {
		t.Fatalf("topString(%q) = %q, %v; the decoder gives %q", raw, v, found, want)
	}
}

func FuzzTopString(f *testing.F) {
	for _, s := range descriptionSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkTopString(t, raw) })
}

// TestTopStringReadsTheScenario: every Stripe object of the committed
// scenario is read the quick way, and gives what decoding gives.
func TestTopStringReadsTheScenario(t *testing.T) {
	records, _ := scenariotest.RecordsWithRaw(t, filepath.Join("..", "..", "fixtures", "scenario"))
	n := 0
	for _, r := range records {
		if r.Source != evidence.Stripe {
			continue
		}
		n++
		checkTopString(t, r.Raw)
		if _, _, ok := topString(r.Raw, "description"); !ok {
			t.Errorf("%s: left to the decoder", r.ID)
		}
	}
	if n == 0 {
		t.Fatal("no Stripe records in the scenario")
	}
}
