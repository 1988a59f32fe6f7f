package calendar

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeGoogle plays Google Calendar and Google's token endpoint on loopback,
// from the scenario's recorded events.list pages, and records every request.
type fakeGoogle struct {
	t   testing.TB
	srv *httptest.Server
	key *rsa.PrivateKey

	mu       sync.Mutex
	requests []fakeRequest
	pages    map[string][]byte // page token ("" for the first) → body
	changes  map[string][]byte // sync token → body of the changes since
	expired  map[string]bool   // sync tokens answered with 410
	faults   map[int]int       // request number → HTTP status to answer
	subject  string            // the sub the JWT must carry, if any
	token    string            // the access token issued and required
}

type fakeRequest struct {
	N              int
	Method, Path   string
	Query          string
	Auth           string
	Status         int
	FormGrant      string
	FormAssertion  string
	FormRefreshTok string
}

const fakeCalendar = "c_3da9856e295541280f5faa95306e643160e1c34f@group.calendar.google.com"

func newFakeGoogle(t testing.TB) *fakeGoogle {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGoogle{t: t, key: key, pages: map[string][]byte{}, changes: map[string][]byte{}, expired: map[string]bool{},
		faults: map[int]int{}, token: "ya29.fake-access-token-for-tests"}
	paths, _ := filepath.Glob(filepath.Join(gcalScenario, "calendar", "events-*.json"))
	token := ""
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f.pages[token] = b
		var head struct{ NextPageToken string }
		json.Unmarshal(b, &head)
		token = head.NextPageToken
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// base is the API endpoint to give salvage.
func (f *fakeGoogle) base() string { return f.srv.URL + "/calendar/v3/" }

func (f *fakeGoogle) tokenURL() string { return f.srv.URL + "/token" }

func (f *fakeGoogle) Requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

func (f *fakeGoogle) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	req := fakeRequest{N: len(f.requests) + 1, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization")}
	fault := f.faults[req.N]
	f.mu.Unlock()
	status := f.answer(w, r, &req, fault)
	req.Status = status
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
}

func googleError(w http.ResponseWriter, code int, reason, msg string) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":{"errors":[{"domain":"global","reason":%q,"message":%q}],"code":%d,"message":%q}}`, reason, msg, code, msg)
	return code
}

func (f *fakeGoogle) answer(w http.ResponseWriter, r *http.Request, req *fakeRequest, fault int) int {
	if r.URL.Path == "/token" {
		return f.tokenEndpoint(w, r, req)
	}
	if r.Method != http.MethodGet {
		return googleError(w, http.StatusMethodNotAllowed, "methodNotAllowed", "only GET in this fake")
	}
	switch fault {
	case 0:
	case http.StatusForbidden:
		return googleError(w, fault, "rateLimitExceeded", "Rate Limit Exceeded")
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		return googleError(w, fault, "rateLimitExceeded", "Rate Limit Exceeded")
	default:
		return googleError(w, fault, "backendError", "Backend Error")
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		return googleError(w, http.StatusUnauthorized, "authError", "Invalid Credentials")
	}
	q := r.URL.Query()
	switch {
	case r.URL.Path == "/calendar/v3/users/me/calendarList":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"kind":"calendar#calendarList","items":[{"kind":"calendar#calendarListEntry","id":%q,"summary":"Reservas – Atlântico Car Hire","timeZone":"Europe/Lisbon","accessRole":"reader"},{"kind":"calendar#calendarListEntry","id":"staff@atlantico-carhire.example","summary":"Staff","timeZone":"Europe/Lisbon","accessRole":"reader"}]}`, fakeCalendar)
		return http.StatusOK
	case r.URL.Path != "/calendar/v3/calendars/"+fakeCalendar+"/events":
		return googleError(w, http.StatusNotFound, "notFound", "Not Found")
	}
	if q.Get("singleEvents") != "true" || q.Get("showDeleted") != "true" {
		return googleError(w, http.StatusBadRequest, "badRequest", "salvage must ask for singleEvents and showDeleted")
	}
	var body []byte
	var ok bool
	switch sync := q.Get("syncToken"); {
	case sync != "" && (q.Get("timeMin") != "" || q.Get("updatedMin") != ""):
		return googleError(w, http.StatusBadRequest, "invalid", "syncToken cannot be combined with timeMin or updatedMin")
	case f.expired[sync]:
		return googleError(w, http.StatusGone, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
	case sync != "" && q.Get("pageToken") == "":
		body, ok = f.changes[sync]
		if !ok {
			body = []byte(`{"kind":"calendar#events","timeZone":"Europe/Lisbon","items":[],"nextSyncToken":"` + sync + `"}`)
		}
	default:
		body, ok = f.pages[q.Get("pageToken")]
		if !ok {
			return googleError(w, http.StatusBadRequest, "invalid", "Invalid page token")
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
	return http.StatusOK
}

// tokenEndpoint checks a service account's signed JWT (or an authorized
// user's refresh token) and issues the access token.
func (f *fakeGoogle) tokenEndpoint(w http.ResponseWriter, r *http.Request, req *fakeRequest) int {
	if r.Method != http.MethodPost {
		return googleError(w, http.StatusMethodNotAllowed, "methodNotAllowed", "POST only")
	}
	r.ParseForm()
	req.FormGrant, req.FormAssertion, req.FormRefreshTok = r.Form.Get("grant_type"), r.Form.Get("assertion"), r.Form.Get("refresh_token")
	switch req.FormGrant {
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		claims, err := verifyJWT(req.FormAssertion, &f.key.PublicKey)
		if err != nil {
			return googleError(w, http.StatusBadRequest, "invalid_grant", err.Error())
		}
		if claims["scope"] != "https://www.googleapis.com/auth/calendar.readonly" {
			return googleError(w, http.StatusBadRequest, "invalid_scope", fmt.Sprintf("scope %v: salvage must ask for calendar.readonly only", claims["scope"]))
		}
		if f.subject != "" && claims["sub"] != f.subject {
			return googleError(w, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("sub %v, want %s", claims["sub"], f.subject))
		}
	case "refresh_token":
		if req.FormRefreshTok != "1//refresh-token-for-tests" {
			return googleError(w, http.StatusBadRequest, "invalid_grant", "bad refresh token")
		}
	default:
		return googleError(w, http.StatusBadRequest, "unsupported_grant_type", req.FormGrant)
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600,"token_type":"Bearer"}`, f.token)
	return http.StatusOK
}

func verifyJWT(jwt string, pub *rsa.PublicKey) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	return claims, json.Unmarshal(payload, &claims)
}

// serviceAccountFile writes a service account key whose token endpoint is
// the fake's.
func (f *fakeGoogle) serviceAccountFile(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(f.key)
	if err != nil {
		t.Fatal(err)
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	sa := map[string]string{
		"type": "service_account", "project_id": "salvage-tests", "private_key_id": "0123456789abcdef",
		"private_key": string(key), "client_email": "salvage-reader@salvage-tests.iam.gserviceaccount.example",
		"client_id": "100000000000000000001", "token_uri": f.tokenURL(),
	}
	b, _ := json.Marshal(sa)
	path := filepath.Join(t.TempDir(), "service-account.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// authorizedUserFile writes a gcloud user credentials file.
func (f *fakeGoogle) authorizedUserFile(t testing.TB) string {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"type": "authorized_user", "client_id": "fake.apps.googleusercontent.example",
		"client_secret": "fake-client-secret", "refresh_token": "1//refresh-token-for-tests", "token_uri": f.tokenURL()})
	path := filepath.Join(t.TempDir(), "user.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
