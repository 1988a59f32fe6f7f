package sources

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrWriteRefused is returned for any request that could change a source.
var ErrWriteRefused = errors.New("refused: salvage never changes a source")

// Allowed is a request that does not use a safe method but still changes
// nothing in the source, such as an OAuth token exchange. It must be named
// exactly: method, scheme, host and path (no prefix matching).
type Allowed struct {
	Method string
	// URL is scheme://host/path, without query.
	URL string
	// Why says what the request is for, for the reader of the code.
	Why string
}

// ReadOnly is an http.RoundTripper that lets through only requests that
// cannot change the source: GET, HEAD and OPTIONS, plus the exact requests in
// Allow. Everything else fails with ErrWriteRefused before it leaves the
// machine. Every HTTP importer's client is built on it (ReadOnlyClient).
type ReadOnly struct {
	// Base does the requests; nil means http.DefaultTransport.
	Base  http.RoundTripper
	Allow []Allowed
}

// RoundTrip implements http.RoundTripper.
func (t *ReadOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.check(req); err != nil {
		// A RoundTripper must close the body even on error.
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(req)
}

func (t *ReadOnly) check(req *http.Request) error {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	u := req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
	for _, a := range t.Allow {
		if strings.EqualFold(a.Method, method) && a.URL == u {
			return nil
		}
	}
	return fmt.Errorf("%s %s: %w", method, redactURL(req), ErrWriteRefused)
}

// redactURL shows a URL without its query, which may carry tokens.
func redactURL(req *http.Request) string {
	return req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
}

// UserAgent is sent with every request salvage makes.
var UserAgent = "salvage (read-only evidence import)"

// ReadOnlyClient returns the HTTP client importers use: the ReadOnly guard
// over base (nil: a clone of http.DefaultTransport), a timeout per request,
// a User-Agent, and redirects that cannot turn into a write.
func ReadOnlyClient(base http.RoundTripper, allow ...Allowed) *http.Client {
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &http.Client{
		Transport: &ReadOnly{Base: userAgent{base}, Allow: allow},
		Timeout:   2 * time.Minute,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			return nil // the guard checks the redirected request too
		},
	}
}

type userAgent struct{ base http.RoundTripper }

func (u userAgent) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", UserAgent)
	}
	return u.base.RoundTrip(req)
}
