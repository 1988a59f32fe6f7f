package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/export/xlsx"
	"github.com/salvagehq/salvage/internal/safefile"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/spf13/cobra"
)

type exportCmd struct {
	*app
	out   string
	force bool
	sql   sqlFlags
	// evidenceText is export xlsx's --evidence-text, and what it says.
	evidenceText string
	text         xlsx.EvidenceText
}

func (a *app) exportCommand() *cobra.Command {
	c := &exportCmd{app: a}
	cmd := &cobra.Command{
		Use:   "export FORMAT",
		Short: "Write the rebuilt bookings out: json, csv, the review workbook (xlsx) or restore SQL",
		Long: `Write the bookings of the last salvage reconcile, in its order.

Formats:
  json   one booking per line, the JSON salvage reconcile stored: a stable
         interface (ref, status, customer, item, start, end, amount_minor,
         currency, paid_minor, refunded_minor, confidence, needs_review,
         conflicts, provenance, evidence, ...)
  csv    a header row, then one row per booking with flattened columns:
         ref, ref_synthetic, status, customer_name, customer_email,
         customer_phone, item, start, end, all_day, amount_minor, currency,
         paid_minor, refunded_minor, created_at, confidence, needs_review,
         reasons, conflicts, sources, evidence, provenance
         (times RFC 3339 in UTC, money in minor units, lists joined by ";",
         provenance as field=evidence pairs)
  xlsx   the review workbook (default --out review.xlsx): a Summary, one row
         per booking with a Decision column (approve, reject, fix) and
         Notes, the Conflicts and the Evidence behind each booking (the
         whole text of the records behind bookings to review, the facts
         and title of the others: --evidence-text all shows every text);
         read the review back with salvage review import
  sql    restore SQL for the restored database: insert-only, one
         transaction (see the sql flags below)

The same case always gives the same bytes. Without --out the export goes to
standard output. --out writes the file (mode 0600: it holds customers'
personal data) only once it is complete, and never replaces an existing
file unless --force is given.`,
		Example: `  salvage export json --out bookings.jsonl
  salvage export csv --out bookings.csv
  salvage export json | jq -c 'select(.needs_review)'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), cmd, args[0]) },
	}
	cmd.Flags().StringVarP(&c.out, "out", "o", "", "write to this file instead of standard output")
	cmd.Flags().BoolVar(&c.force, "force", false, "replace the --out file if it exists")
	cmd.Flags().StringVar(&c.evidenceText, "evidence-text", "review", "xlsx: which Evidence rows show their record's whole text: review (those of bookings to review; every row shows its record's facts and title) or all (a much bigger workbook that spreadsheet programs open slowly)")
	c.addSQLFlags(cmd.Flags())
	return cmd
}

func (c *exportCmd) run(ctx context.Context, cmd *cobra.Command, format string) error {
	var write func(context.Context, io.Writer, *evidence.Store) (int, error)
	switch format {
	case "json":
		write = exportJSON
	case "csv":
		write = exportCSV
	case "xlsx":
		var err error
		if c.text, err = xlsx.ParseEvidenceText(c.evidenceText); err != nil {
			return usagef("--evidence-text: %v", err)
		}
		write = c.exportXLSX
		if c.out == "" {
			c.out = "review.xlsx"
		}
	case "sql":
		if err := c.checkSQLFlags(); err != nil {
			return err
		}
		write = c.exportSQL
	default:
		return usagef("export %q: unknown format; this build writes json, csv, xlsx or sql", format)
	}
	if format != "sql" {
		if err := c.noSQLFlags(cmd); err != nil {
			return err
		}
	}
	if format != "xlsx" && cmd.Flags().Changed("evidence-text") {
		return usagef("--evidence-text is a flag of export xlsx")
	}
	if c.force && c.out == "" {
		return usagef("--force replaces the --out file: give --out too")
	}
	s, err := c.openCase(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	run, ok, err := s.LastReconcile(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("no bookings yet: run salvage reconcile first")
	}
	c.warnIfStale(ctx, s, run)

	if c.out == "" {
		w := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
		if _, err := write(ctx, w, s); err != nil {
			return err
		}
		return w.Flush()
	}
	f, err := safefile.Create(c.out, 0o600, c.force)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 256<<10)
	n, err := write(ctx, w, s)
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", c.out, err)
	}
	if err := f.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "export %s: %s %s to %s (reconciled %s)\n", format, count(int64(n)), plural(n, "booking", "bookings"),
		c.out, showTime(run.FinishedAt, s.Config().Location()))
	return nil
}

// warnIfStale warns when evidence was imported after the bookings were
// rebuilt: the export would miss it.
func (c *exportCmd) warnIfStale(ctx context.Context, s *evidence.Store, run evidence.ReconcileRun) {
	jobs, err := s.Jobs(ctx)
	if err != nil {
		c.log.Debug("could not check for newer imports", "err", err)
		return
	}
	for _, j := range jobs {
		if j.Counts.New+j.Counts.NewVersion > 0 && (j.FinishedAt.IsZero() || j.FinishedAt.After(run.FinishedAt)) {
			c.log.Warn(fmt.Sprintf("evidence was imported after the last reconcile (import %s, job %d): run salvage reconcile again to use it", j.Importer, j.ID))
			return
		}
	}
}

// exportJSON writes each stored booking as it is, one per line.
func exportJSON(ctx context.Context, w io.Writer, s *evidence.Store) (int, error) {
	n := 0
	for b, err := range s.Bookings(ctx) {
		if err != nil {
			return n, err
		}
		if _, err := w.Write(b.JSON); err != nil {
			return n, err
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// csvHeader names the columns of export csv: a stable interface, columns
// are only ever added at the end.
var csvHeader = []string{
	"ref", "ref_synthetic", "status", "customer_name", "customer_email", "customer_phone", "item",
	"start", "end", "all_day", "amount_minor", "currency", "paid_minor", "refunded_minor", "created_at",
	"confidence", "needs_review", "reasons", "conflicts", "sources", "evidence", "provenance",
}

// exportCSV writes a header row and one flattened row per booking.
func exportCSV(ctx context.Context, w io.Writer, s *evidence.Store) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return 0, err
	}
	n := 0
	row := make([]string, len(csvHeader))
	for sb, err := range s.Bookings(ctx) {
		if err != nil {
			return n, err
		}
		var b reconcile.Booking
		if err := json.Unmarshal(sb.JSON, &b); err != nil {
			return n, fmt.Errorf("booking %s: %w", sb.Ref, err)
		}
		if err := cw.Write(csvRow(row, &b)); err != nil {
			return n, err
		}
		n++
	}
	cw.Flush()
	return n, cw.Error()
}

// csvRow flattens b into row, in csvHeader's order.
func csvRow(row []string, b *reconcile.Booking) []string {
	reasons := make([]string, len(b.Reasons))
	for i, r := range b.Reasons {
		reasons[i] = r.Code
	}
	conflicts := make([]string, len(b.Conflicts))
	for i, c := range b.Conflicts {
		conflicts[i] = c.Field
	}
	fields := slices.Sorted(maps.Keys(b.Provenance))
	provenance := make([]string, len(fields))
	for i, f := range fields {
		provenance[i] = f + "=" + b.Provenance[f].Evidence
	}
	return append(row[:0],
		b.Ref, strconv.FormatBool(b.RefSynthetic), b.Status,
		b.Customer.Name, b.Customer.Email, b.Customer.Phone, b.Item,
		csvTime(b.Start), csvTime(b.End), strconv.FormatBool(b.AllDay),
		csvInt(b.AmountMinor), b.Currency, csvInt(b.PaidMinor), csvInt(b.RefundedMinor), csvTime(b.CreatedAt),
		strconv.FormatFloat(b.Confidence, 'f', 2, 64), strconv.FormatBool(b.NeedsReview),
		strings.Join(reasons, ";"), strings.Join(conflicts, ";"), strings.Join(b.Sources, ";"),
		strings.Join(b.Evidence, ";"), strings.Join(provenance, ";"),
	)
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func csvInt(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}
