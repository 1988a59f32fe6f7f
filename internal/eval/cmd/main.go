// Command eval measures salvage's rebuilt bookings against a scenario's
// ground truth: it creates a case, imports the scenario's evidence as
// `salvage demo` does, runs `salvage reconcile --since all` (every booking,
// not only the loss window's) and `salvage export json`, and compares the
// bookings with truth/bookings.jsonl.
//
//	go run ./internal/eval/cmd -scenario fixtures/scenario [-case DIR] [-json] [-v]
//
// The salvage binary is $SALVAGE, or bin/salvage (`make build`) in the
// current directory or the module root above it.
//
// Without -case the case is made in a temporary directory and removed.
// With -case DIR it is made in DIR and kept; if DIR already holds a case,
// the imports are skipped and only reconcile and export run again (to tune
// the reconciler without re-importing).
//
// Exit status: 0 every goal met, 1 a goal missed (each is named), 2 the
// evaluation could not run (flags, no binary, an import failed).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/salvagehq/salvage/internal/eval"
	"github.com/salvagehq/salvage/reconcile"
)

func main() {
	os.Exit(run())
}

// scenarioInfo is what demo.go reads of scenario.json.
type scenarioInfo struct {
	Business string `json:"business"`
	Timezone string `json:"timezone"`
	Currency string `json:"currency"`
	Window   struct {
		LastBackup time.Time `json:"last_backup"`
	} `json:"window"`
}

type runner struct {
	bin, caseDir string
	verbose      bool
}

// result is one salvage run.
type result struct {
	stdout, stderr []byte
	code           int
	took           time.Duration
}

func (r *runner) salvage(ctx context.Context, args ...string) (result, error) {
	args = append([]string{"--case", r.caseDir}, args...)
	if r.verbose {
		fmt.Fprintf(os.Stderr, "$ %s %s\n", r.bin, strings.Join(args, " "))
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = withoutEnv(os.Environ(), "SALVAGE_CASE")
	start := time.Now()
	err := cmd.Run()
	res := result{stdout: out.Bytes(), stderr: errb.Bytes(), took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
		err = nil
	case err != nil:
		return res, fmt.Errorf("run %s: %w", r.bin, err)
	}
	if r.verbose && len(res.stderr) > 0 {
		os.Stderr.Write(res.stderr)
	}
	return res, ctx.Err()
}

func run() int {
	var (
		scenario = flag.String("scenario", "", "scenario directory (with scenario.json and truth/)")
		caseDir  = flag.String("case", "", "make the case here and keep it; an existing case is reused without importing")
		asJSON   = flag.Bool("json", false, "print the report as JSON")
		verbose  = flag.Bool("v", false, "show each salvage command and its messages")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./internal/eval/cmd -scenario DIR [-case DIR] [-json] [-v]\n\n"+
			"Measure salvage's rebuilt bookings against the scenario's ground truth.\n"+
			"The salvage binary is $SALVAGE, else bin/salvage (make build).\n"+
			"Exit 0: goals met; 1: a goal missed; 2: the evaluation could not run.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *scenario == "" || flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "eval: "+format+"\n", a...)
		return 2
	}
	bin, err := salvageBinary()
	if err != nil {
		return fail("%v", err)
	}
	info, err := readScenario(*scenario)
	if err != nil {
		return fail("%v", err)
	}
	// Read the truth first: a wrong -scenario fails before any work.
	truth, err := eval.ReadTruth(*scenario)
	if err != nil {
		return fail("%v", err)
	}

	r := &runner{bin: bin, caseDir: *caseDir, verbose: *verbose}
	reuse := false
	if r.caseDir == "" {
		tmp, err := os.MkdirTemp("", "salvage-eval-")
		if err != nil {
			return fail("%v", err)
		}
		defer os.RemoveAll(tmp)
		r.caseDir = filepath.Join(tmp, "case")
	} else if _, err := os.Stat(filepath.Join(r.caseDir, "salvage.toml")); err == nil {
		reuse = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail("%v", err)
	}

	var timings []string
	if reuse {
		fmt.Fprintf(os.Stderr, "eval: reusing the case in %s (no imports)\n", r.caseDir)
	} else {
		steps := [][]string{
			{"init", "--timezone", info.Timezone, "--currency", info.Currency,
				"--last-backup", info.Window.LastBackup.UTC().Format(time.RFC3339)},
			{"import", "stripe", "--from", filepath.Join(*scenario, "stripe")},
			{"import", "ics", filepath.Join(*scenario, "calendar", "calendar.ics")},
			{"import", "gcal", "--from", filepath.Join(*scenario, "calendar"), "--calendar", "fleet"},
			{"import", "mail", filepath.Join(*scenario, "mail", "mailbox.mbox")},
			{"import", "transcript", filepath.Join(*scenario, "transcripts")},
		}
		var took time.Duration
		for _, st := range steps {
			res, err := r.salvage(ctx, st...)
			if err != nil {
				return fail("%v", err)
			}
			took += res.took
			switch res.code {
			case 0:
			case 3: // finished, some input unreadable: as the demo, go on
				fmt.Fprintf(os.Stderr, "eval: salvage %s: some input could not be read (exit 3)\n", strings.Join(st[:2], " "))
			default:
				return fail("salvage %s failed (exit %d):\n%s", strings.Join(st, " "), res.code, tail(res.stderr, 20))
			}
		}
		timings = append(timings, "imports "+took.Round(10*time.Millisecond).String())
	}

	// Every booking, not only those the loss window covers (by default
	// reconcile leaves out those the backup holds unchanged): the truth in
	// scope is every booking with a surviving source.
	var notes []string
	rec, err := r.salvage(ctx, "reconcile", "--since", "all")
	if err == nil && rec.code == 2 && bytes.Contains(rec.stderr, []byte("unknown flag: --since")) {
		notes = append(notes, "salvage reconcile has no --since: only the bookings of the loss window were rebuilt")
		rec, err = r.salvage(ctx, "reconcile")
	}
	if err != nil {
		return fail("%v", err)
	}
	timings = append(timings, "reconcile "+rec.took.Round(10*time.Millisecond).String())
	if rec.code != 0 {
		notes = append(notes, explain("reconcile", rec))
	}
	exp, err := r.salvage(ctx, "export", "json")
	if err != nil {
		return fail("%v", err)
	}
	timings = append(timings, "export "+exp.took.Round(10*time.Millisecond).String())
	var got []reconcile.Booking
	if exp.code != 0 {
		notes = append(notes, explain("export json", exp))
	} else {
		got, err = eval.ReadBookings(bytes.NewReader(exp.stdout))
		if err != nil {
			notes = append(notes, fmt.Sprintf("salvage export json printed something that is not bookings (%v): none of its output is used", err))
			got = nil
		} else if len(got) == 0 {
			notes = append(notes, "salvage export json printed no bookings")
		}
	}
	fmt.Fprintf(os.Stderr, "eval: %s (%s)\n", *scenario, strings.Join(timings, ", "))

	rep := eval.Compare(truth, got)
	rep.Scenario = *scenario
	rep.Notes = notes
	if *asJSON {
		b, err := rep.JSON()
		if err != nil {
			return fail("%v", err)
		}
		os.Stdout.Write(append(b, '\n'))
	} else if err := rep.WriteText(os.Stdout); err != nil {
		return fail("%v", err)
	}
	if !rep.Met() {
		if *asJSON { // the text report lists them itself
			for _, g := range rep.Missed() {
				fmt.Fprintf(os.Stderr, "eval: goal missed: %s\n", g)
			}
		}
		return 1
	}
	return 0
}

// explain says why a salvage step gave no bookings.
func explain(step string, res result) string {
	cmd := strings.Fields(step)[0]
	if bytes.Contains(res.stderr, []byte(`unknown command "`+cmd+`"`)) {
		return fmt.Sprintf("this salvage has no %q command yet (has the reconciler landed? rebuild with make build): no bookings to measure", step)
	}
	return fmt.Sprintf("salvage %s failed (exit %d): %s", step, res.code, strings.TrimSpace(tail(res.stderr, 5)))
}

// salvageBinary finds the salvage binary: $SALVAGE, or bin/salvage here or
// in the module root above.
func salvageBinary() (string, error) {
	if p := os.Getenv("SALVAGE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$SALVAGE: %w", err)
		}
		return filepath.Abs(p)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "bin", "salvage")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil || filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("no salvage binary: run make build (it writes bin/salvage), or set $SALVAGE to one")
}

func readScenario(dir string) (scenarioInfo, error) {
	var info scenarioInfo
	path := filepath.Join(dir, "scenario.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return info, fmt.Errorf("read scenario: %w (is %s a scenario directory?)", err, dir)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("read %s: %w", path, err)
	}
	if _, err := time.LoadLocation(info.Timezone); err != nil || info.Timezone == "" || info.Window.LastBackup.IsZero() {
		return info, fmt.Errorf("%s: want timezone and window.last_backup", path)
	}
	if info.Currency == "" {
		return info, fmt.Errorf("%s: want currency", path)
	}
	return info, nil
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
