package evidence

import (
	"cmp"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// keyPrefix is the readable part of a credential: letters in groups joined
// by '_' or '-' and ending with one ("rk_live_", "crl_pat_", "xoxb-").
var keyPrefix = regexp.MustCompile(`^[A-Za-z]{1,8}(?:[_-][A-Za-z]{1,8}){0,2}[_-]`)

// vendorPrefixes are the readable starts of credentials that keyPrefix
// does not see: AWS key ids, Google API keys and OAuth tokens, JWTs.
var vendorPrefixes = []string{"AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIza", "ya29.", "eyJ"}

// Fingerprint identifies a secret without revealing it: its readable prefix,
// an ellipsis and its last four characters ("rk_live_…9f2c"). Secrets too
// short to keep anything of are shown as "…" alone. Exports, logs and errors
// show secrets only as fingerprints.
func Fingerprint(secret string) string {
	prefix := keyPrefix.FindString(secret)
	if prefix == "" {
		for _, p := range vendorPrefixes {
			if strings.HasPrefix(secret, p) {
				prefix = p
				break
			}
		}
	}
	rest := secret[len(prefix):]
	if len(rest) < 12 {
		if len(secret) < 12 {
			return "…"
		}
		return prefix + "…"
	}
	return prefix + "…" + rest[len(rest)-4:]
}

// RedactSecret replaces every occurrence of secret in s with its
// fingerprint.
func RedactSecret(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, Fingerprint(secret))
}

// Secret is one secret found in a text: the rule that found it and where.
type Secret struct {
	Rule       string // the rule that found it, one of SecretRules: "stripe-key", "generic-assignment", …
	Value      string // the secret alone: for "TOKEN=abc…", abc…; for a URL, its password
	Start, End int    // byte offsets of Value in the text
}

// FindSecrets returns the secrets in text, in order, not overlapping. Where
// two rules find overlapping secrets, the one first in SecretRules wins.
// Placeholders ("sk_test_xxx", "${TOKEN}", "<token>", "changeme") and
// fingerprints are not secrets. A text without secrets costs no allocation.
//
// text may be decoded or a raw JSON line: values never include a backslash
// or a quote, so `\n` and `\"` end them (a private key's body, which spans
// lines, is the exception).
func FindSecrets(text string) []Secret {
	f := finder{text: text}
	f.run()
	if len(f.hits) == 0 {
		return nil
	}
	return resolve(f.hits)
}

// resolve keeps the hits that no hit of a higher precedence overlaps, then
// orders them by offset. Between equal precedences the earlier, then the
// longer, wins.
func resolve(hits []hit) []Secret {
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(a.prio, b.prio), cmp.Compare(a.Start, b.Start), cmp.Compare(b.End, a.End))
	})
	lo, hi := hits[0].Start, hits[0].End
	for _, h := range hits {
		lo, hi = min(lo, h.Start), max(hi, h.End)
	}
	taken := newClaims(lo, hi)
	out := make([]Secret, 0, len(hits))
	for _, h := range hits {
		if taken.claim(h.Start, h.End) {
			out = append(out, h.Secret)
		}
	}
	slices.SortFunc(out, func(a, b Secret) int { return cmp.Compare(a.Start, b.Start) })
	return out
}

// claims are the bytes of text[lo:hi] that a replacement already claims.
type claims struct {
	lo   int
	bits []uint64
}

func newClaims(lo, hi int) claims { return claims{lo, make([]uint64, (hi-lo)/64+1)} }

// claim claims text[s:e] and reports true, unless a byte of it is claimed.
func (c claims) claim(s, e int) bool {
	for i := s - c.lo; i < e-c.lo; i++ {
		if c.bits[i/64]&(1<<(i%64)) != 0 {
			return false
		}
	}
	for i := s - c.lo; i < e-c.lo; i++ {
		c.bits[i/64] |= 1 << (i % 64)
	}
	return true
}

// Redact returns text with every secret FindSecrets finds replaced by its
// Fingerprint, and every other occurrence of the same values too. The
// result contains no secret FindSecrets would find, so Redact(Redact(x)) ==
// Redact(x). A text without secrets is returned as it is.
func Redact(text string) string {
	var s SecretSet
	return s.Redact(text)
}

// SecretSet is a set of known secret values: found once, they are replaced
// everywhere, even where the context that revealed them is absent (a token
// read in a .env file and later pasted alone). The zero value is ready to
// use. A SecretSet is safe for one goroutine, or for several that only
// Redact once it is shared (Share).
type SecretSet struct {
	values map[string]struct{}
	known  *matcher // of values; nil when values changed since it was built
}

// minKnownLen is the length of the shortest value a SecretSet keeps: below
// it, a value would match too much that is no secret.
const minKnownLen = 8

// Add adds values to the set. It ignores values shorter than 8 bytes,
// placeholders and fingerprints.
func (s *SecretSet) Add(values ...string) {
	for _, v := range values {
		if !knowable(v) {
			continue
		}
		if _, ok := s.values[v]; ok {
			continue
		}
		if s.values == nil {
			s.values = make(map[string]struct{})
		}
		s.values[strings.Clone(v)] = struct{}{}
		s.known = nil
	}
}

// knowable reports whether v can be a known secret.
func knowable(v string) bool {
	if len(v) < minKnownLen || !utf8.ValidString(v) || strings.Contains(v, ellipsis) || !fingerprintShrinks(v) {
		return false
	}
	return !isPlaceholder(v) && !isPlaceholder(v[len(keyPrefix.FindString(v)):]) && !isPlaceholderWord(v)
}

// Share readies s for Redact on several goroutines at once: s is then
// safe for them until the next Add.
func (s *SecretSet) Share() {
	if s.known == nil && len(s.values) > 0 {
		s.known = newMatcher(slices.Collect(maps.Keys(s.values)))
	}
}

// AddFound finds the secrets in text, adds their values to the set and
// returns them.
func (s *SecretSet) AddFound(text string) []Secret {
	found := FindSecrets(text)
	for _, f := range found {
		s.Add(f.Value)
	}
	return found
}

// Len returns the number of values in the set.
func (s *SecretSet) Len() int { return len(s.values) }

// Values returns the values in the set, sorted.
func (s *SecretSet) Values() []string {
	out := make([]string, 0, len(s.values))
	for v := range s.values {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// maxPasses bounds the passes of Redact. Each pass that changes the text
// replaces secrets by shorter fingerprints, so a second pass finds nothing
// but in texts built to defeat it.
const maxPasses = 16

// Redact returns text with every occurrence of every known value (longest
// first), and whatever FindSecrets finds, replaced by fingerprints. Values
// found in text but not in the set are replaced everywhere in text too; the
// set itself does not change. The result contains neither a known value nor
// a secret FindSecrets would find, so redacting it again changes nothing. A
// text without secrets is returned as it is, without allocating.
func (s *SecretSet) Redact(text string) string {
	s.Share()
	var extra map[string]struct{} // values found in text that the set lacks
	var extraM *matcher
	out := text
	for range maxPasses {
		next := extraM.replace(s.known.replace(out))
		if found := FindSecrets(next); len(found) > 0 {
			next = replaceFound(next, found)
			grown := false
			for _, f := range found {
				_, known := s.values[f.Value]
				_, seen := extra[f.Value]
				if !known && !seen && knowable(f.Value) {
					if extra == nil {
						extra = make(map[string]struct{})
					}
					extra[strings.Clone(f.Value)] = struct{}{}
					grown = true
				}
			}
			if grown {
				extraM = newMatcher(slices.Collect(maps.Keys(extra)))
			}
		}
		if next == out {
			break
		}
		out = next
	}
	return out
}

// RedactBytes is Redact for a byte slice. It returns b itself when b holds
// no secret.
func (s *SecretSet) RedactBytes(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	// Redact reads in only during the call, keeps nothing of it (values it
	// remembers are cloned) and returns either in or a new string.
	in := unsafe.String(&b[0], len(b))
	out := s.Redact(in)
	if unsafe.StringData(out) == &b[0] && len(out) == len(b) {
		return b
	}
	return []byte(out)
}

// replaceFound replaces each secret in text by its fingerprint.
func replaceFound(text string, found []Secret) string {
	var b strings.Builder
	b.Grow(len(text))
	prev := 0
	for _, f := range found {
		b.WriteString(text[prev:f.Start])
		b.WriteString(Fingerprint(f.Value))
		prev = f.End
	}
	b.WriteString(text[prev:])
	return b.String()
}

// matcher finds many known values in a text at once. Every value is at
// least minKnownLen bytes long, so any occurrence covers one of the text's
// positions 0, 5, 10, … with one of its first five 4-byte grams. The
// matcher looks only at those positions: a bit filter of the values' grams
// rejects almost all of them, a map lists the values a gram may belong to.
type matcher struct {
	vals   []string // longest first
	shift  uint     // of a gram's hash, to index filter
	filter []uint64
	grams  map[uint32][]gramRef
}

type gramRef struct {
	val int32 // index in vals
	off int32 // offset of the gram in the value
}

const (
	gramLen    = 4
	sampleStep = minKnownLen - gramLen + 1
)

// newMatcher returns a matcher of vals, each at least minKnownLen bytes
// long; it keeps and reorders vals.
func newMatcher(vals []string) *matcher {
	m := &matcher{vals: vals, grams: make(map[uint32][]gramRef, len(vals)*sampleStep)}
	slices.SortFunc(m.vals, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	bitsLog := uint(9) // 64 bytes: a text's one or two secrets are common
	for 1<<bitsLog < 64*sampleStep*len(vals) && bitsLog < 18 {
		bitsLog++
	}
	m.shift = 32 - bitsLog
	m.filter = make([]uint64, 1<<bitsLog/64)
	for vi, v := range m.vals {
		for off := range sampleStep {
			g := gram(v, off)
			h := gramHash(g, m.shift)
			m.filter[h>>6] |= 1 << (h & 63)
			m.grams[g] = append(m.grams[g], gramRef{int32(vi), int32(off)})
		}
	}
	return m
}

func gram(s string, i int) uint32 {
	s = s[i : i+gramLen]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

func gramHash(g uint32, shift uint) uint32 { return (g * 0x9E3779B1) >> (shift & 31) }

// occurrence is a known value found in a text.
type occurrence struct{ start, end, val int }

// replace returns text with the occurrences of the matcher's values
// replaced by fingerprints, longest values first; text itself when there is
// none. A nil matcher has no values.
func (m *matcher) replace(text string) string {
	if m == nil || len(text) < minKnownLen {
		return text
	}
	var buf [8]occurrence
	found := buf[:0]
	filter, shift := m.filter, m.shift
	for i := 0; i+gramLen <= len(text); i += sampleStep {
		g := gram(text, i)
		h := gramHash(g, shift)
		if filter[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		for _, r := range m.grams[g] {
			v := m.vals[r.val]
			s := i - int(r.off)
			if s >= 0 && s+len(v) <= len(text) && text[s:s+len(v)] == v {
				found = append(found, occurrence{s, s + len(v), int(r.val)})
			}
		}
	}
	if len(found) == 0 {
		return text
	}
	// Longest value first (vals is ordered so), then leftmost; an
	// occurrence overlapping one already kept is dropped.
	slices.SortFunc(found, func(a, b occurrence) int { return cmp.Or(cmp.Compare(a.val, b.val), cmp.Compare(a.start, b.start)) })
	lo, hi := found[0].start, found[0].end
	for _, o := range found {
		lo, hi = min(lo, o.start), max(hi, o.end)
	}
	taken := newClaims(lo, hi)
	kept := make([]occurrence, 0, len(found))
	for _, o := range found {
		if taken.claim(o.start, o.end) {
			kept = append(kept, o)
		}
	}
	slices.SortFunc(kept, func(a, b occurrence) int { return cmp.Compare(a.start, b.start) })
	var b strings.Builder
	b.Grow(len(text))
	prev := 0
	for _, o := range kept {
		b.WriteString(text[prev:o.start])
		b.WriteString(Fingerprint(m.vals[o.val]))
		prev = o.end
	}
	b.WriteString(text[prev:])
	return b.String()
}
