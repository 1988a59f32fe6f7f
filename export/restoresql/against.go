package restoresql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/salvagehq/salvage/evidence"
)

// Target is a database to check bookings against: where it is, and how it
// is shown (without credentials).
type Target struct {
	Dialect Dialect
	// Redacted names the database without user or password:
	// postgres://host:port/db, mysql://host:port/db, sqlite:path.
	Redacted string
	// PasswordInDSN is true when the DSN itself holds a password, which
	// then shows in the process list: the environment is the place for it
	// (PGPASSWORD, MYSQL_PWD).
	PasswordInDSN bool

	pg       *pgx.ConnConfig
	my       *mysql.Config
	litePath string
	secret   string
}

// ParseTarget reads the DSN of a database of dialect d:
//
//	postgres://user@host:port/db?sslmode=disable (or any DSN pgx takes;
//	    password from PGPASSWORD or ~/.pgpass)
//	mysql://user@host:port/db, or user@tcp(host:port)/db (password from MYSQL_PWD)
//	sqlite:path/to/file.db (or file:path)
//
// getenv reads MYSQL_PWD (pgx reads the PG* variables itself).
func ParseTarget(d Dialect, dsn string, getenv func(string) string) (*Target, error) {
	t := &Target{Dialect: d}
	lower := strings.ToLower(dsn)
	scheme := func(prefixes ...string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(lower, p) {
				return true
			}
		}
		return false
	}
	switch {
	case scheme("postgres://", "postgresql://") || (strings.Contains(dsn, "=") && !scheme("mysql:", "mariadb:", "sqlite:", "file:")):
		if d != Postgres {
			return nil, fmt.Errorf("--against %s is a PostgreSQL database, but the dialect is %s", redactedGuess(dsn), d)
		}
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("read the PostgreSQL DSN: %s", scrub(err.Error(), dsn))
		}
		t.pg, t.secret = cfg, cfg.Password
		if u, err := url.Parse(dsn); err == nil && u.User != nil {
			_, t.PasswordInDSN = u.User.Password()
		}
		if strings.Contains(lower, "password=") {
			t.PasswordInDSN = true
		}
		t.Redacted = "postgres://" + net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database
	case scheme("mysql://", "mariadb://") || strings.Contains(dsn, "@tcp(") || strings.Contains(dsn, "@unix("):
		if d != MySQL {
			return nil, fmt.Errorf("--against %s is a MySQL/MariaDB database, but the dialect is %s", redactedGuess(dsn), d)
		}
		cfg := mysql.NewConfig()
		if scheme("mysql://", "mariadb://") {
			u, err := url.Parse(dsn)
			if err != nil {
				return nil, fmt.Errorf("read the MySQL DSN: %s", scrub(err.Error(), dsn))
			}
			cfg.Net, cfg.Addr, cfg.DBName = "tcp", u.Host, strings.TrimPrefix(u.Path, "/")
			if u.Port() == "" {
				cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
			}
			if u.User != nil {
				cfg.User = u.User.Username()
				cfg.Passwd, t.PasswordInDSN = u.User.Password()
			}
		} else {
			c, err := mysql.ParseDSN(dsn)
			if err != nil {
				return nil, fmt.Errorf("read the MySQL DSN: %s", scrub(err.Error(), dsn))
			}
			cfg = c
			t.PasswordInDSN = cfg.Passwd != ""
		}
		if cfg.Passwd == "" && getenv != nil {
			cfg.Passwd = getenv("MYSQL_PWD")
		}
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		cfg.Params["time_zone"] = "'+00:00'"
		t.my, t.secret = cfg, cfg.Passwd
		t.Redacted = "mysql://" + cfg.Addr + "/" + cfg.DBName
	case scheme("sqlite:", "file:"):
		if d != SQLite {
			return nil, fmt.Errorf("--against %s is a SQLite database, but the dialect is %s", redactedGuess(dsn), d)
		}
		p := dsn[strings.IndexByte(dsn, ':')+1:]
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		p = strings.TrimPrefix(p, "//")
		if p == "" {
			return nil, errors.New("--against sqlite: give the database file: sqlite:path/to/file.db")
		}
		t.litePath = p
		t.Redacted = "sqlite:" + p
	default:
		return nil, fmt.Errorf("--against: not a DSN salvage knows: want postgres://..., mysql://... (or user@tcp(host:port)/db) or sqlite:path")
	}
	return t, nil
}

// redactedGuess shows a DSN that could not be read without anything
// between "//" and "@".
func redactedGuess(dsn string) string {
	if i := strings.LastIndexByte(dsn, '@'); i >= 0 {
		if j := strings.Index(dsn, "//"); j >= 0 && j < i {
			return dsn[:j+2] + "…" + dsn[i:]
		}
		return "…" + dsn[i:]
	}
	return dsn
}

// scrub removes a secret from a message.
func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "…")
}

func (t *Target) errorf(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	msg = scrub(msg, t.secret)
	return errors.New(msg)
}

// Check is the result of checking one booking.
type Check struct {
	Ref string
	// State is evidence.DispositionNew, DispositionPresent or
	// DispositionDiffers.
	State string
	// Fields names the booking fields whose value differs from the
	// database's, sorted (DispositionDiffers only). A value salvage does not
	// know never differs.
	Fields []string
	// Unresolved names the required lookups that find no row (a new
	// booking that could not be loaded).
	Unresolved []string
}

// conn is a read-only connection, in a read-only transaction.
type conn interface {
	query(ctx context.Context, q string, args []any) ([][]any, error)
	close()
}

type pgConn struct {
	c  *pgx.Conn
	tx pgx.Tx
}

func (p *pgConn) query(ctx context.Context, q string, args []any) ([][]any, error) {
	rows, err := p.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (p *pgConn) close() {
	ctx := context.Background()
	_ = p.tx.Rollback(ctx)
	_ = p.c.Close(ctx)
}

type sqlConn struct {
	db   *sql.DB
	conn *sql.Conn
	tx   *sql.Tx
}

func (s *sqlConn) query(ctx context.Context, q string, args []any) ([][]any, error) {
	rows, err := s.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		v := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range v {
			ptrs[i] = &v[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *sqlConn) close() {
	_ = s.tx.Rollback()
	if s.conn != nil {
		_ = s.conn.Close()
	}
	_ = s.db.Close()
}

// open connects read-only: PostgreSQL with default_transaction_read_only
// and a READ ONLY transaction; MySQL in START TRANSACTION READ ONLY; SQLite
// opened with mode=ro and query_only. Every query is a SELECT all the same.
func (t *Target) open(ctx context.Context) (conn, error) {
	switch {
	case t.pg != nil:
		cfg := t.pg.Copy()
		if cfg.RuntimeParams == nil {
			cfg.RuntimeParams = map[string]string{}
		}
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
		cfg.RuntimeParams["application_name"] = "salvage export sql --against"
		// Values go as literals, as in the file: the database reads them
		// with the column's type.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, t.errorf("connect to %s: %v", t.Redacted, err)
		}
		tx, err := c.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
		if err != nil {
			_ = c.Close(ctx)
			return nil, t.errorf("connect to %s: %v", t.Redacted, err)
		}
		return &pgConn{c: c, tx: tx}, nil
	case t.my != nil:
		connector, err := mysql.NewConnector(t.my)
		if err != nil {
			return nil, t.errorf("connect to %s: %v", t.Redacted, err)
		}
		db := sql.OpenDB(connector)
		db.SetMaxOpenConns(1)
		// One connection, read-only for the whole session: a read-only
		// transaction alone would end at the implicit commit of any DDL.
		sc := &sqlConn{db: db}
		if sc.conn, err = db.Conn(ctx); err == nil {
			if _, err = sc.conn.ExecContext(ctx, "SET SESSION TRANSACTION READ ONLY"); err == nil {
				sc.tx, err = sc.conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			}
		}
		if err != nil {
			if sc.conn != nil {
				_ = sc.conn.Close()
			}
			_ = db.Close()
			return nil, t.errorf("connect to %s: %v", t.Redacted, err)
		}
		return sc, nil
	default:
		abs, err := filepath.Abs(t.litePath)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(abs); err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("--against %s: no such database file", t.Redacted)
		}
		u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_pragma=query_only(1)"}
		db, err := sql.Open("sqlite", u.String())
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", t.Redacted, err)
		}
		db.SetMaxOpenConns(1)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open %s: %w", t.Redacted, err)
		}
		return &sqlConn{db: db, tx: tx}, nil
	}
}

// param is a value as a query argument: text in the form the file writes,
// so that the database reads it as it would read the file.
func (t *Target) param(v Value) any {
	switch v.Kind {
	case Null:
		return nil
	case Int:
		if t.Dialect == Postgres {
			return strconv.FormatInt(v.I, 10)
		}
		return v.I
	case Bool:
		switch {
		case t.Dialect == Postgres:
			return strconv.FormatBool(v.B)
		case v.B:
			return int64(1)
		default:
			return int64(0)
		}
	case Time:
		if t.Dialect == Postgres {
			return pgDateTime(v.T)
		}
		return dateTime(v.T)
	}
	return v.S
}

// tableInfo says whether a table exists and, for MySQL, its engine.
func (t *Target) tableInfo(ctx context.Context, c conn, name string) (bool, string, error) {
	base := name[strings.LastIndexByte(name, '.')+1:]
	var q string
	switch t.Dialect {
	case Postgres:
		q = "SELECT count(*) FROM information_schema.tables WHERE table_name = $1 AND table_schema = ANY (current_schemas(false))"
	case MySQL:
		q = "SELECT engine FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
	default:
		q = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	}
	rows, err := c.query(ctx, q, []any{base})
	if err != nil {
		return false, "", err
	}
	if t.Dialect == MySQL {
		if len(rows) == 0 {
			return false, "", nil
		}
		return true, asText(rows[0][0]), nil
	}
	return len(rows) > 0 && asText(rows[0][0]) != "0", "", nil
}

func asText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	case string:
		return x
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	return fmt.Sprint(v)
}

// Check looks each item's booking up in the database, by the key of the
// mapping's booking table, with SELECTs only: new when no row has its key;
// present when one does with every compared column equal (a value salvage
// does not know counts as equal); differs otherwise, with the fields that
// differ. For new bookings it also names the required lookups that find
// nothing. Without a mapping (m is nil) the table is salvage_bookings, and
// every booking is new when it does not exist.
func (t *Target) Check(ctx context.Context, m *Mapping, items []Item, cs *Case) ([]Check, *CheckSummary, error) {
	if m == nil {
		m = Standalone()
	}
	c, err := t.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer c.close()
	sum := &CheckSummary{Against: t.Redacted}
	for _, tb := range m.Tables {
		ok, engine, err := t.tableInfo(ctx, c, tb.Name)
		if err != nil {
			return nil, nil, t.errorf("read the tables of %s: %v", t.Redacted, err)
		}
		if !ok && !m.standalone {
			return nil, nil, fmt.Errorf("%s has no table %s: is the mapping for this database?", t.Redacted, tb.Name)
		}
		if !ok {
			out := make([]Check, len(items))
			for i := range items {
				out[i] = Check{Ref: items[i].Booking.Ref, State: evidence.DispositionNew}
			}
			sum.New = len(items)
			return out, sum, nil
		}
		if engine != "" && !strings.EqualFold(engine, "InnoDB") {
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("table %s uses the %s engine, which has no transactions: a load that fails would stay half done", tb.Name, engine))
		}
	}

	p := newPlan(t.Dialect, m)
	tp := p.booking
	ph := func(n int) string {
		if t.Dialect == Postgres {
			return "$" + strconv.Itoa(n)
		}
		return "?"
	}
	// One query shape for every booking: the key, then every stage value.
	var args []int // stage indices, in placeholder order
	param := func(si int) string {
		args = append(args, si)
		return ph(len(args))
	}
	sel := []string{"CASE WHEN t." + p.q(tp.t.Columns[tp.keys[0]].Name) + " IS NULL THEN 0 ELSE 1 END"}
	type compared struct {
		ci, at int // column, index in the select list
		fields []string
	}
	var cmp []compared
	var lookups, lookupAt []int
	for ci, col := range tp.t.Columns {
		switch {
		case col.Kind == FromField && col.Compare:
			sel = append(sel, "CASE WHEN t."+p.q(col.Name)+" = "+param(tp.col[ci])+" THEN 1 ELSE 0 END")
			cmp = append(cmp, compared{ci, len(sel) - 1, []string{col.Spec.Field.Name}})
		case col.Kind == Lookup && col.Compare:
			lk := p.lookupExpr(tp, ci, param)
			lk2 := p.lookupExpr(tp, ci, param)
			sel = append(sel, "CASE WHEN "+lk+" IS NULL THEN 1 WHEN t."+p.q(col.Name)+" = "+lk2+" THEN 1 ELSE 0 END")
			var fields []string
			for _, alt := range col.By {
				for _, cond := range alt {
					fields = append(fields, cond.Spec.Field.Name)
				}
			}
			cmp = append(cmp, compared{ci, len(sel) - 1, dedupe(fields)})
		}
		// A required lookup into a table the file fills (a new customer)
		// finds its row once the file is loaded: only lookups into other
		// tables (the vehicles) are checked.
		if col.Kind == Lookup && col.Required && m.Table(col.LookupTable) == nil {
			sel = append(sel, "CASE WHEN "+p.lookupExpr(tp, ci, param)+" IS NULL THEN 0 ELSE 1 END")
			lookups = append(lookups, ci)
			lookupAt = append(lookupAt, len(sel)-1)
		}
	}
	// The key last: placeholders are numbered in the order they appear.
	var on []string
	for _, ci := range tp.keys {
		col := tp.t.Columns[ci]
		v := p.lit(col.Value)
		if col.Kind == FromField {
			v = param(tp.col[ci])
		}
		on = append(on, "t."+p.q(col.Name)+" = "+v)
	}
	q := "SELECT " + strings.Join(sel, ",\n  ") + "\nFROM (SELECT 1 AS salvage_one) AS salvage_o LEFT JOIN " + p.q(tp.t.Name) +
		" AS t ON " + strings.Join(on, " AND ")

	out := make([]Check, 0, len(items))
	bi := tp.n - 1
	vals := make([]any, len(args))
	for i := range items {
		it := &items[i]
		ck := Check{Ref: it.Booking.Ref, State: evidence.DispositionNew}
		r, err := p.evalAll(it, cs, bi)
		if err != nil {
			// A booking the mapping cannot key is new: nothing can match it.
			out = append(out, ck)
			sum.New++
			continue
		}
		for k, si := range args {
			vals[k] = t.param(r[si])
		}
		rows, err := c.query(ctx, q, vals)
		if err != nil {
			return nil, nil, t.errorf("check %s against %s: %v", it.Booking.Ref, t.Redacted, err)
		}
		var differs []string
		present := false
		for ri, row := range rows {
			if asText(row[0]) != "1" {
				continue
			}
			present = true
			var d []string
			for _, cm := range cmp {
				col := tp.t.Columns[cm.ci]
				if col.Kind == FromField && r[tp.col[cm.ci]].IsNull() {
					continue
				}
				if asText(row[cm.at]) != "1" {
					d = append(d, cm.fields...)
				}
			}
			// With several rows of one key, a field differs only if it
			// differs from all of them.
			if ri == 0 || len(d) < len(differs) {
				differs = d
			}
		}
		switch {
		case present && len(differs) == 0:
			ck.State = evidence.DispositionPresent
			sum.Present++
		case present:
			ck.State = evidence.DispositionDiffers
			slices.Sort(differs)
			ck.Fields = slices.Compact(differs)
			sum.Differ++
			sum.Differs = append(sum.Differs, Skipped{ck.Ref, "differs in " + strings.Join(ck.Fields, ", ")})
		default:
			sum.New++
			if len(rows) > 0 {
				for k, ci := range lookups {
					if asText(rows[0][lookupAt[k]]) != "1" {
						col := tp.t.Columns[ci]
						ck.Unresolved = append(ck.Unresolved, col.LookupTable+"."+col.LookupColumn)
					}
				}
			}
			if len(ck.Unresolved) > 0 {
				sum.Unresolved = append(sum.Unresolved, Skipped{ck.Ref, "finds no row in " + strings.Join(ck.Unresolved, ", ")})
			}
		}
		out = append(out, ck)
	}
	return out, sum, nil
}

// evalAll makes the stage values of table ti for one booking, ignoring
// required columns (a check wants to know what is there whatever is
// missing), but not a missing key.
func (p *plan) evalAll(it *Item, c *Case, ti int) ([]Value, error) {
	tp := p.tables[ti]
	vals := make([]Value, len(tp.stage))
	for si, sc := range tp.stage {
		v, err := sc.spec.Eval(it, c)
		if err != nil {
			v = Value{}
		}
		if v.Kind == Text && checkText(p.d, v.S) != nil {
			v = Value{}
		}
		vals[si] = v
	}
	for _, ci := range tp.keys {
		if col := tp.t.Columns[ci]; col.Kind == FromField && vals[tp.col[ci]].IsNull() {
			return nil, fmt.Errorf("no key")
		}
	}
	return vals, nil
}
