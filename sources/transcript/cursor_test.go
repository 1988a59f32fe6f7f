package transcript

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The committed testdata/cursor/state.vscdb is written by
// TestCursorBuildFixture when the tests run with -update; the other tests
// read the committed file.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the committed test fixtures")
	}
}

func cursorUpdate() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	v, _ := strconv.ParseBool(f.Value.String())
	return v
}

const (
	cursorComposerA = "c0ffee01-7d2a-4f3e-9b1c-5a8e2d4f6b10"
	cursorComposerB = "c0ffee02-3b8e-4a51-8f0d-91c6e7a2d403"
	cursorFakeToken = "fake-cursor-access-token-never-read"
)

// cursorFixtureRows are the rows of the committed state.vscdb: two
// composers (one with its bubbles apart, one older with them inline), a
// command the person accepted and one they rejected, a thinking bubble, a
// switch from chat to agent mode, a bubble a restored checkpoint left
// behind, a key of a kind the parser does not know, and, in ItemTable, an
// old chat, prompts, and an access token the parser must not read.
func cursorFixtureRows() (kv, items [][2]string) {
	js := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	args := func(v any) string { return js(v) }
	a, b := cursorComposerA, cursorComposerB
	kv = [][2]string{
		{"composerData:" + a, js(map[string]any{
			"_v": 10, "composerId": a, "name": "Booking export times out",
			"createdAt": 1763463600000, "lastUpdatedAt": 1763464215000, "status": "completed",
			"unifiedMode": "agent", "forceMode": "edit", "isAgentic": true, "text": "",
			"modelConfig": map[string]any{"modelName": "claude-4.5-sonnet", "maxMode": false},
			"fullConversationHeadersOnly": []any{
				map[string]any{"bubbleId": "b1", "type": 1},
				map[string]any{"bubbleId": "b2", "type": 2, "serverBubbleId": "srv-b2"},
				map[string]any{"bubbleId": "b3", "type": 2},
				map[string]any{"bubbleId": "b4", "type": 1},
				map[string]any{"bubbleId": "b5", "type": 2},
				map[string]any{"bubbleId": "b6", "type": 2},
				map[string]any{"bubbleId": "b-missing", "type": 2},
				map[string]any{"bubbleId": "b7", "type": 2},
			},
			"conversationMap": map[string]any{},
		})},
		{"bubbleId:" + a + ":b1", js(map[string]any{"_v": 3, "type": 1, "bubbleId": "b1",
			"text": "Why does the booking export time out on production?", "createdAt": "2026-11-18T11:00:05.120Z",
			"unifiedMode": 1, "isAgentic": false, "requestId": "req-1"})},
		{"bubbleId:" + a + ":b2", js(map[string]any{"_v": 3, "type": 2, "bubbleId": "b2", "text": "",
			"thinking":  map[string]any{"text": "The export joins bookings and payments and filters on starts_at; without an index that is a sequential scan.", "signature": "sig-fake"},
			"createdAt": "2026-11-18T11:00:09.004Z", "unifiedMode": 1, "capabilityType": 30})},
		{"bubbleId:" + a + ":b3", js(map[string]any{"_v": 3, "type": 2, "bubbleId": "b3",
			"text":      "The export query scans bookings without an index on starts_at. I can add one on staging.",
			"createdAt": "2026-11-18T11:00:14.550Z", "unifiedMode": 1})},
		{"bubbleId:" + a + ":b4", js(map[string]any{"_v": 3, "type": 1, "bubbleId": "b4",
			"text": "Go ahead, switch to agent mode and add the index.", "createdAt": "2026-11-18T11:03:40.000Z",
			"unifiedMode": 2, "isAgentic": true})},
		{"bubbleId:" + a + ":b5", js(map[string]any{"_v": 3, "type": 2, "bubbleId": "b5", "text": "",
			"createdAt": "2026-11-18T11:03:52.310Z", "unifiedMode": 2, "capabilityType": 15,
			"toolFormerData": map[string]any{"tool": 15, "toolIndex": 0, "toolCallId": "toolu_01Hkayak0001",
				"name": "run_terminal_cmd", "status": "completed", "userDecision": "accepted",
				"rawArgs": args(map[string]any{"command": `psql "$STAGING_DATABASE_URL" -c 'CREATE INDEX CONCURRENTLY bookings_starts_at_idx ON bookings (starts_at)'`,
					"is_background": false, "explanation": "Add the index on staging"}),
				"params": args(map[string]any{"command": `psql "$STAGING_DATABASE_URL" -c 'CREATE INDEX CONCURRENTLY bookings_starts_at_idx ON bookings (starts_at)'`,
					"requireUserApproval": true}),
				"result":         args(map[string]any{"output": "CREATE INDEX\n", "exitCode": 0, "rejected": false}),
				"additionalData": map[string]any{"status": "success"}}})},
		{"bubbleId:" + a + ":b6", js(map[string]any{"_v": 3, "type": 2, "bubbleId": "b6", "text": "",
			"createdAt": "2026-11-18T11:04:30.777Z", "unifiedMode": 2, "capabilityType": 15,
			"toolFormerData": map[string]any{"tool": 15, "toolIndex": 0, "toolCallId": "toolu_01Hkayak0002",
				"name": "run_terminal_cmd", "status": "cancelled", "userDecision": "rejected",
				"rawArgs": args(map[string]any{"command": `psql "$PROD_DATABASE_URL" -c 'DROP TABLE bookings_archive'`,
					"is_background": false, "explanation": "Free space on production by dropping the archive table"}),
				"result": ""}})},
		{"bubbleId:" + a + ":b7", js(map[string]any{"_v": 3, "type": 2, "bubbleId": "b7",
			"text":      "Understood, I won't touch production. The staging index is in place.",
			"createdAt": "2026-11-18T11:05:02.000Z", "unifiedMode": 2})},
		// Left behind by a restored checkpoint: no header lists it.
		{"bubbleId:" + a + ":b9", js(map[string]any{"_v": 3, "type": 2, "bubbleId": "b9",
			"text":      "I'll also vacuum the production bookings table.",
			"createdAt": "2026-11-18T11:04:12.000Z", "unifiedMode": 2})},
		{"codeBlockDiff:" + a + ":d1e2f3a4", js(map[string]any{"newModelDiffWrtV0": []any{
			map[string]any{"original": map[string]any{"startLineNumber": 3, "endLineNumberExclusive": 3},
				"modified": []string{"CREATE INDEX bookings_starts_at_idx ON bookings (starts_at);"}}}})},
		{"composerData:" + b, js(map[string]any{
			"_v": 3, "composerId": b, "name": "Stripe webhook retries",
			"createdAt": 1763391600000, "lastUpdatedAt": 1763392200000, "unifiedMode": "chat",
			"conversation": []any{
				map[string]any{"bubbleId": "cb1", "type": 1, "text": "Where do we verify Stripe webhook signatures?",
					"createdAt": "2026-11-17T15:00:10.000Z"},
				map[string]any{"bubbleId": "cb2", "type": 2, "text": "", "createdAt": "2026-11-17T15:00:15.000Z",
					"toolFormerData": map[string]any{"tool": 3, "name": "grep_search", "status": "completed",
						"rawArgs": args(map[string]any{"query": "ConstructEvent", "include_pattern": "*.go",
							"explanation": "Find where webhooks are verified"}),
						"result": args(map[string]any{"output": "internal/stripe/webhook.go:42: event, err := webhook.ConstructEvent(body, sig, secret)"})}},
				map[string]any{"bubbleId": "cb3", "type": 2, "text": "", "createdAt": "2026-11-17T15:00:19.000Z",
					"toolFormerData": map[string]any{"tool": 5, "name": "read_file", "status": "error",
						"rawArgs":        args(map[string]any{"target_file": "config/.env.production", "should_read_entire_file": true}),
						"result":         args(map[string]any{"error": "File is blocked by .cursorignore"}),
						"additionalData": map[string]any{"status": "error"}}},
				map[string]any{"bubbleId": "cb4", "type": 2, "createdAt": "2026-11-17T15:00:31.000Z",
					"text": "Signatures are verified in internal/stripe/webhook.go with the secret from STRIPE_WEBHOOK_SECRET."},
			},
		})},
	}
	items = [][2]string{
		{"cursorAuth/accessToken", cursorFakeToken},
		{"aiService.prompts", js([]any{
			map[string]any{"text": "Why does the booking export time out on production?", "commandType": 4},
			map[string]any{"text": "Go ahead, switch to agent mode and add the index.", "commandType": 4},
		})},
		{"workbench.panel.aichat.view.aichat.chatdata", js(map[string]any{"tabs": []any{
			map[string]any{"tabId": "tab-4f1c0a", "chatTitle": "rake tasks", "lastSendTime": 1731916800000,
				"bubbles": []any{
					map[string]any{"type": "user", "id": "ob1", "text": "What does rake db:reset do?", "selections": []any{}},
					map[string]any{"type": "ai", "id": "ob2", "text": "It drops the database, recreates it and loads the schema and seeds.", "modelType": "gpt-4"},
				}}}})},
		{"workbench.view.extensions.state", `{"hidden":[]}`},
	}
	return kv, items
}

// cursorWriteDB writes a database of the fixture's shape.
func cursorWriteDB(t testing.TB, path string, kv, items [][2]string, pragmas ...string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	stmts := append(slices.Clone(pragmas),
		`CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)`,
		`CREATE TABLE cursorDiskKV (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)`)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(s, err)
		}
	}
	for _, r := range kv {
		var v any = []byte(r[1])
		if r[1] == "\x00NULL" {
			v = nil
		}
		if _, err := db.Exec(`INSERT INTO cursorDiskKV (key, value) VALUES (?, ?)`, r[0], v); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range items {
		if _, err := db.Exec(`INSERT INTO ItemTable (key, value) VALUES (?, ?)`, r[0], []byte(r[1])); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// TestCursorBuildFixture builds testdata/cursor/state.vscdb from
// cursorFixtureRows: with -update it rewrites the committed file, without
// it checks the committed file is what the rows build (the build is
// byte-for-byte reproducible).
func TestCursorBuildFixture(t *testing.T) {
	path := filepath.Join("testdata", "cursor", "state.vscdb")
	tmp := filepath.Join(t.TempDir(), "state.vscdb")
	kv, items := cursorFixtureRows()
	db := cursorWriteDB(t, tmp, kv, items)
	if _, err := db.Exec(`VACUUM`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if !cursorUpdate() {
		committed, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(committed, data) {
			t.Errorf("%s is not what cursorFixtureRows builds: run go test -run TestCursorBuildFixture -update ./sources/transcript/", path)
		}
		return
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func cursorCollect(t testing.TB, path string) []Step {
	t.Helper()
	var steps []Step
	err := CursorParser{}.Parse(context.Background(), path, func(s Step) error {
		steps = append(steps, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

func cursorFind(t testing.TB, steps []Step, id string) Step {
	t.Helper()
	for _, s := range steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step %q", id)
	return Step{}
}

func cursorFileSums(t testing.TB, path string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), filepath.Base(path)) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(path), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256.Sum256(b)
	}
	return out
}

func TestCursorSniff(t *testing.T) {
	dbHead, err := os.ReadFile(filepath.Join("testdata", "cursor", "state.vscdb"))
	if err != nil {
		t.Fatal(err)
	}
	mdHead, err := os.ReadFile(filepath.Join("testdata", "cursor", "chat-export.md"))
	if err != nil {
		t.Fatal(err)
	}
	plainDB := filepath.Join(t.TempDir(), "other.sqlite")
	db, err := sql.Open("sqlite", "file:"+plainDB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE bookings (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	plainHead, err := os.ReadFile(plainDB)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		path string
		head []byte
		want bool
	}{
		{"global storage db", "/home/m/.config/Cursor/User/globalStorage/state.vscdb", dbHead, true},
		{"copied db, other name", "/case/evidence/cursor-global.db", dbHead, true},
		{"name alone", "/x/workspaceStorage/ab12/state.vscdb", []byte("SQLite format 3\x00"), true},
		{"other sqlite", "/case/app.sqlite", plainHead, false},
		{"wal beside it", "/x/state.vscdb-wal", []byte("\x37\x7f\x06\x82"), false},
		{"export", "/case/cursor_fix_the_sync.md", mdHead, true},
		{"specstory cursor", "/r/.specstory/history/2026-11-18_10-00Z-x.md",
			[]byte("<!-- Generated by SpecStory, Markdown v2.1.0 -->\n\n# Sync\n\n<!-- Cursor Session 8a1b2c3d-0000-4000-8000-000000000001 (2026-11-18 10:00:00Z) -->\n\n_**User (2026-11-18 10:00:00Z)**_\n\nhi\n"), true},
		{"specstory claude code", "/r/.specstory/history/2026-11-18_10-00Z-y.md",
			[]byte("<!-- Generated by SpecStory, Markdown v2.1.0 -->\n\n# Sync\n\n<!-- Claude Code Session 8a1b2c3d-0000-4000-8000-000000000002 (2026-11-18 10:00:00Z) -->\n\n_**User (2026-11-18 10:00:00Z)**_\n\nhi\n"), false},
		{"aider history", "/r/.aider.chat.history.md", []byte("\n# aider chat started at 2026-11-18 14:04:02\n\n#### hi\n"), false},
		{"readme", "/r/README.md", []byte("# Cursor tips\n\nWe use Cursor (the editor).\n"), false},
		{"gemini log", "/g/chats/session-x.jsonl", []byte(`{"$set":{"approvalMode":"yolo"}}` + "\n"), false},
		{"export text not md", "/case/notes.txt", mdHead, false},
	} {
		if got := (CursorParser{}).Sniff(c.path, c.head); got != c.want {
			t.Errorf("%s: Sniff = %v, want %v", c.name, got, c.want)
		}
	}
}

// cursorSniffOwn checks that p claims the files of testdata/<dir> and no
// other format's.
func cursorSniffOwn(t *testing.T, p Parser, dir string) {
	t.Helper()
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "fuzz" {
				return filepath.SkipDir
			}
			return nil
		}
		head, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		head = head[:min(len(head), 64<<10)]
		want := strings.HasPrefix(filepath.ToSlash(path), "testdata/"+dir+"/")
		if got := p.Sniff(path, head); got != want {
			t.Errorf("%s Sniff(%s) = %v, want %v", p.Format(), path, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCursorSniffOwnFiles(t *testing.T) { cursorSniffOwn(t, CursorParser{}, "cursor") }

func TestCursorDatabase(t *testing.T) {
	// Parse a copy in a directory of its own: the test then sees any file
	// the parser might create beside it.
	dir := t.TempDir()
	path := filepath.Join(dir, "state.vscdb")
	data, err := os.ReadFile(filepath.Join("testdata", "cursor", "state.vscdb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o444); err != nil {
		t.Fatal(err)
	}
	before := cursorFileSums(t, path)
	steps := cursorCollect(t, path)
	if after := cursorFileSums(t, path); len(after) != 1 || after["state.vscdb"] != before["state.vscdb"] {
		t.Fatalf("the database or files beside it changed: %v", slices.Sorted(maps.Keys(after)))
	}

	a, b := cursorComposerA, cursorComposerB
	dbSession := "cursor-db-" + cursorPathHash(path)
	type want struct {
		session, id string
		actor       Actor
		mode        string
		decision    string
		rewound     bool
		unknown     bool
	}
	wants := []want{
		{b, "composerData:" + b, ActorSystem, "chat", "", false, false},
		{b, "cb1", ActorUser, "chat", "", false, false},
		{b, "cb2.call", ActorAgent, "chat", "", false, false},
		{b, "cb2.result", ActorTool, "chat", "", false, false},
		{b, "cb3.call", ActorAgent, "chat", "", false, false},
		{b, "cb3.result", ActorTool, "chat", "", false, false},
		{b, "cb4", ActorAgent, "chat", "", false, false},
		{a, "composerData:" + a, ActorSystem, "agent", "", false, false},
		{a, "b1", ActorUser, "chat", "", false, false},
		{a, "b2.thinking", ActorAgent, "chat", "", false, false},
		{a, "b3", ActorAgent, "chat", "", false, false},
		{a, "b4", ActorUser, "agent", "", false, false},
		{a, "b5.call", ActorAgent, "agent", "approved", false, false},
		{a, "b5.result", ActorTool, "agent", "approved", false, false},
		{a, "b6.call", ActorAgent, "agent", "rejected", false, false},
		{a, "b6.result", ActorTool, "agent", "rejected", false, false},
		{a, "b7", ActorAgent, "agent", "", false, false},
		{a, "b9", ActorAgent, "agent", "", true, false},
		{a, "codeBlockDiff:" + a + ":d1e2f3a4", ActorSystem, "", "", false, true},
		{"tab-4f1c0a", "ob1", ActorUser, "", "", false, false},
		{"tab-4f1c0a", "ob2", ActorAgent, "", "", false, false},
		{dbSession, "prompt 0", ActorUser, "", "", false, false},
		{dbSession, "prompt 1", ActorUser, "", "", false, false},
	}
	if len(steps) != len(wants) {
		for _, s := range steps {
			t.Logf("%s %s %s", s.Session, s.ID, s.Actor)
		}
		t.Fatalf("%d steps, want %d", len(steps), len(wants))
	}
	counts := map[Actor]int{}
	for i, w := range wants {
		s := steps[i]
		counts[s.Actor]++
		got := want{s.Session, s.ID, s.Actor, s.Approval.Mode, s.Approval.Decision, s.Rewound, s.Unknown}
		if got != w {
			t.Errorf("step %d = %+v, want %+v", i, got, w)
		}
		if s.Format != FormatCursor || len(s.Raw) == 0 || s.Bad != "" || s.Locator == "" {
			t.Errorf("step %s: format %q, %d raw bytes, bad %q, locator %q", s.ID, s.Format, len(s.Raw), s.Bad, s.Locator)
		}
		if bytes.Contains(s.Raw, []byte(cursorFakeToken)) || strings.Contains(s.Text, cursorFakeToken) {
			t.Errorf("step %s carries the access token", s.ID)
		}
	}

	if want := map[Actor]int{ActorUser: 6, ActorAgent: 10, ActorTool: 4, ActorSystem: 3}; !maps.Equal(counts, want) {
		t.Errorf("steps by actor %v, want %v", counts, want)
	}

	b5 := cursorFind(t, steps, "b5.call")
	if b5.Call.Tool != "run_terminal_cmd" || !strings.Contains(b5.Call.Command, "CREATE INDEX CONCURRENTLY") ||
		b5.Call.ID != "toolu_01Hkayak0001" || !strings.Contains(b5.Call.Input, `"is_background":false`) {
		t.Errorf("b5 call = %+v", b5.Call)
	}
	if b5.Locator != "bubbleId:"+a+":b5" || !json.Valid(b5.Raw) {
		t.Errorf("b5 locator %q, raw %q", b5.Locator, b5.Raw)
	}
	if want := time.Date(2026, 11, 18, 11, 3, 52, 310e6, time.UTC); !b5.Time.Equal(want) {
		t.Errorf("b5 time %v, want %v", b5.Time, want)
	}
	r5 := cursorFind(t, steps, "b5.result")
	if r5.Result.Output != "CREATE INDEX\n" || r5.Result.ExitCode == nil || *r5.Result.ExitCode != 0 ||
		r5.Result.IsError || r5.Result.CallID != "toolu_01Hkayak0001" {
		t.Errorf("b5 result = %+v", r5.Result)
	}
	if c := cursorFind(t, steps, "b6.call").Call; c.Command != `psql "$PROD_DATABASE_URL" -c 'DROP TABLE bookings_archive'` {
		t.Errorf("b6 command %q", c.Command)
	}
	if th := cursorFind(t, steps, "b2.thinking"); !th.Thinking || !strings.Contains(th.Text, "sequential scan") {
		t.Errorf("thinking step = %+v", th)
	}
	if c := cursorFind(t, steps, "cb2.call").Call; c.Tool != "grep_search" || c.Pattern != "ConstructEvent" {
		t.Errorf("grep call = %+v", c)
	}
	if c := cursorFind(t, steps, "cb3.call").Call; c.Tool != "read_file" || c.Path != "config/.env.production" {
		t.Errorf("read call = %+v", c)
	}
	if r := cursorFind(t, steps, "cb3.result").Result; !r.IsError || r.Error != "File is blocked by .cursorignore" {
		t.Errorf("read result = %+v", r)
	}
	if s := cursorFind(t, steps, "cb1"); s.Locator != "composerData:"+b+" conversation[0]" || s.Text == "" ||
		!s.Time.Equal(time.Date(2026, 11, 17, 15, 0, 10, 0, time.UTC)) {
		t.Errorf("inline bubble = %+v", s)
	}
	if s := cursorFind(t, steps, "composerData:"+a); s.Text != "Booking export times out" ||
		!s.Time.Equal(time.UnixMilli(1763463600000).UTC()) {
		t.Errorf("composer step = %+v", s)
	}

	// Re-reading gives the same IDs.
	again := cursorCollect(t, path)
	if len(again) != len(steps) {
		t.Fatalf("re-parse: %d steps, want %d", len(again), len(steps))
	}
	for i := range steps {
		if again[i].ID != steps[i].ID || again[i].Session != steps[i].Session {
			t.Errorf("re-parse step %d: %s/%s, want %s/%s", i, again[i].Session, again[i].ID, steps[i].Session, steps[i].ID)
		}
	}
}

// TestCursorCommittedFixtureUntouched parses the committed file where it
// lies and checks it is byte-identical afterwards with nothing beside it.
func TestCursorCommittedFixtureUntouched(t *testing.T) {
	path := filepath.Join("testdata", "cursor", "state.vscdb")
	before := cursorFileSums(t, path)
	cursorCollect(t, path)
	after := cursorFileSums(t, path)
	if len(after) != 1 || after["state.vscdb"] != before["state.vscdb"] {
		t.Fatalf("files beside the fixture after parsing: %d, changed: %v", len(after), after["state.vscdb"] != before["state.vscdb"])
	}
}

// TestCursorDatabaseWAL reads a database whose last writes are still in
// its WAL, with the writer still open, and changes neither file.
func TestCursorDatabaseWAL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.vscdb")
	kv := [][2]string{
		{"composerData:w1", `{"composerId":"w1","createdAt":1763463600000,"unifiedMode":"agent","fullConversationHeadersOnly":[{"bubbleId":"x1","type":1},{"bubbleId":"x2","type":2}]}`},
		{"bubbleId:w1:x1", `{"type":1,"bubbleId":"x1","text":"drop the old tables"}`},
	}
	db := cursorWriteDB(t, path, kv, nil, `PRAGMA journal_mode=WAL`, `PRAGMA wal_autocheckpoint=0`)
	defer db.Close()
	// Written after the last checkpoint: only in the WAL.
	if _, err := db.Exec(`INSERT INTO cursorDiskKV (key, value) VALUES (?, ?)`, "bubbleId:w1:x2",
		[]byte(`{"type":2,"bubbleId":"x2","toolFormerData":{"name":"run_terminal_cmd","rawArgs":"{\"command\":\"rm -rf ./data\"}","status":"completed","userDecision":"accepted"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("no WAL: %v", err)
	}
	before := cursorFileSums(t, path)
	steps := cursorCollect(t, path)
	after := cursorFileSums(t, path)
	if len(after) != len(before) {
		t.Errorf("files beside the database: %d before, %d after", len(before), len(after))
	}
	for name, sum := range before {
		if name == "state.vscdb-shm" {
			continue // the open writer's shared memory, not ours to compare
		}
		if after[name] != sum {
			t.Errorf("%s changed", name)
		}
	}
	c := cursorFind(t, steps, "x2.call")
	if c.Call.Command != "rm -rf ./data" || c.Approval.Decision != "approved" {
		t.Errorf("WAL bubble = %+v", c.Call)
	}
}

// TestCursorDatabaseWALWithoutSHM: a database copied off a machine with
// its WAL but not its -shm is still read, from the WAL too, and the copy
// handed to the parser stays as it was.
func TestCursorDatabaseWALWithoutSHM(t *testing.T) {
	live := filepath.Join(t.TempDir(), "state.vscdb")
	kv := [][2]string{{"composerData:w2", `{"composerId":"w2","fullConversationHeadersOnly":[{"bubbleId":"x1"}]}`}}
	db := cursorWriteDB(t, live, kv, nil, `PRAGMA journal_mode=WAL`, `PRAGMA wal_autocheckpoint=0`)
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO cursorDiskKV (key, value) VALUES (?, ?)`, "bubbleId:w2:x1",
		[]byte(`{"type":1,"bubbleId":"x1","text":"only in the WAL"}`)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "state.vscdb")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(live + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+suffix, b, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	before := cursorFileSums(t, path)
	steps := cursorCollect(t, path)
	if after := cursorFileSums(t, path); len(after) != 2 || after["state.vscdb"] != before["state.vscdb"] ||
		after["state.vscdb-wal"] != before["state.vscdb-wal"] {
		t.Errorf("files beside the database changed: %d files", len(after))
	}
	if s := cursorFind(t, steps, "x1"); s.Text != "only in the WAL" {
		t.Errorf("x1 = %+v", s)
	}
}

// TestCursorDatabaseMalformed: values that cannot be read give Bad steps
// and the rest is read.
func TestCursorDatabaseMalformed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.vscdb")
	kv := [][2]string{
		{"composerData:m1", `{"composerId":"m1","createdAt":1763463600000,"fullConversationHeadersOnly":[{"bubbleId":"y1"},{"bubbleId":"y2"},{"bubbleId":"y3"},{"bubbleId":"y4"},{"bubbleId":"y5"}]}`},
		{"bubbleId:m1:y1", `{"type":1,"bubbleId":"y1","text":"first"`},
		{"bubbleId:m1:y2", "\x00NULL"},
		{"bubbleId:m1:y3", `null`},
		{"bubbleId:m1:y4", `{"type":"two","bubbleId":7,"text":["x"],"toolFormerData":"oops"}`},
		{"bubbleId:m1:y5", `{"type":2,"bubbleId":"y5","text":"still read"}`},
		{"composerData:m2", `{"composerId":`},
		{"bubbleId:m2:z1", `{"type":1,"bubbleId":"z1","text":"orphan of an unreadable composer"}`},
	}
	db := cursorWriteDB(t, path, kv, [][2]string{{"aiService.prompts", `[{"text":`}})
	db.Close()
	steps := cursorCollect(t, path)
	var bad []string
	for _, s := range steps {
		if s.Format != FormatCursor || (len(s.Raw) == 0 && s.Bad == "") {
			t.Errorf("step %s: format %q, raw %d, bad %q", s.ID, s.Format, len(s.Raw), s.Bad)
		}
		if s.Bad != "" {
			bad = append(bad, s.ID)
		}
	}
	// m2 has no creation time it can read: it comes first.
	wantBad := []string{"composerData:m2", "bubbleId:m1:y1", "bubbleId:m1:y2", "aiService.prompts"}
	if !slices.Equal(bad, wantBad) {
		t.Errorf("bad steps %v, want %v", bad, wantBad)
	}
	if s := cursorFind(t, steps, "y5"); s.Text != "still read" || s.Session != "m1" {
		t.Errorf("y5 = %+v", s)
	}
	if s := cursorFind(t, steps, "y3"); !s.Unknown {
		t.Errorf("null bubble = %+v", s)
	}
	if s := cursorFind(t, steps, "y4"); !s.Unknown || s.Text != "" {
		t.Errorf("mistyped bubble = %+v", s)
	}
	if s := cursorFind(t, steps, "z1"); s.Session != "m2" || s.Text == "" {
		t.Errorf("bubble of the unreadable composer = %+v", s)
	}
}

func TestCursorNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.vscdb")
	if err := os.WriteFile(path, []byte("SQLite format 3\x00 but then nothing"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (CursorParser{}).Parse(context.Background(), path, func(Step) error { return nil }); err == nil {
		t.Fatal("a broken database parsed without an error")
	}
	if _, err := os.Stat(path + "-journal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal beside the file: %v", err)
	}
}

func TestCursorMarkdownExport(t *testing.T) {
	path := filepath.Join("testdata", "cursor", "chat-export.md")
	steps := cursorCollect(t, path)
	type want struct {
		id      string
		actor   Actor
		typ     string
		command string
	}
	wants := []want{
		{"section 0", ActorSystem, "header", ""},
		{"section 1", ActorUser, "user", ""},
		{"section 2", ActorAgent, "cursor", ""},
		{"section 2.1", ActorAgent, "code/shellscript", `journalctl -u booking-sync --since "2026-11-18 02:00" --no-pager | tail -n 50`},
		{"section 3", ActorUser, "user", ""},
		{"section 4", ActorAgent, "cursor", ""},
		{"section 4.1", ActorAgent, "running-command", "grep -n STRIPE_ .env.staging"},
		{"section 4.2", ActorAgent, "code/bash", "# check which key staging uses\ngrep -n STRIPE_ .env.staging"},
		{"section 5", ActorUser, "user", ""},
		{"section 6", ActorAgent, "cursor", ""},
		{"section 6.1", ActorAgent, "code/shellscript", `cd ~/fleet-api && STRIPE_KEY="$STRIPE_RESTRICTED_KEY" bin/booking-sync --since 2026-11-17 --dry-run`},
	}
	if len(steps) != len(wants) {
		for _, s := range steps {
			t.Logf("%s %s %q", s.ID, s.Actor, s.Text)
		}
		t.Fatalf("%d steps, want %d", len(steps), len(wants))
	}
	session := steps[0].Session
	if !strings.HasPrefix(session, "cursor-md-") {
		t.Errorf("session %q", session)
	}
	for i, w := range wants {
		s := steps[i]
		cmd := ""
		if s.Call != nil {
			cmd = s.Call.Command
			if s.Call.Tool != "shell" || s.Call.ID != s.ID {
				t.Errorf("%s: call %+v", s.ID, s.Call)
			}
		}
		if got := (want{s.ID, s.Actor, s.Type, cmd}); got != w {
			t.Errorf("step %d = %+v, want %+v", i, got, w)
		}
		if s.Session != session || s.Format != FormatCursor || len(s.Raw) == 0 || s.Bad != "" || s.Unknown || !s.Time.IsZero() {
			t.Errorf("%s: session %q format %q raw %d bad %q unknown %v time %v", s.ID, s.Session, s.Format, len(s.Raw), s.Bad, s.Unknown, s.Time)
		}
	}
	if h := steps[0]; h.Text != "Fix the nightly booking sync\nexported on 11/18/2026 at 14:22:07 GMT" || h.Locator != "line 1" {
		t.Errorf("header = %q at %q", h.Text, h.Locator)
	}
	if s := steps[9]; !strings.Contains(s.Text, "**User**\ndrop the staging database") || !strings.HasPrefix(string(s.Raw), "**Cursor**") ||
		strings.HasSuffix(string(s.Raw), "\n") {
		t.Errorf("last section text %q raw %q", s.Text, s.Raw)
	}
	if s := steps[3]; s.Locator != "line 16" {
		t.Errorf("call locator %q", s.Locator)
	}
	if s := steps[1]; string(s.Raw) != "**User**\n\nThe nightly booking sync from Stripe failed again. Can you check the logs on staging?" {
		t.Errorf("user raw %q", s.Raw)
	}
	// Re-reading gives the same session and IDs.
	again := cursorCollect(t, path)
	for i := range again {
		if again[i].ID != steps[i].ID || again[i].Session != session {
			t.Errorf("re-parse %d: %s/%s", i, again[i].Session, again[i].ID)
		}
	}
}

func TestCursorMarkdownSpecStory(t *testing.T) {
	doc := "<!-- Generated by SpecStory, Markdown v2.1.0 -->\n\n# 2026-11-18 10:00:00Z\n\n" +
		"<!-- Cursor Session 8a1b2c3d-0000-4000-8000-000000000001 (2026-11-18 10:00:00Z) -->\n\n" +
		"_**User (2026-11-18 10:00:00Z)**_\n\nclean the build cache\n\n---\n\n" +
		"_**Agent (claude-4.5-sonnet 2026-11-18 10:00:07Z)**_\n\n" +
		"<tool-use data-tool-type=\"shell\" data-tool-name=\"run_terminal_cmd\"><details>\n" +
		"<summary>Tool use: **run_terminal_cmd** • Run command: rm -rf ./build</summary>\n\n" +
		"```bash\nrm -rf ./build\n```\n\n```text\n\n```\n</details></tool-use>\n\n" +
		"<tool-use data-tool-type=\"read\" data-tool-name=\"read_file\"><details>\n" +
		"<summary>Tool use: **read_file**</summary>\n\n`./config/settings.yml`\n\n</details></tool-use>\n\n---\n\n" +
		"_**System (2026-11-18 10:00:09Z)**_\n\nsummarised\n"
	path := filepath.Join(t.TempDir(), "2026-11-18_10-00Z-clean.md")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if !(CursorParser{}).Sniff(path, []byte(doc)) {
		t.Fatal("Sniff refused a SpecStory capture of a Cursor session")
	}
	steps := cursorCollect(t, path)
	var ids []string
	for _, s := range steps {
		ids = append(ids, s.ID)
		if s.Session != "8a1b2c3d-0000-4000-8000-000000000001" {
			t.Errorf("%s: session %q", s.ID, s.Session)
		}
	}
	want := []string{"section 0", "section 1", "section 2", "section 2.1", "section 2.1.result", "section 2.2", "section 3"}
	if !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	if s := steps[1]; s.Actor != ActorUser || !s.Time.Equal(time.Date(2026, 11, 18, 10, 0, 0, 0, time.UTC)) || s.Text != "clean the build cache" {
		t.Errorf("user step = %+v", s)
	}
	if c := steps[3].Call; c.Tool != "run_terminal_cmd" || c.Command != "rm -rf ./build" {
		t.Errorf("shell tool-use = %+v", c)
	}
	if c := steps[5].Call; c.Tool != "read_file" || c.Path != "./config/settings.yml" || c.Command != "" {
		t.Errorf("read tool-use = %+v", c)
	}
	if s := steps[6]; !s.Unknown || s.Actor != ActorSystem || s.Type != "system" {
		t.Errorf("unknown role = %+v", s)
	}
}

// FuzzCursorMarkdownParse: no panic, and every step has its format and
// its bytes or a reason.
func FuzzCursorMarkdownParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "cursor", "chat-export.md")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("_Exported on x from Cursor (1)_\n**User**\n```bash\nls\n"))
	f.Add([]byte("_**Agent**_\n<tool-use data-tool-name=\"x\">\n```sh\n~~~\n```\n`a`\n</tool-use>\n---\n"))
	f.Add([]byte("**Cursor**\nRunning command: `rm -rf /`\n````\n```\n````\n"))
	dir := f.TempDir() // each fuzzing process runs its inputs one at a time
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(data, []byte(cursorSQLiteMagic)) {
			return
		}
		fuzzParse(t, CursorParser{}, filepath.Join(dir, "chat.md"), data)
	})
}

// FuzzCursorBubble: the bubble decoder on any value.
func FuzzCursorBubble(f *testing.F) {
	kv, _ := cursorFixtureRows()
	for _, r := range kv {
		if strings.HasPrefix(r[0], "bubbleId:") {
			f.Add([]byte(r[1]))
		}
	}
	f.Add([]byte(`null`))
	f.Add([]byte(`{"type":2,"toolFormerData":{"tool":15,"params":{"command":"ls"},"result":{"exitCode":1e300}}}`))
	f.Add([]byte(`{"type":1,"createdAt":"1763463600000","thinking":"x","unifiedMode":2.5}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := cursorDecodeBubble(data)
		if err != nil {
			return
		}
		steps := cursorBubbleSteps(b, data, "bubbleId:c:b", "agent")
		if len(steps) == 0 {
			t.Fatal("a bubble gave no step")
		}
		seen := map[string]bool{}
		for _, s := range steps {
			if s.Format != FormatCursor || len(s.Raw) != len(data) || s.ID == "" {
				t.Fatalf("step %+v", s)
			}
			if seen[s.ID] {
				t.Fatalf("step ID %q twice", s.ID)
			}
			seen[s.ID] = true
			if s.Call != nil && !strings.HasSuffix(s.ID, ".call") {
				t.Fatalf("call on %q", s.ID)
			}
		}
	})
}
