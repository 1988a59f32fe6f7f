package peer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Postgres is a PostgreSQL server started by StartPostgres.
type Postgres struct {
	Host string // 127.0.0.1
	Port int
	User string // the superuser, "postgres", with trust authentication
	Dir  string // data in Dir/db, server log in Dir/log, unix socket in Dir

	bin string // directory of initdb, postgres, psql
}

// StartPostgres starts the newest PostgreSQL of /usr/lib/postgresql (15 on
// Debian 12) in a fresh cluster: initdb with UTF8 encoding, C locale, trust
// authentication, superuser postgres; listening on 127.0.0.1 only; fsync
// off, time zone UTC. Only database "postgres" exists: create others with
// Psql. The server is stopped and its directory removed when the test ends.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := postgresBin(t)
	a := serverAccount(t, "postgres")
	p := &Postgres{Host: Host, User: "postgres", Dir: tempDir(t, "pg", a), bin: bin}
	data := filepath.Join(p.Dir, "db")
	if _, stderr, err := run(a, p.Dir, "", filepath.Join(bin, "initdb"),
		"-D", data, "-A", "trust", "-U", p.User, "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, stderr)
	}
	p.Port = startOnFreePort(t, "PostgreSQL", 0, func(port int) (*server, error) {
		cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
			"-p", strconv.Itoa(port), "-k", p.Dir,
			"-c", "listen_addresses="+Host,
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "shared_buffers=32MB", "-c", "max_connections=50",
			"-c", "timezone=UTC", "-c", "log_timezone=UTC")
		cmd.Dir = p.Dir
		// SIGINT: fast shutdown, which waits for the backends to exit.
		s, err := startServer("postgres", a, cmd, filepath.Join(p.Dir, "log"), syscall.SIGINT)
		if err != nil {
			return nil, err
		}
		return s, s.ready(func() error {
			if err := postmasterReady(data, port); err != nil {
				return err
			}
			return listening(s.cmd.Process.Pid, port)
		})
	})
	return p
}

// postmasterReady reads the status that the postmaster writes on the 8th
// line of postmaster.pid, as pg_ctl -w does.
func postmasterReady(data string, port int) error {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 8 || strings.TrimSpace(lines[3]) != strconv.Itoa(port) {
		return fmt.Errorf("postmaster.pid incomplete")
	}
	if st := strings.TrimSpace(lines[7]); st != "ready" {
		return fmt.Errorf("postmaster status %q", st)
	}
	return nil
}

// postgresBin returns the bin directory of the newest PostgreSQL installed
// where Debian puts it, else of the postgres found on PATH.
func postgresBin(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "postgres")) && isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "psql")) {
			return d
		}
	}
	needPackage(t, "PostgreSQL server (initdb, postgres, psql)", "postgresql")
	return ""
}

// pgVersion is the major version in /usr/lib/postgresql/VERSION/bin.
func pgVersion(bin string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(bin)), 64)
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// DSN returns the URL of database db: postgres://postgres@127.0.0.1:PORT/db?sslmode=disable.
func (p *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", p.User, p.Host, p.Port, db)
}

// Psql runs sql (one or more statements) in database db with psql over
// TCP, stopping at the first error (-v ON_ERROR_STOP=1), and returns its
// output: rows only, unaligned, fields separated by "|", one row a line,
// no command tags (psql -X -q -A -t). A failure fails the test with psql's
// stderr.
func (p *Postgres) Psql(t testing.TB, db, sql string) string {
	t.Helper()
	me := account{} // the client runs as the test's own user
	stdout, stderr, err := run(me, p.Dir, sql, filepath.Join(p.bin, "psql"),
		"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", p.Host, "-p", strconv.Itoa(p.Port), "-U", p.User, "-d", db, "-f", "-")
	if err != nil {
		t.Fatalf("psql %s: %v\n%s\nSQL:\n%s", db, err, strings.TrimSpace(stderr), sql)
	}
	return stdout
}
