package transcript

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-json"
)

// CodexParser reads Codex CLI rollouts (~/.codex/sessions/YYYY/MM/DD/
// rollout-*.jsonl): lines of {"timestamp", "type", "payload"} where type is
// session_meta, turn_context, response_item, event_msg or compacted, and the
// older form without the envelope, whose first line is the session's meta
// ({"id", "timestamp", "instructions"}) and the others response items and
// {"record_type": "state"} markers.
//
// A call and its output are linked by call_id: the call's Step has the
// call_id as its ID, the output's "<call_id>:output"; events about a call
// have "<call_id>:<what>" ("…:end", "…:approval"); other records "line N".
// The approval policy and sandbox policy of turn_context lines are carried
// forward to every later step as Approval.Mode and Approval.Sandbox.
type CodexParser struct{}

var _ Parser = CodexParser{}

// Format implements Parser.
func (CodexParser) Format() string { return FormatCodex }

// Sniff implements Parser: a .jsonl file whose first line is a session_meta
// line with a payload, or the older form's meta object (an id with a
// timestamp or instructions, and no type), or, for a file whose first line
// is no other format's, a path under .codex or named rollout-*.
func (CodexParser) Sniff(path string, head []byte) bool {
	if !strings.EqualFold(filepath.Ext(path), ".jsonl") {
		return false
	}
	line, complete := claudeFirstLine(head)
	if len(line) > 0 && line[0] == '{' {
		if complete {
			var m map[string]stdjson.RawMessage
			if stdjson.Unmarshal(line, &m) == nil {
				var typ string
				_ = stdjson.Unmarshal(m["type"], &typ)
				_, payload := m["payload"]
				if typ == "session_meta" && payload {
					return true
				}
				if codexOldMeta(m) {
					return true
				}
				if claudeLooksLike(line) {
					return false
				}
				for _, k := range []string{"projectHash", "$rewindTo", "$set", "uuid", "parentUuid", "leafUuid"} {
					if _, ok := m[k]; ok {
						return false
					}
				}
			}
		} else {
			s := string(line)
			prefix := s
			if len(prefix) > 512 {
				prefix = prefix[:512]
			}
			if strings.Contains(prefix, `"type":"session_meta"`) && strings.Contains(s, `"payload":`) {
				return true
			}
			if claudeLooksLikePrefix(line) {
				return false
			}
		}
	}
	slashed := filepath.ToSlash(path)
	base := filepath.Base(slashed)
	return strings.Contains(slashed, "/.codex/") && base != "history.jsonl" && base != "session_index.jsonl" ||
		strings.HasPrefix(base, "rollout-")
}

// codexOldMeta reports whether a line is the meta object that opens a
// rollout of the older, envelope-less form.
func codexOldMeta(m map[string]stdjson.RawMessage) bool {
	for _, k := range []string{"type", "payload", "record_type", "sessionId", "uuid", "parentUuid", "projectHash"} {
		if _, ok := m[k]; ok {
			return false
		}
	}
	var id string
	if stdjson.Unmarshal(m["id"], &id) != nil || id == "" {
		return false
	}
	_, ts := m["timestamp"]
	_, in := m["instructions"]
	return ts || in
}

// codexLine is a rollout line: the envelope, or, in the older form, the
// item itself or the session's meta.
type codexLine struct {
	Timestamp  string          `json:"timestamp"`
	Type       string          `json:"type"`
	Payload    json.RawMessage `json:"payload"`
	RecordType string          `json:"record_type"`
}

// codexItem is a payload: a response item, an event, the session's meta, a
// turn's context, a compaction. The fields are those of all of them that the
// parser reads; those whose shape varies are kept raw.
type codexItem struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	// response_item
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	Summary   json.RawMessage `json:"summary"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	CallID    string          `json:"call_id"`
	Output    json.RawMessage `json:"output"`
	Input     json.RawMessage `json:"input"`
	Action    json.RawMessage `json:"action"`
	Status    string          `json:"status"`
	// event_msg
	Message          json.RawMessage `json:"message"`
	Text             json.RawMessage `json:"text"`
	Command          json.RawMessage `json:"command"`
	Cwd              string          `json:"cwd"`
	Stdout           string          `json:"stdout"`
	Stderr           string          `json:"stderr"`
	AggregatedOutput string          `json:"aggregated_output"`
	FormattedOutput  string          `json:"formatted_output"`
	ExitCode         *int            `json:"exit_code"`
	Reason           json.RawMessage `json:"reason"`
	Decision         json.RawMessage `json:"decision"`
	Success          *bool           `json:"success"`
	Changes          json.RawMessage `json:"changes"`
	Query            json.RawMessage `json:"query"`
	// session_meta
	Timestamp    string          `json:"timestamp"`
	Instructions json.RawMessage `json:"instructions"`
	Git          *struct {
		Branch string `json:"branch"`
	} `json:"git"`
	// turn_context
	ApprovalPolicy json.RawMessage `json:"approval_policy"`
	SandboxPolicy  json.RawMessage `json:"sandbox_policy"`
	Model          string          `json:"model"`
	Effort         json.RawMessage `json:"effort"`
}

// codexArgs holds the arguments of a function call the parser lifts into a
// Call.
type codexArgs struct {
	Command  json.RawMessage `json:"command"`
	Cmd      string          `json:"cmd"`
	Workdir  string          `json:"workdir"`
	Path     string          `json:"path"`
	FilePath string          `json:"file_path"`
	Input    string          `json:"input"`
	Patch    string          `json:"patch"`
	URL      string          `json:"url"`
	Query    string          `json:"query"`
	Pattern  string          `json:"pattern"`
}

// Parse implements Parser.
func (CodexParser) Parse(ctx context.Context, path string, emit func(Step) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	p := codexParse{
		emit:    emit,
		session: codexSessionFromPath(path),
		seen:    make(map[string]struct{}),
	}
	lines := claudeNewLineReader(f)
	for {
		line, n, err := lines.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", path, n, err)
		}
		if n&63 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := p.line(line, n); err != nil {
			return err
		}
	}
}

// codexSessionFromPath is the session's id as the file name gives it: the
// UUID that ends a rollout's name, or the name without its extension.
func codexSessionFromPath(path string) string {
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if len(name) >= 36 {
		tail := name[len(name)-36:]
		if codexIsUUID(tail) {
			return tail
		}
	}
	return name
}

func codexIsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// codexParse is the state of one file's parse.
type codexParse struct {
	emit     func(Step) error
	session  string
	metaSeen bool      // the session is the first session_meta's
	last     time.Time // the last time a line gave
	mode     string    // approval_policy from the last turn_context
	sandbox  string    // sandbox_policy from the last turn_context
	cwd      string
	branch   string
	seen     map[string]struct{}
}

// unique returns id, or id with the line's locator when an earlier record
// of the file had the same id.
func (p *codexParse) unique(id string, n int) string {
	if _, dup := p.seen[id]; dup {
		id = id + "@line " + strconv.Itoa(n)
	}
	p.seen[id] = struct{}{}
	return id
}

// callID is the ID of a step about a call: "<call_id>" or
// "<call_id>:<what>", or the line's when the record names no call.
func (p *codexParse) callID(callID, what string, n int) string {
	if callID == "" {
		return p.unique("line "+strconv.Itoa(n), n)
	}
	if what != "" {
		callID += ":" + what
	}
	return p.unique(callID, n)
}

func (p *codexParse) bad(line []byte, loc, reason string) error {
	return p.emit(Step{Format: FormatCodex, Session: p.session, Raw: line, Locator: loc, Bad: reason})
}

func (p *codexParse) line(raw []byte, n int) error {
	loc := "line " + strconv.Itoa(n)
	line := raw
	if n == 1 {
		line = bytes.TrimPrefix(raw, claudeBOM)
	}
	var l codexLine
	if err := json.Unmarshal(line, &l); err != nil {
		return p.bad(raw, loc, "not a JSON object: "+claudeShortErr(err))
	}
	if t := claudeTime(l.Timestamp); !t.IsZero() {
		p.last = t
	}
	base := Step{
		Format:    FormatCodex,
		Session:   p.session,
		Time:      p.last,
		Approval:  Approval{Mode: p.mode, Sandbox: p.sandbox},
		Cwd:       p.cwd,
		GitBranch: p.branch,
		Raw:       raw,
		Locator:   loc,
	}
	switch l.Type {
	case "session_meta", "turn_context", "response_item", "event_msg", "compacted":
		if len(l.Payload) == 0 || l.Payload[0] != '{' {
			return p.bad(raw, loc, l.Type+" line without a payload object")
		}
		var it codexItem
		if err := json.Unmarshal(l.Payload, &it); err != nil {
			return p.itemError(raw, n, l.Type, l.Payload, err)
		}
		switch l.Type {
		case "session_meta":
			return p.meta(&it, base, n)
		case "turn_context":
			return p.turnContext(&it, base, n)
		case "response_item":
			return p.responseItem(&it, base, "response_item/", n)
		case "event_msg":
			return p.event(&it, base, n)
		default: // compacted
			base.ID = p.unique(loc, n)
			base.Type = "compacted"
			base.Actor = ActorSystem
			base.Text = claudeValueText(it.Message)
			return p.emit(base)
		}
	case "":
		if l.RecordType != "" {
			// The older form's state markers.
			base.ID = p.unique(loc, n)
			base.Type = l.RecordType
			base.Actor = ActorSystem
			return p.emit(base)
		}
		var it codexItem
		if err := json.Unmarshal(line, &it); err != nil {
			return p.bad(raw, loc, "record: "+claudeShortErr(err))
		}
		if it.ID != "" && (it.Timestamp != "" || len(it.Instructions) > 0) {
			// The older form's meta.
			return p.meta(&it, base, n)
		}
		return p.bad(raw, loc, "record without a type")
	}
	// The older form: the response item is the line.
	var it codexItem
	if err := json.Unmarshal(line, &it); err != nil {
		return p.itemError(raw, n, l.Type, line, err)
	}
	return p.responseItem(&it, base, "", n)
}

// itemError reports a payload the parser could not decode: as unknown when
// its type is one the parser does not know (it may have fields of other
// shapes), as bad otherwise.
func (p *codexParse) itemError(line []byte, n int, typ string, payload []byte, err error) error {
	loc := "line " + strconv.Itoa(n)
	var probe struct {
		Type string `json:"type"`
	}
	_ = stdjson.Unmarshal(payload, &probe)
	full := probe.Type
	if typ != probe.Type {
		full = typ + "/" + probe.Type
	}
	known := false
	switch typ {
	case "response_item", "event_msg":
		known = codexKnown[full]
	default:
		known = codexKnown[typ] || codexKnown["response_item/"+probe.Type]
	}
	if !known {
		return p.emit(Step{
			Format: FormatCodex, Session: p.session, ID: p.unique(loc, n), Time: p.last,
			Actor: ActorSystem, Type: full, Approval: Approval{Mode: p.mode, Sandbox: p.sandbox},
			Cwd: p.cwd, GitBranch: p.branch, Unknown: true, Raw: line, Locator: loc,
		})
	}
	return p.bad(line, loc, full+": "+claudeShortErr(err))
}

// codexKnown are the types the parser reads.
var codexKnown = map[string]bool{
	"session_meta": true, "turn_context": true, "compacted": true,
	"response_item/message": true, "response_item/reasoning": true,
	"response_item/function_call": true, "response_item/function_call_output": true,
	"response_item/custom_tool_call": true, "response_item/custom_tool_call_output": true,
	"response_item/local_shell_call": true, "response_item/web_search_call": true,
	"event_msg/user_message": true, "event_msg/agent_message": true,
	"event_msg/agent_reasoning": true, "event_msg/agent_reasoning_raw_content": true,
	"event_msg/token_count": true, "event_msg/exec_command_begin": true,
	"event_msg/exec_command_end": true, "event_msg/exec_approval_request": true,
	"event_msg/apply_patch_approval_request": true, "event_msg/patch_apply_begin": true,
	"event_msg/patch_apply_end": true, "event_msg/turn_aborted": true,
	"event_msg/task_started": true, "event_msg/task_complete": true,
	"event_msg/error": true, "event_msg/warning": true, "event_msg/stream_error": true,
	"event_msg/context_compacted": true, "event_msg/mcp_tool_call_end": true,
	"event_msg/web_search_end": true,
}

func (p *codexParse) meta(it *codexItem, base Step, n int) error {
	// A forked session's file holds the meta of the session it was forked
	// from too, after its own: the first is the file's.
	if !p.metaSeen {
		p.metaSeen = true
		if it.ID != "" {
			p.session = it.ID
		}
		if it.Cwd != "" {
			p.cwd = it.Cwd
		}
		if it.Git != nil && it.Git.Branch != "" {
			p.branch = it.Git.Branch
		}
	}
	if base.Time.IsZero() {
		if t := claudeTime(it.Timestamp); !t.IsZero() {
			p.last = t
			base.Time = t
		}
	}
	base.Session = p.session
	base.Cwd = p.cwd
	base.GitBranch = p.branch
	base.ID = p.unique(base.Locator, n)
	base.Type = "session_meta"
	base.Actor = ActorSystem
	base.Text = claudeValueText(it.Instructions)
	return p.emit(base)
}

func (p *codexParse) turnContext(it *codexItem, base Step, n int) error {
	if s := codexPolicyName(it.ApprovalPolicy); s != "" {
		p.mode = s
	}
	if s := codexPolicyName(it.SandboxPolicy); s != "" {
		p.sandbox = s
	}
	if it.Cwd != "" {
		p.cwd = it.Cwd
	}
	base.ID = p.unique(base.Locator, n)
	base.Type = "turn_context"
	base.Actor = ActorSystem
	base.Approval = Approval{Mode: p.mode, Sandbox: p.sandbox}
	base.Cwd = p.cwd
	var sb strings.Builder
	sb.WriteString("approval_policy=" + p.mode + " sandbox_policy=" + p.sandbox)
	if it.Model != "" {
		sb.WriteString(" model=" + it.Model)
	}
	if e := claudeValueText(it.Effort); e != "" {
		sb.WriteString(" effort=" + e)
	}
	base.Text = sb.String()
	return p.emit(base)
}

// codexPolicyName is a policy as a name: the string, or the "type" or
// "mode" of an object ({"type":"danger-full-access"}), or the single key of
// an object ({"workspace-write":{…}}).
func codexPolicyName(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	case '{':
		var m map[string]stdjson.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return ""
		}
		for _, k := range []string{"type", "mode"} {
			var s string
			if stdjson.Unmarshal(m[k], &s) == nil && s != "" {
				return s
			}
		}
		if len(m) == 1 {
			for k := range m {
				return k
			}
		}
	}
	return ""
}

// codexHarnessPrefixes open the user-role messages Codex writes itself.
var codexHarnessPrefixes = []string{
	"<environment_context>", "<user_instructions>", "<permissions instructions>",
	"# AGENTS.md instructions", "<turn_aborted>", "<INSTRUCTIONS>",
}

// codexByHarness reports whether a user-role text is Codex's own.
func codexByHarness(text string) bool {
	t := strings.TrimSpace(text)
	for _, h := range codexHarnessPrefixes {
		if strings.HasPrefix(t, h) {
			return true
		}
	}
	return false
}

func (p *codexParse) responseItem(it *codexItem, base Step, prefix string, n int) error {
	base.Type = prefix + it.Type
	switch it.Type {
	case "message":
		base.ID = p.unique(base.Locator, n)
		base.Text = codexContentText(it.Content)
		switch it.Role {
		case "assistant":
			base.Actor = ActorAgent
		case "user":
			base.Actor = ActorUser
			if codexByHarness(base.Text) {
				base.Actor = ActorSystem
			}
		default: // developer, system
			base.Actor = ActorSystem
		}
	case "reasoning":
		base.ID = p.unique(base.Locator, n)
		base.Actor = ActorAgent
		base.Thinking = true
		base.Text = claudeJoin(codexContentText(it.Summary), codexContentText(it.Content))
	case "function_call":
		base.ID = p.callID(it.CallID, "", n)
		base.Actor = ActorAgent
		base.Call = codexFunctionCall(it)
		if wd := codexWorkdir(it.Arguments); wd != "" {
			base.Cwd = wd
		}
	case "custom_tool_call":
		base.ID = p.callID(it.CallID, "", n)
		base.Actor = ActorAgent
		in := codexStringOrRaw(it.Input)
		base.Call = &Call{ID: it.CallID, Tool: it.Name, Input: in}
		if strings.Contains(it.Name, "apply_patch") || strings.Contains(in, "*** Begin Patch") {
			base.Call.Path = codexPatchPath(in)
		}
	case "local_shell_call":
		id := it.CallID
		if id == "" {
			id = it.ID
		}
		base.ID = p.callID(id, "", n)
		base.Actor = ActorAgent
		var a struct {
			Command          json.RawMessage `json:"command"`
			WorkingDirectory string          `json:"working_directory"`
		}
		_ = json.Unmarshal(it.Action, &a)
		base.Call = &Call{ID: id, Tool: "local_shell", Input: string(it.Action), Command: codexCommand(a.Command)}
		if a.WorkingDirectory != "" {
			base.Cwd = a.WorkingDirectory
		}
	case "web_search_call":
		base.ID = p.callID(it.ID, "", n)
		base.Actor = ActorAgent
		var a struct {
			Query string `json:"query"`
			URL   string `json:"url"`
		}
		_ = json.Unmarshal(it.Action, &a)
		base.Call = &Call{ID: it.ID, Tool: "web_search", Input: string(it.Action), Pattern: a.Query, URL: a.URL}
	case "function_call_output", "custom_tool_call_output":
		base.ID = p.callID(it.CallID, "output", n)
		base.Actor = ActorTool
		base.Result, base.Approval.Decision = codexOutput(it)
	default:
		base.ID = p.unique(base.Locator, n)
		base.Actor = ActorSystem
		switch it.Type {
		case "compaction", "compaction_summary", "ghost_snapshot":
		default:
			base.Unknown = true
		}
	}
	return p.emit(base)
}

func (p *codexParse) event(it *codexItem, base Step, n int) error {
	base.Type = "event_msg/" + it.Type
	base.Actor = ActorSystem
	if it.Cwd != "" {
		base.Cwd = it.Cwd
	}
	id := ""
	switch it.Type {
	case "user_message":
		base.Actor = ActorUser
		base.Text = claudeValueText(it.Message)
		if codexByHarness(base.Text) {
			base.Actor = ActorSystem
		}
	case "agent_message":
		base.Actor = ActorAgent
		base.Text = claudeValueText(it.Message)
	case "agent_reasoning", "agent_reasoning_raw_content":
		base.Actor = ActorAgent
		base.Thinking = true
		base.Text = claudeValueText(it.Text)
	case "exec_command_begin":
		id = p.callID(it.CallID, "begin", n)
		base.Text = codexCommand(it.Command)
	case "exec_command_end":
		id = p.callID(it.CallID, "end", n)
		base.Actor = ActorTool
		r := &Result{CallID: it.CallID, Output: it.AggregatedOutput}
		if r.Output == "" {
			r.Output = claudeJoin(it.Stdout, it.Stderr)
		}
		if r.Output == "" {
			r.Output = it.FormattedOutput
		}
		if it.ExitCode != nil {
			c := *it.ExitCode
			r.ExitCode = &c
			r.IsError = c != 0
		}
		if it.Status == "declined" || codexIsRefusal(r.Output) {
			base.Approval.Decision = "rejected"
		}
		base.Result = r
	case "exec_approval_request":
		id = p.callID(it.CallID, "approval", n)
		base.Text = "approval requested: " + codexCommand(it.Command)
		if r := claudeValueText(it.Reason); r != "" {
			base.Text += " (" + r + ")"
		}
	case "apply_patch_approval_request":
		id = p.callID(it.CallID, "approval", n)
		base.Text = "patch approval requested: " + strings.Join(codexKeys(it.Changes), ", ")
		if r := claudeValueText(it.Reason); r != "" {
			base.Text += " (" + r + ")"
		}
	case "patch_apply_begin":
		id = p.callID(it.CallID, "patch-begin", n)
		base.Text = "applying patch: " + strings.Join(codexKeys(it.Changes), ", ")
	case "patch_apply_end":
		id = p.callID(it.CallID, "patch-end", n)
		base.Actor = ActorTool
		r := &Result{CallID: it.CallID, Output: claudeJoin(it.Stdout, it.Stderr)}
		if it.Success != nil {
			r.IsError = !*it.Success
		}
		if codexIsRefusal(r.Output) {
			base.Approval.Decision = "rejected"
		}
		base.Result = r
	case "mcp_tool_call_end":
		id = p.callID(it.CallID, "end", n)
		base.Actor = ActorTool
		base.Result = &Result{CallID: it.CallID, Output: string(it.Output)}
	case "web_search_end":
		id = p.callID(it.CallID, "end", n)
		base.Text = claudeValueText(it.Query)
	case "turn_aborted":
		base.Text = "turn aborted"
		if r := claudeValueText(it.Reason); r != "" {
			base.Text += ": " + r
		}
	case "error", "warning", "stream_error":
		base.Text = claudeValueText(it.Message)
	case "token_count", "task_started", "task_complete", "context_compacted":
	default:
		if len(bytes.TrimSpace(it.Decision)) == 0 {
			base.Unknown = true
		}
	}
	// A person's answer to an approval request, in whatever event carries
	// it.
	if d := codexDecision(it.Decision); d != "" {
		base.Actor = ActorUser
		base.Approval.Decision = d
		if id == "" {
			id = p.callID(it.CallID, "decision", n)
		}
		if base.Text == "" {
			base.Text = "decision: " + claudeValueText(it.Decision)
		}
	}
	if id == "" {
		id = p.unique(base.Locator, n)
	}
	base.ID = id
	return p.emit(base)
}

// codexDecision normalises a review decision ("approved",
// "approved_for_session", {"approved_execpolicy_amendment": …}, "denied",
// "abort", …) to "approved" or "rejected"; other values are kept as given.
func codexDecision(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	name := ""
	switch raw[0] {
	case '"':
		_ = json.Unmarshal(raw, &name)
	case '{':
		name = codexPolicyName(raw)
	default:
		return ""
	}
	switch strings.ToLower(name) {
	case "":
		return ""
	case "approved", "approved_for_session", "approved_execpolicy_amendment", "approve",
		"accept", "acceptforsession", "accept_for_session", "allow", "yes":
		return "approved"
	case "denied", "deny", "abort", "decline", "declined", "cancel", "rejected", "reject", "no":
		return "rejected"
	}
	return name
}

// The texts Codex gives a call's output when the person denied it.
var codexRefusals = []string{"exec command rejected by user", "patch rejected by user"}

func codexIsRefusal(s string) bool {
	s = strings.TrimSpace(s)
	for _, r := range codexRefusals {
		if strings.HasPrefix(s, r) {
			return true
		}
	}
	return false
}

// codexFunctionCall turns a function_call into a Call: its arguments are a
// JSON document in a string.
func codexFunctionCall(it *codexItem) *Call {
	c := &Call{ID: it.CallID, Tool: it.Name, Input: codexStringOrRaw(it.Arguments)}
	var a codexArgs
	if len(c.Input) > 0 && c.Input[0] == '{' && json.Unmarshal([]byte(c.Input), &a) == nil {
		c.Command = codexCommand(a.Command)
		if c.Command == "" {
			c.Command = a.Cmd
		}
		switch {
		case a.Input != "" && strings.Contains(a.Input, "*** Begin Patch"):
			c.Path = codexPatchPath(a.Input)
		case a.Patch != "":
			c.Path = codexPatchPath(a.Patch)
		case a.FilePath != "":
			c.Path = a.FilePath
		case a.Path != "":
			c.Path = a.Path
		}
		c.URL = a.URL
		c.Pattern = a.Pattern
		if c.Pattern == "" {
			c.Pattern = a.Query
		}
	}
	if c.Path == "" && strings.Contains(c.Command, "*** Begin Patch") {
		// apply_patch run through the shell: ["apply_patch", "<patch>"].
		c.Path = codexPatchPath(c.Command)
	}
	return c
}

// codexWorkdir is the workdir a function call's arguments give.
func codexWorkdir(raw json.RawMessage) string {
	s := codexStringOrRaw(raw)
	if !strings.Contains(s, `"workdir"`) {
		return ""
	}
	var a struct {
		Workdir string `json:"workdir"`
	}
	_ = json.Unmarshal([]byte(s), &a)
	return a.Workdir
}

// codexStringOrRaw is a JSON string's value, or any other JSON value's text.
func codexStringOrRaw(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// codexCommand is a command as a shell command line: an array of words
// joined with the words quoted that need it (["bash", "-lc", "rm -rf x"] is
// bash -lc 'rm -rf x'), or a string as it is.
func codexCommand(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	case '[':
		var words []string
		if json.Unmarshal(raw, &words) != nil {
			return ""
		}
		return codexJoinWords(words)
	}
	return ""
}

func codexJoinWords(words []string) string {
	var sb strings.Builder
	for i, w := range words {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(codexQuote(w))
	}
	return sb.String()
}

// codexQuote quotes a word for a POSIX shell when it needs it.
func codexQuote(w string) string {
	if w == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("_@%+=:,./-", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// codexPatchPath is the first file an apply_patch patch names.
func codexPatchPath(patch string) string {
	for line := range strings.Lines(patch) {
		line = strings.TrimRight(line, "\r\n")
		for _, marker := range []string{"*** Update File: ", "*** Add File: ", "*** Delete File: "} {
			if rest, ok := strings.CutPrefix(line, marker); ok {
				return strings.TrimSpace(rest)
			}
		}
	}
	return ""
}

// codexKeys are an object's keys in their order in the document (the files
// of a patch's changes).
func codexKeys(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	dec := stdjson.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip stdjson.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}

// codexContentText is the text of a message's content or a reasoning's
// summary: the texts of its items joined by newlines, images noted.
func codexContentText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		return codexStringOrRaw(raw)
	}
	if raw[0] != '[' {
		return string(raw)
	}
	var items []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &items) != nil {
		return string(raw)
	}
	var sb strings.Builder
	for i, x := range items {
		if i > 0 {
			sb.WriteByte('\n')
		}
		if x.Text == "" && strings.Contains(x.Type, "image") {
			sb.WriteString("[image]")
			continue
		}
		sb.WriteString(x.Text)
	}
	return sb.String()
}

// codexOutput turns a call's output into a Result and the person's
// decision. The output is a string, often itself a JSON document
// {"output": …, "metadata": {"exit_code": …}}, or text framed by Codex
// ("Exit code: N", "Process exited with code N"), or, in some versions, an
// object {"content": …, "success": …} or an array of content items.
func codexOutput(it *codexItem) (*Result, string) {
	r := &Result{CallID: it.CallID}
	raw := bytes.TrimSpace(it.Output)
	var text string
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '"':
		text = codexStringOrRaw(raw)
	case raw[0] == '{':
		var o struct {
			Content json.RawMessage `json:"content"`
			Success *bool           `json:"success"`
		}
		if json.Unmarshal(raw, &o) == nil && len(o.Content) > 0 {
			text = codexContentText(o.Content)
			if o.Success != nil {
				r.IsError = !*o.Success
			}
		} else {
			text = string(raw)
		}
	case raw[0] == '[':
		text = codexContentText(raw)
	default:
		text = string(raw)
	}
	r.Output = text
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "{") && strings.Contains(t, `"metadata"`) {
		var o struct {
			Output   *string `json:"output"`
			Metadata struct {
				ExitCode *int `json:"exit_code"`
			} `json:"metadata"`
		}
		if json.Unmarshal([]byte(t), &o) == nil && o.Output != nil {
			r.Output = *o.Output
			if o.Metadata.ExitCode != nil {
				c := *o.Metadata.ExitCode
				r.ExitCode = &c
			}
		}
	}
	if r.ExitCode == nil {
		if c, ok := codexFramedExitCode(r.Output); ok {
			r.ExitCode = &c
		}
	}
	if r.ExitCode != nil && *r.ExitCode != 0 {
		r.IsError = true
	}
	decision := ""
	if codexIsRefusal(r.Output) {
		decision = "rejected"
	}
	return r, decision
}

// codexFramedExitCode reads the exit code Codex writes in the head of a
// command's output: "Exit code: N" or "Process exited with code N".
func codexFramedExitCode(s string) (int, bool) {
	head := s
	if len(head) > 512 {
		head = head[:512]
	}
	for line := range strings.Lines(head) {
		line = strings.TrimSpace(line)
		for _, prefix := range []string{"Exit code: ", "Process exited with code "} {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				if c, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
					return c, true
				}
			}
		}
	}
	return 0, false
}
