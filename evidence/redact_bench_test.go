package evidence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// The benchmarks read a corpus like a coding agent's transcript: JSON lines
// of prompts, thinking, tool calls and their output (source code, shell
// output, test runs, git logs), with a secret every few hundred lines.

const benchCorpusSize = 8 << 20

var benchCorpus = sync.OnceValue(func() []string {
	return strings.Split(transcriptCorpus(1, benchCorpusSize), "\n")
})

func corpusBytes(lines []string) int64 {
	n := 0
	for _, l := range lines {
		n += len(l) + 1
	}
	return int64(n)
}

func BenchmarkFindSecrets(b *testing.B) {
	lines := benchCorpus()
	b.SetBytes(corpusBytes(lines))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = 0
		for _, l := range lines {
			n += len(FindSecrets(l))
		}
	}
	b.ReportMetric(float64(n), "secrets")
}

func BenchmarkSecretSetRedact(b *testing.B) {
	lines := benchCorpus()
	for _, extra := range []int{0, 1000} {
		var set SecretSet
		for _, l := range lines {
			set.AddFound(l)
		}
		for i := range extra {
			set.Add(randomToken(uint64(i), 20+i%40))
		}
		b.Run(fmt.Sprintf("known=%d", set.Len()), func(b *testing.B) {
			b.SetBytes(corpusBytes(lines))
			b.ReportAllocs()
			for b.Loop() {
				for _, l := range lines {
					set.Redact(l)
				}
			}
		})
	}
}

// BenchmarkFindSecretsDense reads a text that is all secrets, a .env file
// of a megabyte: the cost of each finding.
func BenchmarkFindSecretsDense(b *testing.B) {
	var env strings.Builder
	for i := 0; env.Len() < 1<<20; i++ {
		fmt.Fprintf(&env, "SERVICE_%d_TOKEN=%s\n", i, randomToken(uint64(i), 32))
	}
	text := env.String()
	b.SetBytes(int64(len(text)))
	n := 0
	for b.Loop() {
		n = len(FindSecrets(text))
	}
	b.ReportMetric(float64(n), "secrets")
}

// BenchmarkRedact is Redact with no known values.
func BenchmarkRedact(b *testing.B) {
	lines := benchCorpus()
	b.SetBytes(corpusBytes(lines))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			Redact(l)
		}
	}
}

// transcriptCorpus returns about size bytes of transcript-like JSON lines,
// the same for the same seed.
func transcriptCorpus(seed uint64, size int) string {
	g := corpusGen{r: rand.New(rand.NewPCG(seed, seed^0x5a1feb51))}
	var out strings.Builder
	for n := 0; out.Len() < size; n++ {
		var line string
		switch k := g.r.IntN(100); {
		case n%397 == 396:
			line = g.toolResult(g.secretText())
		case k < 8:
			line = g.user(g.prose(1 + g.r.IntN(3)))
		case k < 25:
			line = g.assistant(`{"type":"thinking","thinking":` + jsonString(g.prose(2+g.r.IntN(4))) + `,"signature":"` + g.base64(120+g.r.IntN(300)) + `"}`)
		case k < 40:
			line = g.assistant(`{"type":"tool_use","id":"toolu_` + g.word62(24) + `","name":"Bash","input":{"command":` + jsonString(g.command()) + `,"description":` + jsonString(g.prose(1)) + `}}`)
		case k < 50:
			line = g.assistant(`{"type":"text","text":` + jsonString(g.prose(2+g.r.IntN(6))) + `}`)
		case k < 75:
			line = g.toolResult(g.code(10 + g.r.IntN(60)))
		default:
			line = g.toolResult(g.shellOutput(5 + g.r.IntN(40)))
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return strings.TrimSuffix(out.String(), "\n")
}

type corpusGen struct {
	r   *rand.Rand
	seq int
}

func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func (g *corpusGen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *corpusGen) word62(n int) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[g.r.IntN(len(alpha))]
	}
	return string(b)
}

func (g *corpusGen) hex(n int) string {
	const alpha = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[g.r.IntN(16)]
	}
	return string(b)
}

func (g *corpusGen) base64(n int) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[g.r.IntN(64)]
	}
	return string(b)
}

func (g *corpusGen) uuid() string {
	return g.hex(8) + "-" + g.hex(4) + "-4" + g.hex(3) + "-a" + g.hex(3) + "-" + g.hex(12)
}

func (g *corpusGen) envelope(typ, message string) string {
	g.seq++
	return `{"parentUuid":"` + g.uuid() + `","isSidechain":false,"userType":"external","cwd":"/home/tiago/src/atlantico-booking","sessionId":"5a1feb51-7011-418b-b8db-b3077b943c22","version":"2.0.39","gitBranch":"fix/availability-month-boundary","type":"` + typ + `","message":` + message + `,"uuid":"` + g.uuid() + fmt.Sprintf(`","timestamp":"2026-11-18T14:%02d:%02d.000Z"}`, g.seq/60%60, g.seq%60)
}

func (g *corpusGen) user(text string) string {
	return g.envelope("user", `{"role":"user","content":`+jsonString(text)+`}`)
}

func (g *corpusGen) assistant(content string) string {
	usage := fmt.Sprintf(`{"input_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d,"cache_creation":{"ephemeral_5m_input_tokens":%d,"ephemeral_1h_input_tokens":0},"output_tokens":%d,"service_tier":"standard"}`,
		g.r.IntN(20), g.r.IntN(3000), g.r.IntN(60000), g.r.IntN(3000), g.r.IntN(900))
	return g.envelope("assistant", `{"model":"claude-sonnet-4-5-20250929","id":"msg_`+g.word62(24)+`","type":"message","role":"assistant","content":[`+content+`],"stop_reason":null,"stop_sequence":null,"usage":`+usage+`}`)
}

func (g *corpusGen) toolResult(out string) string {
	id := "toolu_" + g.word62(24)
	return g.envelope("user", `{"role":"user","content":[{"tool_use_id":"`+id+`","type":"tool_result","content":`+jsonString(out)+`,"is_error":false}]}`) +
		"" // the toolUseResult copy Claude Code adds doubles the size; one is enough
}

var (
	proseWords = strings.Fields(`the availability search on staging returns a 500 when the date range crosses
		a month boundary find bug fix it and redeploy staging don't touch production booking reference customer
		vehicle pick-up return deposit payment intent refund calendar event confirmation email token password
		secret access key auth handler middleware session cookie request response database migration volume
		backup restore snapshot deploy rollback test passes fails check logs let me look at the handler first
		I will run the tests again now that the loop advances one day at a time`)
	commands = []string{
		"go test ./...", "go test -run TestSearchAvailability ./internal/availability/ -v",
		"git log --oneline -10", "git status --short", "git diff --stat HEAD~1",
		`grep -rn "func .*Availability" internal/`, "ls -la internal/availability/",
		"cat .env.staging | head -5", "docker compose ps", "kubectl get pods -n staging",
		"cloudrail status --env staging", "npm run build 2>&1 | tail -20", "make lint",
		`psql "$DATABASE_URL" -c 'select count(*) from bookings'`, "curl -sS https://staging.atlantico.example/healthz",
	}
	identifiers = []string{"ctx", "q", "slots", "err", "d", "out", "booking", "ref", "tokenCount", "authHeader",
		"passwordHash", "secretName", "accessLevel", "h", "w", "r", "cfg", "store", "tx", "row"}
	codeLines = []string{
		"func %s(ctx context.Context, q Query) ([]Slot, error) {",
		"\tfor d := q.From; d.Before(q.To); {",
		"\t\t%s, err := load(ctx, d)",
		"\t\tif err != nil {",
		"\t\t\treturn nil, fmt.Errorf(\"load %%s: %%w\", d.Format(time.DateOnly), err)",
		"\t\t}",
		"\tout = append(out, %s...)",
		"\td = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, time.UTC)",
		"\t// %s is checked against the session before the handler runs",
		"\ttoken := r.Header.Get(\"Authorization\")",
		"\tif %s == \"\" {",
		"\t\thttp.Error(w, \"unauthorized\", http.StatusUnauthorized)",
		"\tsecret := os.Getenv(\"SESSION_SECRET\")",
		"\tpasswordHash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)",
		"\tmaxTokens := cfg.MaxTokens // %s",
		"\treturn json.NewEncoder(w).Encode(%s)",
		"}",
		"",
		"type Slot struct {",
		"\tStart    time.Time `json:\"start\"`",
		"\tAuthToken string   `json:\"auth_token,omitempty\"`",
		"import \"github.com/atlantico/booking/internal/auth\"",
	}
)

func (g *corpusGen) prose(sentences int) string {
	var b strings.Builder
	for range sentences {
		n := 6 + g.r.IntN(14)
		for i := range n {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(g.pick(proseWords))
		}
		b.WriteString(". ")
	}
	return strings.TrimSpace(b.String())
}

func (g *corpusGen) command() string {
	return g.pick(commands)
}

func (g *corpusGen) code(lines int) string {
	var b strings.Builder
	start := 1 + g.r.IntN(400)
	for i := range lines {
		l := g.pick(codeLines)
		if strings.Contains(l, "%s") {
			l = fmt.Sprintf(l, g.pick(identifiers))
		}
		l = strings.ReplaceAll(l, "%%", "%")
		fmt.Fprintf(&b, "%6d\t%s\n", start+i, l)
	}
	return b.String()
}

func (g *corpusGen) shellOutput(lines int) string {
	var b strings.Builder
	switch g.r.IntN(4) {
	case 0: // git log
		for range lines {
			fmt.Fprintf(&b, "%s %s\n", g.hex(7), g.prose(1))
		}
		fmt.Fprintf(&b, "commit %s\nAuthor: Tiago <tiago@atlantico.example>\n", g.hex(40))
	case 1: // ls -la
		for range lines {
			fmt.Fprintf(&b, "-rw-r--r--  1 tiago staff  %5d Nov 18 14:%02d %s.go\n", g.r.IntN(99999), g.r.IntN(60), g.pick(identifiers))
		}
	case 2: // go test
		for range lines {
			name := "Test" + strings.ToUpper(g.pick(identifiers)[:1]) + g.pick(identifiers)[1:]
			fmt.Fprintf(&b, "=== RUN   %s\n--- PASS: %s (0.%02ds)\n", name, name, g.r.IntN(100))
		}
		fmt.Fprintf(&b, "ok  \tgithub.com/atlantico/booking/internal/availability\t0.%03ds\n", g.r.IntN(1000))
	default: // kubectl, docker
		for range lines {
			fmt.Fprintf(&b, "booking-api-%s-%s   1/1     Running   0          %dh\n", g.hex(10), g.word62(5), g.r.IntN(48))
		}
		fmt.Fprintf(&b, "request id %s\n", g.uuid())
	}
	return b.String()
}

func (g *corpusGen) secretText() string {
	switch g.r.IntN(4) {
	case 0:
		return "     1\t# ops-ci-token (old dashboard, do not commit)\n     2\tCLOUDRAIL_TOKEN=crl_pat_" + g.word62(40) + "\n"
	case 1:
		return "curl -X POST https://backboard.cloudrail.example/graphql/v2 \\\n  -H \"Authorization: Bearer crl_pat_" + g.word62(40) + "\" \\\n  -d '{}'\n"
	case 2:
		return "DATABASE_URL=postgres://atlantico_app:" + g.word62(24) + "@db-prod.atlantico.internal:5432/bookings?sslmode=require\n"
	default:
		return "STRIPE_SECRET_KEY=sk_test_51" + g.word62(96) + "\n"
	}
}
