package sources

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// The crash test runs a synthetic import in a child process (this test
// binary, re-executed), kills it with SIGKILL at random moments, resumes it,
// and checks after every kill that the case holds exactly what was
// committed: nothing twice, nothing before the checkpoint missing.

const (
	crashEnvCase  = "SALVAGE_CRASHTEST_CASE"
	crashRecords  = 30000
	crashOverlap  = 40 // a resume re-reads this many inputs before its checkpoint
	crashRevision = 100
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnvCase); dir != "" {
		if err := crashChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type crashInput struct {
	rec     evidence.Record
	version int // the version the store must give it
}

// crashInputs is the i-th input of the synthetic source: record i, and at
// every crashRevision-th index a changed version of the record read 50
// inputs earlier.
func crashInputs(i int) []crashInput {
	out := []crashInput{{crashRecord(i, 1), 1}}
	if i%crashRevision == 50 {
		out = append(out, crashInput{crashRecord(i-50, 2), 2})
	}
	return out
}

func crashRecord(n, rev int) evidence.Record {
	raw := make([]byte, 1024)
	r := rand.New(rand.NewPCG(uint64(n), uint64(rev)))
	for i := range raw {
		raw[i] = byte('a' + r.IntN(26))
	}
	return evidence.Record{
		ID: fmt.Sprintf("stripe:pi_%06d", n), Source: evidence.Stripe, Via: "api", Kind: "payment_intent",
		OccurredAt: time.Unix(int64(1_790_000_000+n), 0), Raw: raw, Locator: strconv.Itoa(n),
	}
}

// crashChild is the importer: it resumes from its checkpoint (re-reading a
// little before it, as the Stripe importer does) and imports to the end.
func crashChild(dir string) error {
	ctx := context.Background()
	store, err := evidence.Open(ctx, dir, evidence.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	job, err := store.StartJob(ctx, "synthetic", evidence.Stripe, nil)
	if err != nil {
		return err
	}
	// Odd batch sizes so that kills land anywhere relative to a commit.
	sink := NewBatchSink(store, job, BatchOptions{MaxRecords: 97})
	start := 0
	if v, ok, err := sink.Checkpoint(ctx, "synthetic"); err != nil {
		return err
	} else if ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return err
		}
		start = max(0, n+1-crashOverlap)
	}
	for i := start; i < crashRecords; i++ {
		for _, in := range crashInputs(i) {
			if err := sink.Put(ctx, in.rec); err != nil {
				return err
			}
		}
		if err := sink.SaveCheckpoint(ctx, "synthetic", strconv.Itoa(i)); err != nil {
			return err
		}
		if i%10 == 0 {
			time.Sleep(time.Millisecond) // paced like a network source
		}
	}
	if err := sink.Flush(ctx); err != nil {
		return err
	}
	return store.FinishJob(ctx, job, evidence.JobDone, nil)
}

func TestImportSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and resumes an import many times; skipped with -short")
	}
	dir := filepath.Join(t.TempDir(), "case")
	s, err := evidence.Init(context.Background(), dir, evidence.DefaultConfig(), evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	killed := 0
	for round := 0; round < 40 && killed < 20; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnvCase+"="+dir)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: child failed on its own: %v", round, err)
			}
		case <-time.After(time.Duration(30+rng.IntN(250)) * time.Millisecond):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
		}
		checkCrashCase(t, dir, false)
	}
	if killed < 10 {
		t.Errorf("only %d children were killed mid-import: the test did not test much", killed)
	}
	// And once more to the end.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnvCase+"="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	checkCrashCase(t, dir, true)
	t.Logf("%d kills", killed)
}

var crashProduced = sync.OnceValues(func() (map[string][32]byte, [][]string) {
	produced := map[string][32]byte{} // "id vN" → hash of every version the source produces
	order := make([][]string, crashRecords)
	for i := range crashRecords {
		for _, in := range crashInputs(i) {
			key := fmt.Sprintf("%s v%d", in.rec.ID, in.version)
			produced[key] = evidence.Hash(in.rec.Raw)
			order[i] = append(order[i], key)
		}
	}
	return produced, order
})

// checkCrashCase checks the case against the synthetic source: each stored
// (id, version) is one the source produced, stored once, with the right
// bytes; everything up to the checkpoint is there; and when complete,
// everything is there.
func checkCrashCase(t *testing.T, dir string, complete bool) {
	t.Helper()
	ctx := context.Background()
	s, err := evidence.Open(ctx, dir, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	upto := crashRecords - 1
	if !complete {
		upto = -1
		if v, ok, err := s.Checkpoint(ctx, "synthetic"); err != nil {
			t.Fatal(err)
		} else if ok {
			upto, _ = strconv.Atoi(v)
		}
	}
	produced, order := crashProduced()
	got := map[string]bool{}
	for r, err := range s.Records(ctx, evidence.Query{AllVersions: true}) {
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("%s v%d", r.ID, r.Version)
		if got[key] {
			t.Fatalf("%s stored twice", key)
		}
		got[key] = true
		h, ok := produced[key]
		if !ok {
			t.Fatalf("%s stored but never produced (a duplicate version?)", key)
		}
		if h != r.SHA256 {
			t.Fatalf("%s stored with the wrong bytes", key)
		}
	}
	for i, keys := range order[:upto+1] {
		for _, key := range keys {
			if !got[key] {
				t.Fatalf("%s (input %d) is before the checkpoint (%d) but missing", key, i, upto)
			}
		}
	}
	if complete && len(got) != len(produced) {
		t.Fatalf("complete import holds %d versions, want %d", len(got), len(produced))
	}
	rep, err := s.Verify(ctx, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("verify after kill: %+v %v", rep, err)
	}
	jobs, err := s.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range jobs {
		last := i == len(jobs)-1
		switch {
		case j.Status == evidence.JobRunning:
			t.Fatalf("job %d still running after its process was killed", j.ID)
		case complete && last && j.Status != evidence.JobDone:
			t.Fatalf("final job %d: %s", j.ID, j.Status)
		}
	}
}
