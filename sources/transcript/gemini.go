package transcript

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GeminiParser reads Gemini CLI chat recordings, kept under
// ~/.gemini/tmp/<project_hash>/chats/. Two forms exist:
//
//   - session-*.json, one ConversationRecord document: {sessionId,
//     projectHash, startTime, lastUpdated, messages: [...]}, where a message
//     is {id, timestamp, type, content, thoughts, toolCalls, tokens, model}
//     and type is user, gemini, info, error or warning;
//   - session-*.jsonl, an append-only log: a first line of session metadata
//     ({sessionId, projectHash, startTime, …}), then message records, which
//     are appended again whole under the same id each time they change (as
//     their tool calls finish, as their tokens come in); {"$set": {…}}
//     metadata updates, whose optional messages array is a checkpoint that
//     replaces the history; and {"$rewindTo": "<id>"}, which drops that
//     message and every later one from the history.
//
// Each message gives a step for its text, one per thought, and per tool call
// a Call step followed by its Result once the call has one. A message that
// is appended again gives steps only for what is new or changed in it (a
// tool call's result, a changed text, under an ID with "@<line>"), or one
// system step saying it was updated, so every line is kept as evidence
// without repeating the steps it already gave. Steps of messages a
// $rewindTo removed from the history are kept and marked Rewound.
type GeminiParser struct{}

var _ Parser = GeminiParser{}

// Format implements Parser.
func (GeminiParser) Format() string { return FormatGemini }

// geminiTypeRe finds a Gemini message type in a document's first bytes.
var geminiTypeRe = regexp.MustCompile(`"type"\s*:\s*"gemini"`)

// Sniff implements Parser: a .json document that starts with sessionId and
// messages and has a projectHash or a gemini message, or a .jsonl file
// whose lines are Gemini records ($set, $rewindTo, the session metadata
// line, or messages of Gemini's shape). Claude Code lines (uuid,
// parentUuid) and Codex lines (session_meta, response_item, …) veto.
func (GeminiParser) Sniff(path string, head []byte) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		t := bytes.TrimLeft(head, " \t\r\n\ufeff")
		if len(t) == 0 || t[0] != '{' || bytes.Contains(head, []byte(`"parentUuid"`)) {
			return false
		}
		if bytes.Contains(head, []byte(`"sessionId"`)) && bytes.Contains(head, []byte(`"messages"`)) {
			return bytes.Contains(head, []byte(`"projectHash"`)) || geminiTypeRe.Match(head)
		}
		// A log written under a .json name (a migration gone half way).
		return geminiSniffLines(head)
	case ".jsonl":
		return geminiSniffLines(head)
	}
	return false
}

// geminiSniffLines looks at the complete lines of head.
func geminiSniffLines(head []byte) bool {
	yes := false
	for i, line := range bytes.Split(head, []byte("\n")) {
		if i >= 500 {
			break
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var rec map[string]json.RawMessage
		if json.Unmarshal(line, &rec) != nil {
			continue // the cut last line, or a bad one
		}
		if _, ok := rec["parentUuid"]; ok {
			return false
		}
		if _, ok := rec["uuid"]; ok {
			return false
		}
		typ := geminiString(rec["type"])
		switch typ {
		case "session_meta", "response_item", "event_msg", "turn_context", "compacted":
			return false
		}
		if _, ok := rec["$set"]; ok {
			yes = true
		}
		if _, ok := rec["$rewindTo"]; ok {
			yes = true
		}
		if geminiString(rec["sessionId"]) != "" && geminiString(rec["projectHash"]) != "" {
			yes = true
		}
		if geminiString(rec["id"]) != "" {
			switch typ {
			case "gemini":
				yes = true
			case "user", "info", "error", "warning":
				if _, ok := rec["timestamp"]; ok {
					if _, ok := rec["content"]; ok {
						yes = true
					}
				}
			}
		}
	}
	return yes
}

// Parse implements Parser. The whole file is read first: a $rewindTo
// marks steps that came before it.
func (GeminiParser) Parse(ctx context.Context, path string, emit func(Step) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := newGeminiState(path)
	if err := s.parse(ctx, data); err != nil {
		return err
	}
	return s.flush(ctx, emit)
}

// geminiSeen is what the steps of one message said so far, so that a
// message appended again gives steps only for what changed.
type geminiSeen struct {
	text     string
	thoughts map[int]string
	calls    map[string]string // call ID → its Input
	results  map[string]string // call ID → status and output
}

type geminiState struct {
	path    string
	steps   []Step
	used    map[string]bool // step IDs given
	seen    map[string]*geminiSeen
	history []string         // message IDs in the history, in order
	inHist  map[string]bool  // the same as a set
	live    map[string][]int // message ID → its steps since it entered the history
	mode    string           // approval mode, carried forward
	session string
}

func newGeminiState(path string) *geminiState {
	return &geminiState{
		path:   path,
		used:   map[string]bool{},
		seen:   map[string]*geminiSeen{},
		inHist: map[string]bool{},
		live:   map[string][]int{},
	}
}

// parse picks the form: one JSON document, or a log of JSON lines.
func (s *geminiState) parse(ctx context.Context, data []byte) error {
	if strings.ToLower(filepath.Ext(s.path)) != ".jsonl" {
		t := bytes.TrimLeft(data, " \t\r\n\ufeff")
		if len(t) > 0 && t[0] == '{' && !geminiIsLog(data) {
			return s.document(ctx, data)
		}
	}
	return s.lines(ctx, data)
}

// geminiIsLog reports whether data is several JSON values, one a line,
// rather than one (pretty-printed or truncated) document: its first line
// is a whole object.
func geminiIsLog(data []byte) bool {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	first = bytes.TrimSpace(bytes.TrimPrefix(first, []byte("\ufeff")))
	return len(first) > 2 && json.Valid(first) && len(bytes.TrimSpace(data)) > len(first)
}

func (s *geminiState) add(st Step, msgID string) {
	st.Format = FormatGemini
	if st.Approval.Mode == "" {
		st.Approval.Mode = s.mode
	}
	st.ID = s.unique(st.ID, st.Locator)
	s.steps = append(s.steps, st)
	if msgID != "" && s.inHist[msgID] {
		s.live[msgID] = append(s.live[msgID], len(s.steps)-1)
	}
}

// unique returns id, or, when a step already has it, id with the
// record's place.
func (s *geminiState) unique(id, loc string) string {
	if id == "" {
		id = loc
	}
	if s.used[id] {
		base := id + "@" + strings.TrimPrefix(loc, "line ")
		id = base
		for n := 2; s.used[id]; n++ {
			id = fmt.Sprintf("%s.%d", base, n)
		}
	}
	s.used[id] = true
	return id
}

func (s *geminiState) bad(raw []byte, loc, why string) {
	s.steps = append(s.steps, Step{Format: FormatGemini, Raw: raw, Locator: loc, Bad: why,
		ID: s.unique(loc, loc)})
}

// lines reads the JSONL form.
func (s *geminiState) lines(ctx context.Context, data []byte) error {
	n := 0
	for len(data) > 0 {
		n++
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		loc := "line " + strconv.Itoa(n)
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(line, &rec); err != nil {
			s.bad(line, loc, "not a JSON object: "+err.Error())
			continue
		}
		if rec == nil {
			s.bad(line, loc, "not a JSON object: null")
			continue
		}
		s.record(rec, line, loc)
	}
	return nil
}

// record handles one JSONL record, in the order Gemini CLI tells them
// apart when it loads a session.
func (s *geminiState) record(rec map[string]json.RawMessage, raw []byte, loc string) {
	if v, ok := rec["$rewindTo"]; ok {
		if target, isStr := geminiStringOK(v); isStr {
			s.rewind(target, raw, loc)
			return
		}
	}
	if geminiString(rec["id"]) != "" {
		s.message(rec, raw, loc, false)
		return
	}
	if v, ok := rec["$set"]; ok && geminiIsObject(v) {
		s.set(v, raw, loc)
		return
	}
	if geminiString(rec["sessionId"]) != "" && geminiString(rec["projectHash"]) != "" {
		s.meta(rec, raw, loc, "session")
		return
	}
	typ := geminiString(rec["type"])
	if typ == "" {
		keys := slices.Sorted(maps.Keys(rec))
		if len(keys) > 0 && strings.HasPrefix(keys[0], "$") {
			typ = keys[0]
		} else {
			typ = "unknown"
		}
	}
	s.add(Step{ID: loc, Actor: ActorSystem, Type: typ, Unknown: true, Raw: raw, Locator: loc,
		Text: geminiContentText(rec["content"])}, "")
}

// meta handles session metadata: the first line of a log, or the fields
// of a document other than its messages.
func (s *geminiState) meta(rec map[string]json.RawMessage, raw []byte, loc, typ string) {
	if id := geminiString(rec["sessionId"]); id != "" && s.session == "" {
		s.session = id
	}
	if m := geminiApprovalMode(rec); m != "" {
		s.mode = m
	}
	var parts []string
	for _, k := range []string{"sessionId", "projectHash", "kind", "summary"} {
		if v := geminiString(rec[k]); v != "" {
			parts = append(parts, k+": "+v)
		}
	}
	if s.mode != "" {
		parts = append(parts, "approval mode: "+s.mode)
	}
	s.add(Step{ID: loc, Actor: ActorSystem, Type: typ, Text: strings.Join(parts, "\n"),
		Time: geminiTime(rec["startTime"]), Raw: raw, Locator: loc}, "")
}

// set handles {"$set": {…}}: metadata, and a checkpoint of the messages.
func (s *geminiState) set(v json.RawMessage, raw []byte, loc string) {
	var upd map[string]json.RawMessage
	_ = json.Unmarshal(v, &upd)
	if id := geminiString(upd["sessionId"]); id != "" && s.session == "" {
		s.session = id
	}
	text := "set " + strings.Join(slices.Sorted(maps.Keys(upd)), ", ")
	if m := geminiApprovalMode(upd); m != "" {
		if m != s.mode {
			text += "\napproval mode: " + m
		}
		s.mode = m
	}
	if v := geminiString(upd["summary"]); v != "" {
		text += "\nsummary: " + v
	}
	s.add(Step{ID: loc, Actor: ActorSystem, Type: "$set", Text: text, Raw: raw, Locator: loc,
		Time: geminiTime(upd["lastUpdated"])}, "")
	var msgs []json.RawMessage
	if json.Unmarshal(upd["messages"], &msgs) != nil || upd["messages"] == nil {
		return
	}
	// A checkpoint: the history is now these messages. Those it drops
	// were compacted or masked, not rewound: their steps stay as they are.
	keep := map[string]bool{}
	var recs []map[string]json.RawMessage
	for _, m := range msgs {
		var rec map[string]json.RawMessage
		if json.Unmarshal(m, &rec) != nil || geminiString(rec["id"]) == "" {
			continue
		}
		keep[geminiString(rec["id"])] = true
		recs = append(recs, rec)
	}
	for _, id := range s.history {
		if !keep[id] {
			delete(s.live, id)
		}
	}
	s.history, s.inHist = nil, map[string]bool{}
	for _, rec := range recs {
		s.message(rec, raw, loc, true)
	}
}

// rewind handles {"$rewindTo": id}: that message and the later ones leave
// the history (all of it when the id is not there, as Gemini CLI does).
func (s *geminiState) rewind(target string, raw []byte, loc string) {
	var removed []string
	if i := slices.Index(s.history, target); i >= 0 {
		removed = slices.Clone(s.history[i:])
		s.history = s.history[:i:i]
	} else {
		removed = s.history
		s.history = nil
	}
	for _, id := range removed {
		for _, i := range s.live[id] {
			s.steps[i].Rewound = true
		}
		delete(s.live, id)
		delete(s.inHist, id)
		delete(s.seen, id) // back in the history later, it is new again
	}
	s.add(Step{ID: loc, Actor: ActorUser, Type: "$rewindTo",
		Text: fmt.Sprintf("rewind to %s (%d messages removed from the history)", target, len(removed)),
		Raw:  raw, Locator: loc}, "")
}

// message handles one version of a message record. A checkpoint lists
// every message again: there, one that brings nothing new gives no step
// (the $set step keeps the record).
func (s *geminiState) message(rec map[string]json.RawMessage, raw []byte, loc string, checkpoint bool) {
	id := geminiString(rec["id"])
	if !s.inHist[id] {
		s.inHist[id] = true
		s.history = append(s.history, id)
	}
	seen := s.seen[id]
	first := seen == nil
	if first {
		seen = &geminiSeen{thoughts: map[int]string{}, calls: map[string]string{}, results: map[string]string{}}
		s.seen[id] = seen
	}
	suffix := "@" + strings.TrimPrefix(loc, "line ")
	typ := geminiString(rec["type"])
	actor, known := ActorSystem, true
	switch typ {
	case "user":
		actor = ActorUser
	case "gemini":
		actor = ActorAgent
	case "info", "error", "warning":
	default:
		known = false
	}
	if typ == "" {
		typ = "unknown"
	}
	at := geminiTime(rec["timestamp"])
	before := len(s.steps)

	for i, th := range geminiObjects(rec["thoughts"]) {
		text := geminiThoughtText(th)
		if prev, ok := seen.thoughts[i]; ok && prev == text {
			continue
		}
		tid := fmt.Sprintf("%s:thought:%d", id, i)
		if _, ok := seen.thoughts[i]; ok {
			tid += suffix
		}
		seen.thoughts[i] = text
		t := geminiTime(th["timestamp"])
		if t.IsZero() {
			t = at
		}
		s.add(Step{ID: tid, Time: t, Actor: ActorAgent, Type: typ, Text: text, Thinking: true,
			Raw: raw, Locator: loc, Unknown: !known}, id)
	}

	text := geminiContentText(rec["content"])
	if text != "" && (first || text != seen.text) {
		tid := id
		if !first {
			tid += suffix
		}
		seen.text = text
		s.add(Step{ID: tid, Time: at, Actor: actor, Type: typ, Text: text, Raw: raw, Locator: loc,
			Unknown: !known}, id)
	}

	for i, tc := range geminiObjects(rec["toolCalls"]) {
		callID := geminiString(tc["id"])
		if callID == "" {
			callID = fmt.Sprintf("%s:call:%d", id, i)
		}
		call := geminiCall(tc)
		status := geminiString(tc["status"])
		var decision string
		if status == "cancelled" {
			decision = "rejected"
		}
		t := geminiTime(tc["timestamp"])
		if t.IsZero() {
			t = at
		}
		if prev, ok := seen.calls[callID]; !ok || prev != call.Input {
			sid := callID
			if ok {
				sid += suffix
			}
			seen.calls[callID] = call.Input
			s.add(Step{ID: sid, Time: t, Actor: ActorAgent, Type: "gemini/toolCall",
				Text: geminiString(tc["description"]), Call: call, Raw: raw, Locator: loc,
				Approval: Approval{Decision: decision}}, id)
		}
		res := geminiResult(tc, callID)
		if res == nil {
			continue
		}
		sig := status + "\x00" + res.Output
		if prev, ok := seen.results[callID]; !ok || prev != sig {
			sid := callID + ":result"
			if ok {
				sid += suffix
			}
			seen.results[callID] = sig
			s.add(Step{ID: sid, Time: t, Actor: ActorTool, Type: "gemini/toolResult",
				Result: res, Raw: raw, Locator: loc, Approval: Approval{Decision: decision}}, id)
		}
	}

	if len(s.steps) == before && !(checkpoint && !first) {
		// Nothing new: keep the record all the same.
		if first {
			s.add(Step{ID: id, Time: at, Actor: actor, Type: typ, Raw: raw, Locator: loc, Unknown: !known}, id)
		} else {
			s.add(Step{ID: id + suffix, Time: at, Actor: ActorSystem, Type: "gemini/update",
				Text: "message " + id + " written again", Raw: raw, Locator: loc}, id)
		}
	}
}

// document reads the JSON form. A document cut short (a crash while
// writing) gives the messages before the cut and a Bad step for the rest.
func (s *geminiState) document(ctx context.Context, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var atOff, atLine int // lineAt counts on from the last place it was asked
	lineAt := func(off64 int64) string {
		off := int(min(max(off64, 0), int64(len(data))))
		if off < atOff {
			atOff, atLine = 0, 0
		}
		atLine += bytes.Count(data[atOff:off], []byte("\n"))
		atOff = off
		return "line " + strconv.Itoa(atLine+1)
	}
	meta := map[string]json.RawMessage{}
	var after []string // keys after the messages
	var good int64     // where the bytes read so far end
	msgStart, msgEnd := int64(-1), int64(-1)
	type pending struct {
		rec map[string]json.RawMessage
		raw []byte
		loc string
	}
	var msgs []pending
	fail := func(err error) {
		rest := bytes.TrimLeft(data[good:], " \t\r\n,")
		s.bad(bytes.TrimRight(rest, " \t\r\n"), lineAt(int64(len(data)-len(rest))),
			"JSON document cut short or malformed: "+err.Error())
	}
	finish := func() {
		head := data
		if msgStart >= 0 {
			head = data[:msgStart]
		}
		s.meta(meta, head, lineAt(0), "session")
		for i, m := range msgs {
			if i%256 == 0 && ctx.Err() != nil {
				return
			}
			if m.rec == nil {
				continue
			}
			s.message(m.rec, m.raw, m.loc, false)
		}
		if msgEnd >= 0 {
			if tail := data[msgEnd:]; len(bytes.Trim(tail, " \t\r\n}")) > 0 {
				text := "fields after the messages: " + strings.Join(after, ", ")
				if v := geminiString(meta["summary"]); v != "" {
					text += "\nsummary: " + v
				}
				s.add(Step{ID: "session.tail", Actor: ActorSystem, Type: "session",
					Text: text, Raw: tail, Locator: lineAt(msgEnd)}, "")
			}
		}
	}
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		if err == nil {
			err = fmt.Errorf("starts with %v, not an object", tok)
		}
		fail(err)
		return ctx.Err()
	}
	good = dec.InputOffset()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			finish()
			fail(err)
			return ctx.Err()
		}
		key, _ := tok.(string)
		if key != "messages" {
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				finish()
				fail(err)
				return ctx.Err()
			}
			meta[key] = v
			if msgEnd >= 0 {
				after = append(after, key)
			}
			good = dec.InputOffset()
			continue
		}
		tok, err = dec.Token()
		if err == nil && tok != json.Delim('[') {
			if d, ok := tok.(json.Delim); ok {
				err = fmt.Errorf("messages is %v…, not a list", d)
			} else {
				good = dec.InputOffset() // a string or null: no messages
				continue
			}
		}
		if err != nil {
			finish()
			fail(err)
			return ctx.Err()
		}
		msgStart = dec.InputOffset() - 1
		good = dec.InputOffset()
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				finish()
				fail(err)
				return ctx.Err()
			}
			end := dec.InputOffset()
			start := end - int64(len(raw))
			good = end
			loc := lineAt(start)
			var rec map[string]json.RawMessage
			if json.Unmarshal(raw, &rec) != nil || rec == nil {
				s.bad([]byte(raw), loc, "message is not a JSON object")
				continue
			}
			if geminiString(rec["id"]) == "" {
				// A message without an id: keep it, under its place.
				rec["id"] = json.RawMessage(strconv.Quote(loc))
			}
			msgs = append(msgs, pending{rec, []byte(raw), loc})
		}
		if _, err := dec.Token(); err != nil { // ]
			finish()
			fail(err)
			return ctx.Err()
		}
		msgEnd = dec.InputOffset()
		good = msgEnd
	}
	if _, err := dec.Token(); err != nil { // }
		finish()
		fail(err)
		return ctx.Err()
	}
	good = dec.InputOffset()
	finish()
	if rest := bytes.TrimSpace(data[good:]); len(rest) > 0 {
		s.bad(rest, lineAt(good), "bytes after the JSON document")
	}
	return ctx.Err()
}

// flush gives every step the session and emits them in order.
func (s *geminiState) flush(ctx context.Context, emit func(Step) error) error {
	session := s.session
	if session == "" {
		session = strings.TrimSuffix(filepath.Base(s.path), filepath.Ext(s.path))
	}
	for i := range s.steps {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		st := s.steps[i]
		st.Session = session
		if err := emit(st); err != nil {
			return err
		}
	}
	return nil
}

// geminiApprovalMode finds an approval mode in metadata: approvalMode at
// the top or under settings.
func geminiApprovalMode(m map[string]json.RawMessage) string {
	for _, k := range []string{"approvalMode", "approval_mode", "approvalmode"} {
		if v := geminiString(m[k]); v != "" {
			return v
		}
	}
	var settings map[string]json.RawMessage
	if json.Unmarshal(m["settings"], &settings) == nil && settings != nil {
		for _, k := range []string{"approvalMode", "approval_mode"} {
			if v := geminiString(settings[k]); v != "" {
				return v
			}
		}
		var tools map[string]json.RawMessage
		if json.Unmarshal(settings["tools"], &tools) == nil && tools != nil {
			if v := geminiString(tools["approvalMode"]); v != "" {
				return v
			}
		}
	}
	return ""
}

// geminiCall builds the Call of a tool call record.
func geminiCall(tc map[string]json.RawMessage) *Call {
	name := geminiString(tc["name"])
	c := &Call{ID: geminiString(tc["id"]), Tool: name}
	args := tc["args"]
	if len(args) > 0 && string(args) != "null" {
		c.Input = string(args)
	}
	var a map[string]json.RawMessage
	if json.Unmarshal(args, &a) != nil {
		return c
	}
	lower := strings.ToLower(name)
	if cmd := geminiString(a["command"]); cmd != "" && (strings.Contains(lower, "shell") ||
		strings.Contains(lower, "command") || strings.Contains(lower, "bash")) {
		c.Command = cmd
	}
	for _, k := range []string{"file_path", "absolute_path", "path", "dir_path", "directory"} {
		if v := geminiString(a[k]); v != "" && c.Command == "" {
			c.Path = v
			break
		}
	}
	if v := geminiString(a["url"]); v != "" {
		c.URL = v
	} else if strings.Contains(lower, "fetch") {
		if u := geminiURLRe.FindString(geminiString(a["prompt"])); u != "" {
			c.URL = strings.TrimRight(u, ".,;:!?)]}'\"")
		}
	}
	if strings.Contains(lower, "search") || strings.Contains(lower, "grep") || strings.Contains(lower, "glob") {
		for _, k := range []string{"pattern", "query", "regex"} {
			if v := geminiString(a[k]); v != "" {
				c.Pattern = v
				break
			}
		}
	}
	return c
}

var (
	geminiURLRe  = regexp.MustCompile(`https?://[^\s<>"'` + "`" + `]+`)
	geminiExitRe = regexp.MustCompile(`(?m)^Exit Code: (-?\d+)`)
)

// geminiResult builds the Result of a tool call that has one: a result,
// a resultDisplay, or a final status.
func geminiResult(tc map[string]json.RawMessage, callID string) *Result {
	status := geminiString(tc["status"])
	out, errText := geminiResultText(tc["result"])
	if out == "" {
		out = geminiDisplayText(tc["resultDisplay"])
	}
	final := status == "success" || status == "error" || status == "cancelled"
	if out == "" && errText == "" && !final {
		return nil
	}
	r := &Result{CallID: callID, Output: out, Error: errText, IsError: status == "error"}
	if m := geminiExitRe.FindStringSubmatch(out); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			r.ExitCode = &n
		}
	}
	return r
}

// geminiResultText reads a tool call's result, a PartListUnion of
// functionResponse parts: the output, and the error when there is one.
func geminiResultText(raw json.RawMessage) (out, errText string) {
	var outs, errs []string
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 8 {
			return
		}
		switch x := v.(type) {
		case string:
			outs = append(outs, x)
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		case map[string]any:
			if fr, ok := x["functionResponse"].(map[string]any); ok {
				resp, _ := fr["response"].(map[string]any)
				for _, k := range []string{"output", "content", "result"} {
					if s, ok := resp[k].(string); ok && s != "" {
						outs = append(outs, s)
					}
				}
				if s, ok := resp["error"].(string); ok && s != "" {
					errs = append(errs, s)
				}
				if len(outs) == 0 && len(errs) == 0 && resp != nil {
					if b, err := json.Marshal(resp); err == nil {
						outs = append(outs, string(b))
					}
				}
				return
			}
			if s, ok := x["text"].(string); ok {
				outs = append(outs, s)
			}
		}
	}
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return "", ""
	}
	walk(v, 0)
	return strings.Join(outs, "\n"), strings.Join(errs, "\n")
}

// geminiDisplayText reads a resultDisplay: text, or a file diff.
func geminiDisplayText(raw json.RawMessage) string {
	if s, ok := geminiStringOK(raw); ok {
		return s
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return ""
	}
	if d := geminiString(m["fileDiff"]); d != "" {
		return d
	}
	return string(raw)
}

// geminiContentText reads a message's content: a string, a part, or a
// list of them; the text parts joined.
func geminiContentText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	if s, ok := geminiStringOK(raw); ok {
		return s
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	var b strings.Builder
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 8 {
			return
		}
		switch x := v.(type) {
		case string:
			b.WriteString(x)
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				b.WriteString(s)
			}
		}
	}
	walk(v, 0)
	return b.String()
}

func geminiThoughtText(th map[string]json.RawMessage) string {
	subj, desc := geminiString(th["subject"]), geminiString(th["description"])
	switch {
	case subj != "" && desc != "":
		return subj + ": " + desc
	case subj != "":
		return subj
	}
	return desc
}

// geminiObjects reads a list of objects, skipping what is not one.
func geminiObjects(raw json.RawMessage) []map[string]json.RawMessage {
	var list []json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &list) != nil {
		return nil
	}
	var out []map[string]json.RawMessage
	for _, e := range list {
		var m map[string]json.RawMessage
		if json.Unmarshal(e, &m) == nil && m != nil {
			out = append(out, m)
		}
	}
	return out
}

func geminiString(raw json.RawMessage) string {
	s, _ := geminiStringOK(raw)
	return s
}

func geminiStringOK(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func geminiIsObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

// geminiTime reads an ISO 8601 timestamp (JavaScript's toISOString) as UTC.
func geminiTime(raw json.RawMessage) time.Time {
	s := geminiString(raw)
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
