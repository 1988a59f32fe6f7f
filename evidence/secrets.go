package evidence

import (
	"encoding/base64"
	"math"
	"math/bits"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// This file is the rule set of FindSecrets. It follows gitleaks' rules
// (config/gitleaks.toml): every rule has literal keywords, and nothing more
// is done with a text that contains none of them. Here the keywords of all
// rules are found in one pass over the text by a bit-parallel matcher
// (Shift-And, one bit per pattern byte), run only where a filter of their
// first three bytes says one may start, and each keyword found calls its
// rule's hand-written check around it. No regular expression runs on the
// text: transcripts are large and secrets in them are few.
//
// Texts are often raw JSON lines, where a newline is the two bytes `\n` and
// a quote is `\"`. A value therefore never includes a backslash or a quote,
// and a token may start right after the letter of an escape ("\tTOKEN=…").

// SecretRule names one rule of FindSecrets and says what it finds.
type SecretRule struct {
	Name        string // as in Secret.Rule
	Description string // one line, for the README
}

// The rule names, as in Secret.Rule.
const (
	rulePrivateKey    = "private-key"
	ruleStripe        = "stripe-key"
	ruleStripeWebhook = "stripe-webhook-secret"
	ruleStripeClient  = "stripe-client-secret"
	ruleAWSAccessKey  = "aws-access-key"
	ruleAWSSecretKey  = "aws-secret-key"
	ruleGitHub        = "github-token"
	ruleSlack         = "slack-token"
	ruleSlackWebhook  = "slack-webhook"
	ruleGoogleAPIKey  = "google-api-key"
	ruleGoogleOAuth   = "google-oauth-token"
	ruleJWT           = "jwt"
	ruleURLPassword   = "url-password"
	ruleBearer        = "bearer-token"
	ruleBasic         = "basic-auth"
	ruleGeneric       = "generic-assignment"
)

var secretRules = []SecretRule{
	{rulePrivateKey, "the body of a PEM private key block (-----BEGIN … PRIVATE KEY----- … -----END …)"},
	{ruleStripe, "Stripe API keys: sk_, rk_ and pk_, live or test"},
	{ruleStripeWebhook, "Stripe webhook signing secrets (whsec_…)"},
	{ruleStripeClient, "Stripe client secrets of payment and setup intents (pi_…_secret_…, seti_…_secret_…), which complete a payment with the publishable key"},
	{ruleAWSAccessKey, "AWS access key ids (AKIA…, ASIA…, ABIA…, ACCA…)"},
	{ruleAWSSecretKey, "AWS secret access keys: 40 characters assigned to an aws/secret access key name, or just after an access key id"},
	{ruleGitHub, "GitHub tokens: ghp_, gho_, ghu_, ghs_, ghr_ and github_pat_"},
	{ruleSlack, "Slack tokens: xoxb-, xoxp-, xoxa-, xoxr-, xoxo-, xoxs-, xoxe- and xapp-"},
	{ruleSlackWebhook, "the secret path of a Slack incoming webhook URL (hooks.slack.com/services/…)"},
	{ruleGoogleAPIKey, "Google API keys (AIza…)"},
	{ruleGoogleOAuth, "Google OAuth access tokens (ya29.…)"},
	{ruleJWT, "JSON Web Tokens (eyJ….eyJ….signature)"},
	{ruleURLPassword, "the password of a URL (scheme://user:PASSWORD@host)"},
	{ruleBearer, "the token after Bearer, as in an Authorization header or curl -H"},
	{ruleBasic, "the credentials after Basic, when they decode to user:password"},
	{ruleGeneric, "a value assigned to a name with token, secret, password, passwd, pwd, pass, api key, access key, auth, credential or private key in it (KEY=value, KEY: value, \"key\": \"value\", --key value), when it looks random enough (Shannon entropy ≥ 3 bits a character, 8 bytes or more) and is no placeholder"},
}

// SecretRules lists the rules of FindSecrets: where two rules claim the same
// bytes, the one listed first wins.
func SecretRules() []SecretRule { return slices.Clone(secretRules) }

// Precedence of the rules when their findings overlap: lower wins.
const (
	prioVendor  = 0 // a token with its vendor's prefix, a key block, a JWT
	prioContext = 1 // a URL password, an Authorization scheme
	prioGeneric = 2 // a name that says "secret" and a random-looking value
)

// Limits on what the rules read.
const (
	minGenericLen = 8    // shortest value the generic rule reports
	maxValueLen   = 1024 // longest generic, bearer or basic value read
	maxKeyReach   = 64   // how far a key name extends around its keyword
	minEntropy    = 3.0  // bits per byte of a generic value
	maxPEMLen     = 64 << 10
)

// anchorKind is the check called when an anchor is found.
type anchorKind uint8

const (
	anchorGeneric anchorKind = iota
	anchorStripe
	anchorWhsec
	anchorAWS
	anchorGitHub
	anchorGitHubPAT
	anchorSlack
	anchorSlackApp
	anchorGoogleKey
	anchorGoogleOAuth
	anchorJWT
	anchorBearer
	anchorBasic
	anchorURL
	anchorPEM
)

// anchor is a literal pattern whose presence calls a check. In pattern, a
// bracketed list of bytes matches any of them; fold matches ASCII letters in
// either case.
type anchor struct {
	kind    anchorKind
	pattern string
	fold    bool
}

// anchors are the keywords of every rule. They must fit in 128 pattern
// bytes, the two words of the matcher, and be 3 bytes long or more, what
// the filter reads.
var anchors = []anchor{
	// The generic rule's key words, in any case.
	{anchorGeneric, "token", true},
	{anchorGeneric, "secret", true},
	{anchorGeneric, "pass", true},
	{anchorGeneric, "pwd", true},
	{anchorGeneric, "apikey", true},
	{anchorGeneric, "api[_.-]key", true},
	{anchorGeneric, "access", true},
	{anchorGeneric, "auth", true},
	{anchorGeneric, "cred", true},
	{anchorGeneric, "private", true},
	// Vendors' prefixes, cut to what the checks complete.
	{anchorJWT, "eyJ", false},
	{anchorURL, "://", false},
	{anchorGoogleKey, "AIza", false},
	{anchorStripe, "k_[lt][ie][vs][et]_", false},
	{anchorWhsec, "whsec_", false},
	{anchorAWS, "A[KSB]IA", false},
	{anchorAWS, "ACCA", false},
	{anchorGitHub, "gh[pousr]_", false},
	{anchorGitHubPAT, "b_pat_", false},
	{anchorSlack, "xox[bpaorse]-", false},
	{anchorSlackApp, "xapp-", false},
	{anchorGoogleOAuth, "ya29.", false},
	{anchorBearer, "bearer", true},
	{anchorBasic, "basic", true},
	{anchorPEM, "BEGIN ", false},
}

// anchorScanner finds every anchor in a text in one pass: bit j of a state
// word is set when the pattern byte at bit j matches the text ending here.
//
// Most of a text is far from any anchor, so the matcher runs only where a
// filter says one may start. The filter reads two bytes at every other
// position p: an anchor that starts at p has its first two pattern bytes
// there and its third at p+2; one that starts at p+1 has its first at p+1
// and its second and third at p+2. pairs holds, for each two bytes (the
// first in the low byte of the index), four bytes of bits, low byte first,
// bit g standing for the anchors of group g: anchors whose first two
// pattern bytes the two bytes match; whose first the second byte matches;
// whose third the first byte matches; whose second and third the two bytes
// match. An anchor may start at p where the first byte of p's bits meets
// the third of p+2's, and at p+1 where the second meets the fourth.
type anchorScanner struct {
	masks  [256][2]uint64 // bits of the pattern bytes each byte matches
	starts [2]uint64      // bits of the first byte of every pattern
	ends   [2]uint64      // bits of the last byte of every pattern
	long   [2]uint64      // bits of the third byte of every pattern and after
	anchor [2][64]uint8   // the anchor whose last byte is at a bit
	length []int          // pattern length of each anchor
	pairs  [1 << 16]uint32
}

var scanner = newAnchorScanner(anchors)

func newAnchorScanner(list []anchor) *anchorScanner {
	s := &anchorScanner{length: make([]int, len(list))}
	group := filterGroups(list)
	used := [2]int{}
	for ai, a := range list {
		var pos [][]byte // the bytes each position of the pattern matches
		for p := a.pattern; p != ""; {
			if p[0] == '[' {
				end := strings.IndexByte(p, ']')
				pos = append(pos, []byte(p[1:end]))
				p = p[end+1:]
				continue
			}
			pos = append(pos, []byte{p[0]})
			p = p[1:]
		}
		if len(pos) < 3 {
			panic("evidence: a secret anchor is shorter than the filter")
		}
		w := 0
		if used[0]+len(pos) > 64 {
			w = 1
		}
		if used[w]+len(pos) > 64 {
			panic("evidence: secret anchors do not fit the scanner")
		}
		base := used[w]
		used[w] += len(pos)
		s.length[ai] = len(pos)
		s.starts[w] |= 1 << base
		s.ends[w] |= 1 << (base + len(pos) - 1)
		s.long[w] |= (1<<len(pos) - 4) << base
		s.anchor[w][base+len(pos)-1] = uint8(ai)
		for j, set := range pos {
			for _, c := range set {
				s.masks[c][w] |= 1 << (base + j)
				if a.fold && isLetter(c) {
					s.masks[c^0x20][w] |= 1 << (base + j)
				}
			}
		}
		// The filter's bits, from the bytes the matcher's masks take for the
		// first three pattern bytes.
		var at [3][]int
		for c := range 256 {
			for j := range at {
				if s.masks[c][w]&(1<<(base+j)) != 0 {
					at[j] = append(at[j], c)
				}
			}
		}
		g := uint32(1) << group[ai]
		for c := range 256 {
			for _, c0 := range at[0] {
				s.pairs[c|c0<<8] |= g << 8 // the first at the second
			}
			for _, c2 := range at[2] {
				s.pairs[c2|c<<8] |= g << 16 // the third at the first
			}
		}
		for _, c1 := range at[1] {
			for _, c0 := range at[0] {
				s.pairs[c0|c1<<8] |= g // the first two
			}
			for _, c2 := range at[2] {
				s.pairs[c1|c2<<8] |= g << 24 // the second and third
			}
		}
	}
	return s
}

// filterGroups returns the filter's group of each anchor. Anchors of one
// group pass the filter where one's first bytes meet another's third, and
// where one's first byte meets another's second and third: "access" and
// "auth" pass "act". The case-folded anchors, which match common words, get
// a group for each first letter, as they make fewer of these together; the
// vendors' prefixes, rare in text, share the groups left.
func filterGroups(list []anchor) []int {
	group := make([]int, len(list))
	var letters []byte
	for ai, a := range list {
		if a.fold {
			c := a.pattern[0] | 0x20
			k := slices.Index(letters, c)
			if k < 0 {
				k = len(letters)
				letters = append(letters, c)
			}
			group[ai] = k % 8
		}
	}
	free, vendors := max(8-len(letters), 1), 0
	for ai, a := range list {
		if !a.fold {
			group[ai] = (len(letters) + vendors%free) % 8
			vendors++
		}
	}
	return group
}

// Byte classes.
const (
	cLower   = 1 << iota
	cUpper   // A-Z
	cDigit   // 0-9
	cKey     // a byte of a key name: letters, digits, _ . -
	cValue   // a byte of an unquoted generic value
	cQuoted  // a byte of a quoted generic value
	cB64     // standard base64 alphabet, without padding
	cB64URL  // URL-safe base64 alphabet, without padding
	cToken   // a byte of an HTTP token (RFC 6750 b64token)
	cURLAuth // a byte of a URL's userinfo
	cAmp     // '&', in an unquoted value but outside a query string
	cAlnum   = cLower | cUpper | cDigit
	cLetter  = cLower | cUpper
)

var class = func() (t [256]uint16) {
	for c := 0; c < 256; c++ {
		var f uint16
		switch {
		case 'a' <= c && c <= 'z':
			f = cLower
		case 'A' <= c && c <= 'Z':
			f = cUpper
		case '0' <= c && c <= '9':
			f = cDigit
		}
		if f != 0 {
			f |= cKey | cValue | cQuoted | cB64 | cB64URL | cToken | cURLAuth
		}
		if 0x21 <= c && c <= 0x7e && !strings.ContainsRune("\"'`\\", rune(c)) {
			f |= cQuoted
		}
		if 0x21 <= c && c <= 0x7e && !strings.ContainsRune("\"'`\\@/?#<>[]{}|^", rune(c)) {
			f |= cURLAuth
		}
		has := func(set string) bool { return strings.IndexByte(set, byte(c)) >= 0 }
		if has("_.-") {
			f |= cKey
		}
		if has("!#$%*+-./:=?@^_~") {
			f |= cValue
		}
		if has("+/") {
			f |= cB64
		}
		if has("-_") {
			f |= cB64URL
		}
		if has("-._~+/") {
			f |= cToken
		}
		if c == '&' {
			f |= cAmp
		}
		t[c] = f
	}
	return t
}()

func is(c byte, f uint16) bool { return class[c]&f != 0 }

func isLetter(c byte) bool { return class[c]&cLetter != 0 }

// finder is one run of FindSecrets over a text.
type finder struct {
	text        string
	hits        []hit
	genericDone int // end of the last key name the generic rule read
	// onAnchors is told of the anchors of word w found at each end, before
	// their checks; tests compare scans with it, nil in use.
	onAnchors func(end, w int, found uint64)
}

// hit is a secret a rule found, before overlaps are resolved.
type hit struct {
	Secret
	prio int8
}

// run scans text for anchors and calls their checks, in the order of
// their ends. The filter reads eight positions at a time; from the first
// where an anchor may start, the matcher runs until no match under way has
// three bytes.
func (f *finder) run() {
	pairs := &scanner.pairs
	t := f.text
	i := 0
	for i+16 <= len(t) {
		w := t[i : i+16]
		x := load64(w)
		p0, p2, p4, p6 := pairs[uint16(x)], pairs[uint16(x>>16)], pairs[uint16(x>>32)], pairs[uint16(x>>48)]
		p8 := pairs[uint16(w[8])|uint16(w[9])<<8]
		if (p0&(p2>>16)|p2&(p4>>16)|p4&(p6>>16)|p6&(p8>>16))&0xffff == 0 {
			i += 8
			continue
		}
		// A byte of bits for each of the eight positions: the first set
		// is where an anchor may start.
		may := uint64(p0&(p2>>16)&0xffff) | uint64(p2&(p4>>16)&0xffff)<<16 |
			uint64(p4&(p6>>16)&0xffff)<<32 | uint64(p6&(p8>>16)&0xffff)<<48
		i = f.match(i+bits.TrailingZeros64(may)/8, false)
	}
	if i < len(t) {
		f.match(i, true)
	}
}

// match runs the matcher from t[from], where no match is under way, until
// it has read three bytes or more and no match under way has three bytes:
// one may then only have started at one of the last two bytes, where it
// returns for the filter to take over. With toEnd, it runs to the end of
// the text and returns its length.
func (f *finder) match(from int, toEnd bool) int {
	s := scanner
	t := f.text
	var a, b uint64
	sa, sb := s.starts[0], s.starts[1]
	ea, eb := s.ends[0], s.ends[1]
	la, lb := s.long[0], s.long[1]
	for i := from; i < len(t); i++ {
		m := &s.masks[t[i]]
		a = (a<<1 | sa) & m[0]
		b = (b<<1 | sb) & m[1]
		if a&ea|b&eb != 0 {
			f.anchorsAt(i+1, 0, a&ea)
			f.anchorsAt(i+1, 1, b&eb)
		}
		if a&la|b&lb == 0 && i >= from+2 && !toEnd {
			return i - 1
		}
	}
	return len(t)
}

// load64 returns the first eight bytes of s, little-endian.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// anchorsAt calls the checks of the anchors of word w that end at end.
func (f *finder) anchorsAt(end, w int, found uint64) {
	if f.onAnchors != nil && found != 0 {
		f.onAnchors(end, w, found)
	}
	for found != 0 {
		ai := scanner.anchor[w][bits.TrailingZeros64(found)]
		found &= found - 1
		start := end - scanner.length[ai]
		switch anchors[ai].kind {
		case anchorGeneric:
			f.generic(start, end)
		case anchorStripe:
			f.stripe(start, end)
		case anchorWhsec:
			f.prefixed(ruleStripeWebhook, start, end, cAlnum|cB64, 16, 128, 0)
		case anchorAWS:
			f.aws(start, end)
		case anchorGitHub:
			f.prefixed(ruleGitHub, start, end, cAlnum, 36, 251, minEntropy)
		case anchorGitHubPAT:
			if start >= 5 && f.text[start-5:end] == "github_pat_" {
				f.prefixed(ruleGitHub, start-5, end, cAlnum|cB64URL, 22, 244, minEntropy)
			}
		case anchorSlack, anchorSlackApp:
			f.slack(start, end)
		case anchorGoogleKey:
			f.googleKey(start, end)
		case anchorGoogleOAuth:
			f.prefixed(ruleGoogleOAuth, start, end, cAlnum|cB64URL, 20, 2048, minEntropy)
		case anchorJWT:
			f.jwt(start)
		case anchorBearer:
			f.bearer(start, end)
		case anchorBasic:
			f.basic(start, end)
		case anchorURL:
			f.url(start)
		case anchorPEM:
			f.pem(start, end)
		}
	}
}

// emit records a secret at text[start:end] unless it touches a fingerprint
// or could not be replaced by a shorter one.
func (f *finder) emit(rule string, prio int8, start, end int) {
	t := f.text
	v := t[start:end]
	if v == "" || strings.HasSuffix(t[:start], ellipsis) || strings.HasPrefix(t[end:], ellipsis) ||
		strings.Contains(v, ellipsis) || !utf8.ValidString(v) || !fingerprintShrinks(v) {
		return
	}
	if len(v) >= minKnownLen && !knowable(v) {
		return // what Redact finds once it replaces everywhere
	}
	f.hits = append(f.hits, hit{Secret{Rule: rule, Value: v, Start: start, End: end}, prio})
}

const ellipsis = "…"

// fingerprintShrinks reports whether Fingerprint(v) keeps fewer of v's bytes
// than v has, so that redacting v always makes progress.
func fingerprintShrinks(v string) bool {
	return len(keyPrefix.FindString(v)) < len(v)
}

// tokenStart reports whether a token of class cls may start at i: the byte
// before is not of the class, or is the letter of a JSON escape ("\n").
func tokenStart(t string, i int, cls uint16) bool {
	if i == 0 || !is(t[i-1], cls) {
		return true
	}
	return isEscape(t, i-1)
}

// isEscape reports whether t[i] is the letter of a backslash escape.
func isEscape(t string, i int) bool {
	c := t[i]
	return (c == 'n' || c == 't' || c == 'r') && i > 0 && t[i-1] == '\\'
}

// span returns the end of the run of bytes of class cls from i, reading at
// most max bytes (and one more, so a longer run is seen to be longer).
func span(t string, i int, cls uint16, max int) int {
	j := i
	for j < len(t) && j-i <= max && is(t[j], cls) {
		j++
	}
	return j
}

// prefixed checks a vendor token: the prefix at t[start:end] followed by a
// body of class cls, of length minLen to maxLen, that is no placeholder.
func (f *finder) prefixed(rule string, start, end int, cls uint16, minLen, maxLen int, entropy float64) {
	t := f.text
	if !tokenStart(t, start, cAlnum) {
		return
	}
	j := span(t, end, cls, maxLen)
	body := t[end:j]
	if len(body) < minLen || len(body) > maxLen || (j < len(t) && is(t[j], cls|cAlnum|cB64URL)) {
		return
	}
	if strings.HasPrefix(t[j:], "..") || strings.HasPrefix(t[j:], "*") {
		return // masked: sk_live_51Hx...9f2c
	}
	if isPlaceholder(body) || shannon(body) < entropy {
		return
	}
	f.emit(rule, prioVendor, start, j)
}

// stripeClientSecret checks for a payment or setup intent's client secret
// (pi_3MPv…_secret_edlo…) around the word "secret" at t[start:end], and
// reports whether it found one. The generic rule would take it for a
// name: an identifier with a keyword in it.
func (f *finder) stripeClientSecret(start, end int) bool {
	t := f.text
	if start < 4 || end >= len(t) || t[start-1] != '_' || t[end] != '_' || t[start:end] != "secret" {
		return false
	}
	i := start - 1
	for i > 0 && is(t[i-1], cAlnum) {
		i--
	}
	id := start - 1 - i // the intent's id, after its prefix
	j := end + 1
	for j < len(t) && is(t[j], cAlnum) {
		j++
	}
	var prefix int
	switch {
	case i >= 3 && t[i-3:i] == "pi_":
		prefix = 3
	case i >= 5 && t[i-5:i] == "seti_":
		prefix = 5
	default:
		return false
	}
	if id < 14 || j-end-1 < 14 || !tokenStart(t, i-prefix, cAlnum) || (j < len(t) && is(t[j], cAlnum|cB64URL)) {
		return false
	}
	f.emit(ruleStripeClient, prioVendor, i-prefix, j)
	return true
}

// stripe checks "sk_live_", "rk_test_", … around the anchor "k_live_".
func (f *finder) stripe(start, end int) {
	t := f.text
	if start == 0 || !strings.ContainsRune("srp", rune(t[start-1])) {
		return
	}
	if mode := t[start+2 : end-1]; mode != "live" && mode != "test" {
		return
	}
	f.prefixed(ruleStripe, start-1, end, cAlnum, 10, 247, 0)
}

// aws checks an access key id, and then looks just after it for its secret
// access key, as in a CSV of credentials or `aws configure list`.
func (f *finder) aws(start, end int) {
	t := f.text
	if !tokenStart(t, start, cAlnum) {
		return
	}
	j := span(t, end, cUpper|cDigit, 16)
	if j-end != 16 || (j < len(t) && is(t[j], cAlnum)) {
		return
	}
	v := t[start:j]
	if isPlaceholder(t[end:j]) || shannon(v) < minEntropy {
		return
	}
	f.emit(ruleAWSAccessKey, prioVendor, start, j)
	// The secret access key: 40 bytes of base64, near.
	for i, limit := j, min(len(t), j+200); i < limit; {
		if !is(t[i], cB64) {
			i++
			continue
		}
		k := span(t, i, cB64, 40)
		if k-i == 40 && tokenStart(t, i, cB64) && (k == len(t) || !is(t[k], cB64|cB64URL)) && looksAWSSecret(t[i:k]) {
			f.emit(ruleAWSSecretKey, prioVendor, i, k)
			return
		}
		i = k
	}
}

// looksAWSSecret reports whether v could be an AWS secret access key: 40
// bytes of base64 that are not only hex digits (a commit hash) and look
// random.
func looksAWSSecret(v string) bool {
	if len(v) != 40 || isPlaceholder(v) {
		return false
	}
	var upper, lower, digit bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case is(c, cUpper):
			upper = true
		case is(c, cLower):
			lower = true
		case is(c, cDigit):
			digit = true
		}
	}
	return upper && lower && digit && shannon(v) >= 4
}

// slack checks "xoxb-…", "xapp-…": the body has digits.
func (f *finder) slack(start, end int) {
	t := f.text
	if !tokenStart(t, start, cAlnum) {
		return
	}
	j := span(t, end, cAlnum|cB64URL, 250)
	body := t[end:j]
	if len(body) < 10 || len(body) > 250 || !strings.ContainsAny(body, "0123456789") || isPlaceholder(body) {
		return
	}
	f.emit(ruleSlack, prioVendor, start, j)
}

// googleKey checks "AIza" and 35 bytes.
func (f *finder) googleKey(start, end int) {
	t := f.text
	if !tokenStart(t, start, cAlnum|cB64URL) {
		return
	}
	j := span(t, end, cAlnum|cB64URL, 35)
	if j-end != 35 || (j < len(t) && is(t[j], cAlnum|cB64URL)) || isPlaceholder(t[end:j]) {
		return
	}
	f.emit(ruleGoogleAPIKey, prioVendor, start, j)
}

// jwt checks header.payload.signature, both first parts JSON ("eyJ").
func (f *finder) jwt(start int) {
	t := f.text
	if !tokenStart(t, start, cAlnum|cB64URL) {
		return
	}
	const part = cAlnum | cB64URL
	j := span(t, start, part, 4096)
	if j-start < 10 || j >= len(t) || t[j] != '.' || !strings.HasPrefix(t[j+1:], "ey") {
		return
	}
	k := span(t, j+1, part, 16384)
	if k-(j+1) < 10 || k >= len(t) || t[k] != '.' {
		return
	}
	end := span(t, k+1, part, 4096)
	for n := 0; n < 2 && end < len(t) && t[end] == '='; n++ {
		end++
	}
	if end < len(t) && is(t[end], part|cB64) {
		return
	}
	f.emit(ruleJWT, prioVendor, start, end)
}

// bearer checks "Bearer TOKEN", as in "Authorization: Bearer …".
func (f *finder) bearer(start, end int) {
	t := f.text
	if !tokenStart(t, start, cAlnum) {
		return
	}
	i := end
	for i < len(t) && i-end < 4 && (t[i] == ' ' || t[i] == '\t') {
		i++
	}
	if i == end {
		return
	}
	j := span(t, i, cToken, maxValueLen)
	for j < len(t) && j-i <= maxValueLen && t[j] == '=' {
		j++
	}
	v := t[i:j]
	if len(v) < minGenericLen || len(v) > maxValueLen || (j < len(t) && is(t[j], cValue)) {
		return
	}
	if isPlaceholder(v) || onlyWordBytes(v) || shannon(v) < minEntropy {
		return
	}
	f.emit(ruleBearer, prioContext, i, j)
}

// basic checks "Basic BASE64" where BASE64 decodes to user:password.
func (f *finder) basic(start, end int) {
	t := f.text
	if !tokenStart(t, start, cAlnum) {
		return
	}
	i := end
	for i < len(t) && i-end < 4 && (t[i] == ' ' || t[i] == '\t') {
		i++
	}
	if i == end {
		return
	}
	j := span(t, i, cB64, maxValueLen)
	pad := j
	for pad < len(t) && pad-j < 2 && t[pad] == '=' {
		pad++
	}
	v := t[i:pad]
	if j-i < minGenericLen || j-i > maxValueLen || (pad < len(t) && is(t[pad], cValue)) || isPlaceholder(v) {
		return
	}
	enc := base64.StdEncoding
	if pad == j {
		enc = base64.RawStdEncoding
	}
	dec, err := enc.DecodeString(v)
	if err != nil {
		return
	}
	colon := -1
	for k, c := range dec {
		if c < 0x20 || c > 0x7e {
			return
		}
		if c == ':' && colon < 0 {
			colon = k
		}
	}
	if pw := string(dec[colon+1:]); colon < 0 || pw != "" && (isPlaceholder(pw) || isPlaceholderWord(pw)) {
		return
	}
	f.emit(ruleBasic, prioContext, i, pad)
}

// url checks scheme://user:PASSWORD@host at the anchor "://", and Slack's
// webhooks.
func (f *finder) url(start int) {
	t := f.text
	// The scheme: a letter, then letters, digits, + . -
	s := start
	for s > 0 && start-s < 32 && (is(t[s-1], cAlnum) || t[s-1] == '+' || t[s-1] == '.' || t[s-1] == '-') {
		s--
	}
	if s == start || !isLetter(t[s]) {
		return
	}
	q := start + 3
	if strings.HasPrefix(t[q:], "hooks.slack.com/") {
		f.slackWebhook(q + len("hooks.slack.com/"))
		return
	}
	// The userinfo ends at the last '@' before the host.
	at := -1
	j := q
	for ; j < len(t) && j-q < 512; j++ {
		c := t[j]
		if c == '@' {
			at = j
			continue
		}
		if !is(c, cURLAuth) && c < utf8.RuneSelf {
			break
		}
	}
	if at < 0 || at+1 >= len(t) || !(is(t[at+1], cAlnum) || t[at+1] == '[') {
		return
	}
	colon := strings.IndexByte(t[q:at], ':')
	if colon < 0 {
		return
	}
	ps := q + colon + 1
	pw := t[ps:at]
	if len(pw) < 3 || isPlaceholder(pw) || isPlaceholderWord(pw) || pw == t[q:ps-1] {
		return // guest:guest@, postgres:postgres@: defaults everyone knows
	}
	f.emit(ruleURLPassword, prioContext, ps, at)
}

// slackWebhook checks the path after "hooks.slack.com/".
func (f *finder) slackWebhook(i int) {
	t := f.text
	for _, kind := range []string{"services/", "workflows/", "triggers/"} {
		if strings.HasPrefix(t[i:], kind) {
			s := i + len(kind)
			j := span(t, s, cAlnum|cB64, 256)
			if j-s >= 20 && !isPlaceholder(t[s:j]) {
				f.emit(ruleSlackWebhook, prioVendor, s, j)
			}
			return
		}
	}
}

// pem checks a private key block at the anchor "BEGIN ": its body, from the
// end of the header to "-----END", or to where the key was cut short. The
// body is lines of base64, and "Name: value" headers before them; lines end
// with a newline, real or escaped (\n, \\n).
func (f *finder) pem(start, end int) {
	t := f.text
	if start < 5 || t[start-5:start] != "-----" {
		return
	}
	hdrEnd := strings.Index(t[end:min(len(t), end+64)], "-----")
	if hdrEnd < 0 || !strings.Contains(t[end:end+hdrEnd], "PRIVATE KEY") {
		return
	}
	bs := end + hdrEnd + 5
	be := bs // end of the last line of the body
	for i := bs; i < len(t) && i-bs < maxPEMLen; {
		le := i
		for le < len(t) && t[le] != '\n' && t[le] != '\r' && t[le] != '\\' {
			le++
		}
		footer := strings.Index(t[i:le], "-----")
		if footer >= 0 {
			le = i + footer // "-----END" on the same line
		}
		line := strings.Trim(t[i:le], " \t")
		switch {
		case line == "":
		case pemBase64Line(line):
			be = le
		case be == bs && strings.Contains(line, ": "):
			// Proc-Type: 4,ENCRYPTED
		default:
			footer = 0 // prose after a key cut short
		}
		if footer >= 0 {
			break
		}
		// The next line.
		k := le
		for k < len(t) && t[k] == '\\' {
			k++
		}
		switch {
		case k > le && k < len(t) && (t[k] == 'n' || t[k] == 'r'):
			i = k + 1
		case k == le && k < len(t):
			i = k + 1
		default:
			i = len(t)
		}
	}
	bs, be = trimPEM(t, bs, be)
	if be-bs < 16 {
		return
	}
	f.emit(rulePrivateKey, prioVendor, bs, be)
}

// pemBase64Line reports whether a line is base64: one run, or runs of 16
// bytes or more between spaces, as some tools fold a key onto one line.
func pemBase64Line(line string) bool {
	for rest := line; rest != ""; {
		chunk, after, more := strings.Cut(rest, " ")
		n := span(chunk, 0, cB64, len(chunk))
		for n < len(chunk) && chunk[n] == '=' {
			n++
		}
		if n != len(chunk) || more && len(chunk) < 16 {
			return false
		}
		rest = strings.TrimLeft(after, " ")
	}
	return true
}

// trimPEM narrows t[s:e] to its first and last base64 byte.
func trimPEM(t string, s, e int) (int, int) {
	for s < e && (!is(t[s], cB64) || isEscape(t, s)) {
		s++
	}
	for e > s && (!is(t[e-1], cB64) && t[e-1] != '=' || isEscape(t, e-1)) {
		e--
	}
	return s, e
}

// generic checks KEY=value, KEY: value, "key": "value", --key value, where
// the keyword at t[ks:ke] is part of KEY.
func (f *finder) generic(ks, ke int) {
	if f.stripeClientSecret(ks, ke) {
		return
	}
	t := f.text
	kl := ks
	for kl > 0 && ks-kl < maxKeyReach && is(t[kl-1], cKey) {
		kl--
	}
	if kl < f.genericDone {
		return // a key already read, with another keyword in it
	}
	kr := ke
	for kr < len(t) && kr-ke < maxKeyReach && is(t[kr], cKey) {
		kr++
	}
	f.genericDone = kr
	if isEscape(t, kl) && kl+1 < kr {
		kl++ // "\tTOKEN=…": the t is the escape's
	}
	for kl < ks && (t[kl] == '-' || t[kl] == '.') {
		kl++ // "--password"
	}
	// The operator, after the key's closing quote.
	i := skipQuotes(t, kr)
	for i < len(t) && i-kr < 8 && (t[i] == ' ' || t[i] == '\t') {
		i++
	}
	switch {
	case kl >= 2 && t[kl-2:kl] == "--" && kr < len(t) && t[kr] == ' ':
		i = kr + 1 // --password VALUE
	case strings.HasPrefix(t[i:], ":=") || strings.HasPrefix(t[i:], "=>") || strings.HasPrefix(t[i:], "?="):
		i += 2
	case i < len(t) && t[i] == '=' && !strings.HasPrefix(t[i+1:], "="):
		i++
	case i < len(t) && t[i] == ':' && !strings.HasPrefix(t[i+1:], ":"):
		i++
	default:
		return
	}
	for i < len(t) && i-kr < 16 && (t[i] == ' ' || t[i] == '\t') {
		i++
	}
	vs := skipQuotes(t, i)
	quoted := vs > i
	cls := uint16(cValue | cAmp)
	if quoted {
		cls = cQuoted
	} else if kl > 0 && (t[kl-1] == '?' || t[kl-1] == '&') {
		cls = cValue // ?access_token=…&next=…
	}
	ve := span(t, vs, cls, maxValueLen)
	if ve < len(t) && t[ve] == ' ' && isAuthScheme(t[vs:ve]) {
		// "Authorization: Bearer TOKEN": the token.
		vs = ve + 1
		ve = span(t, vs, cls, maxValueLen)
	}
	if !quoted {
		for k := vs; k < ve; k++ {
			if t[k] == '&' && isParam(t[k+1:ve]) {
				ve = k // a query string goes on: …&next=1
				break
			}
		}
		for ve > vs && strings.IndexByte(".,:", t[ve-1]) >= 0 {
			ve-- // the end of a sentence
		}
	}
	f.genericDone = max(f.genericDone, ve) // keywords in the value name nothing
	v := t[vs:ve]
	if len(v) < minGenericLen || len(v) > maxValueLen {
		return
	}
	if quoted && ve < len(t) && (t[ve] == ' ' || t[ve] == '\t') {
		return // words in a string, not a secret
	}
	key := t[kl:kr]
	if !secretKey(key) || !genericValue(v, quoted) {
		return
	}
	rule := ruleGeneric
	if isAWSSecretKeyName(key) && len(v) == 40 && span(v, 0, cAlnum|cB64, 40) == 40 {
		rule = ruleAWSSecretKey
	}
	f.emit(rule, prioGeneric, vs, ve)
}

// isParam reports whether s starts with a query parameter's name and '='.
func isParam(s string) bool {
	i := 0
	for i < len(s) && (is(s[i], cAlnum) || s[i] == '_' || s[i] == '.' || s[i] == '-') {
		i++
	}
	return i > 0 && i < len(s) && s[i] == '='
}

// skipQuotes skips quotes and escaped quotes (`"`, `\"`, `\\\"`, `'`, "`").
func skipQuotes(t string, i int) int {
	for n := 0; n < 4 && i < len(t); n++ {
		switch c := t[i]; {
		case c == '"' || c == '\'' || c == '`':
			i++
		case c == '\\':
			k := i
			for k < len(t) && k-i < 8 && t[k] == '\\' {
				k++
			}
			if k < len(t) && (t[k] == '"' || t[k] == '\'') {
				i = k + 1
				continue
			}
			return i
		default:
			return i
		}
	}
	return i
}

// isAuthScheme reports whether w is an HTTP authentication scheme.
func isAuthScheme(w string) bool {
	for _, s := range []string{"bearer", "basic", "token", "bot"} {
		if strings.EqualFold(w, s) {
			return true
		}
	}
	return false
}

// Words in key names.
var (
	// secretWords name a secret on their own ("db_pass", "authToken").
	secretWords = wordSet("token", "secret", "password", "passwd", "pwd", "pass", "passphrase",
		"apikey", "credential", "credentials", "creds", "auth", "authorization", "oauth",
		"authtoken", "accesstoken", "apitoken", "accesskey", "secretkey", "privatekey")
	// secretSuffixes end compound words that name a secret ("pgpassword").
	secretSuffixes = []string{"token", "secret", "password", "passwd", "apikey", "accesskey", "secretkey", "privatekey"}
	// keyQualifiers make "key" name a secret after them ("api_key").
	keyQualifiers = wordSet("api", "access", "private", "secret", "auth", "client")
	// notSecretWords, anywhere in a name, make it name something public
	// or short-lived ("public_key", "csrf_token", "next_page_token").
	notSecretWords = wordSet("public", "publishable", "csrf", "xsrf", "next", "page", "sync",
		"cursor", "continuation", "pagination", "idempotency")
	// notSecretLast, last in a name, make it name something about a secret
	// rather than the secret ("token_count", "password_file", "auth_url").
	notSecretLast = wordSet("url", "uri", "urls", "endpoint", "host", "hostname", "server",
		"file", "filename", "path", "dir", "name", "id", "ids", "type", "types", "count",
		"length", "len", "size", "limit", "max", "min", "expiry", "expires", "expiration",
		"exp", "ttl", "timeout", "header", "headers", "prefix", "env", "var", "variable",
		"field", "kind", "mode", "method", "methods", "version", "enabled", "enable",
		"disabled", "required", "usage", "policy", "scope", "scopes", "provider", "store",
		"cache", "format", "user", "username", "email", "login", "account", "principal",
		"hint", "label", "description", "desc", "help", "message", "msg", "error", "status",
		"state", "time", "date", "at", "created", "updated", "location", "source", "ref",
		"arn", "sid", "level", "log", "control", "list", "map", "regex", "pattern", "check",
		"reset", "changed", "strength", "policy", "rotation", "manager", "service", "config",
		"setting", "settings", "option", "options", "flag", "flags", "example", "placeholder",
		"domain", "magic")
)

func wordSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// secretKey reports whether a key name names a secret.
func secretKey(key string) bool {
	var buf [2*maxKeyReach + 16]byte
	if len(key) > len(buf) {
		return false
	}
	lower := buf[:len(key)]
	for i := 0; i < len(key); i++ {
		c := key[i]
		if is(c, cUpper) {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	var prev, last []byte
	found, negated, lastSecret, n, after := false, false, false, 0, 0
	forWords(key, func(s, e int) {
		w := lower[s:e]
		for len(w) > 1 && is(w[len(w)-1], cDigit) {
			w = w[:len(w)-1] // "token2"
		}
		secret := secretWords[string(w)] || string(w) == "key" && keyQualifiers[string(prev)]
		for _, suf := range secretSuffixes {
			if !secret && len(w) > len(suf) && string(w[len(w)-len(suf):]) == suf {
				secret = true
			}
		}
		found = found || secret
		negated = negated || notSecretWords[string(w)]
		prev, last, lastSecret = w, w, secret
		n++
		if after++; secret {
			after = 0
		}
	})
	switch {
	case !found || negated:
		return false
	case after > 2:
		return false // ConfirmationTokenPaymentMethodBank: the name of something else
	case n == 1 && key == "PASS":
		return false // "--- PASS: TestName", test output
	}
	return lastSecret || !notSecretLast[string(last)]
}

// forWords calls fn with the bounds of each word of a key name: words are
// separated by bytes other than letters and digits, and by case
// ("accessToken", "APIKey").
func forWords(key string, fn func(s, e int)) {
	s := -1
	for i := 0; i <= len(key); i++ {
		if i == len(key) || !is(key[i], cAlnum) {
			if s >= 0 {
				fn(s, i)
			}
			s = -1
			continue
		}
		if s < 0 {
			s = i
			continue
		}
		c, p := key[i], key[i-1]
		if is(c, cUpper) && (is(p, cLower) || is(p, cDigit) ||
			is(p, cUpper) && i+1 < len(key) && is(key[i+1], cLower)) {
			fn(s, i)
			s = i
		}
	}
}

// isAWSSecretKeyName reports whether a key names an AWS secret access key.
func isAWSSecretKeyName(key string) bool {
	if containsFold(key, "aws") {
		return true
	}
	var buf [2*maxKeyReach + 16]byte
	n := 0
	for i := 0; i < len(key) && n < len(buf); i++ {
		if c := key[i]; is(c, cAlnum) {
			buf[n] = c | 0x20 // ASCII lower case; digits stay
			n++
		}
	}
	return strings.Contains(string(buf[:n]), "secretaccesskey")
}

// genericValue reports whether an assigned value looks like a secret rather
// than code, a path, a number or a placeholder.
func genericValue(v string, quoted bool) bool {
	if isPlaceholder(v) || onlyWordBytes(v) {
		return false
	}
	hasLetter := false
	for i := 0; i < len(v); i++ {
		if isLetter(v[i]) {
			hasLetter = true
			break
		}
	}
	if !hasLetter {
		return false // numbers, dates, versions
	}
	if v[0] == '/' || v[0] == '~' || strings.HasPrefix(v, "./") || strings.HasPrefix(v, "../") || strings.Contains(v, "://") {
		return false // paths and URLs
	}
	if i := span(v, 0, cLower, 10); i >= 2 && i < len(v) && v[i] == ':' {
		return false // names: urn:uuid:…, arn:aws:…
	}
	for rest := v; ; {
		k := strings.IndexByte(rest, '&')
		if k < 0 {
			break
		}
		if isParam(rest[k+1:]) {
			return false // a query string or a form body
		}
		rest = rest[k+1:]
	}
	if dot := strings.LastIndexByte(v, '.'); dot > 0 && len(v)-dot <= 10 {
		var ext [10]byte
		n := copy(ext[:], v[dot+1:])
		for i := range n {
			ext[i] |= 0x20 // ASCII lower case; other bytes name no extension
		}
		if fileExtensions[string(ext[:n])] {
			return false
		}
	}
	if !quoted && !is(v[0], cAlnum) && v[0] != '_' && v[0] != '+' {
		return false // code: auth := &Config{, token = *ptr, ok = !secret
	}
	if !quoted && (isIdentifier(v) || hasKeyword(v)) {
		return false // code: token = self.token_value, creds = oauth.Credentials2
	}
	if isIdentifier(v) && hasKeyword(v) || wordy(v) {
		return false // names: "oauth2.google.tokenSource", "body-type-1part"
	}
	if !strings.ContainsAny(v, "0123456789") && !randomCase(v) {
		return false // words: "js.fetch:credentials", "groupname:password:GID"
	}
	return shannon(v) >= minEntropy
}

// hasKeyword reports whether v holds a word of the generic rule's key
// names, as a reference to a secret does and a secret does not.
func hasKeyword(v string) bool {
	for _, k := range []string{"token", "secret", "passw", "credential", "auth", "apikey", "api_key"} {
		if containsFold(v, k) {
			return true
		}
	}
	return false
}

// wordy reports whether v is two or more words joined by - _ . : or /,
// each of letters in one case with digits only at its ends ("body-type-1part",
// "PKCS8_PRIVATEKEY"). A UUID or a random token has digits inside its parts.
func wordy(v string) bool {
	parts := 0
	for rest := v; rest != ""; {
		i := strings.IndexAny(rest, "-_.:/")
		part := rest
		if i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if part == "" {
			continue
		}
		parts++
		s, e := 0, len(part)
		for s < e && is(part[s], cDigit) {
			s++
		}
		for e > s && is(part[e-1], cDigit) {
			e--
		}
		w := part[s:e]
		if w == "" {
			continue // a number
		}
		lower, upper := 0, 0
		for i := 0; i < len(w); i++ {
			switch {
			case is(w[i], cLower):
				lower++
			case is(w[i], cUpper):
				upper++
			default:
				return false
			}
		}
		if lower > 0 && upper > 1 || upper == 1 && !is(w[0], cUpper) {
			return false // mixed case, not Capitalized
		}
	}
	return parts >= 2
}

var fileExtensions = wordSet("json", "pem", "key", "txt", "yaml", "yml", "env", "crt", "cer",
	"p12", "pfx", "pub", "der", "jks", "keystore", "log", "go", "py", "js", "ts", "sh", "conf",
	"cfg", "ini", "toml", "gpg", "asc", "enc", "age", "csv", "xml", "html", "md")

// onlyWordBytes reports whether v has only letters and _ . - (gitleaks'
// allowlist for generic keys: a secret has digits or symbols).
func onlyWordBytes(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isLetter(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// randomCase reports whether a value without digits still looks random:
// long, with both cases and a symbol that does not separate words.
func randomCase(v string) bool {
	var upper, lower, symbol bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		upper = upper || is(c, cUpper)
		lower = lower || is(c, cLower)
		symbol = symbol || i > 0 && !is(c, cAlnum) && !strings.ContainsRune("_.-:/ ", rune(c))
	}
	return len(v) >= 16 && upper && lower && symbol
}

// isIdentifier reports whether v reads as code: names separated by dots or
// colons, made of words ("cfg.APIKey", "token_value_2", "e2e.StartServer").
// A word has letters and digits alternating at most twice ("e2e", "v1alpha1")
// and words are three bytes long on average; a random token has digits
// scattered through it or its case changes every other byte.
func isIdentifier(v string) bool {
	words, letters := 0, 0
	ok := true
	for rest := v; ; {
		cut := strings.IndexAny(rest, ".:")
		part, after, more := rest, "", false
		if cut >= 0 {
			part, after, more = rest[:cut], rest[cut+1:], true
		}
		rest = after
		if part == "" || !isLetter(part[0]) && part[0] != '_' {
			return false
		}
		for i := 0; i < len(part); i++ {
			if !is(part[i], cAlnum) && part[i] != '_' && part[i] != '-' {
				return false
			}
		}
		forWords(part, func(s, e int) {
			changes := 0
			for i := s + 1; i < e; i++ {
				if is(part[i], cDigit) != is(part[i-1], cDigit) {
					changes++
				}
			}
			ok = ok && changes <= 2
			words++
			letters += e - s
		})
		if !ok {
			return false
		}
		if !more {
			return words > 0 && letters >= 3*words
		}
	}
}

// placeholderWords contained anywhere in a value make it a placeholder.
var placeholderWords = []string{"xxxx", "example", "changeme", "change_me", "change-me", "placeholder",
	"redacted", "replace_me", "replaceme", "replace-me", "dummy", "...", "**"}

// isPlaceholder reports whether v (a value, or the body of a token after its
// prefix) stands for a secret rather than being one: an example, a mask, a
// template, a variable reference or a fingerprint.
func isPlaceholder(v string) bool {
	if v == "" {
		return true
	}
	switch v[0] {
	case '$', '<', '{', '[', '(', '*':
		return true // $TOKEN, ${TOKEN}, $(cmd), <token>, {{ .Token }}, ***
	case '%':
		if len(v) > 1 && v[len(v)-1] == '%' {
			return true // %TOKEN%
		}
	}
	if strings.ContainsAny(v, "<>") || strings.Contains(v, "${") || strings.Contains(v, "{{") ||
		strings.Contains(v, "$(") || strings.Contains(v, ellipsis) {
		return true
	}
	if hasPrefixFold(v, "your") || hasPrefixFold(v, "my-") || hasPrefixFold(v, "my_") {
		return true
	}
	for _, w := range []string{"token", "secret", "password", "passwd", "apikey", "api_key", "test", "abc"} {
		if hasPrefixFold(v, w) && strings.Trim(v[len(w):], "0123456789-_") == "" {
			return true // token123, password1, abc123
		}
	}
	// The words in any case: v lowered once, then searched for each.
	var buf [128]byte
	low := lowerASCII(buf[:0], v)
	for _, w := range placeholderWords {
		if w == "xxxx" {
			if containsFold(v, w) {
				return true
			}
		} else if strings.Contains(low, w) {
			return true
		}
	}
	// One byte repeated ("xxxxxxxx", "00000000"), or two in turn.
	var seen [256]bool
	distinct := 0
	for i := 0; i < len(v); i++ {
		if !seen[v[i]] {
			seen[v[i]] = true
			distinct++
		}
	}
	return distinct <= 2 && len(v) >= 3 || distinct == 1
}

// isPlaceholderWord reports whether a password is a word that stands for
// one ("user:password@host"), or a default everyone knows ("postgres").
// Known secrets are replaced everywhere, and these words are everywhere.
func isPlaceholderWord(v string) bool {
	if len(v) > 16 {
		return false
	}
	var buf [16]byte
	for i := 0; i < len(v); i++ {
		buf[i] = v[i]
		if is(v[i], cUpper) {
			buf[i] |= 0x20
		}
	}
	switch string(buf[:len(v)]) {
	case "password", "passwd", "pass", "pwd", "pw", "secret", "token", "changeme", "user", "username",
		"null", "none", "empty", "test", "testing", "foo", "bar", "baz", "xxx", "admin", "root",
		"postgres", "postgresql", "mysql", "mariadb", "redis", "guest", "rabbitmq", "mongo",
		"mongodb", "default", "local", "localhost", "dev", "development", "docker", "sa":
		return true
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// containsFold reports whether s contains sub, ignoring ASCII case; a run
// of x stands for a mask only in one case ("xxxx", "XXXX").
// lowerASCII appends s to buf with its ASCII letters in lower case, and
// returns it as a string sharing buf's memory: searching it for a word
// in lower case is containsFold, as strings.EqualFold folds no other byte
// of an ASCII word's length into an ASCII letter.
func lowerASCII(buf []byte, s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	if len(buf) == 0 {
		return ""
	}
	return unsafe.String(&buf[0], len(buf))
}

func containsFold(s, sub string) bool {
	if sub == "xxxx" {
		return strings.Contains(s, "xxxx") || strings.Contains(s, "XXXX")
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i]|0x20 == sub[0]|0x20 && strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// shannon returns the Shannon entropy of s in bits per byte.
func shannon(s string) float64 {
	if s == "" {
		return 0
	}
	var count [256]int
	for i := 0; i < len(s); i++ {
		count[s[i]]++
	}
	n := float64(len(s))
	h := 0.0
	for _, c := range count {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
