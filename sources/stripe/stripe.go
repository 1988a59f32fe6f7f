// Package stripe imports a Stripe account's customers, payment intents,
// charges, refunds, checkout sessions, invoices and events, read-only: from
// the API with a (preferably restricted) key, or from exported files (list
// responses, the Stripe CLI's output, JSON lines, the Dashboard's payments
// CSV). Both paths give the same evidence ids.
package stripe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
	"github.com/salvagehq/salvage/sources/extract"
	"github.com/spf13/pflag"
)

// Importer is `salvage import stripe`.
type Importer struct {
	from        []string
	apiBase     string
	since       string
	until       string
	mode        string
	objects     []string
	maxRate     float64
	concurrency int
	overlap     time.Duration

	// Tests shorten waits: sleep replaces the backoff's, retries is
	// stripe-go's own number of network retries (default 2).
	sleep   func(context.Context, time.Duration) error
	retries *int64
}

var (
	_ sources.Importer = (*Importer)(nil)
	_ sources.Checker  = (*Importer)(nil)
)

// New returns the Stripe importer.
func New() *Importer { return &Importer{} }

// Name implements sources.Importer.
func (*Importer) Name() string { return "stripe" }

// Source implements sources.Importer.
func (*Importer) Source() evidence.Source { return evidence.Stripe }

const defaultAPIBase = "https://api.stripe.com"

// Help implements sources.Importer.
func (*Importer) Help() sources.Help {
	return sources.Help{
		Short: "Import Stripe customers, payments, refunds, checkout sessions and events",
		Long: `Import a Stripe account's customers, payment intents, charges, refunds,
checkout sessions, invoices and events (Stripe keeps events 30 days), from
the API or from exported files. Nothing is ever written to Stripe: every
request is a GET.

From the API, the key comes from $STRIPE_API_KEY only. Use a restricted key
with Read access to Customers, PaymentIntents, Charges, Refunds, Checkout
Sessions, Invoices and Events (Dashboard → Developers → API keys → Create
restricted key). A secret key (sk_…) works, but salvage will say it would
rather have a restricted one. The key decides the mode: a live key imports live objects,
and objects of the other mode are counted and ignored.

The import is resumable: each object type keeps a checkpoint, and running
the same command again after an interruption continues where it stopped. A
later run fetches only what is new since the last, reaching a few minutes
back. Stripe's rate limits are respected: at most --max-rate requests per
second, and a 429 waits as Stripe asks before continuing.

With --from, the same objects are read from files or folders: list responses
as the API returns them and as the Stripe CLI's list commands print them
(*.json), one object per line (*.jsonl), and the Dashboard's payments export
(*.csv, with "<key> (metadata)" columns). Files carry no mode, so --mode
says which to keep (default live).

Booking references are read from metadata (keys in salvage.toml [stripe]
metadata_keys; the defaults cover booking_id, booking_ref, booking,
reservation_id, reservation, order_id, reference), a checkout session's
client_reference_id, or the description through the extraction rules.`,
		Example: `  STRIPE_API_KEY=rk_live_… salvage import stripe --since 2026-07-01
  salvage import stripe --from exports/stripe/
  salvage import stripe --from unified_payments.csv --mode live`,
	}
}

// Flags implements sources.Importer.
func (im *Importer) Flags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&im.from, "from", nil, "read exported files or folders instead of the API (repeatable)")
	fs.StringVar(&im.apiBase, "api-base", defaultAPIBase, "Stripe API base URL (a replay server or stripe-mock in tests)")
	fs.StringVar(&im.since, "since", "", `objects created from this time (default: 30 days before case.last_backup, or all; "all" for all)`)
	fs.StringVar(&im.until, "until", "", "objects created up to this time (default: now)")
	fs.StringVar(&im.mode, "mode", "", "with --from: keep live or test objects (default live); from the API the key decides")
	fs.StringSliceVar(&im.objects, "objects", nil, "object types to import (default all): "+typeNames())
	fs.Float64Var(&im.maxRate, "max-rate", 0, "API requests per second at most, -1 for no limit (default: 20 with a live key, 8 with a test key)")
	fs.IntVar(&im.concurrency, "concurrency", 3, "object types listed at once")
	fs.DurationVar(&im.overlap, "overlap", 5*time.Minute, "how far a later run reaches back before what was already fetched")
}

func typeNames() string {
	var names []string
	for _, t := range types {
		names = append(names, t.name)
	}
	return strings.Join(names, ",")
}

// Import implements sources.Importer.
func (im *Importer) Import(ctx context.Context, run *sources.Run) error {
	pl, err := im.plan(run)
	if err != nil {
		return err
	}
	if pl.files {
		return im.importFiles(ctx, run, pl.facts, pl.selected, pl.live)
	}
	return im.importAPI(ctx, run, pl.facts, pl.selected, pl.key, pl.window)
}

// Check implements sources.Checker.
func (im *Importer) Check(run *sources.Run) error {
	_, err := im.plan(run)
	return err
}

// plan is what the flags, the case and the environment ask for.
type plan struct {
	selected []objectType
	facts    *factsReader
	files    bool // --from: exported files, in mode live or not
	live     bool
	key      key
	window   window
}

func (im *Importer) plan(run *sources.Run) (plan, error) {
	var pl plan
	var err error
	if pl.selected, err = im.selectedTypes(); err != nil {
		return pl, err
	}
	if pl.facts, err = newFactsReader(run.Config); err != nil {
		return pl, err
	}
	if len(im.from) > 0 {
		if im.apiBase != defaultAPIBase || im.since != "" || im.until != "" {
			return pl, fmt.Errorf("%w: --from reads files; --api-base, --since and --until are for the API", sources.ErrUsage)
		}
		pl.files, pl.live = true, true
		switch im.mode {
		case "", "live":
		case "test":
			pl.live = false
		default:
			return pl, fmt.Errorf("%w: --mode %q: want live or test", sources.ErrUsage, im.mode)
		}
		return pl, nil
	}
	if im.mode != "" {
		return pl, fmt.Errorf("%w: --mode is for --from; from the API the key decides the mode", sources.ErrUsage)
	}
	if pl.key, err = readKey(run); err != nil {
		return pl, err
	}
	if err := checkBase(im.apiBase); err != nil {
		return pl, err
	}
	pl.window, err = im.window(run)
	return pl, err
}

func newFactsReader(cfg evidence.Config) (*factsReader, error) {
	x, err := extract.New(cfg)
	if err != nil {
		return nil, err
	}
	return &factsReader{metadataKeys: cfg.MetadataKeys(), extractor: x}, nil
}

func (im *Importer) selectedTypes() ([]objectType, error) {
	if len(im.objects) == 0 {
		return types, nil
	}
	var out []objectType
	for _, t := range types {
		for _, name := range im.objects {
			if name == t.name {
				out = append(out, t)
			}
		}
	}
	for _, name := range im.objects {
		found := false
		for _, t := range out {
			found = found || t.name == name
		}
		if !found {
			return nil, fmt.Errorf("%w: --objects: unknown type %q (known: %s)", sources.ErrUsage, name, typeNames())
		}
	}
	return out, nil
}

// key is an API key and what salvage knows about it from its prefix.
type key struct {
	secret     string
	live       bool
	restricted bool
}

func (k key) String() string { return evidence.Fingerprint(k.secret) }

var errNoKey = errors.New("no Stripe key: set STRIPE_API_KEY to a restricted key (rk_live_…) with Read access to " + permissionList() + ", or use --from with exported files")

func readKey(run *sources.Run) (key, error) {
	s := strings.TrimSpace(run.Getenv("STRIPE_API_KEY"))
	if s == "" {
		return key{}, errNoKey
	}
	k := key{secret: s}
	switch {
	case strings.HasPrefix(s, "rk_live_"):
		k.live, k.restricted = true, true
	case strings.HasPrefix(s, "rk_test_"):
		k.restricted = true
	case strings.HasPrefix(s, "sk_live_"):
		k.live = true
	case strings.HasPrefix(s, "sk_test_"):
	case strings.HasPrefix(s, "pk_"):
		return key{}, fmt.Errorf("STRIPE_API_KEY is a publishable key (%s), which cannot read payments: use a restricted key (rk_…) with Read access to %s", k, permissionList())
	default:
		return key{}, fmt.Errorf("STRIPE_API_KEY (%s) is not a Stripe API key: they start with rk_live_, rk_test_, sk_live_ or sk_test_", k)
	}
	if !k.restricted {
		mode := "test"
		if k.live {
			mode = "live"
		}
		run.Log.Warn(fmt.Sprintf("STRIPE_API_KEY is a secret key (%s): it could change your account, and salvage only reads. "+
			"Prefer a restricted %s key with Read access to %s (Dashboard → Developers → API keys → Create restricted key).",
			k, mode, permissionList()))
	}
	return k, nil
}

func permissionList() string {
	var names []string
	for _, t := range types {
		if len(names) == 0 || names[len(names)-1] != t.dashboard {
			names = append(names, t.dashboard)
		}
	}
	return strings.Join(names, ", ")
}

// checkBase refuses to send a key in clear text anywhere but this machine.
func checkBase(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: --api-base %q is not an http(s) URL", sources.ErrUsage, base)
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("%w: --api-base %s: plain http is only allowed to this machine (the key would travel in clear text)", sources.ErrUsage, base)
		}
	}
	return nil
}

// window is the span of creation times an API import asks for.
type window struct {
	from, to time.Time // from zero: no lower bound
}

func (im *Importer) window(run *sources.Run) (window, error) {
	loc := run.Config.Location()
	var w window
	switch {
	case im.since == "all":
	case im.since != "":
		t, err := evidence.ParseTime(im.since, loc)
		if err != nil {
			return w, fmt.Errorf("%w: --since: %v", sources.ErrUsage, err)
		}
		w.from = t
	case !run.Config.Case.LastBackup.IsZero():
		// A booking made before the backup may be paid or refunded after it.
		w.from = run.Config.Case.LastBackup.Add(-30 * 24 * time.Hour)
	}
	w.to = run.Now().UTC()
	if im.until != "" {
		t, err := evidence.ParseTime(im.until, loc)
		if err != nil {
			return w, fmt.Errorf("%w: --until: %v", sources.ErrUsage, err)
		}
		w.to = t
	}
	if !w.from.IsZero() && !w.from.Before(w.to) {
		return w, fmt.Errorf("%w: --since %s is not before --until %s", sources.ErrUsage, w.from.Format(time.RFC3339), w.to.Format(time.RFC3339))
	}
	return w, nil
}
