package main

import (
	"fmt"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/spf13/cobra"
)

type initCmd struct {
	*app
	timezone, lastBackup, incidentAt, currency string
}

func (a *app) initCommand() *cobra.Command {
	c := &initCmd{app: a}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a case: the directory that holds the evidence and salvage.toml",
		Long: `Create a case: a directory (private to you: mode 0700, it holds customers'
personal data) with the evidence database and salvage.toml, the case's
configuration, written with commented defaults. Edit salvage.toml to change
what the flags set.

Times are RFC 3339 (2026-08-20T02:00:00Z) or a date-time in the case's zone
(2026-08-20 03:00).`,
		Example: `  salvage init --timezone Europe/Lisbon --currency EUR --last-backup 2026-08-20T02:00:00Z
  salvage --case ./incident-2026-11 init`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd) },
	}
	f := cmd.Flags()
	f.StringVar(&c.timezone, "timezone", "UTC", "the business's IANA time zone, such as Europe/Lisbon")
	f.StringVar(&c.lastBackup, "last-backup", "", "when the newest restorable backup was taken")
	f.StringVar(&c.incidentAt, "incident-at", "", "when the data was lost, if known")
	f.StringVar(&c.currency, "currency", "", "ISO 4217 currency for amounts whose source gives none, such as EUR")
	return cmd
}

func (c *initCmd) run(cmd *cobra.Command) error {
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone = c.timezone
	cfg.Case.Currency = c.currency
	loc, err := time.LoadLocation(c.timezone)
	if err != nil {
		return usagef("--timezone %q is not an IANA time zone (such as Europe/Lisbon or UTC)", c.timezone)
	}
	for _, t := range []struct {
		flag, val string
		dst       *time.Time
	}{{"--last-backup", c.lastBackup, &cfg.Case.LastBackup}, {"--incident-at", c.incidentAt, &cfg.Case.IncidentAt}} {
		if t.val == "" {
			continue
		}
		if *t.dst, err = evidence.ParseTime(t.val, loc); err != nil {
			return usagef("%s: %v", t.flag, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	s, err := evidence.Init(cmd.Context(), c.caseDir, cfg, evidence.Options{Now: c.now, Log: c.log})
	if err != nil {
		return err
	}
	defer s.Close()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "Created case %s\n", s.Dir())
	fmt.Fprintf(out, "  time zone    %s\n", cfg.Case.Timezone)
	if cfg.Case.LastBackup.IsZero() {
		fmt.Fprintln(out, "  last backup  unknown (set case.last_backup in salvage.toml)")
	} else {
		fmt.Fprintf(out, "  last backup  %s\n", showTime(cfg.Case.LastBackup, loc))
	}
	fmt.Fprintf(out, "Next: salvage --case %s import --help\n", c.caseDir)
	return nil
}

// showTime shows an instant in the case's zone, with the zone's abbreviation.
func showTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04 MST")
}
