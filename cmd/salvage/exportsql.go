package main

import (
	"context"
	"io"

	"github.com/salvagehq/salvage/evidence"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// sqlFlags are the flags of export sql.
type sqlFlags struct {
	dialect, mapping, against string
	approvedOnly              bool
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
	return usagef("export sql: not in this build yet (issue #9)")
}

func (c *exportCmd) exportSQL(ctx context.Context, w io.Writer, s *evidence.Store) (int, error) {
	return 0, usagef("export sql: not in this build yet (issue #9)")
}
