package transcript

import (
	"bufio"
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-json"
)

// ClaudeParser reads Claude Code session transcripts: the JSONL files
// Claude Code writes to ~/.claude/projects/<dir>/<session>.jsonl, one record
// a line, and the subagent transcripts beside them (<session>/subagents/
// agent-*.jsonl, or agent-*.jsonl in older versions), which have the same
// shape with isSidechain set.
//
// A user or assistant record gives one Step per content block: the first
// has the record's uuid as its ID and parentUuid as its Parent, block n has
// "<uuid>.n" and the ID of block n-1. A summary's ID is "summary:<leafUuid>",
// a record without a uuid's "line N" ("agent-x:line N" in a subagent's file,
// whose records are of its parent's session); a uuid Claude Code logged twice
// gets "@line N" the second time. Records of types the parser does not know
// (file-history-snapshot, queue-operation, progress, …) give one Step with
// Unknown set. The permissionMode of user records is carried forward: every
// later step of the file has it as Approval.Mode. The session is the
// records' sessionId; the records before the first that names one
// (summaries, snapshots) are given it too, and a file that names none is the
// session its name says.
type ClaudeParser struct{}

var _ Parser = ClaudeParser{}

// Format implements Parser.
func (ClaudeParser) Format() string { return FormatClaude }

// claudeSniffTypes are the record types that may open a Claude Code file.
var claudeSniffTypes = map[string]bool{
	"user": true, "assistant": true, "system": true, "summary": true,
	"file-history-snapshot": true, "queue-operation": true, "progress": true,
	"custom-title": true, "attachment": true, "agent-name": true, "tag": true,
}

// Sniff implements Parser: a .jsonl file whose first non-empty line is a
// JSON object with a Claude Code record type and one of Claude Code's own
// fields (uuid, parentUuid, sessionId, leafUuid, or a file-history
// snapshot's messageId and snapshot).
func (ClaudeParser) Sniff(path string, head []byte) bool {
	if !strings.EqualFold(filepath.Ext(path), ".jsonl") {
		return false
	}
	line, complete := claudeFirstLine(head)
	if len(line) == 0 || line[0] != '{' {
		return false
	}
	if complete {
		return claudeLooksLike(line)
	}
	// The first line is longer than the head (a first prompt with an image):
	// judge by what its beginning says.
	return claudeLooksLikePrefix(line)
}

// claudeBOM is the byte order mark an editor may have put before the first
// line.
var claudeBOM = []byte("\xef\xbb\xbf")

// claudeFirstLine returns the first non-blank line of head, trimmed, and
// whether it ends within head.
func claudeFirstLine(head []byte) ([]byte, bool) {
	head = bytes.TrimPrefix(head, claudeBOM)
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		var line []byte
		complete := i >= 0
		if complete {
			line, head = head[:i], head[i+1:]
		} else {
			line, head = head, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			// A complete JSON value without its newline is complete too.
			return line, complete || stdjson.Valid(line)
		}
	}
	return nil, false
}

// claudeLooksLike reports whether one whole JSONL line is a Claude Code
// record.
func claudeLooksLike(line []byte) bool {
	var m map[string]stdjson.RawMessage
	if stdjson.Unmarshal(line, &m) != nil {
		return false
	}
	var typ string
	if stdjson.Unmarshal(m["type"], &typ) != nil || typ == "" {
		return false
	}
	// Codex's envelope, Gemini CLI's session header and rewinds.
	for _, k := range []string{"payload", "projectHash", "$rewindTo", "$set"} {
		if _, ok := m[k]; ok {
			return false
		}
	}
	has := func(k string) bool { _, ok := m[k]; return ok }
	if claudeSniffTypes[typ] {
		return has("uuid") || has("parentUuid") || has("leafUuid") || has("sessionId") ||
			has("messageId") && has("snapshot")
	}
	// A record type newer than this parser, with Claude Code's common
	// fields.
	return has("sessionId") && (has("uuid") || has("parentUuid") || has("userType") || has("version"))
}

// claudeLooksLikePrefix judges a first line cut short by the head's end.
func claudeLooksLikePrefix(line []byte) bool {
	s := string(line)
	if strings.Contains(s, `"payload":`) || strings.Contains(s, `"projectHash":`) {
		return false
	}
	typed := false
	for t := range claudeSniffTypes {
		if strings.Contains(s, `"type":"`+t+`"`) || strings.Contains(s, `"type": "`+t+`"`) {
			typed = true
			break
		}
	}
	if !typed {
		return false
	}
	for _, k := range []string{`"uuid":`, `"parentUuid":`, `"leafUuid":`, `"sessionId":`} {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}

// claudeRecord is the part of a Claude Code record the parser reads. The
// fields whose shape varies between record types are kept raw, or decoded
// by their own types.
type claudeRecord struct {
	Type              string          `json:"type"`
	Subtype           string          `json:"subtype"`
	UUID              string          `json:"uuid"`
	ParentUUID        string          `json:"parentUuid"`
	LogicalParentUUID string          `json:"logicalParentUuid"`
	LeafUUID          string          `json:"leafUuid"`
	SessionID         string          `json:"sessionId"`
	Timestamp         string          `json:"timestamp"`
	Cwd               string          `json:"cwd"`
	GitBranch         string          `json:"gitBranch"`
	IsSidechain       bool            `json:"isSidechain"`
	IsMeta            bool            `json:"isMeta"`
	IsCompactSummary  bool            `json:"isCompactSummary"`
	PermissionMode    string          `json:"permissionMode"`
	Summary           json.RawMessage `json:"summary"`
	Content           json.RawMessage `json:"content"`
	Message           *claudeMessage  `json:"message"`
	ToolUseResult     claudeTUR       `json:"toolUseResult"`
	ToolDenialKind    string          `json:"toolDenialKind"`
}

// claudeMessage is a record's message.
type claudeMessage struct {
	Role    string        `json:"role"`
	Content claudeContent `json:"content"`
}

// claudeContent is a message's or a tool result's content: text ('s'), an
// array of blocks ('a'), absent or null (0), or something else ('x').
type claudeContent struct {
	kind   byte
	text   string
	blocks []claudeBlock
}

func (c *claudeContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		c.kind = 's'
		return json.Unmarshal(b, &c.text)
	case '[':
		c.kind = 'a'
		return json.Unmarshal(b, &c.blocks)
	case 'n':
		return nil
	}
	c.kind = 'x'
	c.text = string(b)
	return nil
}

// claudeBlock is one content block of a message.
type claudeBlock struct {
	Type      string        `json:"type"`
	Text      string        `json:"text"`
	Thinking  string        `json:"thinking"`
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Input     claudeRawText `json:"input"`
	ToolUseID string        `json:"tool_use_id"`
	Content   claudeContent `json:"content"`
	IsError   bool          `json:"is_error"`
	Source    *struct {
		MediaType string `json:"media_type"`
	} `json:"source"`
}

// claudeRawText keeps a JSON value as its text.
type claudeRawText string

func (s *claudeRawText) UnmarshalJSON(b []byte) error {
	*s = claudeRawText(bytes.TrimSpace(b))
	return nil
}

// claudeToolInput holds the input fields the parser lifts into a Call.
type claudeToolInput struct {
	Command      string `json:"command"`
	FilePath     string `json:"file_path"`
	NotebookPath string `json:"notebook_path"`
	Path         string `json:"path"`
	Pattern      string `json:"pattern"`
	URL          string `json:"url"`
	Query        string `json:"query"`
}

// claudeTUR is the record-level toolUseResult Claude Code keeps beside a
// tool_result block: a string ('s'), or an object ('o') of which the parser
// reads what Bash's has. Any other shape is ignored: it is in Raw.
type claudeTUR struct {
	kind        byte
	text        string
	stdout      *string
	stderr      string
	interrupted bool
	exitCode    *int
	// uncertain is set when the result does not tell the exit status though
	// it is no error: Claude Code's reading of a non-zero exit that is no
	// failure (grep's "No matches found"), or a command sent to the
	// background.
	uncertain bool
}

func (t *claudeTUR) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		if json.Unmarshal(b, &t.text) == nil {
			t.kind = 's'
		}
	case '{':
		var x struct {
			Stdout         *string `json:"stdout"`
			Stderr         any     `json:"stderr"`
			Interrupted    any     `json:"interrupted"`
			ExitCode       any     `json:"exitCode"`
			Interpretation any     `json:"returnCodeInterpretation"`
			Background     any     `json:"backgroundTaskId"`
		}
		if json.Unmarshal(b, &x) != nil {
			return nil
		}
		t.kind = 'o'
		t.stdout = x.Stdout
		t.stderr, _ = x.Stderr.(string)
		t.interrupted, _ = x.Interrupted.(bool)
		t.uncertain = x.Interpretation != nil && x.Interpretation != "" || x.Background != nil
		if f, ok := x.ExitCode.(float64); ok && f == float64(int(f)) {
			c := int(f)
			t.exitCode = &c
		}
	}
	return nil
}

// Parse implements Parser.
func (ClaudeParser) Parse(ctx context.Context, path string, emit func(Step) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	p := claudeParse{
		emit:     emit,
		fallback: name,
		seen:     make(map[string]struct{}),
	}
	if strings.HasPrefix(name, "agent-") {
		// A subagent's records are of its parent's session: the IDs that
		// are not uuids name the file, apart from the session's own.
		p.prefix = name + ":"
	}
	lines := claudeNewLineReader(f)
	for {
		line, n, err := lines.next()
		if err == io.EOF {
			return p.flush(p.fallback)
		}
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", path, n, err)
		}
		if n&63 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := p.record(line, n); err != nil {
			return err
		}
	}
}

// claudeMaxPending bounds the steps held back until a record names the
// session.
const claudeMaxPending = 1024

// claudeParse is the state of one file's parse.
type claudeParse struct {
	emit     func(Step) error
	fallback string // the session when no record names one
	session  string // the last sessionId seen
	mode     string // the last permissionMode seen
	seen     map[string]struct{}
	prefix   string // before the IDs made of the line number or leafUuid
	// pending are the steps of the records before the first that names the
	// session (summaries and snapshots come first): they are emitted, in
	// order, with the session of the first record that does.
	pending []Step
}

// out emits a step, or holds it back while the session is not known.
func (p *claudeParse) out(st Step) error {
	if st.Session == "" {
		p.pending = append(p.pending, st)
		if len(p.pending) >= claudeMaxPending {
			p.session = p.fallback
			return p.flush(p.fallback)
		}
		return nil
	}
	if err := p.flush(st.Session); err != nil {
		return err
	}
	return p.emit(st)
}

func (p *claudeParse) flush(session string) error {
	for i := range p.pending {
		p.pending[i].Session = session
		if err := p.emit(p.pending[i]); err != nil {
			return err
		}
	}
	p.pending = p.pending[:0]
	return nil
}

func (p *claudeParse) bad(line []byte, loc, reason string) error {
	return p.out(Step{Format: FormatClaude, Session: p.sessionOf(""), Raw: line, Locator: loc, Bad: reason})
}

// sessionOf is the session of a record naming id (empty when it names
// none): the last one named, empty while none has been.
func (p *claudeParse) sessionOf(id string) string {
	if id != "" {
		p.session = id
	}
	return p.session
}

// unique returns id, or id with the line's locator when an earlier record
// of the file had the same id (Claude Code re-logs records at times).
func (p *claudeParse) unique(id string, n int) string {
	if _, dup := p.seen[id]; dup {
		id = id + "@line " + strconv.Itoa(n)
	}
	p.seen[id] = struct{}{}
	return id
}

func (p *claudeParse) record(raw []byte, n int) error {
	loc := "line " + strconv.Itoa(n)
	line := raw
	if n == 1 {
		line = bytes.TrimPrefix(raw, claudeBOM)
	}
	var rec claudeRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		// A record of a type this parser does not know may have fields
		// of shapes it does not expect: keep it as unknown.
		var probe struct {
			Type string `json:"type"`
		}
		if stdjson.Unmarshal(line, &probe) == nil && probe.Type != "" && !claudeKnownType(probe.Type) {
			return p.out(Step{
				Format: FormatClaude, Session: p.sessionOf(""), ID: p.unique(p.prefix+loc, n),
				Actor: ActorSystem, Type: probe.Type, Approval: Approval{Mode: p.mode},
				Unknown: true, Raw: raw, Locator: loc,
			})
		}
		if probe.Type != "" {
			return p.bad(raw, loc, fmt.Sprintf("%s record: %v", probe.Type, claudeShortErr(err)))
		}
		return p.bad(raw, loc, "not a JSON object: "+claudeShortErr(err))
	}
	if rec.Type == "" {
		return p.bad(raw, loc, "record without a type")
	}
	if rec.PermissionMode != "" {
		p.mode = rec.PermissionMode
	}
	base := Step{
		Format:    FormatClaude,
		Session:   p.sessionOf(rec.SessionID),
		Parent:    rec.ParentUUID,
		Time:      claudeTime(rec.Timestamp),
		Type:      rec.Type,
		Approval:  Approval{Mode: p.mode},
		Cwd:       rec.Cwd,
		GitBranch: rec.GitBranch,
		Sidechain: rec.IsSidechain,
		Raw:       raw,
		Locator:   loc,
	}
	if base.Parent == "" {
		base.Parent = rec.LogicalParentUUID
	}
	id := rec.UUID
	if id == "" {
		id = p.prefix + loc
	}
	switch rec.Type {
	case "user", "assistant":
		return p.message(&rec, base, id, n)
	case "system":
		base.ID = p.unique(id, n)
		base.Actor = ActorSystem
		if rec.Subtype != "" {
			base.Type = "system/" + rec.Subtype
		}
		base.Text = claudeValueText(rec.Content)
		return p.out(base)
	case "summary":
		if rec.LeafUUID != "" {
			id = p.prefix + "summary:" + rec.LeafUUID
		} else {
			id = p.prefix + loc
		}
		base.ID = p.unique(id, n)
		base.Actor = ActorSystem
		base.Text = claudeValueText(rec.Summary)
		return p.out(base)
	default:
		base.ID = p.unique(id, n)
		base.Actor = ActorSystem
		base.Unknown = true
		return p.out(base)
	}
}

func claudeKnownType(t string) bool {
	switch t {
	case "user", "assistant", "system", "summary":
		return true
	}
	return false
}

// message emits the steps of a user or assistant record.
func (p *claudeParse) message(rec *claudeRecord, base Step, id string, n int) error {
	msg := rec.Message
	if msg == nil {
		return p.bad(base.Raw, base.Locator, rec.Type+" record without a message")
	}
	if msg.Content.kind == 'x' {
		return p.bad(base.Raw, base.Locator, rec.Type+" record whose content is neither text nor blocks")
	}
	role := msg.Role
	if role == "" {
		role = rec.Type
	}
	// Who wrote the text of the record: the model, the person, or the
	// harness speaking in the person's place (caveats, compaction summaries,
	// command output).
	textActor := ActorUser
	switch {
	case role == "assistant":
		textActor = ActorAgent
	case rec.IsMeta || rec.IsCompactSummary:
		textActor = ActorSystem
	}
	blocks := msg.Content.blocks
	if len(blocks) == 0 {
		st := base
		st.ID = p.unique(id, n)
		st.Actor = textActor
		st.Text = msg.Content.text
		return p.out(st)
	}
	// The record-level toolUseResult describes the record's tool result,
	// when it has exactly one.
	results := 0
	for i := range blocks {
		if blocks[i].Type == "tool_result" {
			results++
		}
	}
	first := p.unique(id, n)
	prev := ""
	for i := range blocks {
		b := &blocks[i]
		st := base
		if i == 0 {
			st.ID = first
		} else {
			st.ID = p.unique(first+"."+strconv.Itoa(i), n)
			st.Parent = prev
		}
		prev = st.ID
		st.Actor = textActor
		switch b.Type {
		case "text":
			st.Text = b.Text
		case "thinking":
			st.Actor = ActorAgent
			st.Thinking = true
			st.Text = b.Thinking
		case "redacted_thinking":
			st.Actor = ActorAgent
			st.Thinking = true
		case "tool_use", "server_tool_use":
			st.Actor = ActorAgent
			st.Call = claudeCall(b)
		case "tool_result":
			st.Actor = ActorTool
			var tur *claudeTUR
			if results == 1 {
				tur = &rec.ToolUseResult
			}
			st.Result, st.Approval.Decision = claudeResult(b, tur, rec.ToolDenialKind)
		case "image", "document":
			st.Text = "[" + b.Type
			if b.Source != nil && b.Source.MediaType != "" {
				st.Text += " " + b.Source.MediaType
			}
			st.Text += "]"
		default:
			if strings.HasSuffix(b.Type, "_tool_result") {
				// A server tool's result (web_search_tool_result, …).
				st.Actor = ActorTool
				st.Result = &Result{CallID: b.ToolUseID, Output: claudeContentText(&b.Content)}
				break
			}
			st.Unknown = true
		}
		if err := p.out(st); err != nil {
			return err
		}
	}
	return nil
}

// claudeCall turns a tool_use block into a Call.
func claudeCall(b *claudeBlock) *Call {
	c := &Call{ID: b.ID, Tool: b.Name, Input: string(b.Input)}
	if len(c.Input) == 0 || c.Input[0] != '{' {
		return c
	}
	var x claudeToolInput
	if json.Unmarshal([]byte(c.Input), &x) != nil {
		// Fields of other shapes than expected: keep the input as it is.
		return c
	}
	switch b.Name {
	case "Bash":
		c.Command = x.Command
	case "Read", "Write", "Edit", "MultiEdit", "NotebookEdit", "NotebookRead":
		c.Path = x.FilePath
		if c.Path == "" {
			c.Path = x.NotebookPath
		}
	case "Grep", "Glob":
		c.Path = x.Path
		c.Pattern = x.Pattern
	case "LS":
		c.Path = x.Path
	case "WebFetch":
		c.URL = x.URL
	case "WebSearch", "web_search":
		c.Pattern = x.Query
	default:
		// MCP servers and newer tools: lift what is unambiguous.
		lower := strings.ToLower(b.Name)
		if x.Command != "" && !strings.Contains(lower, "slash") && (strings.Contains(lower, "bash") ||
			strings.Contains(lower, "shell") || strings.Contains(lower, "exec") ||
			strings.Contains(lower, "terminal") || strings.Contains(lower, "command")) {
			c.Command = x.Command
		}
		if x.FilePath != "" {
			c.Path = x.FilePath
		}
		if x.URL != "" {
			c.URL = x.URL
		}
	}
	return c
}

// The texts Claude Code gives a tool result when the person refused the
// call, or interrupted it before it ran.
var claudeRefusals = []string{
	"The user doesn't want to proceed with this tool use",
	"The user doesn't want to take this action right now",
	"[Request interrupted by user for tool use]",
}

// claudeResult turns a tool_result block, with the record's toolUseResult
// when it belongs to it, into a Result and the person's decision.
func claudeResult(b *claudeBlock, tur *claudeTUR, denial string) (*Result, string) {
	r := &Result{CallID: b.ToolUseID, Output: claudeContentText(&b.Content), IsError: b.IsError}
	decision := ""
	if code, ok := claudeExitCode(r.Output); ok {
		r.ExitCode = &code
	}
	if claudeIsRefusal(r.Output) || denial == "user-rejected" {
		decision = "rejected"
	}
	if tur == nil {
		return r, decision
	}
	switch tur.kind {
	case 's':
		s := tur.text
		if s == "User rejected tool use" || claudeIsRefusal(s) {
			decision = "rejected"
		}
		if r.ExitCode == nil {
			if code, ok := claudeExitCode(s); ok {
				r.ExitCode = &code
			}
		}
		if r.Output == "" {
			r.Output = s
		}
	case 'o':
		if r.ExitCode == nil && tur.exitCode != nil {
			c := *tur.exitCode
			r.ExitCode = &c
		}
		if tur.stdout != nil {
			if r.Output == "" {
				r.Output = claudeJoin(*tur.stdout, tur.stderr)
			}
			// Claude Code's Bash tool reports a non-zero exit as an error
			// beginning "Exit code N", or reads it for what it means: a
			// Bash result that is no error, was not interrupted and has no
			// such reading exited 0.
			if r.ExitCode == nil && !r.IsError && !tur.interrupted && !tur.uncertain {
				c := 0
				r.ExitCode = &c
			}
		}
		if tur.interrupted {
			r.Error = "interrupted"
		}
	}
	return r, decision
}

func claudeIsRefusal(s string) bool {
	s = strings.TrimSpace(s)
	for _, r := range claudeRefusals {
		if strings.HasPrefix(s, r) {
			return true
		}
	}
	return false
}

// claudeExitCode reads the "Exit code N" Claude Code writes at the start of
// a failed command's result ("Error: Exit code N" in toolUseResult).
func claudeExitCode(s string) (int, bool) {
	s = strings.TrimPrefix(s, "Error: ")
	if !strings.HasPrefix(s, "Exit code ") {
		return 0, false
	}
	s = s[len("Exit code "):]
	end := 0
	if end < len(s) && s[end] == '-' {
		end++
	}
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	code, err := strconv.Atoi(s[:end])
	if err != nil {
		return 0, false
	}
	return code, true
}

// claudeContentText is a tool result's content as text: a string, or the
// texts of an array of blocks joined by newlines (other blocks noted).
func claudeContentText(c *claudeContent) string {
	if c.kind != 'a' {
		return c.text
	}
	var sb strings.Builder
	for i := range c.blocks {
		b := &c.blocks[i]
		if i > 0 {
			sb.WriteByte('\n')
		}
		switch b.Type {
		case "text", "":
			sb.WriteString(b.Text)
		default:
			sb.WriteString("[" + b.Type + "]")
		}
	}
	return sb.String()
}

// claudeValueText is a value that is usually a string as text, and any
// other value as its JSON.
func claudeValueText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}

func claudeJoin(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "\n" + b
}

// claudeTime reads an RFC 3339 timestamp as UTC; zero when there is none.
func claudeTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// claudeShortErr is a decoding error's message, cut to a readable length.
func claudeShortErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// claudeLineReader reads a file's lines of any length, each as a copy of
// its own (without the line end), with its 1-based number. The
// Codex parser uses it too.
type claudeLineReader struct {
	r   *bufio.Reader
	n   int
	acc []byte
}

func claudeNewLineReader(r io.Reader) *claudeLineReader {
	return &claudeLineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line that is not blank, or io.EOF.
func (l *claudeLineReader) next() ([]byte, int, error) {
	for {
		line, err := l.readLine()
		if err != nil && (err != io.EOF || len(line) == 0) {
			return nil, l.n, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if err == io.EOF {
				return nil, l.n, io.EOF
			}
			continue
		}
		out := make([]byte, len(line))
		copy(out, line)
		if cap(l.acc) > 16<<20 {
			// Do not keep a huge line's buffer for the rest of the file.
			l.acc = nil
		}
		return out, l.n, nil
	}
}

// readLine returns the next line without its end; the bytes are valid until
// the next call. It returns io.EOF with the last line when the file does not
// end with a newline, and with no line at the end.
func (l *claudeLineReader) readLine() ([]byte, error) {
	l.acc = l.acc[:0]
	for {
		chunk, err := l.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			l.acc = append(l.acc, chunk...)
			continue
		}
		var line []byte
		if len(l.acc) > 0 {
			l.acc = append(l.acc, chunk...)
			line = l.acc
		} else {
			line = chunk
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if err == io.EOF && len(line) == 0 {
			return nil, io.EOF
		}
		l.n++
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if err == io.EOF {
			return line, io.EOF
		}
		return line, nil
	}
}
