package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
	"github.com/salvagehq/salvage/sources/stripe/stripetest"
	"github.com/spf13/pflag"
)

// fakeImporter reads n synthetic records, resuming from its checkpoint. It
// rejects every input listed in bad, and cancels the import (as Ctrl-C
// would) after reading stopAfter records in this run.
type fakeImporter struct {
	n         int
	bad       map[int]bool
	stopAfter int
	cancel    context.CancelFunc
	label     string
}

var _ sources.Importer = (*fakeImporter)(nil)

func (f *fakeImporter) Name() string            { return "fake" }
func (f *fakeImporter) Source() evidence.Source { return evidence.Mail }
func (f *fakeImporter) Help() sources.Help      { return sources.Help{Args: "[PATH...]", Short: "a fake"} }
func (f *fakeImporter) Flags(fs *pflag.FlagSet) { fs.StringVar(&f.label, "label", "", "a label") }

func (f *fakeImporter) Import(ctx context.Context, run *sources.Run) error {
	start := 0
	if v, ok, err := run.Sink.Checkpoint(ctx, "fake"); err != nil {
		return err
	} else if ok {
		start, _ = strconv.Atoi(v)
		start++
	}
	bar := run.Progress.Bar("fake", int64(f.n-start))
	defer bar.Done()
	for i := start; i < f.n; i++ {
		if f.stopAfter > 0 && i-start == f.stopAfter {
			f.cancel()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		raw := []byte(fmt.Sprintf("Message-ID: <%d@fake>\n\nhello\n", i))
		var err error
		if f.bad[i] {
			err = run.Sink.Reject(ctx, evidence.Rejected{Source: evidence.Mail, Via: "mbox", Locator: fmt.Sprint("fake:", i), Reason: "no headers", Raw: raw})
		} else {
			err = run.Sink.Put(ctx, evidence.Record{ID: fmt.Sprintf("mail:<%d@fake>", i), Source: evidence.Mail, Via: "mbox", Kind: "email", Raw: raw})
		}
		if err != nil {
			return err
		}
		if err := run.Sink.SaveCheckpoint(ctx, "fake", strconv.Itoa(i)); err != nil {
			return err
		}
		bar.Add(1)
	}
	return nil
}

// runFake runs `salvage --case dir import fake ARGS` with imp.
func runFake(t *testing.T, ctx context.Context, dir string, imp *fakeImporter, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }})
	root := a.rootCommand()
	for _, c := range root.Commands() {
		if c.Name() == "import" {
			c.AddCommand(a.importerCommand(imp))
		}
	}
	usageArgs(root)
	root.SetArgs(append([]string{"--case", dir, "import", "fake"}, args...))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.ExecuteContext(ctx)
	return exitCode(err), stdout.String(), stderr.String()
}

func initCase(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "case")
	if code := run(context.Background(), []string{"--case", dir, "init"}, env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}); code != 0 {
		t.Fatalf("init: exit %d", code)
	}
	return dir
}

func status(t *testing.T, dir string) statusJSON {
	t.Helper()
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--case", dir, "status", "--json"}, env{stdout: &out, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}); code != 0 {
		t.Fatalf("status: exit %d", code)
	}
	var st statusJSON
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestImportExitCodesAndResume(t *testing.T) {
	dir := initCase(t)

	// Interrupted after 40 of 100: exit 130, the 40 are kept, the job says so.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code, _, _ := runFake(t, ctx, dir, &fakeImporter{n: 100, stopAfter: 40, cancel: cancel}, "--label", "first", "inbox.mbox")
	if code != exitInterrupted {
		t.Fatalf("interrupted import: exit %d, want %d", code, exitInterrupted)
	}
	st := status(t, dir)
	if st.Evidence[evidence.Mail] != 40 || len(st.Jobs) != 1 || st.Jobs[0].Status != evidence.JobInterrupted {
		t.Fatalf("after interruption: %d mail records, jobs %+v", st.Evidence[evidence.Mail], st.Jobs)
	}
	if got := strings.Join(st.Jobs[0].Args, " "); got != "--label=first inbox.mbox" {
		t.Errorf("job args %q", got)
	}

	// Run again: resumes at 40, rejects two inputs, exits 3 and says why.
	code, stdout, _ := runFake(t, context.Background(), dir, &fakeImporter{n: 100, bad: map[int]bool{50: true, 70: true}})
	if code != exitPartial {
		t.Fatalf("import with rejects: exit %d, want %d", code, exitPartial)
	}
	if !strings.Contains(stdout, "58 new, 0 unchanged, 0 new version, 2 rejected") {
		t.Errorf("summary: %s", stdout)
	}
	st = status(t, dir)
	if st.Evidence[evidence.Mail] != 98 || st.Rejected[evidence.Mail] != 2 || st.Jobs[1].Status != evidence.JobDone || len(st.RejectedInput) != 2 {
		t.Fatalf("after resume: %+v", st)
	}

	// And once more from the start: nothing new.
	code, stdout, _ = runFake(t, context.Background(), dir, &fakeImporter{n: 100})
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stdout, "0 new,") {
		t.Errorf("summary: %s", stdout)
	}
}

func TestVerifyNamesTamperedRecord(t *testing.T) {
	dir := initCase(t)
	if code, _, _ := runFake(t, context.Background(), dir, &fakeImporter{n: 10}); code != 0 {
		t.Fatalf("import: exit %d", code)
	}
	s, err := evidence.Open(context.Background(), dir, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Change one byte of the stored message, behind salvage's back.
	var pack string
	var off int64
	if err := s.DB().QueryRow(`SELECT raw_pack, raw_off FROM records WHERE id = 'mail:<7@fake>'`).Scan(&pack, &off); err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := os.OpenFile(filepath.Join(dir, "raw", pack), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("m"), off)
	f.Close()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--case", dir, "verify"}, env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	if code != exitError {
		t.Errorf("verify of a tampered case: exit %d, want %d", code, exitError)
	}
	if !strings.Contains(out.String(), "ALTERED record mail:<7@fake> v1") || !strings.Contains(errb.String(), "1 altered") {
		t.Errorf("verify output:\n%s%s", out.String(), errb.String())
	}
}

func TestNewerCaseIsRefused(t *testing.T) {
	dir := initCase(t)
	s, err := evidence.Open(context.Background(), dir, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.DB().Exec(`PRAGMA user_version = 42`)
	s.Close()
	var errb bytes.Buffer
	code := run(context.Background(), []string{"--case", dir, "status"}, env{stdout: &bytes.Buffer{}, stderr: &errb, getenv: func(string) string { return "" }})
	if code != exitError || !strings.Contains(errb.String(), "newer salvage") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}

func TestStripeRefusedKeyIsOneLineAndExit1(t *testing.T) {
	srv := stripetest.NewServer(t, stripetest.Objects{}, stripetest.Options{Keys: []string{"rk_" + "test_" + "TheRightKey0000000001"}})
	dir := initCase(t)
	wrong := "rk_" + "test_" + "TheWrongKey0000000009"
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--case", dir, "import", "stripe", "--api-base", srv.URL, "--since", "all"},
		env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
			if k == "STRIPE_API_KEY" {
				return wrong
			}
			return ""
		}})
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	var errLines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.HasPrefix(l, "salvage: ") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], "Stripe refused the key rk_test_…0009") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), wrong) {
		t.Error("the key is printed")
	}
}
