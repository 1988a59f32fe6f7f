package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

type verifyCmd struct {
	*app
	json bool
}

func (a *app) verifyCommand() *cobra.Command {
	c := &verifyCmd{app: a}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Re-hash every stored raw record and report any that changed since import",
		Long: `Re-hash the raw bytes of every stored record, sighting and rejected input,
compare each with the SHA-256 taken when it was imported, and run SQLite's
integrity check on the case database. Any mismatch is named (record id and
version) and the exit code is 1.

Use it before handing the case to someone else, and to show that the
evidence is what was imported.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := c.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			bar := c.newProgress(c.stderr).Bar("verify", 0)
			var last int64
			rep, err := s.Verify(ctx, func(done int64) { bar.Add(done - last); last = done })
			bar.Done()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if c.json {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "Checked %s records, %s sightings, %s rejected inputs.\n",
					count(rep.Records), count(rep.Sightings), count(rep.Rejected))
				for _, m := range rep.Mismatches {
					fmt.Fprintf(out, "  ALTERED %s\n", m)
				}
				for _, p := range rep.Integrity {
					fmt.Fprintf(out, "  DATABASE %s\n", p)
				}
				if rep.OK() {
					fmt.Fprintln(out, "Every raw record matches the SHA-256 taken at import.")
				}
			}
			if !rep.OK() {
				return fmt.Errorf("verify: %d altered, %d database problems", len(rep.Mismatches), len(rep.Integrity))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&c.json, "json", false, "print the report as JSON")
	return cmd
}
