package evidence

import (
	"regexp"
	"strings"
)

// keyPrefix is the readable part of a credential: letters in groups joined
// by '_' or '-' and ending with one ("rk_live_", "crl_pat_", "xoxb-").
var keyPrefix = regexp.MustCompile(`^[A-Za-z]{1,8}(?:[_-][A-Za-z]{1,8}){0,2}[_-]`)

// Fingerprint identifies a secret without revealing it: its readable prefix,
// an ellipsis and its last four characters ("rk_live_…9f2c"). Secrets too
// short to keep anything of are shown as "…" alone. Exports, logs and errors
// show secrets only as fingerprints.
func Fingerprint(secret string) string {
	prefix := keyPrefix.FindString(secret)
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
