package transcript

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// CursorParser reads what Cursor keeps of its chats, in two shapes.
//
// The state.vscdb SQLite database. In the global storage its table
// cursorDiskKV(key, value) holds composerData:<composerId> (a chat: name,
// createdAt in ms, its mode, and fullConversationHeadersOnly, the bubbles
// in order; older versions inline them as conversation) and
// bubbleId:<composerId>:<bubbleId> (one message: type 1 user or 2 AI,
// text, createdAt, thinking, and toolFormerData for a tool call, with the
// person's userDecision). Each composer is a session, its steps in header
// order; bubbles of a composer that its headers no longer list (a restored
// checkpoint) follow, marked Rewound; every other key is kept as an Unknown
// step. The workspace storage's ItemTable holds older chats
// (workbench.panel.aichat.view.aichat.chatdata) and prompts
// (aiService.prompts, aiService.generations); only those keys are read,
// never the others (they hold Cursor's own access tokens). The database is
// never opened where it lies: it is copied with its -wal, -shm and -journal
// files to a temporary directory and the copy is opened read-only, so the
// source and its WAL stay byte-identical and WAL content not yet
// checkpointed is still read.
//
// A chat exported as Markdown: Cursor's "Export chat" (a title,
// "_Exported on … from Cursor (x.y.z)_", then **User** and **Cursor**
// sections between --- lines) or SpecStory's capture of a Cursor session
// (_**User**_ / _**Agent**_ sections, <tool-use> blocks). Each section is a
// step ("section N"); the shell commands in an agent's section (fenced
// shell blocks, "Running command:" lines, shell tool-use blocks) are Calls
// ("section N.k"). An export does not say whether a command ran or who
// allowed it.
type CursorParser struct{}

var _ Parser = CursorParser{}

// Format implements Parser.
func (CursorParser) Format() string { return FormatCursor }

const cursorSQLiteMagic = "SQLite format 3\x00"

var (
	cursorExportRe    = regexp.MustCompile(`(?m)^_Exported on (.+?) from Cursor \(([^)]*)\)_\s*$`)
	cursorSpecStoryRe = regexp.MustCompile(`(?m)^<!--\s*Cursor\b[^>]*?\bSession\s+([A-Za-z0-9._:-]+)`)
)

// Sniff implements Parser: a file named state.vscdb, a SQLite database
// whose schema (on its first page) has cursorDiskKV or ItemTable, or a
// Markdown file whose header says it is from Cursor.
func (CursorParser) Sniff(path string, head []byte) bool {
	base := filepath.Base(path)
	if base == "state.vscdb" {
		return true
	}
	if bytes.HasPrefix(head, []byte(cursorSQLiteMagic)) {
		return bytes.Contains(head, []byte("cursorDiskKV")) || bytes.Contains(head, []byte("ItemTable"))
	}
	switch strings.ToLower(filepath.Ext(base)) {
	case ".md", ".markdown":
	default:
		return false
	}
	top := head
	if len(top) > 4096 {
		top = top[:4096]
	}
	return cursorExportRe.Match(top) || cursorSpecStoryRe.Match(top)
}

// Parse implements Parser.
func (CursorParser) Parse(ctx context.Context, path string, emit func(Step) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	magic := make([]byte, len(cursorSQLiteMagic))
	n, _ := io.ReadFull(f, magic)
	f.Close()
	if n == len(magic) && string(magic) == cursorSQLiteMagic {
		return cursorParseDB(ctx, path, emit)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return cursorParseMarkdown(ctx, path, data, emit)
}

// cursorPathHash is a short, stable hash of a file's absolute path, to
// tell apart sessions that have no id of their own.
func cursorPathHash(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:4])
}

// cursorValidText makes a step's texts valid UTF-8, as the file's bytes
// may not be (Raw keeps them as they are).
func cursorValidText(st *Step) {
	v := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	st.Text = v(st.Text)
	if st.Call != nil {
		st.Call.Command, st.Call.Input, st.Call.Path = v(st.Call.Command), v(st.Call.Input), v(st.Call.Path)
	}
	if st.Result != nil {
		st.Result.Output = v(st.Result.Output)
	}
}

// ---- state.vscdb ----

// cursorParseDB copies the database aside and reads the copy.
func cursorParseDB(ctx context.Context, path string, emit func(Step) error) error {
	dir, err := os.MkdirTemp("", "salvage-cursor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cp := filepath.Join(dir, "state.vscdb")
	if err := cursorCopyFile(path, cp); err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := cursorCopyFile(path+suffix, cp+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	db, err := cursorOpen(ctx, cp)
	if err != nil {
		return fmt.Errorf("cursor: %s: %w", path, err)
	}
	defer db.Close()
	r := &cursorDB{ctx: ctx, db: db, emit: emit, session: "cursor-db-" + cursorPathHash(path)}
	return r.run()
}

// cursorCopyFile copies src to dst, reading src only.
func cursorCopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// cursorOpen opens the copy read-only. When that cannot read it (a WAL
// without its -shm, a hot journal to roll back), it opens the copy
// read-write, which only ever changes the copy.
func cursorOpen(ctx context.Context, cp string) (*sql.DB, error) {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(cp)
	var first error
	for _, dsn := range []string{"file:" + esc + "?mode=ro", "file:" + esc} {
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		var n int
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n)
		if err == nil {
			return db, nil
		}
		db.Close()
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, first
}

type cursorDB struct {
	ctx     context.Context
	db      *sql.DB
	emit    func(Step) error
	session string // for records that belong to no composer
}

func (r *cursorDB) send(st Step) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	st.Format = FormatCursor
	if st.Session == "" {
		st.Session = r.session
	}
	return r.emit(st)
}

func (r *cursorDB) run() error {
	tables := map[string]bool{}
	rows, err := r.db.QueryContext(r.ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		tables[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if !tables["cursorDiskKV"] && !tables["ItemTable"] {
		return errors.New("cursor: the database has neither a cursorDiskKV nor an ItemTable table")
	}
	if tables["cursorDiskKV"] {
		if err := r.diskKV(); err != nil {
			return err
		}
	}
	if tables["ItemTable"] {
		if err := r.itemTable(); err != nil {
			return err
		}
	}
	return nil
}

// cursorComposer is what a composerData value says that the parser uses.
type cursorComposer struct {
	id      string
	key     string
	raw     []byte
	bad     string
	name    string
	created time.Time
	mode    string
	headers []string
	inline  []json.RawMessage
}

func (r *cursorDB) value(key string) ([]byte, bool, error) {
	var v []byte
	err := r.db.QueryRowContext(r.ctx, `SELECT value FROM cursorDiskKV WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return v, err == nil, err
}

func (r *cursorDB) diskKV() error {
	rows, err := r.db.QueryContext(r.ctx, `SELECT key FROM cursorDiskKV WHERE key IS NOT NULL ORDER BY key`)
	if err != nil {
		return err
	}
	var composerIDs, others []string
	bubbles := map[string][]string{} // composer ID → bubble keys, sorted
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return err
		}
		key := string(k)
		switch {
		case strings.HasPrefix(key, "composerData:"):
			composerIDs = append(composerIDs, strings.TrimPrefix(key, "composerData:"))
		case strings.HasPrefix(key, "bubbleId:"):
			cid, _, ok := strings.Cut(strings.TrimPrefix(key, "bubbleId:"), ":")
			if ok {
				bubbles[cid] = append(bubbles[cid], key)
			} else {
				others = append(others, key)
			}
		default:
			others = append(others, key)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	var composers []*cursorComposer
	known := map[string]bool{}
	for _, id := range composerIDs {
		key := "composerData:" + id
		v, _, err := r.value(key)
		if err != nil {
			return err
		}
		c := cursorDecodeComposer(id, v)
		c.key = key
		composers = append(composers, c)
		known[id] = true
	}
	slices.SortStableFunc(composers, func(a, b *cursorComposer) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	for _, c := range composers {
		if err := r.composer(c, bubbles[c.id]); err != nil {
			return err
		}
	}
	// Bubbles whose composer is gone.
	var lost []string
	for cid := range bubbles {
		if !known[cid] {
			lost = append(lost, cid)
		}
	}
	slices.Sort(lost)
	for _, cid := range lost {
		for _, key := range bubbles[cid] {
			if err := r.bubbleKey(key, cid, "", false); err != nil {
				return err
			}
		}
	}
	for _, key := range others {
		v, _, err := r.value(key)
		if err != nil {
			return err
		}
		session := ""
		if _, rest, ok := strings.Cut(key, ":"); ok {
			if cid, _, _ := strings.Cut(rest, ":"); known[cid] {
				session = cid
			}
		}
		typ, _, _ := strings.Cut(key, ":")
		st := Step{Session: session, ID: key, Actor: ActorSystem, Type: typ, Unknown: true, Raw: v, Locator: key}
		if v == nil {
			st.Bad = "NULL value"
		}
		if err := r.send(st); err != nil {
			return err
		}
	}
	return nil
}

// cursorDecodeComposer reads a composerData value; a value it cannot read
// gives a composer with bad set, whose bubbles are still read.
func cursorDecodeComposer(id string, v []byte) *cursorComposer {
	c := &cursorComposer{id: id, raw: v}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil || m == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		c.bad = "composerData is not a JSON object: " + err.Error()
		return c
	}
	if s := geminiString(m["composerId"]); s != "" {
		c.id = s
	}
	c.name = geminiString(m["name"])
	c.created = cursorTime(m["createdAt"])
	c.mode = cursorMode(m["unifiedMode"])
	if c.mode == "" {
		c.mode = geminiString(m["forceMode"])
	}
	if c.mode == "" && string(m["isAgentic"]) == "true" {
		c.mode = "agent"
	}
	for _, h := range geminiObjects(m["fullConversationHeadersOnly"]) {
		if b := geminiString(h["bubbleId"]); b != "" {
			c.headers = append(c.headers, b)
		}
	}
	var inline []json.RawMessage
	if json.Unmarshal(m["conversation"], &inline) == nil {
		c.inline = inline
	}
	return c
}

func (r *cursorDB) composer(c *cursorComposer, keys []string) error {
	st := Step{Session: c.id, ID: c.key, Actor: ActorSystem, Type: "composerData", Time: c.created,
		Text: c.name, Raw: c.raw, Locator: c.key, Approval: Approval{Mode: c.mode}}
	if c.raw == nil {
		st.Bad = "NULL value"
	} else if c.bad != "" {
		st.Bad = c.bad
	}
	if err := r.send(st); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, k := range keys {
		have[k] = true
	}
	listed := map[string]bool{}
	for _, b := range c.headers {
		key := "bubbleId:" + c.id + ":" + b
		if listed[key] {
			continue
		}
		listed[key] = true
		if !have[key] {
			continue // listed, but not in the database
		}
		if err := r.bubbleKey(key, c.id, c.mode, false); err != nil {
			return err
		}
	}
	for i, raw := range c.inline {
		loc := fmt.Sprintf("%s conversation[%d]", c.key, i)
		b, err := cursorDecodeBubble(raw)
		var steps []Step
		if err != nil {
			steps = []Step{{ID: loc, Raw: c.raw, Locator: loc, Bad: "bubble: " + err.Error()}}
		} else {
			if b.ID == "" {
				b.ID = fmt.Sprintf("conversation.%d", i)
			}
			steps = cursorBubbleSteps(b, c.raw, loc, c.mode)
		}
		for _, st := range steps {
			st.Session = c.id
			if err := r.send(st); err != nil {
				return err
			}
		}
	}
	for _, key := range keys {
		if !listed[key] {
			if err := r.bubbleKey(key, c.id, c.mode, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// bubbleKey reads and emits one bubble. rewound marks a bubble its
// composer no longer lists.
func (r *cursorDB) bubbleKey(key, cid, mode string, rewound bool) error {
	v, _, err := r.value(key)
	if err != nil {
		return err
	}
	var steps []Step
	b, err := cursorDecodeBubble(v)
	switch {
	case v == nil:
		steps = []Step{{ID: key, Locator: key, Bad: "NULL value"}}
	case err != nil:
		steps = []Step{{ID: key, Raw: v, Locator: key, Bad: "bubble: " + err.Error()}}
	default:
		if b.ID == "" {
			b.ID = key[strings.LastIndexByte(key, ':')+1:]
		}
		steps = cursorBubbleSteps(b, v, key, mode)
	}
	for _, st := range steps {
		st.Session = cid
		st.Rewound = rewound
		if err := r.send(st); err != nil {
			return err
		}
	}
	return nil
}

// cursorBubble is what a bubble value says that the parser uses.
type cursorBubble struct {
	ID       string
	Type     int // 1 user, 2 AI
	Null     bool
	Text     string
	Created  time.Time
	Thinking string
	Mode     string
	Tool     *cursorTool
}

// cursorTool is a bubble's toolFormerData.
type cursorTool struct {
	Name     string
	CallID   string
	Input    string
	Args     map[string]json.RawMessage
	Status   string
	Decision string // userDecision as Cursor gives it
	Result   string
	Error    bool // additionalData.status error
}

// cursorToolNames names Cursor's client-side tools by number, for
// toolFormerData without a name.
var cursorToolNames = map[int]string{
	1: "read_semsearch_files", 3: "ripgrep_search", 5: "read_file", 6: "list_dir", 7: "edit_file",
	8: "file_search", 9: "semantic_search_full", 11: "delete_file", 12: "reapply", 15: "run_terminal_cmd",
	16: "fetch_rules", 18: "web_search", 19: "mcp", 38: "edit_file_v2", 39: "list_dir_v2",
	40: "read_file_v2", 41: "ripgrep_raw_search", 42: "glob_file_search",
}

// cursorDecodeBubble reads a bubble value (a JSON object; JSON null for a
// bubble Cursor cleared). Fields of an unexpected type are left empty.
func cursorDecodeBubble(raw []byte) (cursorBubble, error) {
	var b cursorBubble
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		b.Null = true
		return b, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return b, err
	}
	if m == nil {
		return b, errors.New("not a JSON object")
	}
	b.ID = geminiString(m["bubbleId"])
	if n, ok := cursorInt(m["type"]); ok {
		b.Type = n
	}
	b.Text = geminiString(m["text"])
	b.Created = cursorTime(m["createdAt"])
	var th map[string]json.RawMessage
	if json.Unmarshal(m["thinking"], &th) == nil && th != nil {
		b.Thinking = geminiString(th["text"])
	} else if s := geminiString(m["thinking"]); s != "" {
		b.Thinking = s
	}
	b.Mode = cursorMode(m["unifiedMode"])
	if b.Mode == "" && string(m["isAgentic"]) == "true" {
		b.Mode = "agent"
	}
	var tf map[string]json.RawMessage
	if json.Unmarshal(m["toolFormerData"], &tf) == nil && tf != nil {
		t := &cursorTool{
			Name:     geminiString(tf["name"]),
			CallID:   geminiString(tf["toolCallId"]),
			Status:   geminiString(tf["status"]),
			Decision: geminiString(tf["userDecision"]),
		}
		if t.Name == "" {
			if n, ok := cursorInt(tf["tool"]); ok {
				t.Name = cursorToolNames[n]
				if t.Name == "" {
					t.Name = "tool-" + strconv.Itoa(n)
				}
			} else if s := geminiString(tf["tool"]); s != "" {
				t.Name = s
			}
		}
		for _, k := range []string{"rawArgs", "params"} {
			v := tf[k]
			if s, ok := geminiStringOK(v); ok && s != "" {
				if t.Input == "" {
					t.Input = s
				}
				if t.Args == nil {
					_ = json.Unmarshal([]byte(s), &t.Args)
				}
			} else if geminiIsObject(v) {
				if t.Input == "" {
					t.Input = string(v)
				}
				if t.Args == nil {
					_ = json.Unmarshal(v, &t.Args)
				}
			}
		}
		if s, ok := geminiStringOK(tf["result"]); ok {
			t.Result = s
		} else if r := tf["result"]; len(r) > 0 && string(r) != "null" {
			t.Result = string(r)
		}
		var add map[string]json.RawMessage
		if json.Unmarshal(tf["additionalData"], &add) == nil && add != nil {
			t.Error = geminiString(add["status"]) == "error"
		}
		b.Tool = t
	}
	return b, nil
}

// cursorBubbleSteps gives a bubble's steps: its thinking, its text, and
// for a tool call a Call and a Result. mode is the composer's.
func cursorBubbleSteps(b cursorBubble, raw []byte, key, mode string) []Step {
	if b.Mode != "" {
		mode = b.Mode
	}
	base := Step{Format: FormatCursor, Type: "bubble", Time: b.Created, Raw: raw, Locator: key,
		Approval: Approval{Mode: mode}}
	id := b.ID
	if id == "" {
		id = key
	}
	if b.Null {
		st := base
		st.ID, st.Actor, st.Type, st.Unknown = id, ActorSystem, "bubble(null)", true
		return []Step{st}
	}
	actor, unknown := ActorSystem, false
	switch b.Type {
	case 1:
		actor = ActorUser
	case 2:
		actor = ActorAgent
	default:
		unknown = true
	}
	var steps []Step
	if b.Thinking != "" {
		st := base
		st.ID, st.Actor, st.Text, st.Thinking, st.Unknown = id+".thinking", ActorAgent, b.Thinking, true, unknown
		steps = append(steps, st)
	}
	if b.Text != "" || (b.Thinking == "" && b.Tool == nil) {
		st := base
		st.ID, st.Actor, st.Text, st.Unknown = id, actor, b.Text, unknown
		steps = append(steps, st)
	}
	if t := b.Tool; t != nil {
		decision := ""
		switch d := strings.ToLower(t.Decision); {
		case strings.HasPrefix(d, "accept"), strings.HasPrefix(d, "approve"), strings.HasPrefix(d, "allow"):
			decision = "approved"
		case strings.HasPrefix(d, "reject"), strings.HasPrefix(d, "den"), strings.HasPrefix(d, "decline"):
			decision = "rejected"
		}
		callID := t.CallID
		if callID == "" {
			callID = id
		}
		call := cursorCall(t)
		call.ID = callID
		st := base
		st.ID, st.Actor, st.Type, st.Call = id+".call", ActorAgent, "bubble/toolFormerData", call
		st.Approval.Decision = decision
		steps = append(steps, st)
		res := &Result{CallID: callID, IsError: t.Status == "error" || t.Error}
		res.Output, res.Error, res.ExitCode = cursorResultText(t.Result)
		st = base
		st.ID, st.Actor, st.Type, st.Result = id+".result", ActorTool, "bubble/toolFormerData.result", res
		st.Approval.Decision = decision
		steps = append(steps, st)
	}
	return steps
}

func cursorCall(t *cursorTool) *Call {
	c := &Call{Tool: t.Name, Input: t.Input}
	if t.Args == nil {
		return c
	}
	lower := strings.ToLower(t.Name)
	if cmd := geminiString(t.Args["command"]); cmd != "" && (strings.Contains(lower, "terminal") ||
		strings.Contains(lower, "shell") || strings.Contains(lower, "cmd") || strings.Contains(lower, "command")) {
		c.Command = cmd
	}
	for _, k := range []string{"target_file", "relative_workspace_path", "path", "file_path", "targetFile",
		"relativeWorkspacePath", "filePath", "target_directory", "target_notebook"} {
		if v := geminiString(t.Args[k]); v != "" {
			c.Path = v
			break
		}
	}
	c.URL = geminiString(t.Args["url"])
	if strings.Contains(lower, "search") || strings.Contains(lower, "grep") || strings.Contains(lower, "glob") ||
		strings.Contains(lower, "find") {
		for _, k := range []string{"pattern", "query", "regex", "glob_pattern", "globPattern", "search_term"} {
			if v := geminiString(t.Args[k]); v != "" {
				c.Pattern = v
				break
			}
		}
	}
	return c
}

// cursorResultText reads a tool's result: JSON with its output (output,
// contents, stdout and stderr), error and exit code, or plain text.
func cursorResultText(s string) (out, errText string, code *int) {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &m) != nil || m == nil {
		return s, "", nil
	}
	var parts []string
	for _, k := range []string{"output", "contents", "content", "stdout", "stderr", "result"} {
		if v := geminiString(m[k]); v != "" {
			parts = append(parts, v)
		}
	}
	out = strings.Join(parts, "\n")
	errText = geminiString(m["error"])
	for _, k := range []string{"exitCode", "exitCodeV2", "exit_code"} {
		if n, ok := cursorInt(m[k]); ok {
			code = &n
			break
		}
	}
	if out == "" && errText == "" && code == nil {
		out = s
	}
	return out, errText, code
}

// cursorMode names a unifiedMode: a name, or Cursor's number for it.
func cursorMode(raw json.RawMessage) string {
	if s := geminiString(raw); s != "" {
		return s
	}
	if n, ok := cursorInt(raw); ok {
		switch n {
		case 1:
			return "chat"
		case 2:
			return "agent"
		}
		return "mode " + strconv.Itoa(n)
	}
	return ""
}

func cursorInt(raw json.RawMessage) (int, bool) {
	var f float64
	if len(raw) == 0 || json.Unmarshal(raw, &f) != nil || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, false
	}
	return int(f), true
}

// cursorTime reads a time given as milliseconds since the epoch or as
// ISO 8601 text.
func cursorTime(raw json.RawMessage) time.Time {
	if s := geminiString(raw); s != "" {
		if t := geminiTime(raw); !t.IsZero() {
			return t
		}
		raw = json.RawMessage(s) // a number in quotes
	}
	var f float64
	if len(raw) == 0 || json.Unmarshal(raw, &f) != nil || f <= 0 || f > 1e14 {
		return time.Time{}
	}
	return time.UnixMilli(int64(f)).UTC()
}

// itemTable reads the chat keys of a workspace database's ItemTable, and
// no other key.
func (r *cursorDB) itemTable() error {
	keys := []string{"workbench.panel.aichat.view.aichat.chatdata", "aiService.prompts", "aiService.generations"}
	for _, key := range keys {
		var v []byte
		err := r.db.QueryRowContext(r.ctx, `SELECT value FROM ItemTable WHERE key = ?`, key).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		var steps []Step
		switch key {
		case keys[0]:
			steps = cursorChatData(v, key, r.session)
		case keys[1]:
			steps = cursorPrompts(v, key, r.session)
		default:
			steps = cursorGenerations(v, key, r.session)
		}
		for _, st := range steps {
			if err := r.send(st); err != nil {
				return err
			}
		}
	}
	return nil
}

// cursorChatData reads the old chat panel's tabs: each tab a session.
func cursorChatData(v []byte, key, fallback string) []Step {
	var doc struct {
		Tabs []json.RawMessage `json:"tabs"`
	}
	if err := json.Unmarshal(v, &doc); err != nil {
		return []Step{{Format: FormatCursor, Session: fallback, ID: key, Raw: v, Locator: key, Bad: "chat data: " + err.Error()}}
	}
	var steps []Step
	for i, rawTab := range doc.Tabs {
		var tab map[string]json.RawMessage
		if json.Unmarshal(rawTab, &tab) != nil || tab == nil {
			continue
		}
		session := geminiString(tab["tabId"])
		if session == "" {
			session = fmt.Sprintf("%s.tab%d", fallback, i)
		}
		for j, bub := range geminiObjects(tab["bubbles"]) {
			id := geminiString(bub["id"])
			if id == "" {
				id = fmt.Sprintf("bubble %d", j)
			}
			typ := geminiString(bub["type"])
			st := Step{Format: FormatCursor, Session: session, ID: id, Type: "aichat/" + typ, Raw: v,
				Locator: fmt.Sprintf("%s tabs[%d].bubbles[%d]", key, i, j)}
			st.Text = geminiString(bub["text"])
			if st.Text == "" {
				st.Text = geminiString(bub["rawText"])
			}
			switch typ {
			case "user":
				st.Actor = ActorUser
			case "ai":
				st.Actor = ActorAgent
			default:
				st.Actor, st.Unknown = ActorSystem, true
			}
			steps = append(steps, st)
		}
	}
	if len(steps) == 0 {
		steps = append(steps, Step{Format: FormatCursor, Session: fallback, ID: key, Actor: ActorSystem,
			Type: key, Raw: v, Locator: key, Text: "no chat tabs"})
	}
	return steps
}

// cursorPrompts reads aiService.prompts: what was typed, without times.
func cursorPrompts(v []byte, key, session string) []Step {
	var list []json.RawMessage
	if err := json.Unmarshal(v, &list); err != nil {
		return []Step{{Format: FormatCursor, Session: session, ID: key, Raw: v, Locator: key, Bad: "prompts: " + err.Error()}}
	}
	var steps []Step
	for i, e := range list {
		var p map[string]json.RawMessage
		_ = json.Unmarshal(e, &p)
		steps = append(steps, Step{Format: FormatCursor, Session: session, ID: fmt.Sprintf("prompt %d", i),
			Actor: ActorUser, Type: key, Text: geminiString(p["text"]), Raw: v,
			Locator: fmt.Sprintf("%s[%d]", key, i)})
	}
	return steps
}

// cursorGenerations reads aiService.generations: prompts with their times.
func cursorGenerations(v []byte, key, session string) []Step {
	var list []json.RawMessage
	if err := json.Unmarshal(v, &list); err != nil {
		return []Step{{Format: FormatCursor, Session: session, ID: key, Raw: v, Locator: key, Bad: "generations: " + err.Error()}}
	}
	var steps []Step
	for i, e := range list {
		var g map[string]json.RawMessage
		_ = json.Unmarshal(e, &g)
		id := "generation " + geminiString(g["generationUUID"])
		if id == "generation " {
			id = fmt.Sprintf("generation %d", i)
		}
		steps = append(steps, Step{Format: FormatCursor, Session: session, ID: id, Actor: ActorUser,
			Type: key + "/" + geminiString(g["type"]), Text: geminiString(g["textDescription"]),
			Time: cursorTime(g["unixMs"]), Raw: v, Locator: fmt.Sprintf("%s[%d]", key, i)})
	}
	return steps
}

// ---- Markdown exports ----

var (
	cursorRoleRe      = regexp.MustCompile(`^(?:\*\*(User|Cursor)\*\*|_\*\*([A-Za-z][A-Za-z ]{0,30}?)(?: \(([^)]*)\))?\*\*_)\s*$`)
	cursorStampRe     = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?Z?`)
	cursorRunningRe   = regexp.MustCompile("^\\s*(?:\\*\\*)?Running command:?(?:\\*\\*)?:?\\s*`*([^`]+?)`*\\s*$")
	cursorToolUseRe   = regexp.MustCompile(`^\s*<tool-use\b[^>]*\bdata-tool-name="([^"]*)"`)
	cursorToolTypeRe  = regexp.MustCompile(`\bdata-tool-type="([^"]*)"`)
	cursorSummaryRe   = regexp.MustCompile(`Tool use: \*\*([^*]+)\*\*`)
	cursorRunSummary  = regexp.MustCompile("Run command: `*([^`<]+?)`*\\s*(?:</summary>|$)")
	cursorInlineCode  = regexp.MustCompile("^\\s*`([^`]+)`\\s*$")
	cursorShellLangs  = map[string]bool{"shellscript": true, "bash": true, "sh": true, "shell": true, "zsh": true, "console": true, "powershell": true, "ps1": true, "pwsh": true, "cmd": true, "bat": true, "fish": true, "terminal": true}
	cursorOutputLangs = map[string]bool{"": true, "text": true, "output": true, "plaintext": true, "txt": true, "log": true}
)

type cursorLine struct {
	text  string // without its line end
	start int    // byte offset
	end   int    // byte offset after its line end
}

func cursorLines(data []byte) []cursorLine {
	var out []cursorLine
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], '\n')
		end := len(data)
		if i >= 0 {
			end = off + i + 1
		}
		t := strings.TrimSuffix(strings.TrimSuffix(string(data[off:end]), "\n"), "\r")
		out = append(out, cursorLine{text: t, start: off, end: end})
		off = end
	}
	return out
}

// cursorFence tells whether a line opens or closes a fenced block.
type cursorFence struct {
	open bool
	char byte
	n    int
	lang string
}

// Fences may be indented (a model's reply nests them in lists).
func (f *cursorFence) step(line string) (opened, closed bool) {
	t := strings.TrimLeft(line, " \t")
	if len(t) < 3 || (t[0] != '`' && t[0] != '~') {
		return false, false
	}
	c := t[0]
	n := 0
	for n < len(t) && t[n] == c {
		n++
	}
	if n < 3 {
		return false, false
	}
	if f.open {
		if c == f.char && n >= f.n && strings.TrimSpace(t[n:]) == "" {
			f.open = false
			return false, true
		}
		return false, false
	}
	info := strings.TrimSpace(t[n:])
	if c == '`' && strings.Contains(info, "`") {
		return false, false
	}
	lang, _, _ := strings.Cut(info, " ")
	f.open, f.char, f.n, f.lang = true, c, n, strings.ToLower(lang)
	return true, false
}

type cursorSection struct {
	role     string // "" for the header
	when     string
	known    bool
	from, to int // line indexes: [from, to)
}

// cursorParseMarkdown reads an exported chat.
func cursorParseMarkdown(ctx context.Context, path string, data []byte, emit func(Step) error) error {
	lines := cursorLines(data)
	var secs []cursorSection
	cur := cursorSection{}
	var fence cursorFence
	for i, l := range lines {
		if fence.open {
			fence.step(l.text)
			continue
		}
		if m := cursorRoleRe.FindStringSubmatch(l.text); m != nil {
			cur.to = i
			secs = append(secs, cur)
			role := m[1]
			if role == "" {
				role = m[2]
			}
			known := false
			switch role {
			case "User", "Cursor", "Assistant", "Agent":
				known = true
			}
			cur = cursorSection{role: role, when: m[3], known: known, from: i}
			continue
		}
		fence.step(l.text)
	}
	cur.to = len(lines)
	secs = append(secs, cur)

	header := secs[0]
	session, exported := "", ""
	headText := cursorJoin(lines, header.from, header.to)
	if m := cursorSpecStoryRe.FindStringSubmatch(headText); m != nil {
		session = m[1]
	}
	if m := cursorExportRe.FindStringSubmatch(headText); m != nil {
		exported = m[1]
	}
	if session == "" {
		sum := sha256.Sum256([]byte(filepath.Base(path) + "\n" + exported))
		session = "cursor-md-" + hex.EncodeToString(sum[:6])
	}
	send := func(st Step) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		st.Format, st.Session = FormatCursor, session
		cursorValidText(&st)
		return emit(st)
	}

	for n, sec := range secs {
		from, to := sec.from, cursorTrimEnd(lines, sec.from, sec.to)
		if from >= to {
			continue
		}
		raw := data[lines[from].start:lines[to-1].end]
		raw = bytes.TrimRight(raw, "\r\n")
		id := fmt.Sprintf("section %d", n)
		loc := fmt.Sprintf("line %d", from+1)
		if n == 0 {
			title := ""
			for _, l := range lines[from:to] {
				if strings.HasPrefix(l.text, "# ") {
					title = strings.TrimSpace(strings.TrimPrefix(l.text, "# "))
					break
				}
			}
			text := title
			if exported != "" {
				text = strings.TrimSpace(title + "\nexported on " + exported)
			}
			if err := send(Step{ID: id, Actor: ActorSystem, Type: "header", Text: text, Raw: raw, Locator: loc}); err != nil {
				return err
			}
			continue
		}
		st := Step{ID: id, Type: strings.ToLower(sec.role), Raw: raw, Locator: loc,
			Text: strings.TrimSpace(cursorJoin(lines, from+1, to))}
		if m := cursorStampRe.FindString(sec.when); m != "" {
			st.Time = cursorStamp(m)
		}
		switch {
		case !sec.known:
			st.Actor, st.Unknown = ActorSystem, true
		case sec.role == "User":
			st.Actor = ActorUser
		default:
			st.Actor = ActorAgent
		}
		if err := send(st); err != nil {
			return err
		}
		if st.Actor != ActorAgent {
			continue
		}
		for k, c := range cursorCalls(lines[from+1 : to]) {
			cid := fmt.Sprintf("%s.%d", id, k+1)
			call := c.call
			call.ID = cid
			cs := Step{ID: cid, Actor: ActorAgent, Type: c.typ, Time: st.Time, Call: &call, Raw: raw,
				Locator: fmt.Sprintf("line %d", from+2+c.line)}
			if err := send(cs); err != nil {
				return err
			}
			if c.output != nil {
				rs := Step{ID: cid + ".result", Actor: ActorTool, Type: c.typ + "/output", Time: st.Time,
					Result: &Result{CallID: cid, Output: *c.output}, Raw: raw, Locator: cs.Locator}
				if err := send(rs); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func cursorJoin(lines []cursorLine, from, to int) string {
	var b strings.Builder
	for i := from; i < to && i < len(lines); i++ {
		if i > from {
			b.WriteByte('\n')
		}
		b.WriteString(lines[i].text)
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// cursorTrimEnd drops a section's trailing blank lines and its closing
// --- separator.
func cursorTrimEnd(lines []cursorLine, from, to int) int {
	for to > from && strings.TrimSpace(lines[to-1].text) == "" {
		to--
	}
	if to > from+1 && strings.TrimSpace(lines[to-1].text) == "---" {
		to--
		for to > from && strings.TrimSpace(lines[to-1].text) == "" {
			to--
		}
	}
	return to
}

func cursorStamp(s string) time.Time {
	s = strings.Replace(strings.TrimSuffix(s, "Z"), " ", "T", 1)
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// cursorMDCall is a call seen in an agent's section.
type cursorMDCall struct {
	call   Call
	typ    string
	line   int // index in the section's body
	output *string
}

// cursorCalls finds the commands in an agent's section: fenced shell
// blocks, "Running command:" lines, and SpecStory tool-use blocks.
func cursorCalls(body []cursorLine) []cursorMDCall {
	var calls []cursorMDCall
	var fence cursorFence
	var block []string
	blockStart := 0
	var tool *cursorMDCall // inside a tool-use block
	closeTool := func() {
		if tool != nil {
			calls = append(calls, *tool)
			tool = nil
		}
	}
	for i, l := range body {
		if fence.open {
			if _, closed := fence.step(l.text); !closed {
				block = append(block, l.text)
				continue
			}
			content := strings.Join(block, "\n")
			switch {
			case tool != nil && cursorShellLangs[fence.lang] && tool.call.Command == "":
				tool.call.Command = content
				if tool.call.Input == "" {
					tool.call.Input = content
				}
			case tool != nil && cursorOutputLangs[fence.lang]:
				if tool.output == nil {
					out := content
					tool.output = &out
				} else {
					*tool.output += "\n" + content
				}
			case tool == nil && cursorShellLangs[fence.lang] && strings.TrimSpace(content) != "":
				calls = append(calls, cursorMDCall{call: Call{Tool: "shell", Command: content, Input: content},
					typ: "code/" + fence.lang, line: blockStart})
			}
			continue
		}
		if opened, _ := fence.step(l.text); opened {
			block, blockStart = nil, i
			continue
		}
		if m := cursorToolUseRe.FindStringSubmatch(l.text); m != nil {
			closeTool()
			tool = &cursorMDCall{call: Call{Tool: m[1]}, typ: "tool-use", line: i}
			if t := cursorToolTypeRe.FindStringSubmatch(l.text); t != nil {
				tool.typ = "tool-use/" + t[1]
			}
		} else if m := cursorSummaryRe.FindStringSubmatch(l.text); m != nil && tool == nil {
			tool = &cursorMDCall{call: Call{Tool: m[1]}, typ: "tool-use", line: i}
		}
		if tool != nil {
			if m := cursorRunSummary.FindStringSubmatch(l.text); m != nil && tool.call.Command == "" {
				tool.call.Command = strings.TrimSpace(m[1])
				tool.call.Input = tool.call.Command
			}
			if m := cursorInlineCode.FindStringSubmatch(l.text); m != nil {
				v := strings.TrimSpace(m[1])
				if strings.Contains(tool.typ, "shell") || strings.Contains(strings.ToLower(tool.call.Tool), "terminal") {
					if tool.call.Command == "" {
						tool.call.Command, tool.call.Input = v, v
					}
				} else if tool.call.Path == "" {
					tool.call.Path, tool.call.Input = v, v
				}
			}
			if strings.Contains(l.text, "</tool-use>") || (tool.typ == "tool-use" && strings.Contains(l.text, "</details>")) {
				closeTool()
			}
			continue
		}
		if m := cursorRunningRe.FindStringSubmatch(l.text); m != nil {
			cmd := strings.TrimSpace(m[1])
			calls = append(calls, cursorMDCall{call: Call{Tool: "shell", Command: cmd, Input: cmd}, typ: "running-command", line: i})
		}
	}
	closeTool()
	return calls
}
