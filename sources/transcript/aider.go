package transcript

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// AiderParser reads Aider's chat history, .aider.chat.history.md, which
// Aider appends to as it goes:
//
//   - "# aider chat started at 2026-11-18 14:04:02" opens a session: the
//     only time the file gives (the local time of the machine Aider ran
//     on, its zone not recorded; read as UTC). Every step of the session
//     carries it.
//   - "#### " lines are what the person typed, one prompt a run of them;
//     "/run cmd" and "!cmd" prompts run a shell command themselves.
//   - "> " lines are Aider's own output: the command line it was started
//     with (argv, where --yes-always shows), notices, "Running cmd",
//     "Applied edit to x.go", "Commit 1a2b3c4 …", and its y/n questions
//     with the answer given ("Run shell command? (Y)es/(N)o [Yes]: n").
//   - Everything else is the model's reply: Markdown, with fenced shell
//     blocks Aider offers to run and SEARCH/REPLACE edits after a line
//     naming the file.
//
// Steps: the session header (system); Aider's command line (system,
// Approval.Mode "yes-always" from there on when it has --yes-always);
// each prompt (user), with a Call when it runs a command; each reply
// (agent) followed by a Call per fenced shell block (tool "shell") and per
// edit (tool "edit": a SEARCH/REPLACE block, or a diff); each run of
// output lines (tool, with a Result); and each question, its answer in
// Approval.Decision, asked by Aider and answered by the person, or by
// Aider itself under --yes-always, when the step's actor is system. An
// answer to "Run shell command(s)?" is also set on the Call of the block
// it asks about. IDs are "line N", N the step's first line (".1" for a
// second step on the same line); a session is "aider-<start time>-<hash
// of the file's path>", so that sessions of two repositories started in
// the same second differ.
type AiderParser struct{}

var _ Parser = AiderParser{}

// Format implements Parser.
func (AiderParser) Format() string { return FormatAider }

const aiderHeaderPrefix = "# aider chat started at"

// Sniff implements Parser: the file's name, or its first line.
func (AiderParser) Sniff(path string, head []byte) bool {
	if strings.HasSuffix(filepath.Base(path), ".aider.chat.history.md") {
		return true
	}
	t := bytes.TrimLeft(head, " \t\r\n\ufeff")
	return bytes.HasPrefix(t, []byte(aiderHeaderPrefix))
}

var (
	aiderQuestionRe = regexp.MustCompile(`^(.*?)\s*\(Y\)es/\(N\)o[^\[]*\[([^\]]*)\]:\s*(.*?)\s*$`)
	aiderArgvRe     = regexp.MustCompile(`^(?:\S*[/\\])?aider(?:\.exe)?(?:\s|$)`)
	aiderYesRe      = regexp.MustCompile(`(?:^|\s)--yes(?:-always)?(?:\s|=|$)`)
	aiderShellLangs = map[string]bool{"bash": true, "sh": true, "shell": true, "zsh": true, "fish": true,
		"ksh": true, "csh": true, "tcsh": true, "cmd": true, "batch": true, "powershell": true, "ps1": true, "console": true}
)

// Parse implements Parser.
func (AiderParser) Parse(ctx context.Context, path string, emit func(Step) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	p := &aiderParse{ctx: ctx, data: data, lines: cursorLines(data), hash: cursorPathHash(path)}
	p.session = "aider-" + p.hash
	p.run()
	for i, st := range p.steps {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := emit(st); err != nil {
			return err
		}
	}
	return ctx.Err()
}

type aiderParse struct {
	ctx     context.Context
	data    []byte
	lines   []cursorLine
	hash    string
	steps   []Step
	session string
	used    map[string]bool // step IDs given in the session
	start   time.Time
	mode    string
	pending []int // step indexes of the shell Calls of the replies since the last prompt
	next    int   // pending[next:] are not answered yet
}

// aiderWindow bounds how far back a question's subject and how far ahead
// in the unanswered blocks the parser looks, so that no input makes it
// quadratic.
const aiderWindow = 64

type aiderKind int

const (
	aiderText aiderKind = iota
	aiderBlank
	aiderHeader
	aiderOther // "# aider …" that is no session header
	aiderUser
	aiderQuote
)

// kind tells what a line is. Inside a fenced block of a reply, only lines
// that end as Aider writes its own ("  ") leave the reply.
func (p *aiderParse) kind(line string, inFence bool) aiderKind {
	own := !inFence || strings.HasSuffix(line, "  ")
	switch {
	case strings.HasPrefix(line, aiderHeaderPrefix):
		return aiderHeader
	case strings.HasPrefix(line, "# aider ") && own:
		return aiderOther
	case (strings.HasPrefix(line, "#### ") || strings.TrimRight(line, " ") == "####") && own:
		return aiderUser
	case (strings.HasPrefix(line, "> ") || strings.TrimRight(line, " ") == ">") && own:
		return aiderQuote
	case strings.TrimSpace(line) == "":
		return aiderBlank
	}
	return aiderText
}

// add appends a step. A second step on the same line (a call in a reply
// that starts with it) gets ".1", ".2", ….
func (p *aiderParse) add(st Step) int {
	st.Format, st.Session = FormatAider, p.session
	if p.used == nil {
		p.used = map[string]bool{}
	}
	if base := st.ID; p.used[base] {
		for n := 1; p.used[st.ID]; n++ {
			st.ID = fmt.Sprintf("%s.%d", base, n)
		}
	}
	p.used[st.ID] = true
	if st.Time.IsZero() {
		st.Time = p.start
	}
	if st.Approval.Mode == "" {
		st.Approval.Mode = p.mode
	}
	cursorValidText(&st)
	p.steps = append(p.steps, st)
	return len(p.steps) - 1
}

// raw is the bytes of lines [from, to), without the last line end.
func (p *aiderParse) raw(from, to int) []byte {
	b := p.data[p.lines[from].start:p.lines[to-1].end]
	return bytes.TrimRight(b, "\r\n")
}

func aiderLoc(i int) string { return fmt.Sprintf("line %d", i+1) }

func (p *aiderParse) run() {
	var fence cursorFence
	i := 0
	for i < len(p.lines) {
		if i%1024 == 0 && p.ctx.Err() != nil {
			return
		}
		line := p.lines[i].text
		switch p.kind(line, false) {
		case aiderBlank:
			i++
		case aiderHeader:
			p.header(i)
			i++
		case aiderOther:
			p.add(Step{ID: aiderLoc(i), Actor: ActorSystem, Type: "heading", Unknown: true,
				Text: strings.TrimSpace(strings.TrimPrefix(line, "# ")), Raw: p.raw(i, i+1), Locator: aiderLoc(i)})
			i++
		case aiderUser:
			j := i
			for j < len(p.lines) && p.kind(p.lines[j].text, false) == aiderUser {
				j++
			}
			p.prompt(i, j)
			i = j
		case aiderQuote:
			j := i
			for j < len(p.lines) && p.kind(p.lines[j].text, false) == aiderQuote {
				j++
			}
			p.quotes(i, j)
			i = j
		default:
			// A reply runs to the next line Aider wrote itself; blank
			// lines inside it belong to it.
			fence = cursorFence{}
			j, last := i, i
			for j < len(p.lines) {
				k := p.kind(p.lines[j].text, fence.open)
				if k != aiderText && k != aiderBlank {
					break
				}
				fence.step(p.lines[j].text)
				if k == aiderText || fence.open {
					last = j
				}
				j++
			}
			p.reply(i, last+1)
			i = j
		}
	}
}

func (p *aiderParse) header(i int) {
	line := p.lines[i].text
	stamp := strings.TrimSpace(strings.TrimPrefix(line, aiderHeaderPrefix))
	p.mode, p.pending, p.next, p.used = "", nil, 0, nil
	t, err := time.Parse("2006-01-02 15:04:05", stamp)
	if err != nil {
		p.start = time.Time{}
		p.session = fmt.Sprintf("aider-line%d-%s", i+1, p.hash)
		p.used = nil
		p.add(Step{ID: aiderLoc(i), Raw: p.raw(i, i+1), Locator: aiderLoc(i),
			Bad: fmt.Sprintf("session header with a time that cannot be read: %q", stamp)})
		return
	}
	p.start = t.UTC()
	p.session = "aider-" + p.start.Format("2006-01-02T15:04:05") + "-" + p.hash
	p.add(Step{ID: aiderLoc(i), Actor: ActorSystem, Type: "session", Text: strings.TrimPrefix(line, "# "),
		Raw: p.raw(i, i+1), Locator: aiderLoc(i)})
}

// aiderQuoted is a "> " line's text: without the prefix, and without the
// two spaces of the Markdown line break Aider ends it with.
func aiderQuoted(line string) string {
	line = strings.TrimPrefix(strings.TrimPrefix(line, ">"), " ")
	return strings.TrimRight(line, " ")
}

func (p *aiderParse) prompt(from, to int) {
	var parts []string
	for _, l := range p.lines[from:to] {
		s := strings.TrimPrefix(strings.TrimRight(l.text, " "), "####")
		s = strings.TrimPrefix(s, " ")
		parts = append(parts, s)
	}
	text := strings.Join(parts, "\n")
	if text == "<blank>" {
		text = ""
	}
	raw := p.raw(from, to)
	p.add(Step{ID: aiderLoc(from), Actor: ActorUser, Type: "user", Text: text, Raw: raw, Locator: aiderLoc(from)})
	p.pending, p.next = nil, 0
	// The person runs a command: /run cmd, !cmd, /git args, /test cmd.
	first := strings.TrimSpace(parts[0])
	cmd, tool := "", "shell"
	switch {
	case strings.HasPrefix(first, "/run "), strings.HasPrefix(first, "/test "):
		_, cmd, _ = strings.Cut(first, " ")
	case strings.HasPrefix(first, "!"):
		cmd = strings.TrimPrefix(first, "!")
	case strings.HasPrefix(first, "/git "):
		cmd, tool = "git "+strings.TrimSpace(strings.TrimPrefix(first, "/git ")), "git"
	}
	if cmd = strings.TrimSpace(cmd); cmd != "" {
		p.add(Step{ID: aiderLoc(from), Actor: ActorUser, Type: "user/command", Raw: raw, Locator: aiderLoc(from),
			Call: &Call{Tool: tool, Command: cmd, Input: cmd}})
	}
}

// quotes splits a run of "> " lines into Aider's command line, its
// questions, and the output between them.
func (p *aiderParse) quotes(from, to int) {
	seg := from
	flush := func(end int) {
		if seg >= end {
			return
		}
		var out []string
		for _, l := range p.lines[seg:end] {
			out = append(out, aiderQuoted(l.text))
		}
		p.add(Step{ID: aiderLoc(seg), Actor: ActorTool, Type: "output",
			Result: &Result{Output: strings.Join(out, "\n")}, Raw: p.raw(seg, end), Locator: aiderLoc(seg)})
	}
	for i := from; i < to; i++ {
		text := aiderQuoted(p.lines[i].text)
		if aiderArgvRe.MatchString(text) && strings.Contains(text, " -") || text == "aider" {
			flush(i)
			if aiderYesRe.MatchString(text) {
				p.mode = "yes-always"
			}
			p.add(Step{ID: aiderLoc(i), Actor: ActorSystem, Type: "argv", Text: text, Raw: p.raw(i, i+1),
				Locator: aiderLoc(i)})
			seg = i + 1
			continue
		}
		m := aiderQuestionRe.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		flush(i)
		p.question(i, seg, text, m[1], m[3])
		seg = i + 1
	}
	flush(to)
}

// question handles a y/n question and its answer. The subject it asks
// about is in the lines from from, the first since the last question.
func (p *aiderParse) question(i, from int, text, question, answer string) {
	decision := ""
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes", "a", "all":
		decision = "approved"
	case "n", "no", "s", "skip", "skip all", "d", "don't ask again", "dont ask again":
		decision = "rejected"
	}
	actor := ActorUser
	if p.mode == "yes-always" {
		actor = ActorSystem // answered by Aider itself
	}
	st := Step{ID: aiderLoc(i), Actor: actor, Type: "confirm", Text: text, Raw: p.raw(i, i+1),
		Locator: aiderLoc(i), Approval: Approval{Decision: decision}, Unknown: decision == ""}
	if strings.HasPrefix(question, "Run shell command") && decision != "" {
		// The commands it asks about are the lines just before it.
		var subject []string
		for _, l := range p.lines[max(from, i-aiderWindow):i] {
			subject = append(subject, strings.TrimSpace(aiderQuoted(l.text)))
		}
		for p.next < len(p.pending) && p.steps[p.pending[p.next]].Approval.Decision != "" {
			p.next++
		}
		matched := -1
		for k := p.next; k < len(p.pending) && k < p.next+aiderWindow; k++ {
			idx := p.pending[k]
			if p.steps[idx].Approval.Decision != "" {
				continue
			}
			if matched < 0 {
				matched = k // the first not yet answered, failing a better one
			}
			if aiderAllIn(p.steps[idx].Call.Command, subject) {
				matched = k
				break
			}
		}
		if matched >= 0 {
			p.steps[p.pending[matched]].Approval.Decision = decision
		} else if len(subject) > 0 {
			cmd := subject[len(subject)-1]
			st.Call = &Call{Tool: "shell", Command: cmd, Input: cmd}
		}
	}
	p.add(st)
}

// aiderAllIn reports whether every line of cmd is among lines.
func aiderAllIn(cmd string, lines []string) bool {
	n := 0
	for _, c := range strings.Split(cmd, "\n") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		found := false
		for _, l := range lines {
			if l == c {
				found = true
				break
			}
		}
		if !found {
			return false
		}
		n++
	}
	return n > 0
}

// reply handles the model's reply in lines [from, to), and the shell
// blocks and edits in it.
func (p *aiderParse) reply(from, to int) {
	raw := p.raw(from, to)
	text := cursorJoin(p.lines, from, to)
	p.add(Step{ID: aiderLoc(from), Actor: ActorAgent, Type: "assistant", Text: text, Raw: raw, Locator: aiderLoc(from)})
	var fence cursorFence
	var block []string
	blockAt := 0
	for i := from; i < to; i++ {
		line := p.lines[i].text
		if fence.open {
			if _, closed := fence.step(line); !closed {
				block = append(block, line)
				if strings.TrimSpace(line) == "<<<<<<< SEARCH" {
					p.edit(i, blockAt, to, raw)
				}
				continue
			}
			if aiderShellLangs[fence.lang] && !aiderHasMarker(block) {
				cmd := strings.Join(block, "\n")
				if strings.TrimSpace(cmd) != "" {
					k := p.add(Step{ID: aiderLoc(blockAt), Actor: ActorAgent, Type: "assistant/shell", Text: "",
						Call: &Call{Tool: "shell", Command: cmd, Input: cmd}, Raw: raw, Locator: aiderLoc(blockAt)})
					p.pending = append(p.pending, k)
				}
			}
			if fence.lang == "diff" && !aiderHasMarker(block) {
				p.diff(blockAt, block, raw)
			}
			continue
		}
		if opened, _ := fence.step(line); opened {
			block, blockAt = nil, i
			continue
		}
		if strings.TrimSpace(line) == "<<<<<<< SEARCH" {
			p.edit(i, i, to, raw)
		}
	}
}

// diff adds the Call of an edit in the unified diff format (Aider's udiff
// edit format): the file is the one the +++ line names.
func (p *aiderParse) diff(at int, block []string, raw []byte) {
	path := ""
	for _, l := range block {
		if rest, ok := strings.CutPrefix(l, "+++ "); ok {
			path = strings.TrimSpace(rest)
			if i := strings.IndexByte(path, '\t'); i >= 0 {
				path = path[:i]
			}
			path = strings.TrimPrefix(path, "b/")
			break
		}
	}
	if path == "" {
		return
	}
	p.add(Step{ID: aiderLoc(at), Actor: ActorAgent, Type: "assistant/diff", Raw: raw, Locator: aiderLoc(at),
		Call: &Call{Tool: "edit", Path: path, Input: strings.Join(block, "\n")}})
}

func aiderHasMarker(block []string) bool {
	for _, l := range block {
		if strings.TrimSpace(l) == "<<<<<<< SEARCH" {
			return true
		}
	}
	return false
}

// edit adds the Call of a SEARCH/REPLACE edit whose SEARCH line is at i,
// its fence (or itself) at at: the file is named on the line before that.
// The edit ends at its REPLACE line, the next SEARCH, or the reply's end.
func (p *aiderParse) edit(i, at, to int, raw []byte) {
	path := ""
	if at > 0 {
		path = strings.Trim(strings.TrimSpace(p.lines[at-1].text), "`*")
	}
	end := i + 1
	for end < to {
		t := strings.TrimSpace(p.lines[end].text)
		if strings.HasPrefix(t, ">>>>>>> REPLACE") {
			end++
			break
		}
		if t == "<<<<<<< SEARCH" {
			break
		}
		end++
	}
	input := cursorJoin(p.lines, i, end)
	first := i
	if path != "" {
		first = at - 1
	}
	p.add(Step{ID: aiderLoc(first), Actor: ActorAgent, Type: "assistant/edit",
		Call: &Call{Tool: "edit", Path: path, Input: input}, Raw: raw, Locator: aiderLoc(first)})
}
