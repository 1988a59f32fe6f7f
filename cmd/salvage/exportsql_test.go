package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/peer"
)

// TestExportSQLAgainstPostgresKeepsThePassword checks the scenario's case
// against its restored database in a real PostgreSQL, with a password in
// the DSN: the password shows nowhere, not in the output, the SQL, the
// case's database nor an error, and the dispositions name the database
// without credentials.
func TestExportSQLAgainstPostgresKeepsThePassword(t *testing.T) {
	const secret = "S3cretPW-do-not-print"
	scenario, err := filepath.Abs(filepath.Join("..", "..", "fixtures", "scenario"))
	if err != nil {
		t.Fatal(err)
	}
	pg := peer.StartPostgres(t)
	pg.Psql(t, "postgres", "CREATE DATABASE restored")
	var restored bytes.Buffer
	for _, f := range []string{"schema.sql", "backup.sql"} {
		b, err := os.ReadFile(filepath.Join(scenario, "restored", f))
		if err != nil {
			t.Fatal(err)
		}
		restored.Write(b)
	}
	pg.Psql(t, "restored", restored.String())

	dir := t.TempDir()
	salvage := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(context.Background(), args, env{stdout: &out, stderr: &out, getenv: func(string) string { return "" }})
		return code, out.String()
	}
	if code, out := salvage("demo", "--scenario", scenario, "--out", filepath.Join(dir, "demo")); code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, out)
	}
	caseDir := filepath.Join(dir, "demo", "case")
	sqlPath := filepath.Join(dir, "r.sql")
	dsn := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/restored?sslmode=disable", secret, pg.Port)
	code, out := salvage("--case", caseDir, "export", "sql", "--dialect", "postgres", "--mapping", filepath.Join(scenario, "restored", "mapping.toml"),
		"--against", dsn, "--out", sqlPath)
	if code != 0 {
		t.Fatalf("export sql --against: exit %d\n%s", code, out)
	}
	redacted := fmt.Sprintf("postgres://127.0.0.1:%d/restored", pg.Port)
	if !strings.Contains(out, "checked 247 bookings against "+redacted+": 244 new, 0 present, 3 differ") {
		t.Errorf("output:\n%s", out)
	}
	if !strings.Contains(out, "password in --against shows in the process list") {
		t.Errorf("no warning about the password in the DSN:\n%s", out)
	}
	// A failing connection says so without the password.
	bad := strings.Replace(dsn, fmt.Sprint(pg.Port), fmt.Sprint(peer.FreePort(t)), 1)
	code2, out2 := salvage("--case", caseDir, "export", "sql", "--dialect", "postgres", "--against", bad)
	if code2 == 0 || !strings.Contains(out2, "connect to postgres://127.0.0.1:") {
		t.Errorf("a refused connection: exit %d\n%s", code2, out2)
	}
	for what, text := range map[string]string{"output": out + out2} {
		if strings.Contains(text, secret) {
			t.Errorf("the password shows in the %s", what)
		}
	}
	files := []string{sqlPath}
	_ = filepath.Walk(caseDir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the password is in %s", f)
		}
	}
	s, err := evidence.Open(context.Background(), caseDir, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ds, err := s.Dispositions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, d := range ds {
		counts[d.State]++
		if d.Against != redacted {
			t.Fatalf("disposition of %s against %q, want %q", d.Ref, d.Against, redacted)
		}
	}
	if counts[evidence.DispositionNew] != 244 || counts[evidence.DispositionDiffers] != 3 {
		t.Errorf("dispositions %v", counts)
	}
	// The file loads with psql.
	if _, stderr, err := pg.PsqlFile("restored", sqlPath); err != nil {
		t.Fatalf("psql: %v\n%s", err, stderr)
	}
	if got := pg.Psql(t, "restored", "SELECT count(*) FROM bookings"); got != "271\n" {
		t.Errorf("%q bookings after the load, want 57 + 214", got)
	}
}
