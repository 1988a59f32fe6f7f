package peer

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The load helpers run a SQL file through the database's own command-line
// client, as the person restoring a database would, and return what the
// client printed and how it exited: a test that injects a failure wants the
// error, not a failed test.

// PsqlFile runs psql -X -v ON_ERROR_STOP=1 -f path in database db, over TCP.
func (p *Postgres) PsqlFile(db, path string) (stdout, stderr string, err error) {
	return runWithFile("", filepath.Join(p.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", p.Host, "-p", strconv.Itoa(p.Port), "-U", p.User, "-d", db, "-f", path)
}

// PsqlCommand returns the command PsqlFile runs, for a test that times it.
func (p *Postgres) PsqlCommand(ctx context.Context, db string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, "psql"), append([]string{"-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", p.Host, "-p", strconv.Itoa(p.Port), "-U", p.User, "-d", db}, args...)...)
	cmd.Env = childEnv()
	return cmd
}

// ExecFile runs the mariadb client on database db with the file as its
// standard input (mariadb db < path), stopping at the first error (the
// client's default).
func (m *MariaDB) ExecFile(db, path string) (stdout, stderr string, err error) {
	return runWithFile(path, m.client, "--no-defaults", "--protocol=tcp", "-h", m.Host, "-P", strconv.Itoa(m.Port), "-u", m.User,
		"--batch", "--skip-column-names", "--default-character-set=utf8mb4", db)
}

// SQLite3 is the sqlite3 command-line shell.
type SQLite3 struct{ path string }

// FindSQLite3 finds the sqlite3 shell, or fails the test with the command
// that installs it.
func FindSQLite3(t testing.TB) *SQLite3 {
	t.Helper()
	p := findProgram([]string{"sqlite3"}, "/usr/bin", "/usr/local/bin")
	if p == "" {
		needPackage(t, "SQLite shell (sqlite3)", "sqlite3")
	}
	return &SQLite3{path: p}
}

// ExecFile runs sqlite3 db < path: the shell's defaults, as a person would
// run it (it does not stop at an error unless the file says .bail on).
func (s *SQLite3) ExecFile(db, path string) (stdout, stderr string, err error) {
	return runWithFile(path, s.path, db)
}

// Exec runs sql in the database file db and returns its output (rows, "|"
// between fields), failing the test on error.
func (s *SQLite3) Exec(t testing.TB, db, sql string) string {
	t.Helper()
	stdout, stderr, err := run(account{}, filepath.Dir(db), sql, s.path, "-bail", db)
	if err != nil || stderr != "" {
		t.Fatalf("sqlite3 %s: %v\n%s\nSQL:\n%s", db, err, strings.TrimSpace(stderr), sql)
	}
	return stdout
}

// runWithFile runs a client as the test's own user, with the file as
// standard input when stdin is not "".
func runWithFile(stdin, name string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = childEnv()
	if stdin != "" {
		f, err := os.Open(stdin)
		if err != nil {
			return "", "", err
		}
		defer f.Close()
		cmd.Stdin = f
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w after %v", err, 10*runTimeout)
	}
	return out.String(), errb.String(), err
}
