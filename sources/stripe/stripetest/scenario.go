package stripetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
)

var pageFileRE = regexp.MustCompile(`^([a-z_]+)-(\d+)\.json$`)

// LoadScenario reads a scenario's stripe/ folder into Objects: files
// <type>-NNN.json, each a list response {"object":"list","data":[…],…},
// for the types customers, payment_intents, charges, refunds,
// checkout_sessions, events and invoices (each optional). Pages are read in
// page order and each object keeps its raw bytes exactly as in the file.
// Other files are ignored. It fails the test on a file of an unknown type,
// a file that is not a list of its path, or a folder with no page at all.
func LoadScenario(t testing.TB, dir string) Objects {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("stripetest: read scenario: %v", err)
	}
	type page struct {
		name, file string
		n          int
	}
	var pages []page
	for _, e := range entries {
		m := pageFileRE.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		pages = append(pages, page{e.Name(), m[1], n})
	}
	if len(pages) == 0 {
		t.Fatalf("stripetest: no <type>-NNN.json list pages in %s", dir)
	}
	sort.Slice(pages, func(i, j int) bool {
		if pages[i].file != pages[j].file {
			return pages[i].file < pages[j].file
		}
		return pages[i].n < pages[j].n
	})

	objs := Objects{}
	for _, p := range pages {
		var ls *listSpec
		for i := range listSpecs {
			if listSpecs[i].file == p.file {
				ls = &listSpecs[i]
			}
		}
		if ls == nil {
			t.Fatalf("stripetest: %s: unknown object type %q", filepath.Join(dir, p.name), p.file)
		}
		b, err := os.ReadFile(filepath.Join(dir, p.name))
		if err != nil {
			t.Fatalf("stripetest: %v", err)
		}
		var resp struct {
			Object string            `json:"object"`
			Data   []json.RawMessage `json:"data"`
			URL    string            `json:"url"`
		}
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatalf("stripetest: %s: %v", p.name, err)
		}
		if resp.Object != "list" || (resp.URL != "" && resp.URL != ls.path) {
			t.Fatalf("stripetest: %s: not a list of %s (object %q, url %q)", p.name, ls.path, resp.Object, resp.URL)
		}
		objs[ls.path] = append(objs[ls.path], resp.Data...)
	}
	return objs
}
