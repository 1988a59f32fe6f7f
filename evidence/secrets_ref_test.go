package evidence

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// This file keeps the anchor scan FindSecrets had before its filter, as
// the reference the differential tests hold the new one to: the Shift-And
// matcher run over every byte, with its own copy of the anchors, so that a
// change to the scanner or to the anchors cannot change both sides.

// refAnchor is anchor, as the reference knows it.
type refAnchor struct {
	kind    anchorKind
	pattern string
	fold    bool
}

// refAnchors are the anchors as they were.
var refAnchors = []refAnchor{
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

// refScanner is the reference's matcher: bit j of a state word is set when
// the pattern byte at bit j matches the text ending here.
type refScanner struct {
	masks  [256][2]uint64
	starts [2]uint64
	ends   [2]uint64
	anchor [2][64]uint8
	length []int
}

var refScan = newRefScanner(refAnchors)

func newRefScanner(list []refAnchor) *refScanner {
	s := &refScanner{length: make([]int, len(list))}
	used := [2]int{}
	for ai, a := range list {
		var pos [][]byte
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
		w := 0
		if used[0]+len(pos) > 64 {
			w = 1
		}
		if used[w]+len(pos) > 64 {
			panic("evidence: reference anchors do not fit the scanner")
		}
		base := used[w]
		used[w] += len(pos)
		s.length[ai] = len(pos)
		s.starts[w] |= 1 << base
		s.ends[w] |= 1 << (base + len(pos) - 1)
		s.anchor[w][base+len(pos)-1] = uint8(ai)
		for j, set := range pos {
			for _, c := range set {
				s.masks[c][w] |= 1 << (base + j)
				if a.fold && isLetter(c) {
					s.masks[c^0x20][w] |= 1 << (base + j)
				}
			}
		}
	}
	return s
}

// refFindSecrets is FindSecrets with the reference scan.
func refFindSecrets(text string) []Secret {
	f := finder{text: text}
	f.refRun()
	if len(f.hits) == 0 {
		return nil
	}
	return resolve(f.hits)
}

// anchorFound is an anchor a scan found and checked: its index in anchors
// and where its pattern is.
type anchorFound struct{ anchor, start, end int }

// refRun is run as it was: every byte through both state words.
func (f *finder) refRun() {
	s := refScan
	t := f.text
	var a, b uint64
	sa, sb := s.starts[0], s.starts[1]
	ea, eb := s.ends[0], s.ends[1]
	for i := 0; i < len(t); i++ {
		m := &s.masks[t[i]]
		a = (a<<1 | sa) & m[0]
		b = (b<<1 | sb) & m[1]
		if a&ea|b&eb != 0 {
			f.refAnchorsAt(i+1, 0, a&ea)
			f.refAnchorsAt(i+1, 1, b&eb)
		}
	}
}

// refAnchorsAt is anchorsAt as it was.
func (f *finder) refAnchorsAt(end, w int, found uint64) {
	if f.onAnchors != nil && found != 0 {
		f.onAnchors(end, w, found)
	}
	for found != 0 {
		ai := refScan.anchor[w][bits.TrailingZeros64(found)]
		found &= found - 1
		start := end - refScan.length[ai]
		switch refAnchors[ai].kind {
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

// scanText returns the anchors a scan of text checks and the hits the
// checks emit, in their order, before overlaps are resolved.
func scanText(text string, scan func(*finder), anchor *[2][64]uint8, length []int) ([]anchorFound, []hit) {
	var found []anchorFound
	f := finder{text: text, onAnchors: func(end, w int, set uint64) {
		for ; set != 0; set &= set - 1 {
			ai := int(anchor[w][bits.TrailingZeros64(set)])
			found = append(found, anchorFound{ai, end - length[ai], end})
		}
	}}
	scan(&f)
	return found, f.hits
}

// checkMatchesReference checks that the scan checks the anchors the
// reference checks, in the same order, so that both emit the same hits and
// FindSecrets returns what it did.
func checkMatchesReference(t *testing.T, text string) {
	t.Helper()
	gotFound, got := scanText(text, (*finder).run, &scanner.anchor, scanner.length)
	wantFound, want := scanText(text, (*finder).refRun, &refScan.anchor, refScan.length)
	if !slices.Equal(gotFound, wantFound) {
		t.Fatalf("scan of %q checks the anchors\n%+v\nthe reference checks\n%+v", text, gotFound, wantFound)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("scan of %q emits\n%+v\nthe reference emits\n%+v", text, got, want)
	}
	if got, want := FindSecrets(text), refFindSecrets(text); !slices.Equal(got, want) {
		t.Fatalf("FindSecrets(%q) =\n%+v\nthe reference finds\n%+v", text, got, want)
	}
}

// referenceSeeds are texts for the differential tests: the redaction seeds,
// transcript lines, Stripe objects, the pieces of secrets, and a text with
// one of everything cut at every length up to 200 bytes.
func referenceSeeds(f *testing.F) []string {
	seeds := redactSeeds(f)
	seeds = append(seeds, strings.Split(transcriptCorpus(2, 64<<10), "\n")...)
	seeds = append(seeds, stripeCorpus(2, 60)...)
	seeds = append(seeds, referenceTexts...)
	for _, s := range referenceTexts {
		for n := 0; n <= min(200, len(s)); n++ {
			seeds = append(seeds, s[:n], s[len(s)-n:])
		}
	}
	return seeds
}

// referenceTexts hold secrets of every rule, and their anchors where they
// meet, start or end a text.
var referenceTexts = []string{
	`{"id":"pi_3RRhF63XC1wENtSE1Ns9oG5U","object":"payment_intent","client_secret":"pi_3RRhF63XC1wENtSE1Ns9oG5U_secret_9vKqX2mPfL0aZ7tY","receipt_email":"niamh.oneill1962@example.com","metadata":{"api_key":"sk_live_51SalvageFakeKeyHbn88HxjSI6bWHtP3fS2qHx6kwXoIIXGvOoNZYW2mZp0zV","ro":"rk_test_SalvageFakeSM9wCZ7Uw9"}}`,
	`{"metadata":{"sync":"postgres://sync:xjHoghTS2UPiFII65IhHdS7D@db.atlantico.internal/bookings","hook":"https://hooks.slack.com/services/` + tSlackHook + `"},"email":"a@b.example"}`,
	"-----BEGIN RSA PRIVATE KEY-----\n" + tPEMBody + "\n-----END RSA PRIVATE KEY-----\n",
	`"key":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oLQ4yzVhy+x4oAoGCCqGSM49\n-----END EC PRIVATE KEY-----"`,
	"Authorization: Bearer " + tCloudrail + "\nAuthorization: Basic " + tBasic + "\n" + tJWT + " " + tAWSID + " " + tAWSSecret,
	tGitHub + " " + tGitHubPAT + " " + tGoogleKey + " " + tGoogleAuth + " " + tWhsec + " " + tSlackBot + " " + tSlackApp,
	`TOKEN=a SECRET=b PASS=c PWD=d APIKEY=e API_KEY=f api.key=g api-key=h ACCESS=i AUTH=j CRED=k PRIVATE=l BEARER BASIC`,
	"sk_live_sk_test_rk_live_pk_test_k_live_k_tesk_lest_AKIAASIAABIAACCAAIzaeyJeyJ://://ghp_gho_ghu_ghs_ghr_b_pat_xoxb-xoxe-xapp-ya29.whsec_BEGIN BEGIN ",
	"tokentokensecretsecretpasspasspwdpwdapikeyapi_keyaccessaccessauthauthcredcredprivateprivatebearerbearerbasicbasic",
	`export API_TOKEN=9f8e7d6c5b4a39281706f5e4; db_password="Tr0ub4dor&3xq"; --password s3cr3t-P4ss!x ?access_token=` + tGoogleAuth + `&next=1`,
}

// FuzzFinderMatchesReference checks that the scan finds what the reference
// finds, in the same order, on any text.
func FuzzFinderMatchesReference(f *testing.F) {
	for _, s := range referenceSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(checkMatchesReference)
}

// anchorBytes are the bytes of the anchors, in both cases, and a few that
// end keys and values: random texts of them are full of anchors, of their
// starts and of their overlaps.
const anchorBytes = "tokenTOKENsecretSECRETpassPASSwdWDiIyYvVbBhHuUlLzZxX29AKSBCGJN_.-:/= \""

// TestFinderMatchesReference compares the scan and the reference on the
// benchmarks' corpora, on Stripe objects, on each text of referenceTexts
// cut at every length and moved to every offset of the scan's eight bytes,
// and on random texts of fragments and of anchors' bytes.
func TestFinderMatchesReference(t *testing.T) {
	for _, l := range benchCorpus() {
		checkMatchesReference(t, l)
	}
	for _, o := range stripeCorpus(3, 3000) {
		checkMatchesReference(t, o)
	}
	checkMatchesReference(t, strings.Join(stripeCorpus(4, 300), "\n"))
	for _, s := range referenceTexts {
		for i := range len(s) {
			checkMatchesReference(t, s[i:])
			checkMatchesReference(t, s[:i])
		}
		for n := range 24 {
			checkMatchesReference(t, strings.Repeat("x", n)+s)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 24)
	for range 20000 {
		data = data[:1+r.IntN(len(data))]
		for i := range data {
			data[i] = byte(r.IntN(256))
		}
		checkMatchesReference(t, fragmentText(data))
	}
	text := make([]byte, 96)
	for range 50000 {
		text = text[:r.IntN(len(text)+1)]
		for i := range text {
			text[i] = anchorBytes[r.IntN(len(anchorBytes))]
		}
		checkMatchesReference(t, string(text))
	}
}
