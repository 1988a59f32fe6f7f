package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/export/restoresql"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// sqlFlags are the flags of export sql.
type sqlFlags struct {
	dialect, mapping, against string
	approvedOnly              bool

	d      restoresql.Dialect
	target *restoresql.Target
}

// sqlFlagNames are the flags only export sql takes.
var sqlFlagNames = []string{"dialect", "mapping", "against", "approved-only"}

func (c *exportCmd) addSQLFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.sql.dialect, "dialect", "", "sql: the restored database's dialect: postgres, mysql or sqlite")
	fs.StringVar(&c.sql.mapping, "mapping", "", "sql: a TOML file mapping booking fields onto the database's own tables")
	fs.StringVar(&c.sql.against, "against", "", "sql: check each booking against this database first (read-only) and write only new ones")
	fs.BoolVar(&c.sql.approvedOnly, "approved-only", false, "sql: only bookings approved in review")
}

// noSQLFlags refuses the sql flags on another format.
func (c *exportCmd) noSQLFlags(cmd *cobra.Command) error {
	for _, name := range sqlFlagNames {
		if cmd.Flags().Changed(name) {
			return usagef("--%s is a flag of export sql", name)
		}
	}
	return nil
}

func (c *exportCmd) checkSQLFlags() error {
	if c.sql.dialect == "" {
		return usagef("export sql: give --dialect postgres, mysql or sqlite (the restored database's)")
	}
	d, err := restoresql.ParseDialect(c.sql.dialect)
	if err != nil {
		return usagef("--dialect: %v", err)
	}
	c.sql.d = d
	if c.sql.against != "" {
		t, err := restoresql.ParseTarget(d, c.sql.against, c.getenv)
		if err != nil {
			return usagef("%v", err)
		}
		c.sql.target = t
	}
	return nil
}

// exportSQL writes the restore SQL of the chosen bookings: those approved
// in review (or, when no review was imported, those that need none), and
// with --against only those the database does not hold yet.
func (c *exportCmd) exportSQL(ctx context.Context, w io.Writer, s *evidence.Store) (int, error) {
	if c.getenv("GOGC") == "" && c.getenv("GOMEMLIMIT") == "" {
		// Every booking is in memory while the file is written, and the
		// literals are garbage at once: collect less often (within the
		// reconciler's memory limit). 250k bookings: 5.4 s → 4.1 s.
		defer debug.SetGCPercent(debug.SetGCPercent(restoresql.GCPercent))
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(reconcile.MemoryLimit))
	}
	var m *restoresql.Mapping
	if c.sql.mapping != "" {
		var err error
		if m, err = restoresql.LoadMapping(c.sql.mapping); err != nil {
			return 0, err
		}
	}
	run, _, err := s.LastReconcile(ctx)
	if err != nil {
		return 0, err
	}
	id, err := s.CaseID(ctx)
	if err != nil {
		return 0, err
	}
	var bookings []reconcile.Booking
	for sb, err := range s.Bookings(ctx) {
		if err != nil {
			return 0, err
		}
		var b reconcile.Booking
		if err := json.Unmarshal(sb.JSON, &b); err != nil {
			return 0, fmt.Errorf("booking %s: %w", sb.Ref, err)
		}
		bookings = append(bookings, b)
	}
	reviews, err := s.Reviews(ctx)
	if err != nil {
		return 0, err
	}
	sel, err := restoresql.Choose(bookings, reviews, c.sql.approvedOnly)
	if err != nil {
		return 0, err
	}
	cs := restoresql.Case{ID: id, ReconciledAt: run.FinishedAt, Since: run.Since, Until: run.Until,
		Bookings: len(bookings), Currency: s.Config().Case.Currency}
	o := restoresql.Options{Dialect: c.sql.d, Mapping: m, Case: cs, Chosen: sel.Rule, Skipped: sel.Skipped}
	if c.out != "" {
		o.FileName = filepath.Base(c.out)
	}
	chosen := sel.Chosen
	if t := c.sql.target; t != nil {
		if t.PasswordInDSN {
			c.log.Warn("the password in --against shows in the process list: give it in PGPASSWORD or MYSQL_PWD instead")
		}
		checks, sum, err := t.Check(ctx, m, sel.Items, &cs)
		if err != nil {
			return 0, err
		}
		ds := make([]evidence.Disposition, len(checks))
		var unresolved []string
		chosen = make([]bool, len(checks))
		for i, ck := range checks {
			ds[i] = evidence.Disposition{Ref: ck.Ref, State: ck.State, Fields: ck.Fields, Against: t.Redacted}
			chosen[i] = sel.Chosen[i] && ck.State == evidence.DispositionNew && len(ck.Unresolved) == 0
			if !sel.Chosen[i] || chosen[i] {
				continue
			}
			reason := "already in the database"
			switch {
			case ck.State == evidence.DispositionDiffers:
				reason = "in the database with other values: " + strings.Join(ck.Fields, ", ")
			case len(ck.Unresolved) > 0:
				reason = "finds no row in " + strings.Join(ck.Unresolved, ", ") + " (correct it in review)"
				unresolved = append(unresolved, ck.Ref+": "+reason)
			}
			o.Skipped = append(o.Skipped, restoresql.Skipped{Ref: ck.Ref, Reason: reason})
		}
		if err := s.ReplaceDispositions(ctx, ds); err != nil {
			return 0, err
		}
		o.Against = sum
		c.log.Info(fmt.Sprintf("checked %s %s against %s: %d new, %d present, %d differ (only new ones are written; salvage export xlsx shows each)",
			count(int64(len(checks))), plural(len(checks), "booking", "bookings"), t.Redacted, sum.New, sum.Present, sum.Differ))
		for i, d := range sum.Differs {
			if i == 10 {
				c.log.Info(fmt.Sprintf("  and %d more (all in the file's header)", len(sum.Differs)-i))
				break
			}
			c.log.Info("  " + d.Ref + ": " + d.Reason)
		}
		for i, u := range unresolved {
			if i == 10 {
				c.log.Warn(fmt.Sprintf("and %d more approved bookings left out (all in the file's header)", len(unresolved)-i))
				break
			}
			c.log.Warn("left out " + u)
		}
		for _, w := range sum.Warnings {
			c.log.Warn(w)
		}
	}
	var items []restoresql.Item
	for i, it := range sel.Items {
		if chosen[i] {
			items = append(items, it)
		}
	}
	res, err := restoresql.Write(w, items, o)
	if err != nil {
		return 0, err
	}
	if n := len(o.Skipped) + len(res.Left); n > 0 {
		c.log.Info(fmt.Sprintf("%s %s left out (see the file's header): %s", count(int64(n)), plural(n, "booking", "bookings"), leftSummary(o.Skipped, res.Left)))
	}
	return res.Written, nil
}

// leftSummary counts the reasons bookings were left out, most common first.
func leftSummary(lists ...[]restoresql.Skipped) string {
	counts := map[string]int{}
	var order []string
	for _, l := range lists {
		for _, s := range l {
			r := s.Reason
			if i := strings.IndexAny(r, "(:"); i > 0 {
				r = strings.TrimSpace(r[:i])
			}
			if counts[r] == 0 {
				order = append(order, r)
			}
			counts[r]++
		}
	}
	parts := make([]string, len(order))
	for i, r := range order {
		parts[i] = fmt.Sprintf("%s %d", r, counts[r])
	}
	return strings.Join(parts, " · ")
}
