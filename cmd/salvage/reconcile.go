package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/spf13/cobra"
)

type reconcileCmd struct {
	*app
	since, until string
	json         bool
}

func (a *app) reconcileCommand() *cobra.Command {
	c := &reconcileCmd{app: a}
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Rebuild the bookings from the evidence in the case",
		Long: `Rebuild the bookings from the newest version of every evidence record:
evidence about one booking is merged into one rebuilt booking, field by
field, with where each value came from, the conflicts between sources, a
confidence and the reasons a person should review it.

The bookings are stored in the case, replacing those of the previous run;
salvage export writes them out. Running it again on the same evidence gives
the same bookings.

The loss window starts at case.last_backup (salvage.toml) unless --since
says otherwise; evidence that occurred outside the window is not used. Times
are RFC 3339 (2026-08-20T02:00:00Z) or a date-time in the case's zone
(2026-08-20 03:00).

--json prints the run's summary as one JSON object, a stable interface:
  {"bookings": N, "by_status": {...}, "needs_review": N,
   "review_reasons": {...}, "evidence_used": {...},
   "evidence_unmatched": {...}, "evidence_ignored": {...}}`,
		Example: `  salvage reconcile
  salvage reconcile --since all
  salvage reconcile --since 2026-08-20 --until "2026-11-18 14:30" --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd) },
	}
	f := cmd.Flags()
	f.StringVar(&c.since, "since", "", `use evidence from this time (default: case.last_backup, or all; "all" for all)`)
	f.StringVar(&c.until, "until", "", "use evidence up to this time (default: no end)")
	f.BoolVar(&c.json, "json", false, "print the summary as JSON")
	return cmd
}

func (c *reconcileCmd) run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	s, err := c.openCase(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	cfg := s.Config()
	loc := cfg.Location()
	since, until, err := c.window(cfg, loc)
	if err != nil {
		return err
	}

	fit := func() {}
	if os.Getenv("GOMEMLIMIT") == "" {
		n, _ := s.Versions(ctx) // 0 on failure: the least limit
		var restore func()
		fit, restore = reconcile.LimitMemory(n)
		defer restore()
	}
	started := c.now()
	records, err := reconcile.Read(ctx, s)
	if err != nil {
		return err
	}
	if len(records) == 0 {
		return errors.New("the case holds no evidence yet: import some first (see salvage import --help)")
	}
	c.log.Debug("read the evidence", "records", len(records), "took", c.now().Sub(started).Round(time.Millisecond))
	fit()

	t := c.now()
	res := reconcile.Reconcile(records, reconcile.Options{Config: cfg, Since: since, Until: until, Consume: true})
	nRecords := len(records)
	records = nil
	c.log.Debug("reconciled", "bookings", len(res.Bookings), "took", c.now().Sub(t).Round(time.Millisecond))

	t = c.now()
	stored, err := marshalBookings(res.Bookings)
	if err != nil {
		return err
	}
	res.Bookings = nil
	sum := normalizeSummary(res.Summary)
	sumJSON, err := json.Marshal(sum)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	if _, err := s.ReplaceBookings(ctx, evidence.ReconcileRun{StartedAt: started, FinishedAt: c.now(), Since: since, Until: until,
		SummaryJSON: sumJSON}, stored); err != nil {
		return err
	}
	c.log.Debug("stored the bookings", "bookings", len(stored), "took", c.now().Sub(t).Round(time.Millisecond))

	out := cmd.OutOrStdout()
	if c.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	printSummary(out, sum, len(stored), nRecords, since, until, loc, c.caseDir)
	return nil
}

// window is the loss window the flags and the case's configuration give.
func (c *reconcileCmd) window(cfg evidence.Config, loc *time.Location) (since, until time.Time, err error) {
	switch c.since {
	case "":
		since = cfg.Case.LastBackup
	case "all":
	default:
		if since, err = evidence.ParseTime(c.since, loc); err != nil {
			return since, until, usagef("--since: %v", err)
		}
	}
	if c.until != "" {
		if until, err = evidence.ParseTime(c.until, loc); err != nil {
			return since, until, usagef("--until: %v", err)
		}
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return since, until, usagef("the window is empty: --until %s is not after the start, %s", showTime(until, loc), showTime(since, loc))
	}
	return since, until, nil
}

// marshalBookings gives each booking's JSON and its brief's
// (reconcile.Brief), compact, in the order given, releasing each booking
// once encoded. The JSON is the stable interface `salvage export json`
// prints as it is. The bytes share buffers of about 1 MiB: a million
// bookings are a million slices of a few hundred buffers, not a million
// allocations.
func marshalBookings(bookings []reconcile.Booking) ([]evidence.StoredBooking, error) {
	const chunk = 1 << 20
	out := make([]evidence.StoredBooking, len(bookings))
	var (
		buf   bytes.Buffer
		enc   *json.Encoder
		ends  []int // of each JSON, then its brief, without Encode's newline
		first int   // index in out of the booking that starts buf
	)
	flush := func() {
		all := buf.Bytes()
		start := 0
		for j, end := range ends {
			b := &out[first+j/2]
			if j%2 == 0 {
				b.JSON = all[start:end:end]
			} else {
				b.Brief = all[start:end:end]
			}
			start = end + 1
		}
		first += len(ends) / 2
		ends = ends[:0]
		buf = bytes.Buffer{}
		buf.Grow(chunk + chunk/4)
		enc = json.NewEncoder(&buf)
		// "<" and ">" in Message-IDs and names stay readable.
		enc.SetEscapeHTML(false)
	}
	flush()
	for i := range bookings {
		out[i].Ref = bookings[i].Ref
		if err := enc.Encode(&bookings[i]); err != nil {
			return nil, fmt.Errorf("booking %s: %w", bookings[i].Ref, err)
		}
		ends = append(ends, buf.Len()-1)
		if err := enc.Encode(bookings[i].Brief()); err != nil {
			return nil, fmt.Errorf("booking %s: %w", bookings[i].Ref, err)
		}
		ends = append(ends, buf.Len()-1)
		bookings[i] = reconcile.Booking{}
		if buf.Len() >= chunk {
			flush()
		}
	}
	flush()
	return out, nil
}

// normalizeSummary gives every count map of sum a value, so --json prints {}
// rather than null for an empty one.
func normalizeSummary(sum reconcile.Summary) reconcile.Summary {
	for _, m := range []*map[string]int{&sum.ByStatus, &sum.Review, &sum.Used, &sum.Unmatched, &sum.Ignored} {
		if *m == nil {
			*m = map[string]int{}
		}
	}
	return sum
}

func printSummary(w io.Writer, sum reconcile.Summary, bookings, records int, since, until time.Time, loc *time.Location, caseDir string) {
	var window string
	switch {
	case since.IsZero() && until.IsZero():
		window = "all evidence, no window"
	case until.IsZero():
		window = "window from " + showTime(since, loc)
	case since.IsZero():
		window = "window until " + showTime(until, loc)
	default:
		window = "window " + showTime(since, loc) + " to " + showTime(until, loc)
	}
	fmt.Fprintf(w, "Rebuilt %s %s from %s %s (%s)\n", count(int64(bookings)), plural(bookings, "booking", "bookings"),
		count(int64(records)), plural(records, "record", "records"), window)
	if bookings > 0 {
		fmt.Fprintf(w, "  %-12s %s\n", "status", byCount(sum.ByStatus, "none"))
		review := "none need review"
		if sum.NeedsReview > 0 {
			review = fmt.Sprintf("%s %s review", count(int64(sum.NeedsReview)), plural(sum.NeedsReview, "needs", "need"))
			if reasons := byCount(sum.Review, ""); reasons != "" {
				review += ": " + reasons
			}
		}
		fmt.Fprintf(w, "  %-12s %s\n", "review", review)
	}
	fmt.Fprintf(w, "  %-12s used: %s; not matched: %s; no booking facts: %s\n", "evidence",
		byCount(sum.Used, "none"), byCount(sum.Unmatched, "none"), byCount(sum.Ignored, "none"))
	if bookings == 0 {
		fmt.Fprintf(w, "No booking could be rebuilt: see what the rules extract with salvage rules test FILE\n")
		return
	}
	fmt.Fprintf(w, "Next: salvage --case %s export csv --out bookings.csv   (or: export json --out bookings.jsonl)\n", caseDir)
}

// byCount shows m as "confirmed 240 · cancelled 26", largest first (then by
// name), leaving out zeros; none if nothing is left.
func byCount(m map[string]int, none string) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		if m[k] != 0 {
			parts = append(parts, k+" "+count(int64(m[k])))
		}
	}
	if len(parts) == 0 {
		return none
	}
	return strings.Join(parts, " · ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
