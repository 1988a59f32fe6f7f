package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	sg "github.com/stripe/stripe-go/v76"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
)

// Retries of one request, on top of stripe-go's own (it retries network
// errors, 409 and 5xx twice, but not a rate-limit 429).
const (
	maxRateLimitWaits = 10
	maxRetries        = 5
)

// lister lists one account's objects for one import.
type lister struct {
	im      *Importer
	run     *sources.Run
	fr      *factsReader
	backend sg.Backend
	key     key
	limiter *rate.Limiter // nil: no limit
	mode    string        // "live" or "test"
	// sleep waits d or until ctx ends; tests shorten it.
	sleep func(ctx context.Context, d time.Duration) error
}

// listParams is one list request: stripe-go's common list parameters (limit,
// cursor, filters such as created[gte]). Backend.Call insists on Metadata and
// Expand fields, which salvage leaves empty.
type listParams struct {
	sg.ListParams `form:"*"`
	Metadata      map[string]string `form:"metadata"`
	Expand        []*string         `form:"expand"`
}

// page is one list response, with each object's bytes exactly as they
// arrived.
type page struct {
	Data    []json.RawMessage `json:"data"`
	HasMore bool              `json:"has_more"`
}

func (*page) SetLastResponse(*sg.APIResponse) {}

// listState is a list's checkpoint. Objects created in [From, To] are stored
// (From 0: since the beginning; To 0: nothing yet). Pass is a list in
// progress: Stripe lists newest first, so After is the oldest object stored
// so far and the list resumes after it.
type listState struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
	Pass *pass `json:"pass,omitempty"`
}

type pass struct {
	GTE   int64  `json:"gte"` // 0: no lower bound
	LTE   int64  `json:"lte"`
	After string `json:"after,omitempty"`
}

func (im *Importer) importAPI(ctx context.Context, run *sources.Run, fr *factsReader, selected []objectType, k key, win window) error {
	l := &lister{im: im, run: run, fr: fr, key: k, mode: "test", sleep: sleepCtx}
	if k.live {
		l.mode = "live"
	}
	if im.sleep != nil {
		l.sleep = im.sleep
	}
	retries := sg.Int64(2)
	if im.retries != nil {
		retries = im.retries
	}
	l.backend = sg.GetBackendWithConfig(sg.APIBackend, &sg.BackendConfig{
		URL:               sg.String(im.apiBase),
		HTTPClient:        sources.ReadOnlyClient(nil),
		LeveledLogger:     &sg.LeveledLogger{Level: sg.LevelNull},
		MaxNetworkRetries: retries,
		EnableTelemetry:   sg.Bool(false),
	})
	perSecond := im.maxRate
	if perSecond == 0 {
		// Well under Stripe's read limits: 100/s live, 25/s test.
		perSecond = 8
		if k.live {
			perSecond = 20
		}
	}
	if perSecond > 0 {
		l.limiter = rate.NewLimiter(rate.Limit(perSecond), 1)
	}
	return l.listAll(ctx, selected, win)
}

func (l *lister) listAll(ctx context.Context, selected []objectType, win window) error {
	for _, t := range selected {
		if t.name == "events" && (win.from.IsZero() || win.from.Before(l.run.Now().Add(-30*24*time.Hour))) {
			l.run.Log.Info("Stripe keeps events for 30 days: older history is gone, but the objects themselves are imported from their own lists",
				"events_since", l.run.Now().Add(-30*24*time.Hour).UTC().Format(time.RFC3339))
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, l.im.concurrency))
	var (
		mu      sync.Mutex
		denied  []*permissionError
		skipped []string
	)
	for _, t := range selected {
		g.Go(func() error {
			err := l.list(gctx, t, win)
			var perm *permissionError
			if errors.As(err, &perm) {
				mu.Lock()
				defer mu.Unlock()
				if t.optional {
					skipped = append(skipped, t.name)
					l.run.Log.Warn(fmt.Sprintf("skipped %s: %v", t.name, perm))
					return nil
				}
				denied = append(denied, perm)
				return nil // the other lists go on
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(denied) > 0 {
		var perms []string
		for _, d := range denied {
			perms = append(perms, d.list+": "+d.need())
		}
		return fmt.Errorf("the restricted key (%s) may not read everything; what it could read is imported. Add Read access for: %s",
			l.key, strings.Join(perms, "; "))
	}
	return nil
}

// list fetches one object type: a pass left unfinished by an earlier run
// first, then what is newer than what is stored, then what is older.
func (l *lister) list(ctx context.Context, t objectType, win window) error {
	cpKey := "stripe/" + l.mode + "/" + t.name
	var st listState
	if v, ok, err := l.run.Sink.Checkpoint(ctx, cpKey); err != nil {
		return err
	} else if ok {
		if err := json.Unmarshal([]byte(v), &st); err != nil {
			return fmt.Errorf("checkpoint %s: %w", cpKey, err)
		}
	}
	bar := l.run.Progress.Bar("stripe "+t.name, 0)
	defer bar.Done()
	for {
		p := st.Pass
		if p == nil {
			p = st.next(win, l.im.overlap)
			if p == nil {
				return nil
			}
			st.Pass = p
		}
		if err := l.fetch(ctx, t, cpKey, &st, bar); err != nil {
			return err
		}
	}
}

// next plans the next pass: what win asks for that [From, To] does not
// cover, the newer gap first. It returns nil when nothing is left.
func (st *listState) next(win window, overlap time.Duration) *pass {
	from, to := unix(win.from), win.to.Unix()
	if st.To == 0 {
		return &pass{GTE: from, LTE: to}
	}
	if to > st.To {
		// Objects can appear in lists a little after their created time:
		// reach back before what is already stored.
		return &pass{GTE: max(from, st.To-int64(overlap/time.Second)), LTE: to}
	}
	if from < st.From || (from == 0 && st.From > 0) {
		return &pass{GTE: from, LTE: st.From}
	}
	return nil
}

// done merges the finished pass into the covered span.
func (st *listState) done() {
	p := st.Pass
	if st.To == 0 {
		st.From, st.To = p.GTE, p.LTE
	} else {
		if p.GTE < st.From {
			st.From = p.GTE
		}
		st.To = max(st.To, p.LTE)
	}
	st.Pass = nil
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// fetch pages through st.Pass, putting each object and saving the checkpoint
// after each page.
func (l *lister) fetch(ctx context.Context, t objectType, cpKey string, st *listState, bar sources.Bar) error {
	p := st.Pass
	for {
		params := &listParams{ListParams: sg.ListParams{Context: ctx, Limit: sg.Int64(100)}}
		if p.After != "" {
			params.StartingAfter = sg.String(p.After)
		}
		if p.GTE > 0 {
			params.Filters.AddFilter("created", "gte", strconv.FormatInt(p.GTE, 10))
		}
		params.Filters.AddFilter("created", "lte", strconv.FormatInt(p.LTE, 10))
		var pg page
		if err := l.call(ctx, t, params, &pg); err != nil {
			return err
		}
		last, err := l.store(ctx, t, pg.Data)
		if err != nil {
			return err
		}
		bar.Add(int64(len(pg.Data)))
		if last != "" {
			p.After = last
		}
		if !pg.HasMore || last == "" {
			st.done()
		}
		b, _ := json.Marshal(st)
		if err := l.run.Sink.SaveCheckpoint(ctx, cpKey, string(b)); err != nil {
			return err
		}
		if st.Pass == nil {
			return nil
		}
	}
}

// store puts a page's objects and returns the id of the last one.
func (l *lister) store(ctx context.Context, t objectType, data []json.RawMessage) (string, error) {
	last := ""
	for i, raw := range data {
		rec, o, err := l.fr.record(raw, "api", l.im.apiBase+t.path)
		if o != nil && o.ID != "" {
			last = o.ID
		}
		switch {
		case err != nil:
			err = l.run.Sink.Reject(ctx, evidence.Rejected{Source: evidence.Stripe, Via: "api",
				Locator: fmt.Sprintf("%s%s (page object %d)", l.im.apiBase, t.path, i), Reason: err.Error(), Raw: raw})
		case o.otherMode(l.mode == "live"): // never from Stripe itself; a replay may mix
			err = l.run.Sink.Ignore(ctx, otherMode(l.mode == "live"))
		default:
			err = l.run.Sink.Put(ctx, rec)
		}
		if err != nil {
			return "", err
		}
	}
	return last, nil
}

func otherMode(live bool) string {
	if live {
		return "test-mode Stripe object in a live import"
	}
	return "live-mode Stripe object in a test import"
}

// call makes one list request, waiting out rate limits and retrying
// transient failures; the list then continues from the last object stored.
func (l *lister) call(ctx context.Context, t objectType, params *listParams, v *page) error {
	for attempt := 1; ; attempt++ {
		if l.limiter != nil {
			if err := l.limiter.Wait(ctx); err != nil {
				return err
			}
		}
		err := l.backend.Call(http.MethodGet, t.path, l.key.secret, params, v)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait, retry := retryable(err, attempt)
		if !retry {
			return l.explain(err, t)
		}
		l.run.Log.Info("Stripe request failed; trying again", "list", t.name, "attempt", attempt, "wait", wait.String(), "reason", l.redact(errMessage(err)))
		if err := l.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// retryable says whether and after how long to try a failed request again:
// rate limits as long as Stripe asks (Retry-After) or with backoff; server
// errors and dropped connections a few times with backoff.
func retryable(err error, attempt int) (time.Duration, bool) {
	var se *sg.Error
	if errors.As(err, &se) {
		switch {
		case se.HTTPStatusCode == http.StatusTooManyRequests || se.Code == sg.ErrorCodeRateLimit:
			if attempt > maxRateLimitWaits {
				return 0, false
			}
			if se.LastResponse != nil {
				if s, err := strconv.Atoi(se.LastResponse.Header.Get("Retry-After")); err == nil && s >= 0 {
					return time.Duration(s)*time.Second + jitter(250*time.Millisecond), true
				}
			}
			return backoff(attempt), true
		case se.HTTPStatusCode >= 500 || se.HTTPStatusCode == http.StatusConflict:
			return backoff(attempt), attempt <= maxRetries
		}
		return 0, false
	}
	// Not a Stripe error: the network (a dropped connection, a timeout).
	return backoff(attempt), attempt <= maxRetries
}

func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 5)
	return min(d, 30*time.Second) + jitter(d/4)
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// permissionError is a restricted key's missing permission.
type permissionError struct {
	list, permission, dashboard string
}

func (e *permissionError) Error() string {
	return "the restricted key may not list " + e.list + ": it needs " + e.need()
}

func (e *permissionError) need() string {
	if e.permission == "" {
		return e.dashboard + ": Read"
	}
	return e.dashboard + ": Read (" + e.permission + ")"
}

var rakName = regexp.MustCompile(`'(rak_[a-z_]+)'`)

// explain turns a refusal from Stripe into an error that says what to do,
// without the key.
func (l *lister) explain(err error, t objectType) error {
	var se *sg.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("list %s: %s", t.name, l.redact(err.Error()))
	}
	msg := l.redact(se.Msg)
	switch se.HTTPStatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("Stripe refused the key %s (STRIPE_API_KEY): %s", l.key, msg)
	case http.StatusForbidden:
		// Stripe names what is missing, sometimes several at once.
		perm := &permissionError{list: t.name, dashboard: t.dashboard, permission: t.permission}
		if ms := rakName.FindAllStringSubmatch(se.Msg, -1); len(ms) > 0 {
			var names []string
			for _, m := range ms {
				names = append(names, m[1])
			}
			perm.permission = strings.Join(names, ", ")
		}
		return perm
	case http.StatusNotFound:
		return fmt.Errorf("list %s: %s has no %s (HTTP 404: %s); is --api-base right?", t.name, l.im.apiBase, t.path, msg)
	}
	return fmt.Errorf("list %s: Stripe answered HTTP %d: %s", t.name, se.HTTPStatusCode, msg)
}

func errMessage(err error) string {
	var se *sg.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("HTTP %d %s", se.HTTPStatusCode, se.Msg)
	}
	return err.Error()
}

// redact removes the key from text that may repeat it.
func (l *lister) redact(s string) string { return evidence.RedactSecret(s, l.key.secret) }
