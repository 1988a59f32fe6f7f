package sources

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestReadOnlyGuard(t *testing.T) {
	var reached atomic.Int64
	var lastMethod atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		lastMethod.Store(r.Method)
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/v1/charges", http.StatusTemporaryRedirect)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	token := srv.URL + "/oauth/token"
	client := ReadOnlyClient(srv.Client().Transport, Allowed{Method: "POST", URL: token, Why: "token exchange"})

	tests := []struct {
		method, url string
		allowed     bool
	}{
		{"GET", srv.URL + "/v1/charges?limit=100", true},
		{"HEAD", srv.URL + "/v1/charges", true},
		{"OPTIONS", srv.URL + "/v1/charges", true},
		{"GET", srv.URL + "/moved", true}, // a redirected GET stays a GET
		{"POST", srv.URL + "/v1/refunds", false},
		{"PUT", srv.URL + "/v1/customers/cus_1", false},
		{"PATCH", srv.URL + "/calendar/v3/calendars/x/events/y", false},
		{"DELETE", srv.URL + "/v1/customers/cus_1", false},
		{"TRACE", srv.URL + "/", false},
		{"PURGE", srv.URL + "/", false},
		{"post", srv.URL + "/graphql", false},
		{"POST", token, true},
		{"POST", token + "/../revoke", false},
		{"POST", token + "x", false},
		{"PUT", token, false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+strings.TrimPrefix(tt.url, srv.URL), func(t *testing.T) {
			before := reached.Load()
			body := &closeRecorder{Reader: strings.NewReader(`{"amount":100}`)}
			req, err := http.NewRequest(tt.method, tt.url, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if tt.allowed {
				if err != nil {
					t.Fatalf("allowed request failed: %v", err)
				}
				resp.Body.Close()
				if reached.Load() == before {
					t.Error("allowed request did not reach the server")
				}
				return
			}
			if !errors.Is(err, ErrWriteRefused) {
				t.Fatalf("err = %v, want ErrWriteRefused", err)
			}
			if reached.Load() != before {
				t.Errorf("refused %s reached the server", tt.method)
			}
			if !body.closed {
				t.Error("refused request's body was not closed")
			}
			if !strings.Contains(err.Error(), "salvage never changes a source") {
				t.Errorf("error does not say why: %v", err)
			}
		})
	}
}

func TestReadOnlyErrorHidesQuery(t *testing.T) {
	// The guard's own message leaves the query out. (http.Client wraps it in
	// a url.Error that repeats the whole URL: importers send credentials in
	// headers, never in URLs.)
	req, _ := http.NewRequest("POST", "http://127.0.0.1:1/x?access_token=secret123", nil)
	_, err := (&ReadOnly{}).RoundTrip(req)
	if err == nil || strings.Contains(err.Error(), "secret123") {
		t.Errorf("error %v shows the query", err)
	}
}

func TestReadOnlyClientSetsUserAgent(t *testing.T) {
	var ua string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ua = r.UserAgent() }))
	defer srv.Close()
	resp, err := ReadOnlyClient(nil).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(ua, "salvage") {
		t.Errorf("User-Agent %q", ua)
	}
}
