package stripe

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salvagehq/salvage/sources/stripe/stripetest"
)

// The scenario's objects are live, so importing them takes a live key. These
// are obviously fake, and built here rather than written out whole.
var (
	liveKey = "rk_" + "live_" + "SalvageTestKeyNotReal000001"
	testKey = "rk_" + "test_" + "SalvageTestKeyNotReal000002"
)

// fastImporter waits milliseconds where the real one waits seconds, and
// leaves retries of dropped connections to salvage rather than stripe-go.
func fastImporter() *Importer {
	im := New()
	im.sleep = func(ctx context.Context, d time.Duration) error { return sleepCtx(ctx, d/1000) }
	zero := int64(0)
	im.retries = &zero
	return im
}

func replay(t testing.TB, opts stripetest.Options) *stripetest.Server {
	t.Helper()
	if opts.Keys == nil {
		opts.Keys = []string{liveKey}
	}
	return stripetest.NewServer(t, stripetest.LoadScenario(t, filepath.Join(scenario, "stripe")), opts)
}

func apiFlags(srv *stripetest.Server, more ...string) []string {
	return append([]string{"--api-base", srv.URL, "--since", "all", "--max-rate", "-1"}, more...)
}

func onlyGETs(t *testing.T, srv *stripetest.Server) {
	t.Helper()
	for _, r := range srv.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("request %d was %s %s", r.N, r.Method, r.Path)
		}
	}
}

func TestAPIImportMatchesFiles(t *testing.T) {
	srv := replay(t, stripetest.Options{})
	api := newHarness(t)
	api.env["STRIPE_API_KEY"] = liveKey
	c, err := api.run(context.Background(), fastImporter(), apiFlags(srv)...)
	if err != nil {
		t.Fatal(err)
	}
	files := newHarness(t)
	if _, err := files.run(context.Background(), New(), "--from", filepath.Join(scenario, "stripe")); err != nil {
		t.Fatal(err)
	}
	live, test := scenarioObjects(t)
	if c.New != int64(len(live)) || c.Ignored != int64(test) || c.Rejected != 0 {
		t.Errorf("counts %+v, want %d new and %d test-mode objects ignored", c, len(live), test)
	}
	fromAPI, fromFiles := api.records(), files.records()
	if len(fromAPI) != len(fromFiles) {
		t.Errorf("%d records from the API, %d from files", len(fromAPI), len(fromFiles))
	}
	for id, f := range fromFiles {
		a, ok := fromAPI[id]
		switch {
		case !ok:
			t.Errorf("%s from files, not from the API", id)
		case a.Via != "api" || f.Via != "file":
			t.Errorf("%s: via %s and %s", id, a.Via, f.Via)
		case a.Digest != f.Digest || a.Kind != f.Kind || !a.OccurredAt.Equal(f.OccurredAt) || !reflect.DeepEqual(a.Facts, f.Facts):
			t.Errorf("%s differs:\n api  %+v\n file %+v", id, a, f)
		}
	}
	onlyGETs(t, srv)
	for _, r := range srv.Requests() {
		q, _ := url.ParseQuery(r.Query)
		if q.Get("limit") != "100" || q.Get("created[lte]") == "" {
			t.Errorf("request %s?%s: want limit=100 and a created window", r.Path, r.Query)
		}
	}
}

func TestAPIRetriesRateLimitsAndErrors(t *testing.T) {
	srv := replay(t, stripetest.Options{Fault: stripetest.FaultAt(map[int]stripetest.Fault{
		2: stripetest.RateLimit, 3: stripetest.RateLimit, 6: stripetest.ServerError, 9: stripetest.DropMidBody, 12: stripetest.RateLimit,
	})})
	h := newHarness(t)
	h.env["STRIPE_API_KEY"] = liveKey
	c, err := h.run(context.Background(), fastImporter(), apiFlags(srv)...)
	if err != nil {
		t.Fatal(err)
	}
	live, _ := scenarioObjects(t)
	if c.New != int64(len(live)) {
		t.Errorf("%d new after retries, want %d", c.New, len(live))
	}
	faults := 0
	for _, r := range srv.Requests() {
		if r.Fault != stripetest.None {
			faults++
		}
	}
	if faults != 5 {
		t.Errorf("%d faults served, want 5", faults)
	}
	if !strings.Contains(h.logs.String(), "trying again") {
		t.Errorf("retries not logged:\n%s", h.logs.String())
	}
}

func TestAPIResumesAfterAnOutage(t *testing.T) {
	// Requests 8 to 60 all lose their connection mid-body: retries give up,
	// the import fails, and what it read is kept with its checkpoints.
	failing := replay(t, stripetest.Options{Fault: func(n int, r *http.Request) stripetest.Fault {
		if n >= 8 && n <= 60 {
			return stripetest.DropMidBody
		}
		return stripetest.None
	}})
	h := newHarness(t)
	h.env["STRIPE_API_KEY"] = liveKey
	first, err := h.run(context.Background(), fastImporter(), apiFlags(failing)...)
	if err == nil {
		t.Fatal("the import survived a long outage; the test did not test a resume")
	}
	if first.New == 0 {
		t.Fatalf("nothing kept from before the outage: %+v", first)
	}
	// The same command again, once the network is back.
	ok := replay(t, stripetest.Options{})
	second, err := h.run(context.Background(), fastImporter(), apiFlags(ok)...)
	if err != nil {
		t.Fatal(err)
	}
	live, _ := scenarioObjects(t)
	recs := h.records()
	if len(recs) != len(live) || first.New+second.New != int64(len(live)) {
		t.Errorf("after resuming: %d records, %d+%d new; want %d", len(recs), first.New, second.New, len(live))
	}
	for id := range live {
		if _, ok := recs["stripe:"+id]; !ok {
			t.Errorf("gap: %s missing after the resume", id)
		}
	}
	resumed := false
	for _, r := range ok.Requests() {
		q, _ := url.ParseQuery(r.Query)
		resumed = resumed || q.Get("starting_after") != "" && r.N <= 7
	}
	if !resumed {
		t.Error("the second run did not continue a list from where the first stopped")
	}
}

func TestAPIIncrementalRun(t *testing.T) {
	srv := replay(t, stripetest.Options{})
	h := newHarness(t)
	h.env["STRIPE_API_KEY"] = liveKey
	if _, err := h.run(context.Background(), fastImporter(), apiFlags(srv)...); err != nil {
		t.Fatal(err)
	}
	firstTo := h.now.Unix()
	n := len(srv.Requests())
	h.now = h.now.Add(time.Hour)
	c, err := h.run(context.Background(), fastImporter(), apiFlags(srv)...)
	if err != nil || c.New != 0 {
		t.Fatalf("second run: %+v %v", c, err)
	}
	later := srv.Requests()[n:]
	if len(later) != len(types) {
		t.Errorf("second run made %d requests, want one per list (%d)", len(later), len(types))
	}
	for _, r := range later {
		q, _ := url.ParseQuery(r.Query)
		gte, _ := strconv.ParseInt(q.Get("created[gte]"), 10, 64)
		if gte != firstTo-int64((5*time.Minute)/time.Second) {
			t.Errorf("second run asked %s for created[gte]=%d, want the first run's end minus the overlap (%d)", r.Path, gte, firstTo-300)
		}
	}
}

func TestAPIDefaultWindow(t *testing.T) {
	srv := replay(t, stripetest.Options{})
	h := newHarness(t)
	h.env["STRIPE_API_KEY"] = liveKey
	if _, err := h.run(context.Background(), fastImporter(), "--api-base", srv.URL, "--max-rate", "-1"); err != nil {
		t.Fatal(err)
	}
	want := h.store.Config().Case.LastBackup.Add(-30 * 24 * time.Hour).Unix()
	for _, r := range srv.Requests() {
		q, _ := url.ParseQuery(r.Query)
		if q.Get("created[gte]") != strconv.FormatInt(want, 10) {
			t.Errorf("%s?%s: want created[gte]=%d (30 days before the last backup)", r.Path, r.Query, want)
		}
	}
	if !strings.Contains(h.logs.String(), "Stripe keeps events for 30 days") {
		t.Error("no note that events older than 30 days are gone")
	}
}

func TestAPIMissingPermissionIsNamed(t *testing.T) {
	srv := replay(t, stripetest.Options{Deny: []string{"/v1/charges", "/v1/invoices"}})
	h := newHarness(t)
	h.env["STRIPE_API_KEY"] = liveKey
	c, err := h.run(context.Background(), fastImporter(), apiFlags(srv)...)
	if err == nil || !strings.Contains(err.Error(), "charges: Charges: Read (rak_charge_read)") {
		t.Fatalf("error %v, want the missing permission named", err)
	}
	if strings.Contains(err.Error(), "invoices") || !strings.Contains(h.logs.String(), "skipped invoices") {
		t.Errorf("invoices are optional: a warning, not an error (err %v)", err)
	}
	if c.New == 0 {
		t.Error("nothing imported from the lists the key may read")
	}
	for _, r := range h.records() {
		if r.Kind == "charge" {
			t.Fatalf("a charge was imported without the permission: %s", r.ID)
		}
	}
}

func TestSecretKeyWorksWithAWarning(t *testing.T) {
	secret := "sk_" + "test_" + "SalvageTestKeyNotReal000003"
	srv := replay(t, stripetest.Options{Keys: []string{secret}})
	h := newHarness(t)
	h.env["STRIPE_API_KEY"] = secret
	c, err := h.run(context.Background(), fastImporter(), apiFlags(srv)...)
	if err != nil {
		t.Fatal(err)
	}
	live, test := scenarioObjects(t)
	// A test key reads test mode: the scenario's live objects are ignored.
	// (Refunds carry no mode: from the API, Stripe only ever lists the
	// key's own, so they are kept; the replay mixes both modes.)
	refunds := 0
	for _, kind := range live {
		if kind == "refund" {
			refunds++
		}
	}
	if c.New != int64(test+refunds) || c.Ignored != int64(len(live)-refunds) {
		t.Errorf("counts %+v: a test key keeps the %d test-mode objects and the %d refunds", c, test, refunds)
	}
	logs := h.logs.String()
	for _, want := range []string{"secret key", "sk_test_…0003", "restricted test key", "Customers, PaymentIntents, Charges, Refunds, Checkout Sessions, Invoices, Events"} {
		if !strings.Contains(logs, want) {
			t.Errorf("warning lacks %q:\n%s", want, logs)
		}
	}
}

func TestKeyChecks(t *testing.T) {
	tests := []struct {
		key, base, want string
	}{
		{"", "", "no Stripe key: set STRIPE_API_KEY"},
		{"pk_" + "live_abc123456789012345", "", "publishable key"},
		{"ghp_abcdefghijklmnopqrstuvwxyz", "", "not a Stripe API key"},
		{testKey, "http://api.example.com", "plain http is only allowed to this machine"},
		{testKey, "ftp://127.0.0.1", "not an http(s) URL"},
	}
	for _, tt := range tests {
		h := newHarness(t)
		h.env["STRIPE_API_KEY"] = tt.key
		flags := []string{}
		if tt.base != "" {
			flags = append(flags, "--api-base", tt.base)
		}
		_, err := h.run(context.Background(), fastImporter(), flags...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("key %q base %q: %v, want %q", tt.key, tt.base, err, tt.want)
		}
		if tt.key != "" && strings.Contains(err.Error(), tt.key) {
			t.Errorf("the error shows the key: %v", err)
		}
	}
}

func TestKeyIsNeverStored(t *testing.T) {
	key := "rk_" + "live_" + "NeverStoreMeAnywhere0042"
	h := newHarness(t)
	h.env["STRIPE_API_KEY"] = key
	// A good run, a refused key, a missing permission and failures: every
	// path that might write the key down.
	good := replay(t, stripetest.Options{Keys: []string{key}, Fault: stripetest.FaultAt(map[int]stripetest.Fault{3: stripetest.RateLimit, 5: stripetest.ServerError})})
	var errs []error
	_, err := h.run(context.Background(), fastImporter(), apiFlags(good)...)
	errs = append(errs, err)
	// Later runs have something new to ask for.
	h.now = h.now.Add(time.Hour)
	_, err = h.run(context.Background(), fastImporter(), apiFlags(replay(t, stripetest.Options{Keys: []string{"rk_" + "live_other"}}))...)
	errs = append(errs, err)
	h.now = h.now.Add(time.Hour)
	_, err = h.run(context.Background(), fastImporter(), apiFlags(replay(t, stripetest.Options{Keys: []string{key}, Deny: []string{"/v1/refunds"}}))...)
	errs = append(errs, err)
	var seen bytes.Buffer
	for _, e := range errs {
		if e != nil {
			seen.WriteString(e.Error())
		}
	}
	if !strings.Contains(seen.String(), "Stripe refused the key rk_live_…0042") {
		t.Errorf("the refused key is not named by its fingerprint: %s", seen.String())
	}
	seen.Write(h.logs.Bytes())
	if bytes.Contains(seen.Bytes(), []byte(key)) {
		t.Errorf("the key appears in errors or logs:\n%s", seen.String())
	}
	h.store.Close()
	filepath.WalkDir(h.store.Dir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(key)) {
			t.Errorf("the key is written in %s", path)
		}
		return nil
	})
}

func TestStripeMockAcceptsEveryRequest(t *testing.T) {
	mock := stripetest.StartMock(t)
	// A recording proxy in front of stripe-mock shows what reached it.
	target, _ := url.Parse(mock)
	var (
		mu      sync.Mutex
		methods = map[string]int{}
		paths   = map[string]bool{}
	)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods[r.Method]++
		paths[r.URL.Path] = true
		mu.Unlock()
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	defer proxy.Close()
	h := newHarness(t)
	h.env["STRIPE_API_KEY"] = stripetest.MockKey
	c, err := h.run(context.Background(), fastImporter(), "--api-base", proxy.URL, "--since", "2026-01-01", "--max-rate", "-1")
	if err != nil {
		t.Fatalf("stripe-mock refused a request salvage makes: %v", err)
	}
	kinds := map[string]bool{}
	for _, r := range h.records() {
		kinds[r.Kind] = true
	}
	if c.Rejected != 0 || len(kinds) < 6 {
		t.Errorf("counts %+v, kinds %v: want every list's fixture decoded", c, kinds)
	}
	if len(methods) != 1 || methods["GET"] == 0 || len(paths) != len(types) {
		t.Errorf("requests that reached stripe-mock: methods %v, paths %v", methods, paths)
	}
}
