package extract

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// PlainText returns s as plain text. HTML (an email's HTML part, a calendar
// description written in Google's editor) is parsed with a real HTML parser:
// block elements and <br> become line breaks, a table row of two cells
// becomes "label: value", entities are decoded, links keep their text,
// scripts and styles are dropped. Text that is not HTML is returned
// unchanged.
func PlainText(s string) string {
	if !looksLikeHTML(s) {
		return s
	}
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return s
	}
	var r textRenderer
	r.walk(doc)
	return tidy(r.b.String())
}

// textRenderer writes an HTML tree as text.
type textRenderer struct{ b strings.Builder }

func (r *textRenderer) newline() {
	if s := r.b.String(); len(s) > 0 && s[len(s)-1] != '\n' {
		r.b.WriteByte('\n')
	}
}

func (r *textRenderer) walk(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		r.b.WriteString(strings.Join(strings.Fields(n.Data), " "))
		if strings.HasSuffix(n.Data, " ") || strings.HasSuffix(n.Data, "\n") {
			r.b.WriteByte(' ')
		}
		return
	case html.ElementNode:
		switch n.DataAtom {
		case atom.Script, atom.Style, atom.Head, atom.Title:
			return
		case atom.Br:
			r.b.WriteByte('\n')
			return
		case atom.Tr:
			// A table row of two cells is how HTML confirmations lay out
			// "label: value": write it so.
			if cells := rowCells(n); len(cells) == 2 {
				label := strings.TrimRight(cellText(cells[0]), ": \t")
				value := strings.ReplaceAll(cellText(cells[1]), "\n", " ")
				r.newline()
				if label != "" && value != "" && !strings.Contains(label, "\n") {
					r.b.WriteString(label + ": " + value)
				} else {
					r.b.WriteString(strings.TrimSpace(label + " " + value))
				}
				r.newline()
				return
			}
		}
	}
	block := n.Type == html.ElementNode && blockElements[n.DataAtom]
	if block {
		r.newline()
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		r.walk(c)
	}
	if block {
		r.newline()
	}
	if n.Type == html.ElementNode && (n.DataAtom == atom.Td || n.DataAtom == atom.Th) {
		r.b.WriteByte(' ')
	}
}

// cellText is a table cell's content as text.
func cellText(n *html.Node) string {
	var r textRenderer
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		r.walk(c)
	}
	return tidy(r.b.String())
}

// rowCells returns a row's th and td children.
func rowCells(tr *html.Node) []*html.Node {
	var cells []*html.Node
	for c := tr.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (c.DataAtom == atom.Td || c.DataAtom == atom.Th) {
			cells = append(cells, c)
		}
	}
	return cells
}

// tidy trims each line and keeps at most one blank line in a row.
func tidy(s string) string {
	var out []string
	blank := false
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, line)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

var blockElements = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Tr: true, atom.Li: true, atom.Ul: true, atom.Ol: true, atom.Table: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true, atom.Blockquote: true,
	atom.Pre: true, atom.Hr: true, atom.Section: true, atom.Article: true, atom.Header: true, atom.Footer: true,
	atom.Dd: true, atom.Dt: true, atom.Dl: true, atom.Center: true, atom.Address: true,
}

// looksLikeHTML is true when s holds markup a person would not type in
// plain text.
func looksLikeHTML(s string) bool {
	l := strings.ToLower(s)
	for _, tag := range []string{"<br", "<p>", "<p ", "<div", "<a href", "<table", "<span", "<html", "<body", "</", "<b>", "<li", "&nbsp;", "&amp;"} {
		if strings.Contains(l, tag) {
			return true
		}
	}
	return false
}
