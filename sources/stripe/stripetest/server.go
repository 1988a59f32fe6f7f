// Package stripetest provides the peers the Stripe importer is tested
// against: a replay server that lists recorded Stripe objects the way
// Stripe's API (version 2023-10-16) lists them, and StartMock, which runs
// Stripe's own stripe-mock.
//
// # The replay server
//
// NewServer serves the list endpoints of Objects on 127.0.0.1 and records
// every request. It answers in this order, each step short-circuiting:
//
//  1. Any method but GET: 405, an invalid_request_error (salvage must only
//     ever send GET; tests assert that from Requests).
//  2. Options.Fault, if it returns a fault for this request.
//  3. Authentication: no key, or a key not in Options.Keys: 401
//     "Invalid API Key provided: sk_test_****…abcd" (masked as Stripe does).
//  4. Routing: a path that is not a list path: 404 "Unrecognized request URL".
//  5. Permissions: a restricted key (rk_…) on a path in Options.Deny: 403
//     "The provided key 'rk_live_****…9f2c' does not have the required
//     permissions for this endpoint on account 'acct_…'. Having the
//     'rak_payment_intent_read' permission would allow this request to
//     continue." (see Permission for each path's).
//  6. Parameters: 400 for an unknown parameter (code parameter_unknown), a
//     limit outside 1..100 or not an integer (parameter_invalid_integer), an
//     unknown starting_after/ending_before id (resource_missing), both
//     cursors, both type and types.
//  7. The page: 200 {"object":"list","data":[…],"has_more":…,"url":"/v1/…"}
//     with each object's bytes exactly as loaded.
//
// Lists are newest first (created descending; objects created in the same
// second keep their load order, which for a scenario is the order of the
// files). A cursor is a position in the whole list of its path, so it works
// even when the object it names is filtered out. Filters: created (an
// integer or created[gt|gte|lt|lte]), invoices' due_date likewise; the
// equality filters each list accepts in API 2023-10-16 (customer,
// payment_intent, charge, email, status, customer_details[email], …),
// matched against the object's field (an id, or an expanded object's id);
// events' type (with * as a wildcard) and types[] (up to 20). expand[] is
// accepted for data.* paths and ignored: objects are served as loaded.
// Events' delivery_success is valid for Stripe but not implemented here: it
// answers 400 with a message that says so. Objects of both modes are served
// as loaded: livemode:false objects are not hidden from live keys.
//
// Every response carries Content-Type: application/json, a Request-Id
// (req_ and 14 digits: the request's number) and Stripe-Version: 2023-10-16.
// Errors are Stripe's shape, {"error":{"code","doc_url","message","param",
// "type"}} without the empty fields, which stripe-go decodes into
// *stripe.Error.
package stripetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// APIVersion is the Stripe API version whose list responses the server
// replays, the version stripe-go v76 pins.
const APIVersion = "2023-10-16"

// DefaultAccount is the account named in 403 errors when Options.Account is
// empty: the committed scenario's account.
const DefaultAccount = "acct_1f2Vxj3XC1wENtSE"

// DefaultSlowDelay is how long a Slow fault holds a response when
// Options.SlowDelay is zero.
const DefaultSlowDelay = 2 * time.Second

// Objects are raw Stripe objects by list path, e.g. "/v1/payment_intents",
// "/v1/checkout/sessions". Each object needs a string "id", unique within
// its path, and an integer "created".
type Objects map[string][]json.RawMessage

// Fault is a failure injected into one request.
type Fault int

const (
	// None serves the request normally.
	None Fault = iota
	// RateLimit answers 429 with Retry-After: 1 and Stripe's rate-limit
	// error (type invalid_request_error, code rate_limit). stripe-go v76
	// does not retry it.
	RateLimit
	// LockTimeout answers 429 with code lock_timeout, the one 429 that
	// stripe-go v76 retries by itself.
	LockTimeout
	// ServerError answers 500 with an api_error. stripe-go v76 retries it
	// for GET (up to MaxNetworkRetries).
	ServerError
	// DropMidBody sends the status line, the headers (with the full
	// Content-Length) and the first half of the body that would have been
	// sent, then closes the connection. The client reads an unexpected EOF.
	DropMidBody
	// DropBeforeHeaders closes the connection without answering. Go's
	// http.Transport itself retries a GET once when this happens on a
	// reused keep-alive connection, so the client may not see it.
	DropBeforeHeaders
	// Slow holds the response for Options.SlowDelay (or until the client
	// gives up), then serves the request normally.
	Slow
)

var faultNames = [...]string{"None", "RateLimit", "LockTimeout", "ServerError", "DropMidBody", "DropBeforeHeaders", "Slow"}

func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// FaultAt returns an Options.Fault that injects faults[n] into request n
// (counted from 1) and nothing into the others.
func FaultAt(faults map[int]Fault) func(n int, r *http.Request) Fault {
	return func(n int, _ *http.Request) Fault { return faults[n] }
}

// Options configure a Server. The zero value accepts any non-empty key and
// injects no fault.
type Options struct {
	// Keys accepted in "Authorization: Bearer <key>" (or as the user of
	// Basic auth, as Stripe also accepts). Any other key: 401. Empty: any
	// non-empty key is accepted.
	Keys []string
	// Deny lists the list paths that restricted keys (rk_…) may not read:
	// 403 naming the path's permission. Secret keys (sk_…) are never denied,
	// as at Stripe.
	Deny []string
	// Fault decides, per request (n counts from 1 over all requests, in
	// order of arrival), whether to inject a fault. It may be called from
	// several goroutines at once.
	Fault func(n int, r *http.Request) Fault
	// Account is the account id named in 403 errors (default
	// DefaultAccount).
	Account string
	// SlowDelay is how long a Slow fault holds a response (default
	// DefaultSlowDelay).
	SlowDelay time.Duration
}

// Request is one request the server received.
type Request struct {
	N      int // 1 for the first request
	Method string
	Path   string
	Query  string // raw, as sent
	Header http.Header
	Status int   // status sent (recorded just before it is); 0 if none
	Fault  Fault // the fault injected, if any
}

// Server is a replay server started by NewServer and closed when the test
// ends.
type Server struct {
	URL string // http://127.0.0.1:PORT, no trailing slash

	opts  Options
	lists map[string]*list // by path
	deny  map[string]bool
	srv   *httptest.Server
	done  chan struct{} // closed when the server starts closing

	mu   sync.Mutex
	reqs []Request
}

// NewServer starts a replay server of objs on 127.0.0.1 and closes it when
// the test ends. Every list path is served, empty when objs has nothing for
// it. It fails the test if an object has no id or created, an id repeats
// within a path, or objs or opts.Deny names a path that is not a list path.
func NewServer(t testing.TB, objs Objects, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, lists: map[string]*list{}, deny: map[string]bool{}, done: make(chan struct{})}
	if s.opts.Account == "" {
		s.opts.Account = DefaultAccount
	}
	if s.opts.SlowDelay <= 0 {
		s.opts.SlowDelay = DefaultSlowDelay
	}
	for path := range objs {
		if spec(path) == nil {
			t.Fatalf("stripetest: %s is not a list path the server knows (%s)", path, strings.Join(Paths(), ", "))
		}
	}
	for _, ls := range listSpecs {
		l, err := newList(ls, objs[ls.path])
		if err != nil {
			t.Fatalf("stripetest: %v", err)
		}
		s.lists[ls.path] = l
	}
	for _, p := range opts.Deny {
		if spec(p) == nil {
			t.Fatalf("stripetest: Deny names %s, which is not a list path (%s)", p, strings.Join(Paths(), ", "))
		}
		s.deny[p] = true
	}

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("stripetest: listen on 127.0.0.1: %v", err)
	}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Start()
	s.URL = s.srv.URL
	t.Cleanup(func() {
		close(s.done)
		s.srv.Close()
	})
	return s
}

// Requests returns a copy of every request received so far, in order of
// arrival. Safe for concurrent use.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	for i, r := range s.reqs {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// record numbers and stores a request as it arrives.
func (s *Server) record(r *http.Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.reqs) + 1
	s.reqs = append(s.reqs, Request{N: n, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone()})
	return n
}

// update changes the record of request n; it runs before the client can
// see the response, so Requests is current once a client call returns.
func (s *Server) update(n int, f func(*Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.reqs[n-1])
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, s.record(r))
}

// serve answers request n.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, n int) {
	h := w.Header()
	h.Set("Request-Id", fmt.Sprintf("req_%014d", n))
	h.Set("Stripe-Version", APIVersion)

	if r.Method != http.MethodGet {
		h.Set("Allow", http.MethodGet)
		s.writeError(w, n, http.StatusMethodNotAllowed, stripeError{
			Message: fmt.Sprintf("Unrecognized request URL (%s: %s). stripetest replays Stripe read-only: only GET is served.", r.Method, r.URL.Path),
			Type:    typeInvalidRequest,
		}, false)
		return
	}

	fault := None
	if s.opts.Fault != nil {
		fault = s.opts.Fault(n, r)
		s.update(n, func(rq *Request) { rq.Fault = fault })
	}
	drop := false
	switch fault {
	case RateLimit:
		h.Set("Retry-After", "1")
		s.writeError(w, n, http.StatusTooManyRequests, errRateLimit, false)
		return
	case LockTimeout:
		s.writeError(w, n, http.StatusTooManyRequests, errLockTimeout, false)
		return
	case ServerError:
		s.writeError(w, n, http.StatusInternalServerError, errAPI, false)
		return
	case DropBeforeHeaders:
		hijackClose(w)
		return
	case DropMidBody:
		drop = true
	case Slow:
		timer := time.NewTimer(s.opts.SlowDelay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}

	key, ok := requestKey(r)
	if !ok {
		s.writeError(w, n, http.StatusUnauthorized, stripeError{Message: msgNoKey, Type: typeInvalidRequest}, drop)
		return
	}
	if len(s.opts.Keys) > 0 && !slices.Contains(s.opts.Keys, key) {
		s.writeError(w, n, http.StatusUnauthorized, stripeError{Message: "Invalid API Key provided: " + maskKey(key), Type: typeInvalidRequest}, drop)
		return
	}

	l := s.lists[r.URL.Path]
	if l == nil {
		s.writeError(w, n, http.StatusNotFound, stripeError{
			Message: fmt.Sprintf("Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.", r.Method, r.URL.Path),
			Type:    typeInvalidRequest,
		}, drop)
		return
	}

	if s.deny[l.spec.path] && strings.HasPrefix(key, "rk_") {
		s.writeError(w, n, http.StatusForbidden, stripeError{
			Message: fmt.Sprintf("The provided key '%s' does not have the required permissions for this endpoint on account '%s'. Having the '%s' permission would allow this request to continue.",
				maskKey(key), s.opts.Account, l.spec.perm),
			Type: typeInvalidRequest,
		}, drop)
		return
	}

	q, serr := parseQuery(l.spec, r.URL.RawQuery)
	if serr != nil {
		s.writeError(w, n, http.StatusBadRequest, *serr, drop)
		return
	}
	page, hasMore, serr := l.page(q)
	if serr != nil {
		s.writeError(w, n, http.StatusBadRequest, *serr, drop)
		return
	}

	var b bytes.Buffer
	b.WriteString(`{"object":"list","data":[`)
	for i, it := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it.raw)
	}
	fmt.Fprintf(&b, `],"has_more":%t,"url":%q}`+"\n", hasMore, l.spec.path)
	s.write(w, n, http.StatusOK, b.Bytes(), drop)
}

func (s *Server) writeError(w http.ResponseWriter, n, status int, e stripeError, drop bool) {
	s.write(w, n, status, e.body(), drop)
}

// write sends the answer to request n, a JSON body; with drop, only its
// first half, then closes the connection.
func (s *Server) write(w http.ResponseWriter, n, status int, body []byte, drop bool) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	s.update(n, func(rq *Request) { rq.Status = status })
	w.WriteHeader(status)
	if !drop {
		_, _ = w.Write(body)
		return
	}
	_, _ = w.Write(body[:len(body)/2])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	hijackClose(w)
}

// hijackClose takes the connection from net/http and closes it.
func hijackClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("stripetest: response writer cannot be hijacked")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(fmt.Sprintf("stripetest: hijack: %v", err))
	}
	_ = buf.Flush()
	_ = conn.Close()
}
