package peer

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// MariaDB is a MariaDB server started by StartMariaDB.
type MariaDB struct {
	Host string // 127.0.0.1
	Port int
	User string // "root", no password
	Dir  string // data in Dir/data, server log in Dir/log, unix socket Dir/sock

	client string // the mariadb command-line client
}

// StartMariaDB starts mariadbd (10.11 on Debian 12) on a fresh data
// directory, ignoring every my.cnf (--no-defaults): listening on 127.0.0.1
// only, root without a password, utf8mb4 with utf8mb4_general_ci (Debian's
// packaged default), time zone +00:00, Debian's default sql_mode (no
// NO_BACKSLASH_ESCAPES: a backslash in a string literal escapes). Only the
// system databases exist: create others with Exec. The server is stopped
// and its directory removed when the test ends.
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	sbin := []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}
	mariadbd := findProgram([]string{"mariadbd"}, sbin...)
	install := findProgram([]string{"mariadb-install-db"}, sbin...)
	client := findProgram([]string{"mariadb"}, sbin...)
	if mariadbd == "" || install == "" || client == "" {
		needPackage(t, "MariaDB server (mariadbd, mariadb-install-db, mariadb)", "mariadb-server")
	}
	a := serverAccount(t, "mysql")
	m := &MariaDB{Host: Host, User: "root", Dir: tempDir(t, "maria", a), client: client}
	data := filepath.Join(m.Dir, "data")
	tmp := filepath.Join(m.Dir, "tmp")
	if err := a.mkdirs(0o755, tmp); err != nil {
		t.Fatalf("make %s: %v", tmp, err)
	}
	// Run as the server's account (no --user): the bootstrap server then
	// never needs root, and the data it writes is the account's.
	stdout, stderr, err := run(a, m.Dir, "", install, "--no-defaults", "--datadir="+data, "--tmpdir="+tmp,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
		"--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M")
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s\n%s", err, lastLines(stdout, 20), lastLines(stderr, 20))
	}
	m.Port = startOnFreePort(t, "MariaDB", 0, func(port int) (*server, error) {
		cmd := exec.Command(mariadbd, "--no-defaults",
			"--datadir="+data, "--tmpdir="+tmp,
			"--port="+strconv.Itoa(port), "--bind-address="+Host,
			"--socket="+filepath.Join(m.Dir, "sock"), "--pid-file="+filepath.Join(m.Dir, "pid"),
			"--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
			"--default-time-zone=+00:00",
			"--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
			"--innodb-flush-log-at-trx-commit=2", "--skip-log-bin")
		cmd.Dir = m.Dir
		s, err := startServer("mariadbd", a, cmd, filepath.Join(m.Dir, "log"), syscall.SIGTERM)
		if err != nil {
			return nil, err
		}
		return s, s.ready(func() error {
			if err := listening(s.cmd.Process.Pid, port); err != nil {
				return err
			}
			_, stderr, err := m.runClient(port, "", "select 1")
			if err != nil {
				return fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr))
			}
			return nil
		})
	})
	return m
}

// DSN returns the go-sql-driver/mysql data source name of database db:
// root@tcp(127.0.0.1:PORT)/db. Append parameters (?multiStatements=true,
// ?parseTime=true) as the test needs.
func (m *MariaDB) DSN(db string) string {
	return fmt.Sprintf("%s@tcp(%s:%d)/%s", m.User, m.Host, m.Port, db)
}

// Exec runs sql (one or more statements) in database db ("" for none) with
// the mariadb client over TCP, stopping at the first error, and returns its
// output: rows only, tab-separated, one row a line, no column names
// (--batch --skip-column-names; the client escapes tabs, newlines and
// backslashes in values as \t, \n, \\). A failure fails the test with the
// client's stderr.
func (m *MariaDB) Exec(t testing.TB, db, sql string) string {
	t.Helper()
	stdout, stderr, err := m.runClient(m.Port, db, sql)
	if err != nil {
		t.Fatalf("mariadb %s: %v\n%s\nSQL:\n%s", db, err, strings.TrimSpace(stderr), sql)
	}
	return stdout
}

func (m *MariaDB) runClient(port int, db, sql string) (stdout, stderr string, err error) {
	args := []string{"--no-defaults", "--protocol=tcp", "-h", m.Host, "-P", strconv.Itoa(port), "-u", m.User,
		"--batch", "--skip-column-names", "--default-character-set=utf8mb4"}
	if db != "" {
		args = append(args, db)
	}
	return run(account{}, m.Dir, sql, m.client, args...)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
