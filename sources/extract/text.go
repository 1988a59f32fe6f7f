package extract

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// PlainText returns s as plain text. HTML (an email's HTML part, a calendar
// description written in Google's editor) is parsed with a real HTML parser:
// block elements and <br> become line breaks, entities are decoded, links
// keep their text, scripts and styles are dropped. Text that is not HTML is
// returned unchanged.
func PlainText(s string) string {
	if !looksLikeHTML(s) {
		return s
	}
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return s
	}
	var b strings.Builder
	newline := func() {
		if s := b.String(); len(s) > 0 && s[len(s)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(strings.Join(strings.Fields(n.Data), " "))
			if strings.HasSuffix(n.Data, " ") || strings.HasSuffix(n.Data, "\n") {
				b.WriteByte(' ')
			}
			return
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Head, atom.Title:
				return
			case atom.Br:
				b.WriteByte('\n')
				return
			}
		}
		block := n.Type == html.ElementNode && blockElements[n.DataAtom]
		if block {
			newline()
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if block {
			newline()
		}
		if n.Type == html.ElementNode && (n.DataAtom == atom.Td || n.DataAtom == atom.Th) {
			b.WriteByte(' ')
		}
	}
	walk(doc)
	// Tidy: trim each line, at most one blank line in a row.
	var out []string
	blank := false
	for _, line := range strings.Split(b.String(), "\n") {
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
