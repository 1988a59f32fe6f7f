package evidence

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// redactSeeds are the table's texts, the samples, and the scenario's
// transcript lines that hold secrets.
func redactSeeds(f *testing.F) []string {
	var seeds []string
	for _, tc := range secretCases {
		seeds = append(seeds, tc.in)
	}
	inputs, _ := filepath.Glob("testdata/redact/*.input")
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, string(b))
	}
	files, _ := filepath.Glob("../fixtures/scenario/transcripts/*.jsonl")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if len(FindSecrets(l)) > 0 {
				seeds = append(seeds, l)
			}
		}
	}
	return seeds
}

// checkRedaction checks, for any text: FindSecrets returns secrets in
// order, not overlapping, where they say; Redact leaves none of them and
// is idempotent; so is the Redact of a set that knows them and known.
func checkRedaction(t *testing.T, text string, known ...string) {
	t.Helper()
	found := FindSecrets(text)
	prev := 0
	for _, s := range found {
		if s.Start < prev || s.End <= s.Start || s.End > len(text) || text[s.Start:s.End] != s.Value {
			t.Fatalf("bad secret %+v after offset %d in %q", s, prev, text)
		}
		if s.Rule == "" || strings.Contains(s.Value, "…") {
			t.Fatalf("bad secret %+v", s)
		}
		prev = s.End
	}
	red := Redact(text)
	if len(found) == 0 && red != text {
		t.Fatalf("Redact(%q) = %q without finding a secret", text, red)
	}
	for _, s := range found {
		if len(s.Value) >= minKnownLen && strings.Contains(red, s.Value) {
			t.Fatalf("Redact(%q) = %q still holds %q", text, red, s.Value)
		}
	}
	if again := Redact(red); again != red {
		t.Fatalf("Redact not idempotent on %q:\n once %q\ntwice %q", text, red, again)
	}
	if f := FindSecrets(red); len(f) > 0 {
		t.Fatalf("FindSecrets(Redact(%q)) = %+v", text, f)
	}

	var set SecretSet
	set.Add(known...)
	set.AddFound(text)
	sred := set.Redact(text)
	for _, v := range set.Values() {
		if strings.Contains(sred, v) {
			t.Fatalf("SecretSet.Redact(%q) with %q = %q still holds %q", text, set.Values(), sred, v)
		}
	}
	if again := set.Redact(sred); again != sred {
		t.Fatalf("SecretSet.Redact not idempotent on %q with %q:\n once %q\ntwice %q", text, set.Values(), sred, again)
	}
	if b := set.RedactBytes([]byte(text)); string(b) != sred {
		t.Fatalf("RedactBytes(%q) = %q, Redact = %q", text, b, sred)
	}
}

// FuzzRedact checks FindSecrets and Redact on any text.
func FuzzRedact(f *testing.F) {
	for _, s := range redactSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) { checkRedaction(t, text) })
}

// FuzzSecretSetRedact checks a set that knows two values of its own besides
// those found in the text.
func FuzzSecretSetRedact(f *testing.F) {
	for i, s := range redactSeeds(f) {
		f.Add(s, tCloudrail, randomToken(uint64(i), 8+i%20))
	}
	f.Add("aaaaaaaabbbbbbbbaaaaaaaa", "aaaaaaaabbbb", "bbbbaaaaaaaa")
	f.Fuzz(func(t *testing.T, text, v1, v2 string) { checkRedaction(t, text, v1, v2) })
}

// fragments are the pieces FuzzRedactFragments builds texts from: keywords,
// prefixes, values, escapes, quotes, fingerprints.
var fragments = []string{
	"TOKEN", "token", "_", "=", ": ", "\"", "'", `\"`, `\n`, `\t`, `\\`, "\n", " ", "…", "-", ".", "@", "://", ":",
	"export ", "--password ", "Authorization: ", "Bearer ", "Basic ", "password", "secret", "api_key", "auth",
	"sk_live_", "sk_test_", "rk_live_", "whsec_", "AKIA", "ghp_", "github_pat_", "xoxb-", "xapp-", "AIza", "ya29.",
	"eyJ", "eyJhbGciOiJIUzI1NiJ9", "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----",
	"postgres://app", "hooks.slack.com/services/", "crl_pat_", "abc", "XXXX", "xxxx", "${", "}", "$", "<", ">",
	tCloudrail, tPassword, tHex, tGitHub, tStripe[:20], tStripe[20:], tAWSID, tAWSSecret, tBasic, tJWT[:40], tJWT[40:],
	"1y3GQsMp", "SscDlkrC", "aqx9vJup", "0123", "ZZZZ", "Qm9vayB5", Fingerprint(tCloudrail), Fingerprint(tPassword),
}

func fragmentText(data []byte) string {
	var b strings.Builder
	for _, c := range data {
		b.WriteString(fragments[int(c)%len(fragments)])
	}
	return b.String()
}

// FuzzRedactFragments checks texts made of fragments, one per input byte,
// where the pieces of secrets meet.
func FuzzRedactFragments(f *testing.F) {
	f.Add([]byte{0, 3, 67, 12, 19, 1, 3, 66, 13, 30, 2, 69})
	f.Add([]byte{27, 20, 66, 8, 13, 66, 13, 70})
	f.Fuzz(func(t *testing.T, data []byte) { checkRedaction(t, fragmentText(data), tPassword) })
}

// TestRedactFragments is FuzzRedactFragments on random inputs, for runs
// without -fuzz.
func TestRedactFragments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	data := make([]byte, 12)
	for range n {
		data = data[:1+r.IntN(12)]
		for i := range data {
			data[i] = byte(r.IntN(256))
		}
		checkRedaction(t, fragmentText(data), tPassword)
	}
}

// FuzzLowerASCII: searching the lowered text for a placeholder word finds
// what containsFold finds, whatever the text (isPlaceholder relies on it).
func FuzzLowerASCII(f *testing.F) {
	for _, s := range []string{"", "EXAMPLE", "ExAmPlE-key", "chanGe_Me", "ſecret", "\u212Aey", "Re\xffDACTED", "a...b", "**", "DUMMY\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		low := lowerASCII(nil, s)
		for _, w := range placeholderWords {
			if w == "xxxx" {
				continue
			}
			if got, want := strings.Contains(low, w), containsFold(s, w); got != want {
				t.Fatalf("%q lowered to %q: contains %q = %v, containsFold says %v", s, low, w, got, want)
			}
		}
	})
}
