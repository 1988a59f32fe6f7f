package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
	"github.com/salvagehq/salvage/sources/all"
	"github.com/spf13/cobra"
)

func (a *app) importCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import SOURCE",
		Short: "Read evidence from a surviving system into the case (read-only)",
		Long: `Read evidence from a surviving system into the case.

Every import is read-only towards its source, resumable (an interrupted
import continues from where it stopped when run again) and idempotent
(importing the same objects again stores nothing new; a changed object is
kept as a new version beside the old one). Input that cannot be read is kept
in the case as a rejected record with the reason, and the import goes on.

Credentials come from environment variables only, never from flags, and are
never written to the case.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	importers := all.Importers()
	if len(importers) == 0 {
		cmd.Long += "\n\nThis build has no importers yet."
	}
	for _, imp := range importers {
		cmd.AddCommand(a.importerCommand(imp))
	}
	return cmd
}

// importerCommand builds `salvage import <name>` for one importer.
func (a *app) importerCommand(imp sources.Importer) *cobra.Command {
	h := imp.Help()
	cmd := &cobra.Command{
		Use:     strings.TrimSpace(imp.Name() + " " + h.Args),
		Short:   h.Short,
		Long:    h.Long,
		Example: h.Example,
		Args:    cobra.MinimumNArgs(h.MinArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runImport(cmd.Context(), cmd, imp, args)
		},
	}
	imp.Flags(cmd.Flags())
	return cmd
}

// runImport runs one import as a job: it records the job, gives the importer
// a batching sink and progress, commits what was read even when interrupted,
// and reports the counts.
func (a *app) runImport(ctx context.Context, cmd *cobra.Command, imp sources.Importer, args []string) error {
	s, err := a.openCase(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	if in, ok := imp.(sources.Inspector); ok && in.Inspecting() {
		return in.Inspect(ctx, &sources.Run{Args: args, Config: s.Config(), Sink: nil, Log: a.log.With("import", imp.Name()),
			Progress: sources.NoProgress, Getenv: a.getenv, Now: a.now}, cmd.OutOrStdout())
	}
	if c, ok := imp.(sources.Checker); ok {
		if err := c.Check(&sources.Run{Args: args, Config: s.Config(), Log: a.log.With("import", imp.Name()),
			Progress: sources.NoProgress, Getenv: a.getenv, Now: a.now}); err != nil {
			return err
		}
	}
	job, err := s.StartJob(ctx, imp.Name(), imp.Source(), append(changedFlags(cmd.Flags()), args...))
	if err != nil {
		return err
	}
	progress := a.newProgress(a.stderr)
	sink := sources.NewBatchSink(s, job, sources.BatchOptions{Now: a.now})
	started := a.now()
	importErr := imp.Import(ctx, &sources.Run{
		Args: args, Config: s.Config(), Sink: sink, Log: a.log.With("import", imp.Name()),
		Progress: progress, Getenv: a.getenv, Now: a.now,
	})
	// Whatever was read completely is committed, interrupted or not.
	flushErr := sink.Flush(context.WithoutCancel(ctx))
	progress.Wait()

	status := evidence.JobDone
	switch {
	case importErr != nil && ctx.Err() != nil:
		status = evidence.JobInterrupted
		importErr = fmt.Errorf("%w: %v", context.Canceled, importErr)
	case importErr != nil || flushErr != nil:
		status = evidence.JobFailed
	}
	jobErr := errors.Join(importErr, flushErr)
	if err := s.FinishJob(context.WithoutCancel(ctx), job, status, jobErr); err != nil {
		return errors.Join(jobErr, err)
	}
	c := sink.Counts()
	fmt.Fprintf(cmd.OutOrStdout(), "import %s: %s new, %s unchanged, %s new version, %s rejected, %s ignored in %s (job %d, %s)\n",
		imp.Name(), count(c.New), count(c.Unchanged), count(c.NewVersion), count(c.Rejected), count(c.Ignored),
		a.now().Sub(started).Round(time.Millisecond), job.ID, status)
	if reasons := sink.IgnoredReasons(); len(reasons) > 0 {
		for _, r := range slices.Sorted(maps.Keys(reasons)) {
			fmt.Fprintf(cmd.OutOrStdout(), "  ignored %s: %s\n", count(reasons[r]), r)
		}
	}
	if jobErr != nil {
		return jobErr
	}
	if c.Rejected > 0 {
		return partialError{c.Rejected}
	}
	return nil
}
