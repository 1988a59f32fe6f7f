package evidence

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Test secrets: random, made for these tests, valid nowhere.
const (
	tGitHub       = "ghp_SalvageFake0IgxLd6GncfBAepfJBd0Kh8oO"
	tGitHubPAT    = "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"
	tGoogleKey    = "AIzaORS_6ilI8ihN5KXSc7Tvo_hBKqFYY_kv5ZJ"
	tGoogleAuth   = "ya29.a0r3J1TWDtkwtDDb-xHKas1VOqg6YYZYn9ZhyiA4uoRgnatmUdjAWtGSU8po-7"
	tStripe       = "sk_live_51SalvageFakeKeyHbn88HxjSI6bWHtP3fS2qHx6kwXoIIXGvOoNZYW2mZp0zV"
	tStripeRK     = "rk_live_SalvageFakeSM9wCZ7Uw9"
	tWhsec        = "whsec_xfogoEmvnEN5N1aE6PwZPf1Qh6yYTWmE"
	tClientSecret = "pi_3SalvageFakeQ1rDkVz8T_secret_edloXF1x8n8DpVbQCWOGoMTkZ"
	tAWSID        = "AKIASALVAGEFAKEBJ5J6"
	tAWSSecret    = "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"
	tSlackBot     = "xoxb-0000000000000-0000000000000-SalvageFakeCueQpBenQtYh5Xj"
	tSlackApp     = "xapp-1-AXJQI3OGZ5K-3268656355150-aee0ca923732881584d8c4fa2815d2802827283e0ad84173581569969e58b081"
	tSlackHook    = "TAB69M64P/B2G158Z6TNO/vm14TUOizwd1iaeOV4qBkdfQ"
	tBasic        = "ZGVwbG95OnMzY3IzdC1QNHNzIQ==" // deploy:s3cr3t-P4ss!
	tPassword     = "1y3GQsMpSscDlkrCaqx9vJup"
	tHex          = "196b50ac2f86702824c1c099724caf49"
	tJWT          = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	tCloudrail    = "crl_pat_Gujlan3x7uLY5HlKiEw5qhcRi6MDcfjDHnyZgemM"
	tPEMBody      = "MIIEowIBAAKCAQEAShbbRwh1Kw8VRLg1wOcZCX36hwHpIy8h8oEmh3hpduv8wyf1\nkxdlJ0upgptEBvYf+Ikyb/qUku3u7jxmnyvyCJTqJ+aJxmtrJi5IhrhDjzm6dv74\nyQxRAfvmz5pI1bDAoT2pAKatyz1kBpSBviHJxye424wYjzQakkx/iN+hYb/bDsxo=="
)

// secretCases are texts and the secrets in them, as "rule value".
var secretCases = []struct {
	name string
	in   string
	want []string
}{
	// Vendors.
	{"stripe env", "STRIPE_SECRET_KEY=" + tStripe, []string{"stripe-key " + tStripe}},
	{"stripe restricted in prose", "use " + tStripeRK + " for reads", []string{"stripe-key " + tStripeRK}},
	{"stripe test key", "sk_test_510tYQzYirOAsStRZNoa0UGX9TLsLiqnS2xSHKBNKG0xXPs", []string{"stripe-key sk_test_510tYQzYirOAsStRZNoa0UGX9TLsLiqnS2xSHKBNKG0xXPs"}},
	{"stripe publishable", `const pk = "pk_live_51EEtfjgVvVqE1SkHbn88Hx";`, []string{"stripe-key pk_live_51EEtfjgVvVqE1SkHbn88Hx"}},
	{"stripe webhook", "STRIPE_WEBHOOK_SECRET=" + tWhsec, []string{"stripe-webhook-secret " + tWhsec}},
	{"stripe client secret, JSON", `"client_secret": "` + tClientSecret + `",`, []string{"stripe-client-secret " + tClientSecret}},
	{"stripe client secret, as the workbook lists it", "client_secret: " + tClientSecret + "\nconfirmation_method: automatic", []string{"stripe-client-secret " + tClientSecret}},
	{"stripe setup intent secret in prose", "confirm with seti_1Nq8xTGf2kLm9PzQ0aBcDeFg_secret_Pq7rS8tU9vW0xY1zA2bC3dE4f in the page", []string{"stripe-client-secret seti_1Nq8xTGf2kLm9PzQ0aBcDeFg_secret_Pq7rS8tU9vW0xY1zA2bC3dE4f"}},
	{"aws pair", "aws_access_key_id = " + tAWSID + "\naws_secret_access_key = " + tAWSSecret + "\n",
		[]string{"aws-access-key " + tAWSID, "aws-secret-key " + tAWSSecret}},
	{"aws csv", "User name,Access key ID,Secret access key\nci," + tAWSID + "," + tAWSSecret + "\n",
		[]string{"aws-access-key " + tAWSID, "aws-secret-key " + tAWSSecret}},
	{"aws json", `{"AWS_SECRET_ACCESS_KEY": "` + tAWSSecret + `"}`, []string{"aws-secret-key " + tAWSSecret}},
	{"github classic", "git remote set-url origin https://" + tGitHub + "@github.com/o/r.git", []string{"github-token " + tGitHub}},
	{"github fine-grained", "GH_TOKEN=" + tGitHubPAT + " gh pr list", []string{"github-token " + tGitHubPAT}},
	{"github in x-access-token url", "https://x-access-token:" + tGitHub + "@github.com/o/r", []string{"github-token " + tGitHub}},
	{"slack bot", `"bot_token": "` + tSlackBot + `"`, []string{"slack-token " + tSlackBot}},
	{"slack app", tSlackApp, []string{"slack-token " + tSlackApp}},
	{"slack webhook", "curl -X POST https://hooks.slack.com/services/" + tSlackHook + " -d @msg.json", []string{"slack-webhook " + tSlackHook}},
	{"google api key", `"apiKey": "` + tGoogleKey + `",`, []string{"google-api-key " + tGoogleKey}},
	{"google oauth", "access_token=" + tGoogleAuth + "&x=1", []string{"google-oauth-token " + tGoogleAuth}},
	{"jwt", "session cookie " + tJWT + ";", []string{"jwt " + tJWT}},
	{"jwt bearer", "Authorization: Bearer " + tJWT, []string{"jwt " + tJWT}},
	// Context.
	{"curl bearer", `curl -sS -H "Authorization: Bearer ` + tCloudrail + `" https://api`, []string{"bearer-token " + tCloudrail}},
	{"bearer lower case", `{"authorization":"bearer ` + tPassword + `"}`, []string{"bearer-token " + tPassword}},
	{"basic", "Authorization: Basic " + tBasic, []string{"basic-auth " + tBasic}},
	{"url password", "DATABASE_URL=postgres://atlantico_app:xjHoghTS2UPiFII65IhHdS7D@db-prod.atlantico.internal:5432/bookings?sslmode=require",
		[]string{"url-password xjHoghTS2UPiFII65IhHdS7D"}},
	{"url password no user", "redis://:p4ssw0rdXYZ@cache:6379/0", []string{"url-password p4ssw0rdXYZ"}},
	{"url short password", "mysql://root:hunter2@localhost/db", []string{"url-password hunter2"}},
	{"private key", "-----BEGIN RSA PRIVATE KEY-----\n" + tPEMBody + "\n-----END RSA PRIVATE KEY-----\n", []string{"private-key " + tPEMBody}},
	{"private key cut short", "$ head -3 id_rsa\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABlwAAAAdzc2gtcn\nNhAAAAAwEAAQAAAYEAu3Q0\n$ ",
		[]string{"private-key b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABlwAAAAdzc2gtcn\nNhAAAAAwEAAQAAAYEAu3Q0"}},
	// Generic assignments.
	{"env token unknown vendor", "CLOUDRAIL_TOKEN=" + tCloudrail + "\n", []string{"generic-assignment " + tCloudrail}},
	{"export", "export API_TOKEN=9f8e7d6c5b4a39281706f5e4", []string{"generic-assignment 9f8e7d6c5b4a39281706f5e4"}},
	{"json secret", `"client_secret" : "` + tHex + `",`, []string{"generic-assignment " + tHex}},
	{"yaml password", "  password: Tr0ub4dor&3xq\n", []string{"generic-assignment Tr0ub4dor&3xq"}},
	{"quoted password with symbols", `password: "Tr0ub4dor&3xq;"`, []string{"generic-assignment Tr0ub4dor&3xq;"}},
	{"db pass", "DB_PASS=Zx81!qP2vLw", []string{"generic-assignment Zx81!qP2vLw"}},
	{"word, year and symbol", "DB_PASS=Summer2024!", []string{"generic-assignment Summer2024!"}},
	{"random without digits", `"secret": "xjHoghTS-UPiFIIhHd!SzqD"`, []string{"generic-assignment xjHoghTS-UPiFIIhHd!SzqD"}},
	{"sentence end", "Set SESSION_SECRET=Qm9vayB5b3VyIHJvb20gdG9kYXk7Zw. Then restart.", []string{"generic-assignment Qm9vayB5b3VyIHJvb20gdG9kYXk7Zw"}},
	{"stripe client secret", `"client_secret": "pi_1Mcd6XJITzLVzkSmwOxqskee_secret_JwlrslN96B4lvG68fs4kDmrmy"`, []string{"stripe-client-secret pi_1Mcd6XJITzLVzkSmwOxqskee_secret_JwlrslN96B4lvG68fs4kDmrmy"}},
	{"pgpassword", "PGPASSWORD=" + tPassword + " psql -h db", []string{"generic-assignment " + tPassword}},
	{"flag", "mysqldump --password " + tPassword + " bookings", []string{"generic-assignment " + tPassword}},
	{"flag equals", "mysqldump --password=" + tPassword, []string{"generic-assignment " + tPassword}},
	{"go assignment", `apiKey := "` + tPassword + `"`, []string{"generic-assignment " + tPassword}},
	{"php array", `'db_password' => '` + tPassword + `',`, []string{"generic-assignment " + tPassword}},
	{"header api key", "X-Api-Key: 3a16750d-d363-41a4-8ebd-035408f7730f", []string{"generic-assignment 3a16750d-d363-41a4-8ebd-035408f7730f"}},
	{"query token", "GET /cb?state=1&access_token=" + tPassword + "&x=y", []string{"generic-assignment " + tPassword}},
	{"camel case", "accessToken=" + tPassword, []string{"generic-assignment " + tPassword}},
	{"authorization without scheme", `"Authorization": "` + tPassword + `"`, []string{"generic-assignment " + tPassword}},
	{"authorization token scheme", "Authorization: token " + tPassword, []string{"generic-assignment " + tPassword}},
	{"two in a line", "TOKEN_A=" + tPassword + " TOKEN_B=" + tHex, []string{"generic-assignment " + tPassword, "generic-assignment " + tHex}},
	{"vendor beats generic", "TOKEN=" + tGitHub, []string{"github-token " + tGitHub}},
	{"transcript line", `"content":"     1\t# ops-ci-token (old dashboard, do not commit)\n     2\tCLOUDRAIL_TOKEN=` + tCloudrail + `\n     3\tDATABASE_URL=postgres://atlantico_app:xjHoghTS2UPiFII65IhHdS7D@db-prod.atlantico.internal:5432/bookings\n"`,
		[]string{"generic-assignment " + tCloudrail, "url-password xjHoghTS2UPiFII65IhHdS7D"}},
	{"transcript curl", `"command":"curl -X POST https://backboard.cloudrail.example/graphql/v2 \\\n  -H \"Authorization: Bearer ` + tCloudrail + `\" \\\n  -H \"Content-Type: application/json\""`,
		[]string{"bearer-token " + tCloudrail}},
	{"escaped newline before prefix", `ok\n` + tStripeRK + `\n`, []string{"stripe-key " + tStripeRK}},

	// Placeholders.
	{"stripe xxx", "sk_test_xxx", nil},
	{"stripe XXX", "STRIPE_KEY=sk_live_XXXXXXXX", nil},
	{"stripe long X", "STRIPE_KEY=sk_live_XXXXXXXXXXXXXXXXXXXXXXXXXXXX", nil},
	{"stripe masked", "sk_live_51SalvageFak...mZp0zV", nil},
	{"angle", "TOKEN=<token>", nil},
	{"angle long", "Authorization: Bearer <your personal token>", nil},
	{"env ref braces", "API_TOKEN=${API_TOKEN}", nil},
	{"env ref", "API_TOKEN=$CLOUDRAIL_TOKEN", nil},
	{"env ref bearer", `-H "Authorization: Bearer $CLOUDRAIL_TOKEN"`, nil},
	{"shell substitution", "TOKEN=$(gh auth token)", nil},
	{"shell backticks", "TOKEN=`gh auth token`", nil},
	{"gha secret", "token: ${{ secrets.GITHUB_TOKEN }}", nil},
	{"your", "api_key: your-api-key-1234", nil},
	{"your upper", "OPENAI_API_KEY=YOUR_API_KEY_HERE", nil},
	{"changeme", "password: changeme123", nil},
	{"example", "password=example-pass-42", nil},
	{"aws example", "aws_access_key_id=AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", nil},
	{"stars", "password: ********", nil},
	{"stars quoted", `"token": "***"`, nil},
	{"redacted", `"client_secret": "[REDACTED]"`, nil},
	{"redacted word", "SECRET_KEY=redacted-2024", nil},
	{"replace me", "SECRET=REPLACE_ME", nil},
	{"repeated", "PASSWORD=aaaaaaaaaaaa", nil},
	{"repeated digits", "TOKEN=000000000000", nil},
	{"fingerprint", "CLOUDRAIL_TOKEN=" + Fingerprint(tCloudrail), nil},
	{"fingerprint stripe", Fingerprint(tStripe), nil},
	{"fingerprint url", "postgres://atlantico_app:" + Fingerprint("xjHoghTS2UPiFII65IhHdS7D") + "@db/x", nil},
	{"url placeholder", "https://user:password@example.com", nil},
	{"url env", "postgres://app:${DB_PASSWORD}@db/x", nil},
	{"empty password", `password: ""`, nil},
	{"empty escaped", `\"password\": \"\"`, nil},
	{"basic dots", `--header "Authorization: Basic ..."`, nil},
	{"basic not base64 credentials", "Authorization: Basic " + tJWT, []string{"jwt " + tJWT}},
	{"slack placeholder", "xoxb-xxxxxxxxx-xxxxxxxxxx-xxxxxxxxxxxx", nil},
	{"github placeholder", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", nil},

	// Ordinary text.
	{"prose", "The token is stored in the vault; pass the secret to the function and check the password policy.", nil},
	{"prose auth", "Authentication failed: invalid password for user tiago (attempt 3 of 5).", nil},
	{"bearer prose", "Use Bearer authentication with a short-lived token.", nil},
	{"basic prose", "Basic usage: salvage import stripe --from DIR", nil},
	{"go getenv", `token := os.Getenv("CLOUDRAIL_TOKEN")`, nil},
	{"go compare", `if password == "" {`, nil},
	{"go method", "func (c *Client) authToken() string { return c.token }", nil},
	{"go struct tag", "\tToken string `json:\"token\"`", nil},
	{"go field", "apiKey := cfg.APIKey2", nil},
	{"python attr", "self.token = token_value_2", nil},
	{"python call", "api_key = os.environ.get('API_KEY', 'dev')", nil},
	{"js", "const secret = process.env.JWT_SECRET || randomBytes(32);", nil},
	{"uuid alone", "request 0736f5ef-7e88-499a-80cc-90c85d2a5180 done", nil},
	{"git sha alone", "commit 4d3fd95a1b2c3d4e5f60718293a4b5c6d7e8f901\nAuthor: Tiago <t@example.org>", nil},
	{"git log", "4d3fd95 README and bench report: mail importers, mbox and IMAP-vs-mbsync goals", nil},
	{"thinking signature", `"signature":"c3VTaGxQRm9NdFFKQW5IbGZVRGFLUkFWSk1yU01zd3JBRElEZFEwQUl5MG1JQ1ExSG13b0tnbjRydFFsbEFzVWJkR2ZJUmtjaG9vZTNXVjM0RnMyV1FhTDAzSEczVTIxZnBUU2FVTldsR0dDQlZvVlpVdDV0d1Fj"`, nil},
	{"data uri", `<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==">`, nil},
	{"integrity", `"integrity": "sha512-Q4sYh3HZ4cYvL3cR0k+Yk3b0E0mKf7mP0h2Ck5vO1pWm2f5U8zYQ6K4sPz2Xv3n1qKj9Z0N3yB8R6t0Kx2m4Q=="`, nil},
	{"token file", "TOKEN_FILE=/run/secrets/cloudrail_token", nil},
	{"credentials path", "GOOGLE_APPLICATION_CREDENTIALS=/home/tiago/.config/gcloud/sa-2024.json", nil},
	{"key file", "private_key: keys/deploy_rsa-2024.pem", nil},
	{"token count", "token_count=12345", nil},
	{"usage", `"usage":{"input_tokens":5,"cache_creation_input_tokens":1743,"cache_read_input_tokens":27518,"output_tokens":157}`, nil},
	{"max tokens", "max_tokens: 4096", nil},
	{"test output", "--- PASS: TestAuthToken/valid_token_123 (0.01s)", nil},
	{"test output fail", "--- FAIL: TestPassword_v2 (0.00s)\n    auth_test.go:42: token mismatch", nil},
	{"sync token", `"nextSyncToken": "CPDAlvWDx70CEPDAlvWDx70CGAU="`, nil},
	{"page token", `"nextPageToken": "CkIKMAoGc3RhcnQSJhokCgwIABC4p8S2BhCA"`, nil},
	{"author", `author = "james.fake@ymail.com"`, nil},
	{"csrf", "csrf-token=Mj2qykJO5rELyHgezQ69nzUX0i3OH67V7", nil},
	{"bypass", `"permissionMode":"bypassPermissions"`, nil},
	{"secret name", `LLM_SECRET_NAME = "NEXUS-GPT4-API-KEY"`, nil},
	{"credentials id", "credentialsId: 'ff083f76-7804-4ef1-80e4-fe975bb9141b'", nil},
	{"public key", `public_key = "9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit"`, nil},
	{"expiry", "token_expires_at: 2026-11-18T14:04:06Z", nil},
	{"version", "auth_version=1.2.3-rc4", nil},
	{"sql begin", "BEGIN TRANSACTION;\nINSERT INTO bookings VALUES (1);\nCOMMIT;", nil},
	{"public pem", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END PUBLIC KEY-----", nil},
	{"url default password", "postgres://postgres:postgres@localhost:5432/app amqp://guest:guest@rabbit mysql://app:mysql@db", nil},
	{"url no password", "mysql://root@localhost/db https://github.com/salvagehq/salvage", nil},
	{"email", "mailto:tiago@atlantico.pt user@host:path", nil},
	{"jwt header alone", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", nil},
	{"identifier value", "TOKEN_KIND=personal_access_token_v2", nil},
	{"letters only", "password: CorrectHorseBattery", nil},
	{"word in quotes", `"token": "Authentication required for this resource"`, nil},
	{"file path", "/home/tiago/src/atlantico-booking/internal/auth/token.go:41:func Refresh(ctx context.Context)", nil},
	{"ls", "-rw-r--r-- 1 tiago tiago 4096 Nov 18 14:04 credentials.json", nil},
	{"go import", `import "golang.org/x/oauth2/google"`, nil},
	{"go address", "\tauth := &socksUsernamePassword{", nil},
	{"go call", "serverDefaultAuth := e2e.StartManagementServer(t, opts)", nil},
	{"go generated", "c.googlechromemanagementversionsv1enrollmenttoken = googlechromemanagementversionsv1enrollmenttoken", nil},
	{"go doc", "// Oauth2ClientCredentials: Oauth2ClientCredentials.", nil},
	{"go const name", `ConfirmationTokenPaymentMethodPreviewIDEALBIC = "BITSNL2A"`, nil},
	{"go const words", `const jsFetchCreds = "js.fetch:credentials"`, nil},
	{"go const kebab", `token = "body-type-1part"`, nil},
	{"go const dotted", `oauth2TokenSourceKey = "oauth2.google.tokenSource"`, nil},
	{"go const screaming", `const NCRYPT_PKCS8_PRIVATE_KEY_BLOB = "PKCS8_PRIVATEKEY"`, nil},
	{"etc group", "// groupname:password:GID:user_list", nil},
	{"urn", "Token: `urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2`,", nil},
	{"arn", `"secret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod-db-AbC123"`, nil},
	{"form body", `baseCredsReqBody = "audience=32555940559.apps.googleusercontent.com&grant_type=urn%3Aietf%3Atoken-exchange"`, nil},
	{"oauth query", "https://accounts.example/o/oauth2/auth?redirect_uri=urn:ietf:wg:oauth:2.0:oob&response_type=code&client_id=client_id", nil},
	{"keyword and digits", `"Authorization": "Bearer token123"`, nil},
	{"password1", "password: password123", nil},
	{"word and year", "DB_PASS=Summer2024", nil},
}

func got(found []Secret) []string {
	var out []string
	for _, s := range found {
		out = append(out, s.Rule+" "+s.Value)
	}
	return out
}

func TestFindSecrets(t *testing.T) {
	for _, tc := range secretCases {
		t.Run(tc.name, func(t *testing.T) {
			found := FindSecrets(tc.in)
			if g := got(found); !slices.Equal(g, tc.want) {
				t.Errorf("FindSecrets(%q)\n got %q\nwant %q", tc.in, g, tc.want)
			}
			checkFound(t, tc.in, found)
		})
	}
}

// TestFindSecretsEscaped finds the same secrets in a text written as a JSON
// string, the way transcripts hold tool output.
func TestFindSecretsEscaped(t *testing.T) {
	for _, tc := range secretCases {
		if strings.Contains(tc.name, "private key") {
			continue // the body spans lines, so its escaped form differs
		}
		t.Run(tc.name, func(t *testing.T) {
			line := `{"content":` + jsonString("     2\t"+tc.in+"\n     3\t") + "}"
			found := FindSecrets(line)
			if g := got(found); !slices.Equal(g, tc.want) {
				t.Errorf("FindSecrets(%s)\n got %q\nwant %q", line, g, tc.want)
			}
			checkFound(t, line, found)
		})
	}
}

// checkFound checks the properties of every result of FindSecrets.
func checkFound(t *testing.T, text string, found []Secret) {
	t.Helper()
	prev := 0
	for _, s := range found {
		if s.Start < prev || s.End <= s.Start || s.End > len(text) || text[s.Start:s.End] != s.Value {
			t.Errorf("bad secret %+v (previous ended at %d)", s, prev)
			return
		}
		prev = s.End
		if strings.Contains(s.Value, "…") {
			t.Errorf("secret %q holds a fingerprint", s.Value)
		}
	}
	red := Redact(text)
	for _, s := range found {
		if len(s.Value) >= minKnownLen && strings.Contains(red, s.Value) {
			t.Errorf("Redact(%q) = %q, still holds %q", text, red, s.Value)
		}
	}
	if again := Redact(red); again != red {
		t.Errorf("Redact is not idempotent:\n once %q\ntwice %q", red, again)
	}
	if len(found) == 0 && red != text {
		t.Errorf("Redact changed a text without secrets: %q", red)
	}
	if f := FindSecrets(red); len(f) > 0 {
		t.Errorf("FindSecrets(Redact(x)) = %q", got(f))
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"TOKEN=" + tCloudrail + "\n", "TOKEN=crl_pat_…gemM\n"},
		{"rk: " + tStripeRK + ".", "rk: rk_live_…7Uw9."},
		{"postgres://app:xjHoghTS2UPiFII65IhHdS7D@db/x", "postgres://app:…dS7D@db/x"},
		{"mysql://root:hunter2@localhost/db", "mysql://root:…@localhost/db"},
		// Once found, a value is replaced everywhere in the text.
		{"CLOUDRAIL_TOKEN=" + tCloudrail + " and later " + tCloudrail + " alone",
			"CLOUDRAIL_TOKEN=crl_pat_…gemM and later crl_pat_…gemM alone"},
		{"no secrets here", "no secrets here"},
		{"", ""},
		// A payment intent's client secret, not its id.
		{"id: pi_3SalvageFakeQ1rDkVz8T\nclient_secret: " + tClientSecret + "\n", "id: pi_3SalvageFakeQ1rDkVz8T\nclient_secret: pi_…MTkZ\n"},
		{"api_3SalvageFakeQ1rDkVz8T_secret_edloXF1x8n8DpVbQCWOGoMTkZ and pi_short_secret_x", "api_3SalvageFakeQ1rDkVz8T_secret_edloXF1x8n8DpVbQCWOGoMTkZ and pi_short_secret_x"},
	}
	for _, tc := range tests {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSecretSet(t *testing.T) {
	var s SecretSet
	if s.Len() != 0 || s.Redact("x "+tCloudrail) != "x "+tCloudrail {
		t.Fatal("empty set")
	}
	s.Add("short", "", "sk_test_xxx", "sk_live_XXXXXXXXXXXXXXXX", "${TOKEN}", "<token>", "your-api-key",
		"changeme", "aaaaaaaaaaaa", Fingerprint(tCloudrail), "REPLACE_ME", "abc_def_")
	if s.Len() != 0 {
		t.Fatalf("Add kept placeholders: %q", s.Values())
	}
	found := s.AddFound("CLOUDRAIL_TOKEN=" + tCloudrail + "\nSTRIPE=" + tStripeRK)
	if len(found) != 2 {
		t.Fatalf("AddFound = %q", got(found))
	}
	s.Add(tPassword, tPassword)
	if want := []string{tPassword, tCloudrail, tStripeRK}; !slices.Equal(s.Values(), want) {
		t.Fatalf("Values() = %q, want %q", s.Values(), want)
	}
	if s.Len() != 3 {
		t.Fatalf("Len() = %d", s.Len())
	}
	// Known values go wherever they are, context or not.
	in := "echo " + tCloudrail + "|" + tPassword + "x" + tStripeRK
	want := "echo crl_pat_…gemM|…vJupxrk_live_…7Uw9"
	if got := s.Redact(in); got != want {
		t.Fatalf("Redact(%q) = %q, want %q", in, got, want)
	}
	// And so do the secrets the set does not know.
	in = "GITHUB_TOKEN=" + tGitHub + "; " + tCloudrail
	want = "GITHUB_TOKEN=ghp_…h8oO; crl_pat_…gemM"
	if got := s.Redact(in); got != want {
		t.Fatalf("Redact(%q) = %q, want %q", in, got, want)
	}
	if s.Len() != 3 {
		t.Fatal("Redact changed the set")
	}
	// Bytes: the same slice back when there is nothing to redact.
	b := []byte("nothing to see")
	if out := s.RedactBytes(b); &out[0] != &b[0] {
		t.Error("RedactBytes copied a text without secrets")
	}
	if out := s.RedactBytes([]byte("t " + tPassword)); string(out) != "t …vJup" {
		t.Errorf("RedactBytes = %q", out)
	}
	if out := s.RedactBytes(nil); out != nil {
		t.Errorf("RedactBytes(nil) = %q", out)
	}
}

// TestSecretSetLongestFirst replaces a value before the shorter values
// inside it.
func TestSecretSetLongestFirst(t *testing.T) {
	var s SecretSet
	long := "postgres://app:" + tPassword + "@db-prod.internal/bookings"
	s.Add(tPassword, long)
	got := s.Redact("url " + long + " pw " + tPassword)
	want := "url " + Fingerprint(long) + " pw " + Fingerprint(tPassword)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestSecretSetMany checks the matcher against strings.Replace, value by
// value, with a thousand values.
func TestSecretSetMany(t *testing.T) {
	var s SecretSet
	vals := make([]string, 1000)
	for i := range vals {
		vals[i] = randomToken(uint64(i), 8+i%40)
	}
	s.Add(vals...)
	if s.Len() != len(vals) {
		t.Fatalf("Len() = %d", s.Len())
	}
	var in strings.Builder
	for i, v := range vals {
		if i%3 == 0 {
			in.WriteString("line ")
			in.WriteString(v)
			in.WriteString(" more words\n")
		}
	}
	red := s.Redact(in.String())
	for _, v := range vals {
		if strings.Contains(red, v) {
			t.Fatalf("%q left in the output", v)
		}
	}
	want := in.String()
	for i, v := range vals {
		if i%3 == 0 {
			want = strings.Replace(want, "line "+v+" ", "line "+Fingerprint(v)+" ", 1)
		}
	}
	if red != want {
		t.Fatal("Redact and strings.Replace disagree")
	}
}

// randomToken returns an alphanumeric token from a seed, the same every run.
func randomToken(seed uint64, n int) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = alpha[x%uint64(len(alpha))]
	}
	return string(b)
}

// TestScenarioTranscripts redacts the committed scenario's transcripts, raw
// line by raw line, with a set fed from all lines first.
func TestScenarioTranscripts(t *testing.T) {
	secrets := readLines(t, "../fixtures/scenario/truth/secrets.txt")
	if len(secrets) < 5 {
		t.Fatalf("secrets.txt has %d lines", len(secrets))
	}
	files, err := filepath.Glob("../fixtures/scenario/transcripts/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	var lines []string
	for _, f := range files {
		lines = append(lines, readLines(t, f)...)
	}
	var set SecretSet
	for _, l := range lines {
		set.AddFound(l)
	}
	out := strings.Join(lines, "\n")
	var redacted []string
	for _, l := range lines {
		r := set.Redact(l)
		redacted = append(redacted, r)
		if set.Redact(r) != r {
			t.Errorf("not idempotent: %q", r)
		}
	}
	joined := strings.Join(redacted, "\n")
	for _, s := range secrets {
		check := s
		if strings.Contains(s, "://") {
			// The URL's password must go; its user and host may stay.
			check = s[strings.LastIndex(s[:strings.LastIndexByte(s, '@')], ":")+1 : strings.LastIndexByte(s, '@')]
		}
		if !strings.Contains(out, check) {
			t.Errorf("the scenario does not hold %q", check)
		}
		if strings.Contains(joined, check) {
			t.Errorf("%q left after redaction", check)
		}
	}
	for _, s := range []string{secrets[0], secrets[1], secrets[3], secrets[4]} {
		if fp := Fingerprint(s); !strings.Contains(joined, fp) {
			t.Errorf("fingerprint %q not in the redacted transcripts", fp)
		}
	}
	for i, r := range redacted {
		if !json.Valid([]byte(r)) {
			t.Errorf("line %d is no longer JSON: %s", i+1, r)
		}
	}
}

func readLines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if sc.Text() != "" {
			out = append(out, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNoAllocs checks that a text without secrets costs no allocation.
func TestNoAllocs(t *testing.T) {
	line := transcriptCorpus(1, 64<<10)
	var s SecretSet
	s.Add(tCloudrail, tPassword, tStripe)
	if n := testing.AllocsPerRun(20, func() { FindSecrets(line) }); n != 0 {
		t.Errorf("FindSecrets: %v allocations", n)
	}
	s.Redact(line) // builds the matcher
	if n := testing.AllocsPerRun(20, func() { s.Redact(line) }); n != 0 {
		t.Errorf("SecretSet.Redact: %v allocations", n)
	}
	b := []byte(line)
	if n := testing.AllocsPerRun(20, func() { s.RedactBytes(b) }); n != 0 {
		t.Errorf("SecretSet.RedactBytes: %v allocations", n)
	}
}

func TestSecretRules(t *testing.T) {
	names := map[string]bool{}
	for _, r := range SecretRules() {
		if r.Name == "" || r.Description == "" || names[r.Name] || strings.Contains(r.Description, "\n") {
			t.Errorf("bad rule %+v", r)
		}
		names[r.Name] = true
	}
	for _, tc := range secretCases {
		for _, w := range tc.want {
			if rule, _, _ := strings.Cut(w, " "); !names[rule] {
				t.Errorf("%s: rule %q not in SecretRules", tc.name, rule)
			}
		}
	}
}

var update = flag.Bool("update", false, "rewrite the golden files of testdata/redact")

// TestRedactGolden redacts each testdata/redact/*.input and compares with
// its .golden; -update rewrites them.
func TestRedactGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/redact/*.input")
	if len(inputs) == 0 {
		t.Fatal("no testdata/redact/*.input")
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var set SecretSet
			set.AddFound(string(b))
			got := set.Redact(string(b))
			golden := strings.TrimSuffix(in, ".input") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("Redact(%s) differs from %s:\n%s", in, golden, got)
			}
			if Redact(got) != got {
				t.Errorf("%s: redacting the golden output changes it", golden)
			}
		})
	}
}

func TestPrivateKeyBodies(t *testing.T) {
	body := "MIIEowIBAAKCAQEAShbbRwh1Kw8VRLg1wOcZCX36hwHpIy8h8oEmh3hpduv8wyf1\nkxdlJ0upgptEBvYf+Ikyb/qUku3u7jxmnyvyCJTqJ+aJxmtrJi5IhrhDjzm6dv74\nyQxRAfvmz5pI1bDAoT2pAKatyz1kBpSBviHJxye424wYjzQakkx/iN+hYb/bDsxo=="
	esc := strings.ReplaceAll(body, "\n", `\n`)
	tests := []struct{ in, want string }{
		{"-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----", body},
		{"-----BEGIN PRIVATE KEY-----\r\n" + strings.ReplaceAll(body, "\n", "\r\n") + "\r\n-----END PRIVATE KEY-----", strings.ReplaceAll(body, "\n", "\r\n")},
		{`"-----BEGIN EC PRIVATE KEY-----\n` + esc + `\n-----END EC PRIVATE KEY-----\n"`, esc},
		{`-----BEGIN EC PRIVATE KEY-----\\n` + strings.ReplaceAll(body, "\n", `\\n`) + `\\n-----END`, strings.ReplaceAll(body, "\n", `\\n`)},
		{"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF\n\n" + body + "\n-----END RSA PRIVATE KEY-----",
			"Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF\n\n" + body},
		{"-----BEGIN PRIVATE KEY----- " + strings.ReplaceAll(body, "\n", " ") + " -----END PRIVATE KEY-----", strings.ReplaceAll(body, "\n", " ")},
		// Cut short, then prose: the prose stays.
		{"-----BEGIN PRIVATE KEY-----\n" + body[:130] + "\nand the rest of the file is not shown", body[:129]},
		{"-----BEGIN OPENSSH PRIVATE KEY-----\\n" + esc[:70] + "\\n... (truncated)", esc[:70]},
		// No body.
		{"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----", ""},
		{"-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----", ""},
	}
	for _, tc := range tests {
		found := FindSecrets(tc.in)
		var got string
		for _, s := range found {
			if s.Rule == "private-key" {
				got = s.Value
			}
		}
		if got != tc.want {
			t.Errorf("FindSecrets(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
		checkFound(t, tc.in, found)
	}
}
