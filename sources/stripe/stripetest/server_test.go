package stripetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// scenarioDir is the committed scenario's stripe/ folder.
var scenarioDir = filepath.Join("..", "..", "..", "fixtures", "scenario", "stripe")

const (
	liveKey       = "rk_live_51SalvageTestRestrictedKey000000000000000000009f2c"
	secretKey     = "sk_live_51SalvageTestSecretKey0000000000000000000000abcd"
	wrongKey      = "sk_test_51SalvageWrongKey00000000000000000000000000wxyz"
	testAccountID = "acct_1TestAccount0001"
)

// fileObject is one object of the scenario as the test reads it, apart
// from LoadScenario.
type fileObject struct {
	ID       string `json:"id"`
	Created  int64  `json:"created"`
	Livemode *bool  `json:"livemode"`
	Type     string `json:"type"`
	Customer any    `json:"customer"`
	raw      []byte
}

var (
	fileOnce    sync.Once
	fileObjects map[string][]fileObject // by scenario type: the files' order
)

// scenarioFiles reads the scenario's pages by hand: the expectation the
// server is checked against.
func scenarioFiles(t *testing.T) map[string][]fileObject {
	t.Helper()
	fileOnce.Do(func() {
		fileObjects = map[string][]fileObject{}
		names, _ := filepath.Glob(filepath.Join(scenarioDir, "*-*.json"))
		sort.Strings(names) // NNN is zero-padded: page order
		for _, name := range names {
			b, err := os.ReadFile(name)
			if err != nil {
				panic(err)
			}
			var page struct {
				Data []json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(b, &page); err != nil {
				panic(err)
			}
			typ, _, _ := strings.Cut(filepath.Base(name), "-")
			for _, raw := range page.Data {
				var o fileObject
				if err := json.Unmarshal(raw, &o); err != nil {
					panic(err)
				}
				o.raw = raw
				fileObjects[typ] = append(fileObjects[typ], o)
			}
		}
	})
	if len(fileObjects) == 0 {
		t.Fatalf("no scenario pages in %s", scenarioDir)
	}
	return fileObjects
}

// paths maps each list path to its scenario file type.
var paths = []struct{ path, typ string }{
	{"/v1/customers", "customers"},
	{"/v1/payment_intents", "payment_intents"},
	{"/v1/charges", "charges"},
	{"/v1/refunds", "refunds"},
	{"/v1/checkout/sessions", "checkout_sessions"},
	{"/v1/events", "events"},
	{"/v1/invoices", "invoices"},
}

func ids(objs []fileObject) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, o.ID)
	}
	return out
}

// newClient returns stripe-go v76's own client for a server, every backend
// pointed at it, with retries as given and no logging.
func newClient(url, key string, retries int64, httpc *http.Client) *client.API {
	if httpc == nil {
		httpc = &http.Client{Timeout: 30 * time.Second}
	}
	b := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(url),
		MaxNetworkRetries: stripe.Int64(retries),
		HTTPClient:        httpc,
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		EnableTelemetry:   stripe.Bool(false),
	})
	return client.New(key, &stripe.Backends{API: b, Connect: b, Uploads: b})
}

// listing says what to ask a list for.
type listing struct {
	lp      stripe.ListParams
	created *int64
	rng     *stripe.RangeQueryParams
}

// iter starts stripe-go's iterator of a list path.
func iter(sc *client.API, path string, l listing) *stripe.Iter {
	lp, c, r := l.lp, l.created, l.rng
	switch path {
	case "/v1/customers":
		return sc.Customers.List(&stripe.CustomerListParams{ListParams: lp, Created: c, CreatedRange: r}).Iter
	case "/v1/payment_intents":
		return sc.PaymentIntents.List(&stripe.PaymentIntentListParams{ListParams: lp, Created: c, CreatedRange: r}).Iter
	case "/v1/charges":
		return sc.Charges.List(&stripe.ChargeListParams{ListParams: lp, Created: c, CreatedRange: r}).Iter
	case "/v1/refunds":
		return sc.Refunds.List(&stripe.RefundListParams{ListParams: lp, Created: c, CreatedRange: r}).Iter
	case "/v1/checkout/sessions":
		return sc.CheckoutSessions.List(&stripe.CheckoutSessionListParams{ListParams: lp, Created: c, CreatedRange: r}).Iter
	case "/v1/events":
		return sc.Events.List(&stripe.EventListParams{ListParams: lp, Created: c, CreatedRange: r}).Iter
	case "/v1/invoices":
		return sc.Invoices.List(&stripe.InvoiceListParams{ListParams: lp, Created: c, CreatedRange: r}).Iter
	}
	panic("no list " + path)
}

// wantType is the Go type stripe-go decodes each list's objects into.
var wantType = map[string]reflect.Type{
	"/v1/customers":         reflect.TypeOf(&stripe.Customer{}),
	"/v1/payment_intents":   reflect.TypeOf(&stripe.PaymentIntent{}),
	"/v1/charges":           reflect.TypeOf(&stripe.Charge{}),
	"/v1/refunds":           reflect.TypeOf(&stripe.Refund{}),
	"/v1/checkout/sessions": reflect.TypeOf(&stripe.CheckoutSession{}),
	"/v1/events":            reflect.TypeOf(&stripe.Event{}),
	"/v1/invoices":          reflect.TypeOf(&stripe.Invoice{}),
}

// collect runs an iterator to its end and returns the ids it yielded.
func collect(path string, it *stripe.Iter) ([]string, error) {
	out := []string{}
	for it.Next() {
		cur := it.Current()
		if reflect.TypeOf(cur) != wantType[path] {
			return out, fmt.Errorf("%s: decoded as %T", path, cur)
		}
		out = append(out, reflect.ValueOf(cur).Elem().FieldByName("ID").String())
	}
	return out, it.Err()
}

var (
	scenarioOnce sync.Once
	scenarioObjs Objects
)

// newScenarioServer serves the committed scenario, loaded once for all
// tests (NewServer does not change Objects).
func newScenarioServer(t *testing.T, opts Options) *Server {
	t.Helper()
	scenarioOnce.Do(func() { scenarioObjs = LoadScenario(t, scenarioDir) })
	if scenarioObjs == nil {
		t.Fatal("scenario did not load")
	}
	return NewServer(t, scenarioObjs, opts)
}

func TestLoadScenarioKeepsEveryObjectAndItsBytes(t *testing.T) {
	t.Parallel()
	files := scenarioFiles(t)
	objs := LoadScenario(t, scenarioDir)
	for _, p := range paths {
		want := files[p.typ]
		got := objs[p.path]
		if len(got) != len(want) {
			t.Fatalf("%s: loaded %d objects, the files hold %d", p.path, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i].raw) {
				t.Fatalf("%s: object %d (%s) changed in loading", p.path, i, want[i].ID)
			}
		}
	}
	if len(objs["/v1/payment_intents"]) == 0 || len(objs["/v1/refunds"]) == 0 {
		t.Fatalf("scenario lacks payment intents or refunds: %v", Paths())
	}
}

// Every object of every list, exactly once, newest first, through
// stripe-go's own iterators, for several page sizes, whole and in created
// ranges.
func TestStripeGoPagesEveryList(t *testing.T) {
	t.Parallel()
	files := scenarioFiles(t)
	srv := newScenarioServer(t, Options{Keys: []string{liveKey}})
	sc := newClient(srv.URL, liveKey, 0, nil)

	for _, p := range paths {
		all := files[p.typ]
		for i := 1; i < len(all); i++ {
			if all[i].Created > all[i-1].Created {
				t.Fatalf("%s files are not newest first at %s", p.typ, all[i].ID)
			}
		}
		var lo, hi int64 // a window from the newer quarter to the older quarter
		if len(all) >= 4 {
			hi, lo = all[len(all)/4].Created, all[3*len(all)/4].Created
		}
		ranges := []struct {
			name string
			rng  *stripe.RangeQueryParams
			keep func(c int64) bool
		}{
			{"all", nil, func(int64) bool { return true }},
			{"gte-lt", &stripe.RangeQueryParams{GreaterThanOrEqual: lo, LesserThan: hi}, func(c int64) bool { return c >= lo && c < hi }},
			{"gt-lte", &stripe.RangeQueryParams{GreaterThan: lo, LesserThanOrEqual: hi}, func(c int64) bool { return c > lo && c <= hi }},
		}
		for _, r := range ranges {
			var want []fileObject
			for _, o := range all {
				if r.keep(o.Created) {
					want = append(want, o)
				}
			}
			if r.rng != nil && len(all) >= 4 && (len(want) == 0 || len(want) == len(all)) {
				t.Fatalf("%s: range %s selects %d of %d: pick another", p.path, r.name, len(want), len(all))
			}
			for _, limit := range []int64{1, 7, 100} {
				l := listing{lp: stripe.ListParams{Limit: stripe.Int64(limit)}, rng: r.rng}
				got, err := collect(p.path, iter(sc, p.path, l))
				if err != nil {
					t.Fatalf("%s %s limit %d: %v", p.path, r.name, limit, err)
				}
				if !slices.Equal(got, ids(want)) {
					t.Errorf("%s %s limit %d: got %d objects, want %d (in the files' order)", p.path, r.name, limit, len(got), len(want))
				}
			}
		}
	}

	// Requests: all GET, with stripe-go's version, and limit-1 paging of the
	// payment intents took one request per object plus none extra.
	var pages int
	for _, r := range srv.Requests() {
		if r.Method != http.MethodGet || r.Status != http.StatusOK {
			t.Fatalf("request %d: %s %s → %d", r.N, r.Method, r.Path, r.Status)
		}
		if v := r.Header.Get("Stripe-Version"); v != APIVersion {
			t.Fatalf("request %d sent Stripe-Version %q", r.N, v)
		}
		q, _ := url.ParseQuery(r.Query)
		if r.Path == "/v1/payment_intents" && q.Get("limit") == "1" && !strings.Contains(r.Query, "created") {
			pages++
		}
	}
	if n := len(files["payment_intents"]); pages != n {
		t.Errorf("limit 1 over %d payment intents took %d requests", n, pages)
	}
}

// created=<ts> selects one second, ties included, in load order.
func TestCreatedEqualsKeepsTiesInOrder(t *testing.T) {
	t.Parallel()
	files := scenarioFiles(t)
	srv := newScenarioServer(t, Options{})
	sc := newClient(srv.URL, liveKey, 0, nil)
	var tie int64
	evs := files["events"]
	for i := 1; i < len(evs) && tie == 0; i++ {
		if evs[i].Created == evs[i-1].Created {
			tie = evs[i].Created
		}
	}
	if tie == 0 {
		t.Fatal("the scenario's events have no two in one second")
	}
	var want []string
	for _, o := range evs {
		if o.Created == tie {
			want = append(want, o.ID)
		}
	}
	for _, limit := range []int64{1, 100} {
		got, err := collect("/v1/events", iter(sc, "/v1/events", listing{lp: stripe.ListParams{Limit: stripe.Int64(limit)}, created: &tie}))
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("limit %d: created=%d gave %v, %v; want %v", limit, tie, got, err, want)
		}
	}
}

// ending_before pages towards newer objects: stripe-go's iterator then
// yields them oldest first.
func TestEndingBeforePagesBackwards(t *testing.T) {
	t.Parallel()
	files := scenarioFiles(t)
	srv := newScenarioServer(t, Options{})
	sc := newClient(srv.URL, liveKey, 0, nil)
	all := ids(files["payment_intents"])
	oldest := all[len(all)-1]
	want := slices.Clone(all[:len(all)-1])
	slices.Reverse(want)
	for _, limit := range []int64{1, 7, 100} {
		l := listing{lp: stripe.ListParams{Limit: stripe.Int64(limit), EndingBefore: stripe.String(oldest)}}
		got, err := collect("/v1/payment_intents", iter(sc, "/v1/payment_intents", l))
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("limit %d: got %d, %v; want %d oldest first", limit, len(got), err, len(want))
		}
	}
	// starting_after the newest and ending_before the oldest meet in the middle.
	mid := all[len(all)/2]
	l := listing{lp: stripe.ListParams{Limit: stripe.Int64(3), StartingAfter: stripe.String(mid), Single: true}}
	it := iter(sc, "/v1/payment_intents", l)
	got, err := collect("/v1/payment_intents", it)
	if err != nil || !slices.Equal(got, all[len(all)/2+1:len(all)/2+4]) {
		t.Fatalf("starting_after %s: %v, %v", mid, got, err)
	}
}

// The raw bytes of each object reach the client as loaded, both over plain
// HTTP and in stripe-go's LastResponse.RawJSON; livemode:false objects are
// served too.
func TestRawBytesAndBothModesReplayed(t *testing.T) {
	t.Parallel()
	files := scenarioFiles(t)
	srv := newScenarioServer(t, Options{})
	pis := files["payment_intents"]

	body, resp := get(t, srv.URL+"/v1/payment_intents?limit=100", liveKey)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for h, want := range map[string]string{"Content-Type": "application/json", "Request-Id": "req_00000000000001", "Stripe-Version": APIVersion} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	var page struct {
		Object  string            `json:"object"`
		Data    []json.RawMessage `json:"data"`
		HasMore bool              `json:"has_more"`
		URL     string            `json:"url"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if page.Object != "list" || !page.HasMore || page.URL != "/v1/payment_intents" || len(page.Data) != 100 {
		t.Fatalf("page: object %q has_more %v url %q, %d objects", page.Object, page.HasMore, page.URL, len(page.Data))
	}
	for i, raw := range page.Data {
		if !bytes.Equal(raw, pis[i].raw) {
			t.Fatalf("object %d (%s) not served byte for byte", i, pis[i].ID)
		}
	}

	sc := newClient(srv.URL, liveKey, 0, nil)
	it := sc.PaymentIntents.List(&stripe.PaymentIntentListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(100)}})
	var test, n int
	for it.Next() {
		pi := it.PaymentIntent()
		if !pi.Livemode {
			test++
		}
		if n%100 == 0 { // first of a page: the page's raw JSON holds it as loaded
			var pg struct {
				Data []json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(it.PaymentIntentList().LastResponse.RawJSON, &pg); err != nil || !bytes.Equal(pg.Data[0], pis[n].raw) {
				t.Fatalf("RawJSON of page at %d: %v", n, err)
			}
		}
		n++
	}
	if it.Err() != nil || n != len(pis) {
		t.Fatalf("listed %d of %d: %v", n, len(pis), it.Err())
	}
	var wantTest int
	for _, o := range pis {
		if o.Livemode != nil && !*o.Livemode {
			wantTest++
		}
	}
	if test == 0 || test != wantTest {
		t.Fatalf("%d livemode:false payment intents served, the files hold %d", test, wantTest)
	}

	// The last page says has_more false; an empty list is a list.
	body, _ = get(t, srv.URL+"/v1/payment_intents?limit=100&starting_after="+pis[199].ID, liveKey)
	if err := json.Unmarshal(body, &page); err != nil || page.HasMore || len(page.Data) != len(pis)-200 {
		t.Fatalf("last page: has_more %v, %d objects, %v", page.HasMore, len(page.Data), err)
	}
	body, _ = get(t, srv.URL+"/v1/invoices", liveKey)
	if want := `{"object":"list","data":[],"has_more":false,"url":"/v1/invoices"}` + "\n"; string(body) != want {
		t.Fatalf("empty list: %s", body)
	}
}

// The filters of API 2023-10-16 that the importer might send select what
// Stripe would.
func TestFilters(t *testing.T) {
	t.Parallel()
	files := scenarioFiles(t)
	srv := newScenarioServer(t, Options{})
	count := func(query string) int {
		t.Helper()
		body, resp := get(t, srv.URL+query, liveKey)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", query, resp.StatusCode, body)
		}
		var page struct {
			Data    []json.RawMessage `json:"data"`
			HasMore bool              `json:"has_more"`
		}
		if err := json.Unmarshal(body, &page); err != nil || page.HasMore {
			t.Fatalf("%s: has_more %v %v", query, page.HasMore, err)
		}
		return len(page.Data)
	}
	wantEvents := func(keep func(typ string) bool) int {
		n := 0
		for _, e := range files["events"] {
			if keep(e.Type) {
				n++
			}
		}
		return n
	}

	if got, want := count("/v1/events?limit=100&type=checkout.session.*"), wantEvents(func(s string) bool { return strings.HasPrefix(s, "checkout.session.") }); got != want || want == 0 {
		t.Errorf("type=checkout.session.*: %d, want %d", got, want)
	}
	if got, want := count("/v1/events?limit=100&type=customer.created"), wantEvents(func(s string) bool { return s == "customer.created" }); got != want || want == 0 {
		t.Errorf("type=customer.created: %d, want %d", got, want)
	}
	if got, want := count("/v1/events?limit=100&types[0]=charge.refunded&types[1]=charge.captured"), wantEvents(func(s string) bool { return s == "charge.refunded" || s == "charge.captured" }); got != want || want == 0 {
		t.Errorf("types[]: %d, want %d", got, want)
	}
	if got, want := count("/v1/events?limit=100&types[]=charge.refunded"), wantEvents(func(s string) bool { return s == "charge.refunded" }); got != want {
		t.Errorf("types[]=: %d, want %d", got, want)
	}

	// customer=: the payment intents of one repeat customer.
	byCustomer := map[string]int{}
	for _, o := range files["payment_intents"] {
		if c, ok := o.Customer.(string); ok {
			byCustomer[c]++
		}
	}
	var cus string
	for c, n := range byCustomer {
		if n > byCustomer[cus] || n == byCustomer[cus] && c < cus {
			cus = c
		}
	}
	if got := count("/v1/payment_intents?limit=100&customer=" + cus); got != byCustomer[cus] || got < 2 {
		t.Errorf("customer=%s: %d, want %d", cus, got, byCustomer[cus])
	}
	if got := count("/v1/payment_intents?customer=cus_nobody"); got != 0 {
		t.Errorf("customer=cus_nobody: %d", got)
	}
	// A nested filter: checkout sessions by customer_details[email].
	emails := map[string]int{}
	for _, o := range files["checkout_sessions"] {
		var cs struct {
			CustomerDetails *struct {
				Email string `json:"email"`
			} `json:"customer_details"`
		}
		if err := json.Unmarshal(o.raw, &cs); err == nil && cs.CustomerDetails != nil && cs.CustomerDetails.Email != "" {
			emails[cs.CustomerDetails.Email]++
		}
	}
	var email string
	for e, n := range emails {
		if n > emails[email] || n == emails[email] && e < email {
			email = e
		}
	}
	if got := count("/v1/checkout/sessions?limit=100&customer_details[email]=" + url.QueryEscape(email)); got != emails[email] || got == 0 {
		t.Errorf("customer_details[email]=%s: %d, want %d", email, got, emails[email])
	}
	// expand[] of data.* is accepted and changes nothing.
	if got := count("/v1/payment_intents?limit=100&customer=" + cus + "&expand[0]=data.customer&expand[]=data.latest_charge"); got != byCustomer[cus] {
		t.Errorf("with expand: %d", got)
	}
}

// Several clients at once: every request recorded once, pages intact.
func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	files := scenarioFiles(t)
	srv := newScenarioServer(t, Options{})
	want := ids(files["charges"])
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := newClient(srv.URL, liveKey, 0, nil)
			got, err := collect("/v1/charges", iter(sc, "/v1/charges", listing{lp: stripe.ListParams{Limit: stripe.Int64(int64(10 + g))}}))
			if err == nil && !slices.Equal(got, want) {
				err = fmt.Errorf("client %d: %d charges, want %d", g, len(got), len(want))
			}
			errs <- err
			_ = srv.Requests()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	reqs := srv.Requests()
	for i, r := range reqs {
		if r.N != i+1 || r.Status != 200 {
			t.Fatalf("request %d recorded as %d, status %d", i+1, r.N, r.Status)
		}
	}
}

// get sends a GET with a Bearer key ("" for none) and returns the body.
func get(t *testing.T, url, key string) ([]byte, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, resp
}
