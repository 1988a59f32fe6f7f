package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// env is what a run of salvage gets from its process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// app is the state shared by every command of one run: global flags, the
// outputs, the logger.
type app struct {
	env
	caseDir    string
	verbose    bool
	noProgress bool
	log        *slog.Logger
	now        func() time.Time
}

const defaultCase = "salvage-case"

func newApp(e env) *app { return &app{env: e, now: time.Now} }

// run executes one salvage command line and returns the exit code.
func run(ctx context.Context, args []string, e env) int {
	a := newApp(e)
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %v", context.Canceled, err)
	}
	code := exitCode(err)
	switch code {
	case exitOK:
	case exitInterrupted:
		fmt.Fprintln(e.stderr, "salvage: interrupted; what was read so far is saved, and running the same command again resumes")
	case exitUsage:
		fmt.Fprintf(e.stderr, "salvage: %v\nRun 'salvage --help' for usage.\n", err)
	default:
		fmt.Fprintf(e.stderr, "salvage: %v\n", err)
	}
	return code
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "salvage",
		Short: "Rebuild lost bookings from the systems that survived a data-loss incident",
		Long: `salvage rebuilds a business's lost bookings after its database is gone.

It imports evidence from the systems that survived (Stripe, calendars,
mailboxes, the transcript of the agent that caused the loss) into a local
case, reconciles it into rebuilt bookings with the source of every value,
and exports a review workbook, restore SQL and an incident timeline.

It never changes a source: every import is read-only, and credentials come
from environment variables only.

Start with:
  salvage init --timezone Europe/Lisbon --last-backup 2026-08-20T02:00:00Z
  salvage import --help

The case is the directory given by --case, or $SALVAGE_CASE, or ./` + defaultCase + `.

` + exitCodesHelp,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelInfo
			if a.verbose {
				level = slog.LevelDebug
			}
			a.log = slog.New(newLogHandler(a.stderr, level))
			if a.caseDir == "" {
				a.caseDir = a.getenv("SALVAGE_CASE")
			}
			if a.caseDir == "" {
				a.caseDir = defaultCase
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q", args[0])
			}
			return cmd.Help()
		},
	}
	root.Args = cobra.ArbitraryArgs
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.caseDir, "case", "", "case directory (default $SALVAGE_CASE or ./"+defaultCase+")")
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "log more detail")
	pf.BoolVar(&a.noProgress, "no-progress", false, "no progress bars, even on a terminal")
	root.AddCommand(
		a.initCommand(),
		a.statusCommand(),
		a.importCommand(),
		a.reconcileCommand(),
		a.timelineCommand(),
		a.exportCommand(),
		a.reviewCommand(),
		a.verifyCommand(),
		a.rulesCommand(),
		a.demoCommand(),
	)
	for _, c := range root.Commands() {
		usageArgs(c)
	}
	return root
}

// usageArgs makes argument-count mistakes usage errors (exit 2), in c and
// its subcommands.
func usageArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

// openCase opens the case named by --case.
func (a *app) openCase(ctx context.Context) (*evidence.Store, error) {
	s, err := evidence.Open(ctx, a.caseDir, evidence.Options{Now: a.now, Log: a.log})
	if err != nil {
		return nil, err
	}
	for _, w := range s.Warnings {
		a.log.Warn(w)
	}
	return s, nil
}

// terminalWidth is w's width in columns if it is a terminal, else 0.
// Progress bars go to a terminal wide enough to draw them, log lines
// anywhere else.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}

// changedFlags lists the flags set on the command line as "--name=value",
// for the job record. No flag carries a credential.
func changedFlags(fs *pflag.FlagSet) []string {
	var out []string
	fs.Visit(func(f *pflag.Flag) {
		if f.Name == "case" {
			return
		}
		out = append(out, "--"+f.Name+"="+f.Value.String())
	})
	return out
}

// count formats n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + count(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
