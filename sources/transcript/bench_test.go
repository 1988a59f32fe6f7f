package transcript

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
)

// prepareSink prepares every record as the store would (validation,
// hashing, facts encoding) and keeps nothing: the import without SQLite.
type prepareSink struct{ records, bytes int64 }

func (s *prepareSink) Put(_ context.Context, r evidence.Record) error {
	if err := r.Prepare(); err != nil {
		return err
	}
	s.records++
	s.bytes += int64(len(r.Raw))
	return nil
}
func (s *prepareSink) Reject(context.Context, evidence.Rejected) error { return nil }
func (s *prepareSink) Ignore(context.Context, string) error            { return nil }
func (s *prepareSink) SaveCheckpoint(context.Context, string, string) error {
	return nil
}
func (s *prepareSink) Checkpoint(context.Context, string) (string, bool, error) {
	return "", false, nil
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// benchClaudeFile writes a Claude Code session of about size bytes: the
// scenario's session repeated, each copy with its own uuids.
func benchClaudeFile(b *testing.B, size int) string {
	b.Helper()
	src, err := os.ReadFile(filepath.Join(scenarioDir, "transcripts", "5a1feb51-7011-418b-b8db-b3077b943c22.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	for i := 0; out.Len() < size; i++ {
		out.Write(uuidRE.ReplaceAllFunc(src, func(u []byte) []byte {
			return []byte(fmt.Sprintf("%s%04x", u[:len(u)-4], i%0x10000))
		}))
	}
	path := filepath.Join(b.TempDir(), "session.jsonl")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkImportClaude imports a 20 MB Claude Code session (the realistic
// mix of claudeBenchFile: tests run, files read and edited, greps): parse, find
// and redact secrets, detect, and prepare every record for the store (the
// SQLite commit is measured by evidence's BenchmarkCommit1KB). Goal: ≥ 50
// MB/s on one core.
//
//	go test -run '^$' -bench BenchmarkImportClaude -benchtime 3x -cpu 1 ./sources/transcript/
func BenchmarkImportClaude(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(400)) // as cmd/salvage runs
	path := claudeBenchFile(b, 20<<20)
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(info.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink := &prepareSink{}
		run := &sources.Run{Args: []string{path}, Config: evidence.DefaultConfig(), Sink: sink, Progress: sources.NoProgress,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: func(string) string { return "" }, Now: time.Now}
		if err := New().Import(context.Background(), run); err != nil {
			b.Fatal(err)
		}
		if sink.records == 0 {
			b.Fatal("nothing imported")
		}
	}
}

// BenchmarkImportClaudeDense imports the scenario's incident session
// repeated to 20 MB: a worst case, every line a shell command, a curl with
// GraphQL or a result with secrets in it. No goal; reported for reference.
func BenchmarkImportClaudeDense(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	path := benchClaudeFile(b, 20<<20)
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(info.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run := &sources.Run{Args: []string{path}, Config: evidence.DefaultConfig(), Sink: &prepareSink{}, Progress: sources.NoProgress,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: func(string) string { return "" }, Now: time.Now}
		if err := New().Import(context.Background(), run); err != nil {
			b.Fatal(err)
		}
	}
}
