package transcript

import (
	"context"
	"os"
	"testing"
)

// fuzzParse writes data to path, parses it with p and checks what every
// parser owes the importer: each step has the parser's format and either
// its raw bytes or the reason they could not be read, and no two readable
// steps share a session and an id (they would be one record). It returns
// the steps for the target's own checks.
func fuzzParse(t *testing.T, p Parser, path string, data []byte) []Step {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var steps []Step
	seen := map[string]bool{}
	err := p.Parse(context.Background(), path, func(s Step) error {
		if s.Format != p.Format() {
			t.Fatalf("step %q: format %q, want %q", s.ID, s.Format, p.Format())
		}
		if len(s.Raw) == 0 && s.Bad == "" {
			t.Fatalf("step %+v has neither Raw nor Bad", s)
		}
		if s.Bad == "" {
			key := s.Session + "\x00" + s.ID
			if seen[key] {
				t.Fatalf("step id %q twice in session %q", s.ID, s.Session)
			}
			seen[key] = true
		}
		steps = append(steps, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return steps
}
