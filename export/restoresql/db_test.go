package restoresql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql", to read back
	"github.com/jackc/pgx/v5"

	"github.com/salvagehq/salvage/internal/peer"
)

// server is one database server of a dialect (for SQLite: the shell), on
// which tests make databases and load files with the database's own client.
type server struct {
	d    Dialect
	pg   *peer.Postgres
	my   *peer.MariaDB
	lite *peer.SQLite3
	dir  string
	n    atomic.Int64
}

func startServer(t *testing.T, d Dialect) *server {
	t.Helper()
	s := &server{d: d}
	switch d {
	case Postgres:
		s.pg = peer.StartPostgres(t)
	case MySQL:
		s.my = peer.StartMariaDB(t)
	case SQLite:
		s.lite = peer.FindSQLite3(t)
		s.dir = t.TempDir()
	}
	return s
}

// testDB is one database of a server.
type testDB struct {
	s    *server
	name string    // database name; SQLite: the file
	db   *sql.DB   // MySQL, SQLite
	pg   *pgx.Conn // PostgreSQL
	// DSN is what --against takes.
	DSN string
}

// restoredSQL is the committed scenario's restored database.
func restoredSQL(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, name := range []string{"schema.sql", "backup.sql"} {
		data, err := os.ReadFile(filepath.Join(scenarioDir, "restored", name))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteString("\n")
	}
	return b.String()
}

// fresh makes a new, empty database; with restored, loaded with the
// scenario's restored database (with the client, as a person would).
func (s *server) fresh(t *testing.T, restored bool) *testDB {
	t.Helper()
	n := s.n.Add(1)
	x := &testDB{s: s, name: fmt.Sprintf("r%d", n)}
	var init string
	if restored {
		init = restoredSQL(t)
	}
	var err error
	switch s.d {
	case Postgres:
		s.pg.Psql(t, "postgres", "CREATE DATABASE "+x.name)
		if init != "" {
			s.pg.Psql(t, x.name, init)
		}
		x.DSN = s.pg.DSN(x.name)
		x.pg, err = pgx.Connect(context.Background(), x.DSN)
	case MySQL:
		s.my.Exec(t, "", "CREATE DATABASE "+x.name)
		if init != "" {
			s.my.Exec(t, x.name, init)
		}
		x.DSN = s.my.DSN(x.name)
		x.db, err = sql.Open("mysql", x.DSN)
	case SQLite:
		x.name = filepath.Join(s.dir, x.name+".db")
		s.lite.Exec(t, x.name, init+"\nPRAGMA user_version = 1;")
		x.DSN = "sqlite:" + x.name
		x.db, err = sql.Open("sqlite", x.name)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if x.pg != nil {
			x.pg.Close(context.Background())
		} else {
			x.db.Close()
		}
	})
	return x
}

// load runs the file through the database's client.
func (x *testDB) load(path string) (stdout, stderr string, err error) {
	switch x.s.d {
	case Postgres:
		return x.s.pg.PsqlFile(x.name, path)
	case MySQL:
		return x.s.my.ExecFile(x.name, path)
	}
	return x.s.lite.ExecFile(x.name, path)
}

// mustLoad loads a file that must load cleanly.
func (x *testDB) mustLoad(t *testing.T, path string) time.Duration {
	t.Helper()
	start := time.Now()
	stdout, stderr, err := x.load(path)
	var msgs []string // psql's notices (table exists) are not errors
	for _, l := range strings.Split(stderr, "\n") {
		if strings.TrimSpace(l) != "" && !strings.Contains(l, "NOTICE:  relation \""+StandaloneTable+"\" already exists") {
			msgs = append(msgs, l)
		}
	}
	if err != nil || len(msgs) > 0 {
		t.Fatalf("%s: load %s: %v\nstdout:\n%s\nstderr:\n%s", x.s.d, path, err, lastLines(stdout, 10), lastLines(stderr, 20))
	}
	return time.Since(start)
}

// lastLines is the end of a client's output, each line cut to 300 bytes.
func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	for i := range l {
		if len(l[i]) > 300 {
			l[i] = l[i][:300] + "…"
		}
	}
	return strings.Join(l, "\n")
}

// rows runs a query and returns every value as text (NULL as "NULL").
func (x *testDB) rows(t testing.TB, q string, args ...any) [][]string {
	t.Helper()
	if x.pg != nil {
		rows, err := x.pg.Query(context.Background(), q, args...)
		if err != nil {
			t.Fatalf("%s: %s: %v", x.s.d, q, err)
		}
		defer rows.Close()
		var out [][]string
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, textRow(v))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	rows, err := x.db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %s: %v", x.s.d, q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		v := make([]any, len(cols))
		p := make([]any, len(cols))
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			t.Fatal(err)
		}
		out = append(out, textRow(v))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func textRow(v []any) []string {
	r := make([]string, len(v))
	for i, c := range v {
		switch c := c.(type) {
		case nil:
			r[i] = "NULL"
		case []byte:
			r[i] = string(c)
		case time.Time:
			r[i] = c.UTC().Format("2006-01-02 15:04:05.999999999")
		default:
			r[i] = fmt.Sprint(c)
		}
	}
	return r
}

// asText is expr as text in the dialect (dates as 2006-01-02 15:04:05).
func asTextSQL(d Dialect, expr string) string {
	switch d {
	case Postgres:
		return "CAST(" + expr + " AS text)"
	case MySQL:
		return "CAST(" + expr + " AS CHAR)"
	}
	return expr
}

// checksums maps each row of each table ("table/id") to the SHA-256 of its
// values, in column order.
func (x *testDB) checksums(t testing.TB, tables ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tb := range tables {
		for _, r := range x.rows(t, "SELECT * FROM "+tb+" ORDER BY id") {
			h := sha256.Sum256([]byte(strings.Join(r, "\x00")))
			out[tb+"/"+r[0]] = hex.EncodeToString(h[:])
		}
	}
	return out
}

var restoredTables = []string{"vehicles", "customers", "bookings", "payments"}

// unchanged fails the test unless every row of before is in after as it
// was, and returns how many rows after has that before has not.
func unchanged(t *testing.T, before, after map[string]string) int {
	t.Helper()
	bad := 0
	for k, v := range before {
		if after[k] != v {
			bad++
			if bad <= 5 {
				t.Errorf("row %s changed (or is gone)", k)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d rows that were there before changed", bad)
	}
	return len(after) - len(before)
}

func sameRows(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s: %d rows, then %d", what, len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: row %s differs", what, k)
			return
		}
	}
}
