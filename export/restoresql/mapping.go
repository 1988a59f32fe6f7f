package restoresql

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// Mapping says where the booking fields go in the restored database: which
// tables, which columns, the key that tells a row is already there, and how
// each value is made. ParseMapping reads one from TOML:
//
//	booking_table = "bookings"   # the table whose row is the booking (needed with several tables)
//
//	[[tables]]                   # in the order they are filled
//	name = "customers"
//	key = ["email"]              # a row with this key already there is skipped
//	when = ["paid_minor"]        # optional: only bookings with a value in these fields (not empty, 0 or false)
//
//	[tables.columns]
//	id         = { generate = "max+1" }      # the table's largest id + 1, + 2, ...
//	email      = "customer.email"            # a booking field (see Fields)
//	name       = { field = "customer.name", required = true, max_length = 200 }
//	status     = { field = "status", map = { paid = "confirmed", refunded = "cancelled" }, map_else = "confirmed" }
//	price      = { field = "amount_minor", scale = 2 }  # minor units to units: 12345 → 123.45
//	start_at   = { field = "start", time = "datetime" }  # or date, rfc3339, unix
//	branch     = { value = "LIS" }                       # a constant
//	vehicle_id = { lookup = "vehicles.id", by = [ { plate = { field = "item", pattern = '([A-Z0-9]{2}-[A-Z0-9]{2}-[A-Z0-9]{2})' } },
//	                                              { model = "item" } ], required = true }
//
// A value spec (a column's, or a lookup condition's) reads its field, then
// keeps the first group of pattern (or its whole match; no match is NULL),
// maps the text through map (a value missing from the map leaves the booking
// out, unless map_else gives one), puts default in place of NULL, then
// applies scale or time. A lookup is a sub-select of column in table by
// natural key: the first alternative of by that finds exactly one row wins;
// none gives NULL. A booking whose required column is NULL, whose key is
// NULL, or whose text is longer than max_length is left out of the file with
// the reason. compare = false leaves a column out of what Check compares
// (constants and generated ids never count).
type Mapping struct {
	// BookingTable names the table whose row stands for the booking: Check
	// reads it to tell new, present and differs.
	BookingTable string
	Tables       []*Table
	// Source names where the mapping came from, for the file's header.
	Source string

	standalone bool
}

// Table is one table the bookings go into.
type Table struct {
	Name string
	Key  []string
	// When lists fields a booking must have a value in (not empty, 0 or
	// false) to get a row in this table.
	When    []*Field
	Columns []*Column
}

// ColumnKind says how a column's value is made.
type ColumnKind uint8

// The kinds of columns.
const (
	FromField ColumnKind = iota // a booking field, through a ValueSpec
	Constant                    // the same value for every row
	Generate                    // the table's largest id plus the row's number
	Lookup                      // a sub-select by natural key
)

// Column is one column of a target table.
type Column struct {
	Name string
	Kind ColumnKind
	// Spec makes a FromField column's value.
	Spec *ValueSpec
	// Value is a Constant column's value.
	Value Value
	// Lookup and By: a Lookup column's table.column, and its alternatives,
	// each a list of conditions (column = value) that must all hold.
	LookupTable, LookupColumn string
	By                        [][]Cond
	Required                  bool
	Compare                   bool
}

// Cond is one condition of a lookup: the referenced table's column equals
// the value of Spec.
type Cond struct {
	Column string
	Spec   *ValueSpec
}

// ValueSpec makes a value from a booking field.
type ValueSpec struct {
	Field     *Field
	Pattern   *regexp.Regexp
	Map       map[string]Value
	MapElse   *Value
	Default   *Value
	Scale     int // 0: none
	TimeAs    string
	MaxLength int
}

// Time formats of a time value.
const (
	TimeDateTime = "datetime" // 2006-01-02 15:04:05 in UTC (PostgreSQL: with +00)
	TimeDate     = "date"     // 2006-01-02, the UTC date
	TimeRFC3339  = "rfc3339"  // 2006-01-02T15:04:05Z
	TimeUnix     = "unix"     // seconds since 1970, an integer
)

// LoadMapping reads a mapping file.
func LoadMapping(path string) (*Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mapping: %w", err)
	}
	m, err := ParseMapping(data)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	m.Source = path
	return m, nil
}

// ParseMapping reads a mapping from TOML (see Mapping) and checks it: every
// name, field, pattern and option, with the path of the key that is wrong.
func ParseMapping(data []byte) (*Mapping, error) {
	var raw map[string]any
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, err
	}
	// Column order: as written (TOML tables have none of their own).
	var order [][]string
	ti := -1
	for _, k := range md.Keys() {
		if len(k) == 1 && k[0] == "tables" {
			ti++
			order = append(order, nil)
			continue
		}
		if len(k) >= 3 && k[0] == "tables" && k[1] == "columns" && ti >= 0 && !slices.Contains(order[ti], k[2]) {
			order[ti] = append(order[ti], k[2])
		}
	}

	p := &parser{}
	m := &Mapping{}
	for k, v := range raw {
		switch k {
		case "booking_table":
			m.BookingTable = p.str("booking_table", v)
		case "tables":
			list, ok := v.([]map[string]any)
			if !ok {
				p.errf("tables: want [[tables]] sections")
				continue
			}
			for i, t := range list {
				var cols []string
				if i < len(order) {
					cols = order[i]
				}
				m.Tables = append(m.Tables, p.table(fmt.Sprintf("tables[%d]", i), t, cols))
			}
		default:
			p.errf("%s: unknown key (want booking_table, tables)", k)
		}
	}
	if len(m.Tables) == 0 {
		p.errf("no [[tables]]: say which tables the bookings go into")
	}
	if m.BookingTable == "" && len(m.Tables) == 1 {
		m.BookingTable = m.Tables[0].Name
	}
	if m.BookingTable == "" {
		p.errf("booking_table: name the table whose row is the booking (one of the tables)")
	} else if m.Table(m.BookingTable) == nil {
		p.errf("booking_table %q is none of the tables", m.BookingTable)
	}
	seen := map[string]bool{}
	for _, t := range m.Tables {
		if t == nil {
			continue
		}
		if seen[t.Name] {
			p.errf("table %q is mapped twice", t.Name)
		}
		seen[t.Name] = true
	}
	if err := errors.Join(p.errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// Table returns the mapped table called name, or nil.
func (m *Mapping) Table(name string) *Table {
	for _, t := range m.Tables {
		if t != nil && t.Name == name {
			return t
		}
	}
	return nil
}

// Column returns the column called name, or nil.
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

type parser struct{ errs []error }

func (p *parser) errf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

func (p *parser) str(path string, v any) string {
	s, ok := v.(string)
	if !ok {
		p.errf("%s: want a string, not %T", path, v)
	}
	return s
}

func (p *parser) boolean(path string, v any) bool {
	b, ok := v.(bool)
	if !ok {
		p.errf("%s: want true or false, not %T", path, v)
	}
	return b
}

func (p *parser) integer(path string, v any, lo, hi int64) int {
	i, ok := v.(int64)
	if !ok || i < lo || i > hi {
		p.errf("%s: want a whole number from %d to %d", path, lo, hi)
		return 0
	}
	return int(i)
}

func (p *parser) ident(path, name string) {
	if _, err := QuoteIdent(Postgres, name); err != nil {
		p.errf("%s: %v", path, err)
	}
}

func (p *parser) field(path, name string) *Field {
	f := fieldByName[name]
	if f == nil {
		p.errf("%s: unknown booking field %q (fields: %s)", path, name, fieldNames())
	}
	return f
}

// scalar reads a TOML scalar as a value.
func (p *parser) scalar(path string, v any) Value {
	switch x := v.(type) {
	case string:
		return TextValue(x)
	case int64:
		return IntValue(x)
	case bool:
		return BoolValue(x)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			p.errf("%s: want a finite number", path)
			return Value{}
		}
		return Value{Kind: Decimal, S: strconv.FormatFloat(x, 'f', -1, 64)}
	}
	p.errf("%s: want a string, number or boolean, not %T", path, v)
	return Value{}
}

func (p *parser) table(path string, raw map[string]any, order []string) *Table {
	t := &Table{}
	var cols map[string]any
	for k, v := range raw {
		switch k {
		case "name":
			t.Name = p.str(path+".name", v)
		case "key":
			list, ok := v.([]any)
			if !ok {
				p.errf("%s.key: want a list of column names", path)
				continue
			}
			for i, c := range list {
				t.Key = append(t.Key, p.str(fmt.Sprintf("%s.key[%d]", path, i), c))
			}
		case "when":
			switch x := v.(type) {
			case string:
				t.When = append(t.When, p.field(path+".when", x))
			case []any:
				for i, f := range x {
					t.When = append(t.When, p.field(fmt.Sprintf("%s.when[%d]", path, i), p.str(path+".when", f)))
				}
			default:
				p.errf("%s.when: want a field name or a list of them", path)
			}
		case "columns":
			c, ok := v.(map[string]any)
			if !ok {
				p.errf("%s.columns: want a table of columns", path)
				continue
			}
			cols = c
		default:
			p.errf("%s.%s: unknown key (want name, key, when, columns)", path, k)
		}
	}
	if t.Name == "" {
		p.errf("%s.name: missing", path)
	} else {
		path = fmt.Sprintf("%s (%s)", path, t.Name)
		p.ident(path+".name", t.Name)
	}
	if len(cols) == 0 {
		p.errf("%s.columns: missing", path)
	}
	// Every column, in the order written (then any the order missed, sorted).
	names := slices.Clone(order)
	var rest []string
	for name := range cols {
		if !slices.Contains(names, name) {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range append(names, rest...) {
		v, ok := cols[name]
		if !ok {
			continue
		}
		t.Columns = append(t.Columns, p.column(path+".columns."+name, name, v))
	}
	if len(t.Key) == 0 {
		p.errf("%s.key: missing: name the columns that tell a row is already there", path)
	}
	for _, k := range t.Key {
		c := t.Column(k)
		switch {
		case c == nil:
			p.errf("%s.key: %q is not one of its columns", path, k)
		case c.Kind != FromField && c.Kind != Constant:
			p.errf("%s.key: %q must be a booking field or a constant, not a generated or looked-up column", path, k)
		}
	}
	return t
}

func (p *parser) column(path, name string, v any) *Column {
	p.ident(path, name)
	c := &Column{Name: name, Compare: true}
	if s, ok := v.(string); ok {
		c.Spec = &ValueSpec{Field: p.field(path, s)}
		return c
	}
	raw, ok := v.(map[string]any)
	if !ok {
		p.errf("%s: want a booking field name or a table { field = ..., ... }", path)
		return c
	}
	kinds := 0
	for _, k := range []string{"field", "value", "generate", "lookup"} {
		if _, ok := raw[k]; ok {
			kinds++
		}
	}
	if kinds != 1 {
		p.errf("%s: give exactly one of field, value, generate, lookup", path)
		return c
	}
	if x, ok := raw["required"]; ok {
		c.Required = p.boolean(path+".required", x)
	}
	if x, ok := raw["compare"]; ok {
		c.Compare = p.boolean(path+".compare", x)
	}
	rest := map[string]any{}
	for k, x := range raw {
		if k != "required" && k != "compare" {
			rest[k] = x
		}
	}
	switch {
	case raw["field"] != nil:
		c.Kind = FromField
		c.Spec = p.spec(path, rest)
	case raw["value"] != nil:
		c.Kind = Constant
		c.Compare = false
		for k, x := range rest {
			if k != "value" {
				p.errf("%s.%s: unknown key for a constant", path, k)
				continue
			}
			c.Value = p.scalar(path+".value", x)
		}
	case raw["generate"] != nil:
		c.Kind = Generate
		c.Compare = false
		for k, x := range rest {
			switch {
			case k != "generate":
				p.errf("%s.%s: unknown key for a generated column", path, k)
			case p.str(path+".generate", x) != "max+1":
				p.errf("%s.generate: want \"max+1\" (the table's largest value plus the row's number)", path)
			}
		}
	default:
		c.Kind = Lookup
		for k, x := range rest {
			switch k {
			case "lookup":
				ref := p.str(path+".lookup", x)
				i := strings.LastIndexByte(ref, '.')
				if i <= 0 || i == len(ref)-1 {
					p.errf("%s.lookup: want \"table.column\", not %q", path, ref)
					continue
				}
				c.LookupTable, c.LookupColumn = ref[:i], ref[i+1:]
				p.ident(path+".lookup", c.LookupTable)
				p.ident(path+".lookup", c.LookupColumn)
			case "by":
				list, ok := x.([]map[string]any)
				if !ok {
					if l, ok2 := x.([]any); ok2 {
						for _, e := range l {
							if m, ok3 := e.(map[string]any); ok3 {
								list = append(list, m)
							}
						}
						ok = len(list) == len(l)
					}
				}
				if !ok || len(list) == 0 {
					p.errf("%s.by: want a list of { column = field, ... } alternatives", path)
					continue
				}
				for i, alt := range list {
					apath := fmt.Sprintf("%s.by[%d]", path, i)
					if len(alt) == 0 {
						p.errf("%s: empty", apath)
					}
					var conds []Cond
					for _, col := range slices.Sorted(mapKeys(alt)) {
						p.ident(apath, col)
						cpath := apath + "." + col
						var spec *ValueSpec
						switch cv := alt[col].(type) {
						case string:
							spec = &ValueSpec{Field: p.field(cpath, cv)}
						case map[string]any:
							spec = p.spec(cpath, cv)
						default:
							p.errf("%s: want a booking field name or { field = ..., ... }", cpath)
							continue
						}
						conds = append(conds, Cond{Column: col, Spec: spec})
					}
					c.By = append(c.By, conds)
				}
			default:
				p.errf("%s.%s: unknown key for a lookup (want lookup, by, required, compare)", path, k)
			}
		}
		if len(c.By) == 0 {
			p.errf("%s.by: missing: say which columns find the row", path)
		}
	}
	return c
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (p *parser) spec(path string, raw map[string]any) *ValueSpec {
	s := &ValueSpec{}
	if f, ok := raw["field"]; ok {
		s.Field = p.field(path+".field", p.str(path+".field", f))
	} else {
		p.errf("%s.field: missing", path)
	}
	for k, v := range raw {
		kp := path + "." + k
		switch k {
		case "field":
		case "pattern":
			re, err := regexp.Compile(p.str(kp, v))
			if err != nil {
				p.errf("%s: %v", kp, err)
				continue
			}
			if re.NumSubexp() > 1 {
				p.errf("%s: at most one group: its text is the value", kp)
			}
			s.Pattern = re
		case "map":
			m, ok := v.(map[string]any)
			if !ok {
				p.errf("%s: want a table { from = to, ... }", kp)
				continue
			}
			s.Map = map[string]Value{}
			for from, to := range m {
				s.Map[from] = p.scalar(kp+"."+from, to)
			}
		case "map_else":
			x := p.scalar(kp, v)
			s.MapElse = &x
		case "default":
			x := p.scalar(kp, v)
			s.Default = &x
		case "scale":
			s.Scale = p.integer(kp, v, 1, 18)
		case "time":
			s.TimeAs = p.str(kp, v)
			switch s.TimeAs {
			case TimeDateTime, TimeDate, TimeRFC3339, TimeUnix:
			default:
				p.errf("%s: want datetime, date, rfc3339 or unix", kp)
			}
		case "max_length":
			s.MaxLength = p.integer(kp, v, 1, math.MaxInt32)
		default:
			p.errf("%s: unknown key (want field, pattern, map, map_else, default, scale, time, max_length, required, compare)", kp)
		}
	}
	if s.Field == nil {
		return s
	}
	transformed := s.Pattern != nil || s.Map != nil
	if s.Scale != 0 && (s.Field.Kind != Int || transformed) {
		p.errf("%s.scale: only for a whole-number field (amount_minor, paid_minor, refunded_minor) without pattern or map", path)
	}
	if s.TimeAs != "" && (s.Field.Kind != Time || transformed) {
		p.errf("%s.time: only for a time field (start, end, created_at, reconciled_at) without pattern or map", path)
	}
	if s.MapElse != nil && s.Map == nil {
		p.errf("%s.map_else: only with map", path)
	}
	return s
}

// errNoValue and friends say why a booking cannot be written.
var errNotMapped = errors.New("not in the map")

// Eval makes the value of the spec for one booking. A non-nil error says
// why the booking cannot be written (a value missing from the map, a text
// too long).
func (s *ValueSpec) Eval(it *Item, c *Case) (Value, error) {
	v := s.Field.get(it, c)
	if s.Pattern != nil && !v.IsNull() {
		m := s.Pattern.FindStringSubmatch(v.String())
		switch {
		case m == nil:
			v = Value{}
		case len(m) > 1:
			v = text(m[1])
		default:
			v = text(m[0])
		}
	}
	if s.Map != nil && !v.IsNull() {
		to, ok := s.Map[v.String()]
		switch {
		case ok:
			v = to
		case s.MapElse != nil:
			v = *s.MapElse
		default:
			return Value{}, fmt.Errorf("%s %q is %w", s.Field.Name, v.String(), errNotMapped)
		}
	}
	if v.IsNull() && s.Default != nil {
		v = *s.Default
	}
	if s.Scale > 0 && v.Kind == Int {
		v = Value{Kind: Decimal, S: scaled(v.I, s.Scale)}
	}
	if v.Kind == Time {
		switch s.TimeAs {
		case TimeDate:
			v = TextValue(v.T.UTC().Format("2006-01-02"))
		case TimeRFC3339:
			v = TextValue(v.T.UTC().Format(time3339))
		case TimeUnix:
			v = IntValue(v.T.Unix())
		}
	}
	if s.MaxLength > 0 && v.Kind == Text && utf8Len(v.S) > s.MaxLength {
		return Value{}, fmt.Errorf("%s is %d characters long, more than %d", s.Field.Name, utf8Len(v.S), s.MaxLength)
	}
	return v, nil
}

const time3339 = "2006-01-02T15:04:05.999999999Z07:00"

func utf8Len(s string) int { return utf8.RuneCountInString(s) }

// scaled writes minor units as units: scaled(12345, 2) = "123.45",
// scaled(-5, 2) = "-0.05". Exact: no floating point.
func scaled(i int64, scale int) string {
	neg := i < 0
	u := uint64(i)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// truthy reports whether a when field holds something: not NULL, not
// empty, not zero, not false.
func truthy(v Value) bool {
	switch v.Kind {
	case Null:
		return false
	case Int:
		return v.I != 0
	case Bool:
		return v.B
	case Decimal:
		return strings.Trim(v.S, "-0.") != ""
	case Text:
		return v.S != ""
	}
	return true
}

// Standalone is the mapping without a mapping file: every booking field
// into salvage's own table, salvage_bookings, keyed by ref.
func Standalone() *Mapping {
	t := &Table{Name: StandaloneTable, Key: []string{"ref"}}
	for i := range Fields {
		f := &Fields[i]
		c := &Column{Name: standaloneColumn(f.Name), Kind: FromField, Spec: &ValueSpec{Field: f}, Compare: true,
			Required: f.Name == "ref"}
		switch f.Name {
		case "case.id", "reconciled_at", "review.decision", "review.notes":
			c.Compare = false
		}
		t.Columns = append(t.Columns, c)
	}
	return &Mapping{BookingTable: StandaloneTable, Tables: []*Table{t}, Source: "none: the bookings go into " + StandaloneTable + ", with every field and its provenance", standalone: true}
}

// StandaloneTable is the table Standalone writes to.
const StandaloneTable = "salvage_bookings"

func standaloneColumn(field string) string {
	switch field {
	case "start", "end":
		return field + "_at" // END is a reserved word
	}
	return strings.ReplaceAll(field, ".", "_")
}

// standaloneDDL is the CREATE TABLE IF NOT EXISTS of salvage_bookings.
func standaloneDDL(d Dialect) string {
	var b strings.Builder
	q := func(s string) string { x, _ := QuoteIdent(d, s); return x }
	b.WriteString("CREATE TABLE IF NOT EXISTS " + q(StandaloneTable) + " (\n")
	for i, f := range Fields {
		var typ string
		switch f.Kind {
		case Text:
			typ = map[Dialect]string{Postgres: "text", MySQL: "LONGTEXT", SQLite: "TEXT"}[d]
			if f.Name == "ref" && d == MySQL {
				typ = "VARCHAR(255)"
			}
		case Int:
			typ = map[Dialect]string{Postgres: "bigint", MySQL: "BIGINT", SQLite: "INTEGER"}[d]
		case Bool:
			typ = map[Dialect]string{Postgres: "boolean", MySQL: "BOOLEAN", SQLite: "INTEGER"}[d]
		case Decimal:
			typ = map[Dialect]string{Postgres: "numeric(4,3)", MySQL: "DECIMAL(4,3)", SQLite: "REAL"}[d]
		case Time:
			typ = map[Dialect]string{Postgres: "timestamptz", MySQL: "DATETIME(6)", SQLite: "TEXT"}[d]
		}
		if f.Name == "ref" {
			typ += " NOT NULL PRIMARY KEY"
		}
		sep := ","
		if i == len(Fields)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "    %s %s%s -- %s\n", q(standaloneColumn(f.Name)), typ, sep, commentText(f.Doc))
	}
	b.WriteString(")")
	if d == MySQL {
		b.WriteString(" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
	}
	b.WriteString(";\n")
	return b.String()
}
