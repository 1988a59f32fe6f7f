package stripetest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// stripeErr asserts err is stripe-go's *stripe.Error with the status, type
// and code given, and returns it.
func stripeErr(t *testing.T, err error, status int, typ stripe.ErrorType, code stripe.ErrorCode) *stripe.Error {
	t.Helper()
	var se *stripe.Error
	if !errors.As(err, &se) {
		t.Fatalf("want a *stripe.Error %d, got %T: %v", status, err, err)
	}
	if se.HTTPStatusCode != status || se.Type != typ || se.Code != code {
		t.Fatalf("got status %d type %q code %q (%s), want %d %q %q", se.HTTPStatusCode, se.Type, se.Code, se.Msg, status, typ, code)
	}
	if se.RequestID == "" {
		t.Errorf("no Request-Id on the error")
	}
	return se
}

func listPIs(t *testing.T, url, key string, retries int64, lp stripe.ListParams) ([]string, error) {
	t.Helper()
	return collect("/v1/payment_intents", iter(newClient(url, key, retries, nil), "/v1/payment_intents", listing{lp: lp}))
}

func TestBadKeyIs401WithMaskedKey(t *testing.T) {
	t.Parallel()
	srv := newScenarioServer(t, Options{Keys: []string{liveKey}})
	_, err := listPIs(t, srv.URL, wrongKey, 2, stripe.ListParams{})
	se := stripeErr(t, err, 401, stripe.ErrorTypeInvalidRequest, "")
	if want := "Invalid API Key provided: sk_test_" + strings.Repeat("*", len(wrongKey)-12) + "wxyz"; se.Msg != want {
		t.Errorf("message %q, want %q", se.Msg, want)
	}
	if strings.Contains(se.Msg, wrongKey[8:len(wrongKey)-4]) {
		t.Errorf("message shows the key")
	}

	// No key at all.
	body, resp := get(t, srv.URL+"/v1/payment_intents", "")
	if resp.StatusCode != 401 || !strings.Contains(string(body), `"message":"You did not provide an API key.`) {
		t.Errorf("no key: %d %s", resp.StatusCode, body)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests: a 401 is not retried", n)
	}
}

func TestMaskKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"rk_live_51SalvageTestRestrictedKey000000000000000000009f2c": "rk_live_" + strings.Repeat("*", 46) + "9f2c",
		"sk_test_4eC39HqLyjWDarjtT1zdp7dc":                           "sk_test_" + strings.Repeat("*", 20) + "p7dc",
		"Wk1Q4v1Lr134G3XQ0psxhwxq":                                   strings.Repeat("*", 20) + "hwxq",
		"undefined":                                                  "*****ined",
		"abc":                                                        "***",
	} {
		if got := maskKey(key); got != want {
			t.Errorf("maskKey(%s) = %s, want %s", key, got, want)
		}
	}
}

func TestDeniedPathIs403NamingThePermission(t *testing.T) {
	t.Parallel()
	srv := newScenarioServer(t, Options{Keys: []string{liveKey, secretKey}, Deny: []string{"/v1/refunds", "/v1/events"}, Account: testAccountID})
	rk := newClient(srv.URL, liveKey, 2, nil)
	_, err := collect("/v1/refunds", iter(rk, "/v1/refunds", listing{}))
	se := stripeErr(t, err, 403, stripe.ErrorTypeInvalidRequest, "")
	want := "The provided key 'rk_live_" + strings.Repeat("*", len(liveKey)-12) + "9f2c' does not have the required permissions for this endpoint on account '" +
		testAccountID + "'. Having the 'rak_refund_read' permission would allow this request to continue."
	if se.Msg != want {
		t.Errorf("message\n%s\nwant\n%s", se.Msg, want)
	}
	_, err = collect("/v1/events", iter(rk, "/v1/events", listing{}))
	if se := stripeErr(t, err, 403, stripe.ErrorTypeInvalidRequest, ""); !strings.Contains(se.Msg, "'rak_event_read'") {
		t.Errorf("events: %s", se.Msg)
	}
	// Other paths, and a secret key everywhere, are served.
	if _, err := collect("/v1/charges", iter(rk, "/v1/charges", listing{})); err != nil {
		t.Errorf("charges with the restricted key: %v", err)
	}
	sk := newClient(srv.URL, secretKey, 0, nil)
	if got, err := collect("/v1/refunds", iter(sk, "/v1/refunds", listing{})); err != nil || len(got) == 0 {
		t.Errorf("refunds with the secret key: %d, %v", len(got), err)
	}
	for _, p := range Paths() {
		if !strings.HasPrefix(Permission(p), "rak_") || !strings.HasSuffix(Permission(p), "_read") {
			t.Errorf("Permission(%s) = %q", p, Permission(p))
		}
	}
}

// A rate limit: stripe-go does not retry it, the iterator stops with the
// error after the pages it had, and starting again after the last object
// seen finishes the list without duplicates.
func TestRateLimitIs429WithRetryAfterAndResumes(t *testing.T) {
	t.Parallel()
	files := scenarioFiles(t)
	srv := newScenarioServer(t, Options{Fault: FaultAt(map[int]Fault{3: RateLimit})})
	want := ids(files["payment_intents"])

	got, err := listPIs(t, srv.URL, liveKey, 2, stripe.ListParams{Limit: stripe.Int64(10)})
	se := stripeErr(t, err, 429, stripe.ErrorTypeInvalidRequest, stripe.ErrorCodeRateLimit)
	if se.LastResponse == nil || se.LastResponse.Header.Get("Retry-After") != "1" {
		t.Errorf("no Retry-After: 1 on the 429")
	}
	if se.DocURL != "https://stripe.com/docs/error-codes/rate-limit" || !strings.HasPrefix(se.Msg, "Request rate limit exceeded.") {
		t.Errorf("error: %s %s", se.DocURL, se.Msg)
	}
	if !slices.Equal(got, want[:20]) {
		t.Fatalf("before the 429: %d objects, want the first 20", len(got))
	}
	if n := len(srv.Requests()); n != 3 {
		t.Fatalf("%d requests: stripe-go retried the 429 (MaxNetworkRetries 2)", n)
	}

	rest, err := listPIs(t, srv.URL, liveKey, 2, stripe.ListParams{Limit: stripe.Int64(10), StartingAfter: stripe.String(got[len(got)-1])})
	if err != nil || !slices.Equal(append(got, rest...), want) {
		t.Fatalf("resumed: %d + %d objects, want %d: %v", len(got), len(rest), len(want), err)
	}
}

// A lock timeout (429 lock_timeout) is the 429 stripe-go retries itself.
func TestLockTimeoutIsRetriedByStripeGo(t *testing.T) {
	t.Parallel()
	srv := newScenarioServer(t, Options{Fault: FaultAt(map[int]Fault{1: LockTimeout})})
	_, err := listPIs(t, srv.URL, liveKey, 0, stripe.ListParams{Single: true})
	stripeErr(t, err, 429, stripe.ErrorTypeInvalidRequest, stripe.ErrorCodeLockTimeout)

	srv = newScenarioServer(t, Options{Fault: FaultAt(map[int]Fault{1: LockTimeout})})
	if _, err := listPIs(t, srv.URL, liveKey, 1, stripe.ListParams{Single: true}); err != nil {
		t.Fatalf("with a retry: %v", err)
	}
	if r := srv.Requests(); len(r) != 2 || r[0].Status != 429 || r[0].Fault != LockTimeout || r[1].Status != 200 {
		t.Fatalf("requests: %+v", r)
	}
}

// A 500 is an api_error; stripe-go retries it for GET.
func TestServerErrorIs500AndRetriedByStripeGo(t *testing.T) {
	t.Parallel()
	srv := newScenarioServer(t, Options{Fault: FaultAt(map[int]Fault{1: ServerError})})
	_, err := listPIs(t, srv.URL, liveKey, 0, stripe.ListParams{Single: true})
	se := stripeErr(t, err, 500, stripe.ErrorTypeAPI, "")
	var apiErr *stripe.APIError
	if !errors.As(err, &apiErr) || se.Msg != "An unknown error occurred" {
		t.Errorf("500 not an *stripe.APIError: %T %s", se.Err, se.Msg)
	}

	srv = newScenarioServer(t, Options{Fault: FaultAt(map[int]Fault{1: ServerError})})
	if _, err := listPIs(t, srv.URL, liveKey, 1, stripe.ListParams{Single: true}); err != nil {
		t.Fatalf("with a retry: %v", err)
	}
	if r := srv.Requests(); len(r) != 2 || r[0].Status != 500 || r[1].Status != 200 {
		t.Fatalf("requests: %+v", r)
	}
}

// A connection closed mid-body is a plain error (not a *stripe.Error), which
// stripe-go retries.
func TestDroppedConnectionIsAnErrorAndRetried(t *testing.T) {
	t.Parallel()
	srv := newScenarioServer(t, Options{Fault: FaultAt(map[int]Fault{2: DropMidBody})})
	got, err := listPIs(t, srv.URL, liveKey, 0, stripe.ListParams{Limit: stripe.Int64(50)})
	var se *stripe.Error
	if err == nil || errors.As(err, &se) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %T %v, want an unexpected EOF", err, err)
	}
	if len(got) != 50 {
		t.Errorf("%d objects before the drop, want 50", len(got))
	}
	r := srv.Requests()
	if len(r) != 2 || r[1].Fault != DropMidBody || r[1].Status != 200 {
		t.Fatalf("requests: %+v", r)
	}

	srv = newScenarioServer(t, Options{Fault: FaultAt(map[int]Fault{2: DropMidBody})})
	got, err = listPIs(t, srv.URL, liveKey, 1, stripe.ListParams{Limit: stripe.Int64(100)})
	if err != nil || len(got) != len(scenarioFiles(t)["payment_intents"]) {
		t.Fatalf("with a retry: %d objects, %v", len(got), err)
	}

	// Closed before any answer, on a new connection: an error too.
	srv = newScenarioServer(t, Options{Fault: FaultAt(map[int]Fault{1: DropBeforeHeaders})})
	if _, err := listPIs(t, srv.URL, liveKey, 0, stripe.ListParams{}); err == nil || errors.As(err, &se) {
		t.Fatalf("dropped before headers: %T %v", err, err)
	}
	if r := srv.Requests(); r[0].Status != 0 || r[0].Fault != DropBeforeHeaders {
		t.Fatalf("requests: %+v", r)
	}
}

// A slow answer lets a client time out; the server still closes promptly.
func TestSlowAnswerTimesOut(t *testing.T) {
	t.Parallel()
	srv := newScenarioServer(t, Options{SlowDelay: time.Minute, Fault: func(n int, r *http.Request) Fault {
		if r.URL.Query().Get("limit") == "2" {
			return Slow
		}
		return None
	}})
	start := time.Now()
	sc := newClient(srv.URL, liveKey, 0, &http.Client{Timeout: 200 * time.Millisecond})
	_, err := collect("/v1/charges", iter(sc, "/v1/charges", listing{lp: stripe.ListParams{Limit: stripe.Int64(2)}}))
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("slow answer: %v after %v", err, time.Since(start))
	}
	srv2 := newScenarioServer(t, Options{SlowDelay: 50 * time.Millisecond, Fault: FaultAt(map[int]Fault{1: Slow})})
	if _, err := listPIs(t, srv2.URL, liveKey, 0, stripe.ListParams{Single: true}); err != nil {
		t.Fatalf("slow but in time: %v", err)
	}
}

// POST is refused with 405 (and recorded): the importer must never send one.
func TestPostIs405(t *testing.T) {
	t.Parallel()
	srv := newScenarioServer(t, Options{})
	sc := newClient(srv.URL, liveKey, 2, nil)
	_, err := sc.Customers.New(&stripe.CustomerParams{Email: stripe.String("x@example.com")})
	se := stripeErr(t, err, 405, stripe.ErrorTypeInvalidRequest, "")
	if !strings.Contains(se.Msg, "(POST: /v1/customers)") {
		t.Errorf("message: %s", se.Msg)
	}
	r := srv.Requests()
	if len(r) != 1 || r[0].Method != http.MethodPost || r[0].Status != 405 {
		t.Fatalf("requests: %+v", r)
	}
	for _, m := range []string{http.MethodDelete, http.MethodPut, http.MethodHead} {
		req, _ := http.NewRequest(m, srv.URL+"/v1/payment_intents", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
			t.Errorf("%s: %d", m, resp.StatusCode)
		}
	}
}

// Request shapes Stripe refuses are refused the same way.
func TestInvalidRequestsAre400(t *testing.T) {
	t.Parallel()
	pis := scenarioFiles(t)["payment_intents"]
	srv := newScenarioServer(t, Options{})
	sc := newClient(srv.URL, liveKey, 2, nil)

	p := &stripe.PaymentIntentListParams{}
	p.Filters.AddFilter("foo", "", "bar")
	_, err := collect("/v1/payment_intents", sc.PaymentIntents.List(p).Iter)
	se := stripeErr(t, err, 400, stripe.ErrorTypeInvalidRequest, stripe.ErrorCodeParameterUnknown)
	if se.Param != "foo" || se.Msg != "Received unknown parameter: foo" || se.DocURL != "https://stripe.com/docs/error-codes/parameter-unknown" {
		t.Errorf("unknown parameter: %+v", se)
	}
	// A filter of another list is unknown here.
	_, err = collect("/v1/customers", iter(sc, "/v1/customers", listing{lp: stripe.ListParams{Filters: filters("payment_intent", pis[0].ID)}}))
	stripeErr(t, err, 400, stripe.ErrorTypeInvalidRequest, stripe.ErrorCodeParameterUnknown)

	_, err = listPIs(t, srv.URL, liveKey, 0, stripe.ListParams{Limit: stripe.Int64(101)})
	se = stripeErr(t, err, 400, stripe.ErrorTypeInvalidRequest, stripe.ErrorCodeParameterInvalidInteger)
	if se.Param != "limit" {
		t.Errorf("limit 101: %+v", se)
	}
	_, err = listPIs(t, srv.URL, liveKey, 0, stripe.ListParams{Limit: stripe.Int64(0)})
	stripeErr(t, err, 400, stripe.ErrorTypeInvalidRequest, stripe.ErrorCodeParameterInvalidInteger)

	_, err = listPIs(t, srv.URL, liveKey, 0, stripe.ListParams{StartingAfter: stripe.String("pi_nope")})
	se = stripeErr(t, err, 400, stripe.ErrorTypeInvalidRequest, stripe.ErrorCodeResourceMissing)
	if se.Param != "starting_after" || se.Msg != "No such payment_intent: 'pi_nope'" {
		t.Errorf("unknown cursor: %+v", se)
	}
	_, err = collect("/v1/checkout/sessions", iter(sc, "/v1/checkout/sessions", listing{lp: stripe.ListParams{EndingBefore: stripe.String("cs_nope")}}))
	if se := stripeErr(t, err, 400, stripe.ErrorTypeInvalidRequest, stripe.ErrorCodeResourceMissing); se.Msg != "No such checkout.session: 'cs_nope'" {
		t.Errorf("unknown cursor: %s", se.Msg)
	}

	lp := stripe.ListParams{}
	lp.AddExpand("customer") // not data.customer
	_, err = listPIs(t, srv.URL, liveKey, 0, lp)
	stripeErr(t, err, 400, stripe.ErrorTypeInvalidRequest, "")

	for query, param := range map[string]string{
		"/v1/payment_intents?starting_after=" + pis[0].ID + "&ending_before=" + pis[9].ID: "ending_before",
		"/v1/payment_intents?created[gt]=yesterday":                                       "created[gt]",
		"/v1/payment_intents?created[after]=1":                                            "created[after]",
		"/v1/payment_intents?limit=ten":                                                   "limit",
		"/v1/events?type=charge.captured&types[]=charge.refunded":                         "type",
		"/v1/events?types=charge.refunded":                                                "types",
		"/v1/events?delivery_success=true":                                                "delivery_success",
		"/v1/refunds?customer=cus_x":                                                      "customer",
	} {
		body, resp := get(t, srv.URL+query, liveKey)
		var e struct {
			Error stripe.Error `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != 400 || e.Error.Param != param || e.Error.Type != stripe.ErrorTypeInvalidRequest {
			t.Errorf("%s: %d %s", query, resp.StatusCode, body)
		}
	}

	// An unknown path is a 404, Stripe's wording.
	body, resp := get(t, srv.URL+"/v1/bookings", liveKey)
	if resp.StatusCode != 404 || !strings.Contains(string(body), "Unrecognized request URL (GET: /v1/bookings).") {
		t.Errorf("unknown path: %d %s", resp.StatusCode, body)
	}
}

func filters(k, v string) stripe.Filters {
	var f stripe.Filters
	f.AddFilter(k, "", v)
	return f
}
