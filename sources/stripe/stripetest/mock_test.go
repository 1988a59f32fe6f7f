package stripetest

import (
	"bytes"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// stripe-mock starts, answers stripe-go v76 (API 2023-10-16, older than its
// spec), and neither it nor go tool outlives the test that started it.
func TestMockAnswersStripeGoAndStops(t *testing.T) {
	t.Parallel()
	var mockURL string
	t.Run("running", func(t *testing.T) {
		mockURL = StartMock(t)
		sc := newClient(mockURL, MockKey, 0, nil)
		it := sc.PaymentIntents.List(&stripe.PaymentIntentListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(3)}})
		n := 0
		for it.Next() {
			if pi := it.PaymentIntent(); pi.ID == "" || pi.Object != "payment_intent" {
				t.Errorf("payment intent %+v", pi)
			}
			n++
		}
		if err := it.Err(); err != nil || n == 0 {
			t.Fatalf("listed %d payment intents: %v", n, err)
		}
		if meta := it.Meta(); meta.URL != "/v1/payment_intents" {
			t.Errorf("list url %q", meta.URL)
		}
	})
	if mockURL == "" {
		t.Fatal("stripe-mock did not start")
	}

	u, err := url.Parse(mockURL)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still answers after the test", u.Host)
	}
	// No process is left whose command line names the address.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte("-http-addr\x00"+u.Host+"\x00")) {
			t.Errorf("%s is still running: %q", filepath.Dir(p), bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}
