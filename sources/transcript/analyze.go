package transcript

import (
	"encoding/json"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"mvdan.cc/sh/v3/syntax"
)

// Action is what a tool call did, as far as its input shows: the commands
// it ran once shell wrappers (sh -c, bash -lc, ssh host '…', docker exec …
// sh -c) are unwrapped, the HTTP requests among them, the SQL they carry,
// the files they read.
type Action struct {
	// Commands are the simple commands run, each as its words.
	Commands []Command
	// HTTP are the requests made (curl, wget, httpie, a fetch tool).
	HTTP []HTTPRequest
	// SQL are SQL statements seen in the commands or the tool's input.
	SQL []string
	// Reads are files the call reads (a Read tool, cat, source, grep …).
	Reads []string
	// Searches are what a search looked for (grep/rg patterns, a Grep
	// tool's pattern) and where.
	Searches []Search
	// Code is program text given inline (python -c, node -e), for the
	// detectors' text checks.
	Code []string
}

// Command is one simple command: its words, with the environment
// assignments before it.
type Command struct {
	Args   []string
	Assign []string // NAME=value before the command
}

// Name is the command's program name without its directory.
func (c Command) Name() string {
	if len(c.Args) == 0 {
		return ""
	}
	return path.Base(c.Args[0])
}

// HTTPRequest is one request a command or tool made.
type HTTPRequest struct {
	Method  string
	URL     string
	Host    string
	Headers []string
	// Data is the request body as given (a -d argument); DataFile names
	// the file it came from (-d @file), when it did.
	Data     string
	DataFile string
	// GraphQL is the operation the body carries, when it is GraphQL.
	GraphQL *GraphQLOp
}

// GraphQLOp is a GraphQL operation: its type (query, mutation,
// subscription), its name, and the fields it selects at the top, which for
// a mutation are the mutations called ("volumeDelete").
type GraphQLOp struct {
	Type   string
	Name   string
	Fields []string
}

// Search is one search: the pattern and where it looked.
type Search struct {
	Pattern string
	Paths   []string
}

// Analyze works out what a call did. files holds what earlier calls of the
// session wrote (path → content), so a request body read from a file the
// agent wrote (curl -d @body.json) is seen; it may be nil.
func Analyze(c *Call, files map[string]string) Action {
	var a Action
	if c == nil {
		return a
	}
	if c.Command != "" {
		a.shell(c.Command, files, 0)
	}
	switch {
	case c.URL != "":
		a.HTTP = append(a.HTTP, newRequest("GET", c.URL))
	case c.Path != "" && isReadTool(c.Tool):
		a.Reads = append(a.Reads, c.Path)
	}
	if c.Pattern != "" && isSearchTool(c.Tool) {
		s := Search{Pattern: c.Pattern}
		if c.Path != "" {
			s.Paths = []string{c.Path}
		}
		a.Searches = append(a.Searches, s)
	}
	if c.Command == "" && c.Input != "" && isSQLTool(c.Tool) {
		a.SQL = append(a.SQL, sqlStatements(jsonStrings(c.Input))...)
	}
	return a
}

// isReadTool reports whether a tool reads the file it names.
func isReadTool(tool string) bool {
	t := strings.ToLower(tool)
	return strings.Contains(t, "read") || t == "view" || t == "cat" || strings.Contains(t, "open_file")
}

func isSearchTool(tool string) bool {
	t := strings.ToLower(tool)
	return strings.Contains(t, "grep") || strings.Contains(t, "search") || strings.Contains(t, "glob") || t == "find"
}

// isSQLTool reports whether a tool runs SQL (a database MCP server's
// query tool, for example).
func isSQLTool(tool string) bool {
	t := strings.ToLower(tool)
	return strings.Contains(t, "sql") || strings.Contains(t, "query") || strings.Contains(t, "postgres") ||
		strings.Contains(t, "mysql") || strings.Contains(t, "database") || strings.Contains(t, "supabase")
}

// jsonStrings returns the string values in a JSON document, or the text
// itself when it is not JSON.
func jsonStrings(s string) []string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return []string{s}
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				walk(x[k])
			}
		}
	}
	walk(v)
	return out
}

// maxDepth bounds how deep shell wrappers are unwrapped.
const maxDepth = 4

var (
	separators   = regexp.MustCompile(`&&|\|\||[;|\n]`)
	durationWord = regexp.MustCompile(`^\d+(\.\d+)?[smhd]?$`)
	graphQLWords = regexp.MustCompile(`(?i)\b(mutation|query|subscription)\b[^{]*\{\s*([A-Za-z_][A-Za-z0-9_]*)`)
)

// shell adds what a shell command line runs.
func (a *Action) shell(line string, files map[string]string, depth int) {
	if depth > maxDepth {
		return
	}
	a.SQL = append(a.SQL, sqlStatements([]string{line})...)
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(line), "")
	if err != nil {
		// Not valid shell (a truncated line, another shell's syntax):
		// split on the usual separators and read the words as they are.
		for _, part := range separators.Split(line, -1) {
			words := strings.Fields(part)
			for len(words) > 0 && shellKeywords[words[0]] {
				words = words[1:]
			}
			if len(words) > 0 {
				a.command(Command{Args: words}, files, depth)
			}
		}
		return
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch x := n.(type) {
		case *syntax.CallExpr:
			var c Command
			for _, as := range x.Assigns {
				if as.Name != nil {
					v := ""
					if as.Value != nil {
						v = wordText(as.Value)
					}
					c.Assign = append(c.Assign, as.Name.Value+"="+v)
				}
			}
			for _, w := range x.Args {
				c.Args = append(c.Args, wordText(w))
			}
			if len(c.Args) > 0 {
				a.command(c, files, depth)
			}
		case *syntax.Redirect:
			if x.Hdoc != nil {
				a.SQL = append(a.SQL, sqlStatements([]string{wordText(x.Hdoc)})...)
			}
		}
		return true
	})
}

// wordText is a shell word as the program receives it, quotes removed;
// expansions are kept as written ($TOKEN, $(…)).
func wordText(w *syntax.Word) string {
	var b strings.Builder
	var parts func([]syntax.WordPart, bool)
	parts = func(ps []syntax.WordPart, quoted bool) {
		for _, p := range ps {
			switch x := p.(type) {
			case *syntax.Lit:
				b.WriteString(unescape(x.Value, quoted))
			case *syntax.SglQuoted:
				b.WriteString(x.Value)
			case *syntax.DblQuoted:
				parts(x.Parts, true)
			case *syntax.ParamExp:
				if x.Param != nil {
					b.WriteString("$" + x.Param.Value)
				}
			default:
				b.WriteString("$(…)") // a substitution: its commands are walked on their own
			}
		}
	}
	parts(w.Parts, false)
	return b.String()
}

// unescape removes the backslashes the shell removes: every one outside
// quotes, and before $ ` " \ and newline inside double quotes.
func unescape(s string, quoted bool) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			n := s[i+1]
			if !quoted || strings.IndexByte("$`\"\\\n", n) >= 0 {
				if n != '\n' {
					b.WriteByte(n)
				}
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// shellKeywords start a compound command rather than name a program.
var shellKeywords = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "do": true, "while": true,
	"until": true, "!": true, "{": true, "(": true, "fi": true, "done": true, "}": true, ")": true}

// shells are the programs whose -c argument is a command line.
var shells = map[string]bool{"sh": true, "bash": true, "zsh": true, "dash": true, "ash": true, "ksh": true, "fish": true}

// prefixes are programs that run the rest of their arguments as a command.
var prefixes = map[string]bool{"sudo": true, "env": true, "nohup": true, "time": true, "nice": true, "exec": true,
	"command": true, "xargs": true, "doas": true, "stdbuf": true, "caffeinate": true, "npx": false}

// command adds one simple command, unwrapping wrappers.
func (a *Action) command(c Command, files map[string]string, depth int) {
	args := c.Args
	// Strip prefixes (sudo -u x, env A=B, timeout 10 …).
	for len(args) > 0 {
		name := path.Base(args[0])
		switch {
		case prefixes[name]:
			args = args[1:]
			for len(args) > 0 && (strings.HasPrefix(args[0], "-") || strings.Contains(args[0], "=") && name == "env") {
				if strings.Contains(args[0], "=") {
					c.Assign = append(c.Assign, args[0])
				}
				args = args[1:]
			}
			continue
		case name == "timeout" && len(args) > 1:
			args = args[1:]
			for len(args) > 0 && (strings.HasPrefix(args[0], "-") || isDuration(args[0])) {
				args = args[1:]
			}
			continue
		}
		break
	}
	if len(args) == 0 {
		return
	}
	c.Args = args
	a.Commands = append(a.Commands, c)
	name := c.Name()

	// A shell anywhere in the words with -c: its argument is a command
	// line (sh -c, bash -lc, docker exec db sh -c, kubectl exec -- bash -c).
	for i := 0; i < len(args)-1; i++ {
		if shells[path.Base(args[i])] {
			for j := i + 1; j < len(args)-1; j++ {
				if f := args[j]; strings.HasPrefix(f, "-") && !strings.HasPrefix(f, "--") && strings.Contains(f, "c") {
					a.shell(args[j+1], files, depth+1)
					break
				}
			}
		}
	}
	switch name {
	case "eval":
		a.shell(strings.Join(args[1:], " "), files, depth+1)
	case "ssh":
		// ssh [options] host command…: the command is the words after
		// the host.
		if rest := sshCommand(args[1:]); rest != "" {
			a.shell(rest, files, depth+1)
		}
	case "python", "python3", "python2", "node", "ruby", "perl", "deno", "bun":
		for i := 1; i < len(args)-1; i++ {
			if args[i] == "-c" || args[i] == "-e" || args[i] == "--eval" {
				a.Code = append(a.Code, args[i+1])
				a.SQL = append(a.SQL, sqlStatements([]string{args[i+1]})...)
			}
		}
	case "curl":
		a.HTTP = append(a.HTTP, curlRequest(args[1:], files))
	case "wget":
		if u := firstURL(args[1:]); u != "" {
			r := newRequest("GET", u)
			for _, f := range args[1:] {
				if m, ok := strings.CutPrefix(f, "--method="); ok {
					r.Method = strings.ToUpper(m)
				}
			}
			a.HTTP = append(a.HTTP, r)
		}
	case "http", "https", "xh":
		// httpie: http [METHOD] URL …
		method := ""
		for _, f := range args[1:] {
			if strings.HasPrefix(f, "-") {
				continue
			}
			if method == "" && isHTTPMethod(f) {
				method = strings.ToUpper(f)
				continue
			}
			if method == "" {
				method = "GET"
			}
			a.HTTP = append(a.HTTP, newRequest(method, f))
			break
		}
	case "cat", "less", "more", "head", "tail", "source", ".", "bat", "strings", "xxd", "base64", "jq", "yq", "awk", "sed":
		for _, f := range args[1:] {
			if !strings.HasPrefix(f, "-") && looksLikePath(f) {
				a.Reads = append(a.Reads, f)
			}
		}
	case "grep", "egrep", "rg", "ag", "ack", "git-grep", "findstr":
		a.Searches = append(a.Searches, grepSearch(args[1:]))
	case "find", "fd", "locate":
		s := Search{}
		for i := 1; i < len(args); i++ {
			switch {
			case (args[i] == "-name" || args[i] == "-iname" || args[i] == "-path") && i+1 < len(args):
				s.Pattern = args[i+1]
				i++
			case !strings.HasPrefix(args[i], "-") && s.Pattern == "" && name != "find":
				s.Pattern = args[i]
			case !strings.HasPrefix(args[i], "-") && looksLikePath(args[i]):
				s.Paths = append(s.Paths, args[i])
			}
		}
		a.Searches = append(a.Searches, s)
	}
	if name == "git" && len(args) > 1 && args[1] == "grep" {
		a.Searches = append(a.Searches, grepSearch(args[2:]))
	}
}

func isDuration(s string) bool { return durationWord.MatchString(s) }

func sshCommand(args []string) string {
	withValue := "BbcDEeFIiJLlmOoPpQRSWw"
	for i := 0; i < len(args); i++ {
		f := args[i]
		if strings.HasPrefix(f, "-") {
			if len(f) == 2 && strings.IndexByte(withValue, f[1]) >= 0 {
				i++
			}
			continue
		}
		return strings.Join(args[i+1:], " ")
	}
	return ""
}

func grepSearch(args []string) Search {
	var s Search
	withValue := map[string]bool{"-e": true, "--regexp": true, "-f": true, "--include": true, "--exclude": true, "-g": true,
		"--glob": true, "-t": true, "--type": true, "-A": true, "-B": true, "-C": true, "-m": true, "--max-count": true}
	for i := 0; i < len(args); i++ {
		f := args[i]
		switch {
		case f == "-e" || f == "--regexp":
			if i+1 < len(args) {
				s.Pattern = args[i+1]
			}
			i++
		case withValue[f]:
			i++
		case strings.HasPrefix(f, "-"):
		case s.Pattern == "":
			s.Pattern = f
		default:
			s.Paths = append(s.Paths, f)
		}
	}
	return s
}

func looksLikePath(s string) bool {
	return s != "" && !strings.HasPrefix(s, "$(") && !strings.ContainsAny(s, "{}") &&
		(strings.ContainsAny(s, "/.~") || !strings.ContainsAny(s, " =:"))
}

func isHTTPMethod(s string) bool {
	switch strings.ToUpper(s) {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return s == strings.ToUpper(s)
	}
	return false
}

func firstURL(args []string) string {
	for _, f := range args {
		if strings.HasPrefix(f, "http://") || strings.HasPrefix(f, "https://") {
			return f
		}
	}
	return ""
}

func newRequest(method, raw string) HTTPRequest {
	r := HTTPRequest{Method: method, URL: raw}
	if u, err := url.Parse(raw); err == nil {
		r.Host = u.Hostname()
	}
	return r
}

// curlRequest reads curl's arguments: method, URL, headers, body.
func curlRequest(args []string, files map[string]string) HTTPRequest {
	var r HTTPRequest
	var u string
	head := false
	for i := 0; i < len(args); i++ {
		f := args[i]
		next := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch {
		case f == "-X" || f == "--request":
			r.Method = strings.ToUpper(next())
		case strings.HasPrefix(f, "-X") && len(f) > 2:
			r.Method = strings.ToUpper(f[2:])
		case strings.HasPrefix(f, "--request="):
			r.Method = strings.ToUpper(strings.TrimPrefix(f, "--request="))
		case f == "-H" || f == "--header":
			r.Headers = append(r.Headers, next())
		case f == "-d" || f == "--data" || f == "--data-raw" || f == "--data-binary" || f == "--data-urlencode" || f == "--json":
			d := next()
			if name, ok := strings.CutPrefix(d, "@"); ok && f != "--data-raw" {
				r.DataFile = name
				d = files[name]
			}
			r.Data += d
		case strings.HasPrefix(f, "--data=") || strings.HasPrefix(f, "--json="):
			_, d, _ := strings.Cut(f, "=")
			r.Data += d
		case f == "-I" || f == "--head":
			head = true
		case f == "--url":
			u = next()
		case f == "-o" || f == "--output" || f == "-u" || f == "--user" || f == "-A" || f == "--user-agent" || f == "-e" ||
			f == "--referer" || f == "-b" || f == "--cookie" || f == "-c" || f == "--cookie-jar" || f == "-m" || f == "--max-time" ||
			f == "--connect-timeout" || f == "-F" || f == "--form" || f == "--cacert" || f == "--cert" || f == "-w" || f == "--write-out" ||
			f == "-x" || f == "--proxy" || f == "--retry" || f == "-T" || f == "--upload-file":
			next()
		case strings.HasPrefix(f, "-"):
		case u == "":
			u = f
		}
	}
	if r.Method == "" {
		switch {
		case head:
			r.Method = "HEAD"
		case r.Data != "" || r.DataFile != "":
			r.Method = "POST"
		default:
			r.Method = "GET"
		}
	}
	req := newRequest(r.Method, u)
	req.Headers, req.Data, req.DataFile = r.Headers, r.Data, r.DataFile
	req.GraphQL = graphQL(req.Data, u)
	return req
}

// graphQL returns the operation a request body carries: a JSON body with a
// "query" string, or a bare GraphQL document to a /graphql URL.
func graphQL(body, rawURL string) *GraphQLOp {
	body = strings.TrimSpace(body)
	if body == "" {
		return nil
	}
	var doc string
	var payload struct {
		Query         string `json:"query"`
		OperationName string `json:"operationName"`
	}
	if json.Unmarshal([]byte(body), &payload) == nil && payload.Query != "" {
		doc = payload.Query
	} else if strings.Contains(strings.ToLower(rawURL), "graphql") || strings.HasPrefix(body, "mutation") || strings.HasPrefix(body, "query") || strings.HasPrefix(body, "{") {
		doc = body
	} else {
		return nil
	}
	q, err := parser.ParseQuery(&ast.Source{Input: doc})
	if err != nil || len(q.Operations) == 0 {
		// Not parseable: the words say enough for the detectors.
		if m := graphQLWords.FindStringSubmatch(doc); m != nil {
			return &GraphQLOp{Type: strings.ToLower(m[1]), Fields: []string{m[2]}}
		}
		return nil
	}
	op := q.Operations[0]
	if payload.OperationName != "" {
		if o := q.Operations.ForName(payload.OperationName); o != nil {
			op = o
		}
	}
	g := &GraphQLOp{Type: string(op.Operation), Name: op.Name}
	for _, sel := range op.SelectionSet {
		if f, ok := sel.(*ast.Field); ok {
			g.Fields = append(g.Fields, f.Name)
		}
	}
	return g
}

var sqlStatement = regexp.MustCompile(`(?is)\b(?:DROP\s+(?:TABLE|DATABASE|SCHEMA|INDEX|VIEW|USER|ROLE)|TRUNCATE|DELETE\s+FROM|ALTER\s+TABLE|UPDATE\s+[A-Za-z_."]+\s+SET|INSERT\s+INTO|SELECT\s)[^;]*`)

// sqlStatements returns the SQL statements in texts: anything from a SQL
// verb to the next semicolon.
func sqlStatements(texts []string) []string {
	var out []string
	for _, t := range texts {
		if !strings.ContainsAny(t, "DdTtUuIiSsAa") {
			continue
		}
		for _, m := range sqlStatement.FindAllString(t, -1) {
			out = append(out, strings.TrimSpace(m))
		}
	}
	return out
}
