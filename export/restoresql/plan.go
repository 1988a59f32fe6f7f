package restoresql

import (
	"fmt"
	"strconv"
	"strings"
)

// plan is a mapping made ready for one dialect: which values each row
// carries (the stage columns) and the SQL that inserts them.
type plan struct {
	d       Dialect
	m       *Mapping
	tables  []*tablePlan
	booking *tablePlan
}

// stageCol is one value a row carries for a table: a column's, or a lookup
// condition's.
type stageCol struct {
	name string // c<table>_<column>, or l<table>_<column>_<alternative>_<condition>
	spec *ValueSpec
	// typeTable.typeColumn has the type PostgreSQL gives the value: the
	// target column, or the looked-up table's column.
	typeTable, typeColumn string
	key                   bool // a key column's value
}

type tablePlan struct {
	t     *Table
	n     int // 1-based
	stage []stageCol
	// col[i] is the stage index of column i (FromField), else -1; by[i][a][k]
	// the stage index of condition k of alternative a of column i (Lookup).
	col  []int
	by   [][][]int
	keys []int // column indices of the key
}

func newPlan(d Dialect, m *Mapping) *plan {
	p := &plan{d: d, m: m}
	for ti, t := range m.Tables {
		tp := &tablePlan{t: t, n: ti + 1}
		for ci, c := range t.Columns {
			tp.col = append(tp.col, -1)
			tp.by = append(tp.by, nil)
			switch c.Kind {
			case FromField:
				tp.col[ci] = len(tp.stage)
				tp.stage = append(tp.stage, stageCol{name: fmt.Sprintf("c%d_%d", tp.n, ci+1), spec: c.Spec, typeTable: t.Name, typeColumn: c.Name})
			case Lookup:
				for ai, alt := range c.By {
					var idx []int
					for ki, cond := range alt {
						idx = append(idx, len(tp.stage))
						tp.stage = append(tp.stage, stageCol{name: fmt.Sprintf("l%d_%d_%d_%d", tp.n, ci+1, ai+1, ki+1), spec: cond.Spec,
							typeTable: c.LookupTable, typeColumn: cond.Column})
					}
					tp.by[ci] = append(tp.by[ci], idx)
				}
			}
		}
		for _, k := range t.Key {
			for ci, c := range t.Columns {
				if c.Name == k {
					tp.keys = append(tp.keys, ci)
					if tp.col[ci] >= 0 {
						tp.stage[tp.col[ci]].key = true
					}
				}
			}
		}
		p.tables = append(p.tables, tp)
		if t.Name == m.BookingTable {
			p.booking = tp
		}
	}
	return p
}

// row is one booking's values: per table, nil when the booking has no row
// there, else the stage values.
type row [][]Value

// eval makes a booking's row. A non-nil error says why the booking cannot
// be written.
func (p *plan) eval(it *Item, c *Case) (row, error) { return p.evalRow(it, c, false) }

// check is eval for a booking that is only checked, not written: the
// values that cannot make it fail are not made.
func (p *plan) check(it *Item, c *Case) (row, error) { return p.evalRow(it, c, true) }

func (p *plan) evalRow(it *Item, c *Case, checkOnly bool) (row, error) {
	r := make(row, len(p.tables))
	for ti, tp := range p.tables {
		if !tp.t.applies(it, c) {
			continue
		}
		vals := make([]Value, len(tp.stage))
		for si, sc := range tp.stage {
			if checkOnly && !sc.key && sc.spec.plain() && sc.spec.Field.jsonField() {
				vals[si] = TextValue("[]")
				continue
			}
			v, err := sc.spec.Eval(it, c)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", tp.t.Name, sc.typeColumn, err)
			}
			if v.Kind == Text {
				if err := checkText(p.d, v.S); err != nil {
					return nil, fmt.Errorf("%s (%s.%s): %w", sc.spec.Field.Name, tp.t.Name, sc.typeColumn, err)
				}
			}
			vals[si] = v
		}
		for ci, col := range tp.t.Columns {
			switch col.Kind {
			case FromField:
				if col.Required && vals[tp.col[ci]].IsNull() {
					return nil, fmt.Errorf("no %s (%s.%s is required)", col.Spec.Field.Name, tp.t.Name, col.Name)
				}
			case Lookup:
				if !col.Required {
					continue
				}
				usable := false
				var fields []string
				for _, alt := range tp.by[ci] {
					all := true
					for _, si := range alt {
						if vals[si].IsNull() {
							all = false
						}
						fields = append(fields, tp.stage[si].spec.Field.Name)
					}
					usable = usable || all
				}
				if !usable {
					return nil, fmt.Errorf("no %s to find %s.%s by", strings.Join(dedupe(fields), " or "), col.LookupTable, col.LookupColumn)
				}
			}
		}
		for _, ci := range tp.keys {
			col := tp.t.Columns[ci]
			if col.Kind == FromField && vals[tp.col[ci]].IsNull() {
				return nil, fmt.Errorf("no %s (the key of %s)", col.Spec.Field.Name, tp.t.Name)
			}
		}
		r[ti] = vals
	}
	if r[p.booking.n-1] == nil {
		return nil, fmt.Errorf("no row in %s", p.booking.t.Name)
	}
	return r, nil
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// keyOf is the exact text of a table row's key, to find the rows of a file
// that share one.
func (tp *tablePlan) keyOf(vals []Value) string {
	var b strings.Builder
	for _, ci := range tp.keys {
		col := tp.t.Columns[ci]
		v := col.Value
		if col.Kind == FromField {
			v = vals[tp.col[ci]]
		}
		b.WriteString(strconv.Itoa(int(v.Kind)))
		b.WriteString(v.String())
		b.WriteByte(0)
	}
	return b.String()
}

func (p *plan) q(name string) string {
	s, err := QuoteIdent(p.d, name)
	if err != nil {
		// Names were checked when the mapping was read.
		panic(err)
	}
	return s
}

func (p *plan) lit(v Value) string {
	s, err := Literal(p.d, v)
	if err != nil {
		panic(err) // constants were checked by checkConstants
	}
	return s
}

// checkConstants reports a constant the dialect cannot write.
func (p *plan) checkConstants() error {
	for _, t := range p.m.Tables {
		for _, c := range t.Columns {
			if c.Kind == Constant {
				if _, err := Literal(p.d, c.Value); err != nil {
					return fmt.Errorf("%s.%s: constant: %w", t.Name, c.Name, err)
				}
			}
		}
	}
	return nil
}

// colExpr is the SQL of column ci of tp's INSERT, reading row x.
func (p *plan) colExpr(tp *tablePlan, ci int) string {
	c := tp.t.Columns[ci]
	switch c.Kind {
	case FromField:
		return "x." + tp.stage[tp.col[ci]].name
	case Constant:
		return p.lit(c.Value)
	case Generate:
		return fmt.Sprintf("COALESCE((SELECT MAX(salvage_m.%s) FROM %s AS salvage_m), 0) + ROW_NUMBER() OVER (ORDER BY x.salvage_seq)",
			p.q(c.Name), p.q(tp.t.Name))
	case Lookup:
		return p.lookupExpr(tp, ci, func(si int) string { return "x." + tp.stage[si].name })
	}
	return "NULL"
}

// lookupExpr is the sub-select of a lookup column, with param giving the
// SQL of each condition's value.
func (p *plan) lookupExpr(tp *tablePlan, ci int, param func(si int) string) string {
	c := tp.t.Columns[ci]
	var alts []string
	for ai, alt := range c.By {
		var conds []string
		for ki, cond := range alt {
			conds = append(conds, "salvage_r."+p.q(cond.Column)+" = "+param(tp.by[ci][ai][ki]))
		}
		alts = append(alts, fmt.Sprintf("(SELECT MIN(salvage_r.%s) FROM %s AS salvage_r WHERE %s HAVING COUNT(*) = 1)",
			p.q(c.LookupColumn), p.q(c.LookupTable), strings.Join(conds, " AND ")))
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return "COALESCE(" + strings.Join(alts, ", ") + ")"
}

// keyCond is the condition that a row of tp's table has row x's key,
// the table's row called alias.
func (p *plan) keyCond(tp *tablePlan, alias string) string {
	var conds []string
	for _, ci := range tp.keys {
		conds = append(conds, alias+"."+p.q(tp.t.Columns[ci].Name)+" = "+p.colExpr(tp, ci))
	}
	return strings.Join(conds, " AND ")
}

// insertSQL is tp's INSERT ... SELECT from source (rows called x), with
// extra conditions.
func (p *plan) insertSQL(tp *tablePlan, source string, extra ...string) string {
	var b strings.Builder
	cols := make([]string, len(tp.t.Columns))
	exprs := make([]string, len(tp.t.Columns))
	for ci, c := range tp.t.Columns {
		cols[ci] = p.q(c.Name)
		exprs[ci] = p.colExpr(tp, ci)
	}
	fmt.Fprintf(&b, "INSERT INTO %s (%s)\nSELECT %s\nFROM %s AS x\nWHERE ", p.q(tp.t.Name), strings.Join(cols, ", "),
		strings.Join(exprs, ",\n       "), source)
	for _, e := range extra {
		b.WriteString(e + " AND ")
	}
	fmt.Fprintf(&b, "NOT EXISTS (SELECT 1 FROM %s AS salvage_t WHERE %s);\n", p.q(tp.t.Name), p.keyCond(tp, "salvage_t"))
	return b.String()
}

// applies reports whether a booking gets a row in t: every When field has
// a value.
func (t *Table) applies(it *Item, c *Case) bool {
	for _, f := range t.When {
		if f != nil && !truthy(f.get(it, c)) {
			return false
		}
	}
	return true
}

// plain reports whether the spec passes its field's value on as it is.
func (s *ValueSpec) plain() bool {
	return s.Pattern == nil && s.Map == nil && s.Default == nil && s.MaxLength == 0 && s.Scale == 0 && s.TimeAs == ""
}
