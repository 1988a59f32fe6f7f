package stripetest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

const (
	typeInvalidRequest = "invalid_request_error"
	typeAPI            = "api_error"
)

// stripeError is the body of Stripe's error responses:
// {"error":{"code":…,"doc_url":…,"message":…,"param":…,"type":…}}, fields
// in Stripe's (alphabetical) order, empty ones left out.
type stripeError struct {
	Code    string `json:"code,omitempty"`
	DocURL  string `json:"doc_url,omitempty"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
	Type    string `json:"type"`
}

func (e stripeError) body() []byte {
	b, err := json.Marshal(struct {
		Error stripeError `json:"error"`
	}{e})
	if err != nil {
		panic(err) // strings only
	}
	return append(b, '\n')
}

// codeError is an error with a code and its documentation page, as Stripe
// words them (https://stripe.com/docs/error-codes/<code with dashes>).
func codeError(code, param, message string) *stripeError {
	return &stripeError{
		Code:    code,
		DocURL:  "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(code, "_", "-"),
		Message: message,
		Param:   param,
		Type:    typeInvalidRequest,
	}
}

// paramError is an invalid_request_error about a parameter, without a code.
func paramError(param, message string) *stripeError {
	return &stripeError{Message: message, Param: param, Type: typeInvalidRequest}
}

const msgNoKey = "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."

var (
	errRateLimit   = *codeError("rate_limit", "", "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.")
	errLockTimeout = *codeError("lock_timeout", "", "This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate.")
	errAPI         = stripeError{Message: "An unknown error occurred", Type: typeAPI}
)

// requestKey returns the API key of a request: the Bearer token, or the
// user of Basic auth (curl -u KEY:). ok is false when there is none.
func requestKey(r *http.Request) (key string, ok bool) {
	h := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		key = strings.TrimSpace(rest)
	case strings.EqualFold(scheme, "Basic"):
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return "", false
		}
		key, _, _ = strings.Cut(string(b), ":")
	}
	return key, key != ""
}

// maskKey hides a key as Stripe's error messages do: a long key keeps its
// first 8 characters (the sk_test_/rk_live_ prefix) and its last 4, every
// other character becomes '*'; a short one (24 characters or fewer) keeps
// only its last 4. Observed in Stripe's answers: "sk_test_****…Aso0",
// "pk_test_****…fyDZ", "pi_1PiXF****…zlzo" for a 60-character client
// secret, and "********************hwxq" for a 24-character key without a
// prefix.
func maskKey(key string) string {
	n := len(key)
	switch {
	case n <= 4:
		return strings.Repeat("*", n)
	case n <= 24:
		return strings.Repeat("*", n-4) + key[n-4:]
	default:
		return key[:8] + strings.Repeat("*", n-12) + key[n-4:]
	}
}
