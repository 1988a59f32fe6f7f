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

func (g *corpusGen) prose(sentences int) string { return g.sentences(proseWords, sentences, 14) }

// sentences makes n sentences of 6 to 6+spread-1 of words each.
func (g *corpusGen) sentences(words []string, n, spread int) string {
	var b strings.Builder
	for range n {
		for i := range 6 + g.r.IntN(spread) {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(g.pick(words))
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

// BenchmarkFindSecretsStripeJSON reads Stripe objects as a review workbook
// redacts them: compact JSON of about 2.7 KB each, payment intents, charges
// and checkout sessions, with a client secret, emails and addresses, and a
// key in the metadata now and then.
func BenchmarkFindSecretsStripeJSON(b *testing.B) {
	objs := stripeCorpus(1, 4000)
	b.SetBytes(corpusBytes(objs))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = 0
		for _, o := range objs {
			n += len(FindSecrets(o))
		}
	}
	b.ReportMetric(float64(n), "secrets")
}

// stripeCorpus returns n Stripe objects as compact JSON, the same for the
// same seed.
func stripeCorpus(seed uint64, n int) []string {
	g := corpusGen{r: rand.New(rand.NewPCG(seed, seed^0x57a1fe))}
	out := make([]string, n)
	for i := range out {
		switch i % 3 {
		case 0:
			out[i] = g.paymentIntent()
		case 1:
			out[i] = g.charge()
		default:
			out[i] = g.checkoutSession()
		}
	}
	return out
}

var (
	firstNames = []string{"Niamh", "Tiago", "Joana", "Seán", "Marta", "Pedro", "Aoife", "Inês", "Ciarán", "Rui", "Siobhán", "João"}
	lastNames  = []string{"O'Neill", "Silva", "Ferreira", "Murphy", "Costa", "Walsh", "Gonçalves", "Byrne", "Santos", "Kelly"}
	streets    = []string{"Oliver Plunkett Street", "Rua Augusta", "Avenida da Liberdade", "Grafton Street", "Rua de Santa Catarina", "Shop Street"}
	cities     = [][3]string{{"Cork", "IE", "T12 K8AF"}, {"Lisboa", "PT", "1100-053"}, {"Porto", "PT", "4000-447"}, {"Dublin", "IE", "D02 X285"}, {"Galway", "IE", "H91 E2W9"}, {"Faro", "PT", "8000-123"}}
)

// person returns a name, an email and a JSON address.
func (g *corpusGen) person() (name, email, address string) {
	first, last := g.pick(firstNames), g.pick(lastNames)
	name = first + " " + last
	email = strings.ToLower(strings.NewReplacer("'", "", "é", "e", "ã", "a", "ç", "c", "á", "a", "ê", "e").Replace(first+"."+last)) +
		fmt.Sprint(1950+g.r.IntN(60)) + "@" + g.pick([]string{"example.com", "example.ie", "example.pt", "mail.example"})
	c := cities[g.r.IntN(len(cities))]
	address = fmt.Sprintf(`{"city":%s,"country":"%s","line1":"%s %d","line2":null,"postal_code":"%s","state":null}`,
		jsonString(c[0]), c[1], g.pick(streets), 1+g.r.IntN(200), c[2])
	return name, jsonString(email), address
}

var noteWords = strings.Fields(`customer asked for a child seat arriving late on the evening flight deposit held
	on card please call on arrival returns at the airport desk extra driver added full to full fuel damage
	checked at pickup small scratch on the rear bumper noted booster seat GPS unit upgrade to automatic
	gearbox paid balance in cash receipt sent by email collection moved one day earlier keys left at reception`)

// note returns a booking's note of a few sentences.
func (g *corpusGen) note() string { return g.sentences(noteWords, 2+g.r.IntN(2), 10) }

// stripeMetadata is a booking's metadata, and once in a while a secret that
// someone put there: a Stripe key, a restricted key, a URL with a password.
func (g *corpusGen) stripeMetadata() string {
	name, email, _ := g.person()
	m := fmt.Sprintf(`{"booking_ref":"ACH-%s","vehicle":"%s-%02d-%s","pickup":"2026-%02d-%02dT10:00:00Z","channel":"%s","driver_name":%s,"driver_email":%s,"pickup_desk":"%s","flight":"%s%d","notes":%s`,
		strings.ToUpper(g.word62(5)), strings.ToUpper(g.hex(2)), g.r.IntN(100), strings.ToUpper(g.hex(2)),
		1+g.r.IntN(12), 1+g.r.IntN(28), g.pick([]string{"web", "phone", "partner", "desk"}), jsonString(name), email,
		g.pick([]string{"Lisbon Airport T1", "Porto Airport", "Cork Airport", "Faro Airport", "Dublin City"}),
		g.pick([]string{"TP", "FR", "EI", "U2"}), 100+g.r.IntN(9000), jsonString(g.note()))
	switch g.r.IntN(40) {
	case 0:
		m += `,"stripe_key":"sk_live_51` + g.word62(96) + `"`
	case 1:
		m += `,"note":"reads with rk_test_` + g.word62(24) + `"`
	case 2:
		m += `,"sync_url":"postgres://sync:` + g.word62(20) + `@db.atlantico.internal/bookings"`
	}
	return m + "}"
}

func (g *corpusGen) stripeID(prefix string) string { return prefix + "_3R" + g.word62(22) }

func (g *corpusGen) paymentIntent() string {
	id := g.stripeID("pi")
	name, email, address := g.person()
	amount := 5000 + g.r.IntN(200000)
	return `{"id":"` + id + `","object":"payment_intent","amount":` + fmt.Sprint(amount) +
		`,"amount_capturable":0,"amount_details":{"tip":{}},"amount_received":` + fmt.Sprint(amount) +
		`,"application":null,"application_fee_amount":null,"automatic_payment_methods":null,"canceled_at":null,"cancellation_reason":null,"capture_method":"automatic","client_secret":"` +
		id + `_secret_` + g.word62(25) + `","confirmation_method":"automatic","created":` + fmt.Sprint(1790000000+g.r.IntN(10000000)) +
		`,"currency":"eur","customer":"cus_` + g.word62(14) + `","description":"Car hire ` + strings.ToUpper(g.word62(5)) +
		`","invoice":null,"last_payment_error":null,"latest_charge":"` + g.stripeID("ch") + `","livemode":true,"metadata":` + g.stripeMetadata() +
		`,"next_action":null,"on_behalf_of":null,"payment_method":"pm_1P` + g.word62(22) +
		`","payment_method_configuration_details":null,"payment_method_options":{"card":{"installments":null,"mandate_options":null,"network":null,"request_three_d_secure":"automatic"}},"payment_method_types":["card"],"processing":null,"receipt_email":` +
		email + `,"review":null,"setup_future_usage":null,"source":null,"statement_descriptor":null,"statement_descriptor_suffix":null,"status":"succeeded","transfer_data":null,"transfer_group":null,` +
		`"charges":{"object":"list","data":[],"has_more":false,"total_count":1,"url":"/v1/charges?payment_intent=` + id + `"},` +
		`"shipping":{"address":` + address + `,"carrier":null,"name":` + jsonString(name) + `,"phone":"+351 9` + fmt.Sprintf("%08d", g.r.IntN(1e8)) + `","tracking_number":null},` +
		`"latest_charge_details":{"billing_details":{"address":` + address + `,"email":` + email + `,"name":` + jsonString(name) + `,"phone":null},` +
		`"outcome":{"network_status":"approved_by_network","reason":null,"risk_level":"normal","risk_score":` + fmt.Sprint(g.r.IntN(100)) + `,"seller_message":"Payment complete.","type":"authorized"},` +
		`"receipt_url":"https://pay.stripe.com/receipts/payment/` + g.base64(110) + `"}}`
}

func (g *corpusGen) charge() string {
	id := g.stripeID("ch")
	name, email, address := g.person()
	amount := 5000 + g.r.IntN(200000)
	return `{"id":"` + id + `","object":"charge","amount":` + fmt.Sprint(amount) + `,"amount_captured":` + fmt.Sprint(amount) +
		`,"amount_refunded":0,"application":null,"application_fee":null,"application_fee_amount":null,"balance_transaction":"` + g.stripeID("txn") +
		`","billing_details":{"address":` + address + `,"email":` + email + `,"name":` + jsonString(name) +
		`,"phone":null},"calculated_statement_descriptor":"ATLANTICO CAR HIRE","captured":true,"created":` + fmt.Sprint(1790000000+g.r.IntN(10000000)) +
		`,"currency":"eur","customer":"cus_` + g.word62(14) + `","description":null,"disputed":false,"failure_balance_transaction":null,"failure_code":null,"failure_message":null,"fraud_details":{},"invoice":null,"livemode":true,"metadata":` +
		g.stripeMetadata() + `,"on_behalf_of":null,"outcome":{"network_status":"approved_by_network","reason":null,"risk_level":"normal","risk_score":` + fmt.Sprint(g.r.IntN(100)) +
		`,"seller_message":"Payment complete.","type":"authorized"},"paid":true,"payment_intent":"` + g.stripeID("pi") + `","payment_method":"pm_1P` + g.word62(22) +
		`","payment_method_details":{"card":{"amount_authorized":` + fmt.Sprint(amount) + `,"brand":"mastercard","checks":{"address_line1_check":null,"address_postal_code_check":null,"cvc_check":"pass"},"country":"IE","exp_month":` +
		fmt.Sprint(1+g.r.IntN(12)) + `,"exp_year":2028,"extended_authorization":{"status":"disabled"},"fingerprint":"` + g.word62(16) +
		`","funding":"debit","incremental_authorization":{"status":"unavailable"},"installments":null,"last4":"` + fmt.Sprintf("%04d", g.r.IntN(10000)) +
		`","mandate":null,"multicapture":{"status":"unavailable"},"network":"mastercard","network_token":{"used":false},"overcapture":{"maximum_amount_capturable":` + fmt.Sprint(amount) +
		`,"status":"unavailable"},"three_d_secure":null,"wallet":null},"type":"card"},"radar_options":{},"receipt_email":` + email +
		`,"receipt_number":"` + fmt.Sprintf("%04d-%04d", g.r.IntN(10000), g.r.IntN(10000)) + `","receipt_url":"https://pay.stripe.com/receipts/payment/` + g.base64(110) +
		`","refunded":false,"refunds":{"object":"list","data":[],"has_more":false,"total_count":0,"url":"/v1/charges/` + id + `/refunds"},"review":null,"shipping":null,"source_transfer":null,"statement_descriptor":null,"statement_descriptor_suffix":null,"status":"succeeded","transfer_data":null,"transfer_group":null}`
}

func (g *corpusGen) checkoutSession() string {
	id := "cs_live_a1" + g.word62(56)
	name, email, address := g.person()
	amount := 5000 + g.r.IntN(200000)
	return `{"id":"` + id + `","object":"checkout.session","after_expiration":null,"allow_promotion_codes":false,"amount_subtotal":` + fmt.Sprint(amount) +
		`,"amount_total":` + fmt.Sprint(amount) + `,"automatic_tax":{"enabled":false,"liability":null,"status":null},"billing_address_collection":"required","cancel_url":"https://atlantico.example/booking/cancel","client_reference_id":"ACH-` +
		strings.ToUpper(g.word62(5)) + `","client_secret":null,"consent":null,"consent_collection":null,"created":` + fmt.Sprint(1790000000+g.r.IntN(10000000)) +
		`,"currency":"eur","custom_fields":[],"custom_text":{"after_submit":null,"shipping_address":null,"submit":null,"terms_of_service_acceptance":null},"customer":"cus_` + g.word62(14) +
		`","customer_creation":"if_required","customer_details":{"address":` + address + `,"email":` + email + `,"name":` + jsonString(name) +
		`,"phone":null,"tax_exempt":"none","tax_ids":[]},"customer_email":` + email + `,"expires_at":` + fmt.Sprint(1790000000+g.r.IntN(10000000)) +
		`,"invoice":null,"invoice_creation":{"enabled":false,"invoice_data":{"account_tax_ids":null,"custom_fields":null,"description":null,"footer":null,"issuer":null,"metadata":{},"rendering_options":null}},"livemode":true,"locale":"auto","metadata":` +
		g.stripeMetadata() + `,"mode":"payment","payment_intent":"` + g.stripeID("pi") + `","payment_link":null,"payment_method_collection":"if_required","payment_method_configuration_details":null,"payment_method_options":{"card":{"request_three_d_secure":"automatic"}},"payment_method_types":["card"],"payment_status":"paid","phone_number_collection":{"enabled":false},"recovered_from":null,"saved_payment_method_options":null,"setup_intent":null,"shipping_address_collection":null,"shipping_cost":null,"shipping_details":null,"shipping_options":[],"status":"complete","submit_type":"book","subscription":null,"success_url":"https://atlantico.example/booking/done?session_id={CHECKOUT_SESSION_ID}","total_details":{"amount_discount":0,"amount_shipping":0,"amount_tax":0},"ui_mode":"hosted","url":null}`
}
