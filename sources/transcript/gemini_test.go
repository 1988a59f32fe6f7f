package transcript

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	geminiLogFixture = "testdata/gemini/session-2026-11-18T09-12-3f9a7c21.jsonl"
	geminiDocFixture = "testdata/gemini/session-2026-11-17T16-40-7be2d4a0.json"
)

func geminiCollect(t testing.TB, path string) []Step {
	t.Helper()
	var steps []Step
	err := GeminiParser{}.Parse(context.Background(), path, func(s Step) error {
		steps = append(steps, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

func geminiWrite(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func geminiStep(t testing.TB, steps []Step, id string) Step {
	t.Helper()
	for _, s := range steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step %q", id)
	return Step{}
}

func geminiIDs(steps []Step) []string {
	var ids []string
	for _, s := range steps {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestGeminiSniff(t *testing.T) {
	logHead, err := os.ReadFile(geminiLogFixture)
	if err != nil {
		t.Fatal(err)
	}
	docHead, err := os.ReadFile(geminiDocFixture)
	if err != nil {
		t.Fatal(err)
	}
	claude := `{"type":"summary","summary":"Fix bookings","leafUuid":"a1"}
{"parentUuid":null,"isSidechain":false,"userType":"external","cwd":"/srv/fleet-api","sessionId":"s1","version":"2.0.1","type":"user","message":{"role":"user","content":"hi"},"uuid":"u1","timestamp":"2026-11-18T09:00:00.000Z"}
`
	codex := `{"timestamp":"2026-11-18T09:00:00.000Z","type":"session_meta","payload":{"id":"c1","cwd":"/srv"}}
{"timestamp":"2026-11-18T09:00:01.000Z","type":"response_item","payload":{"type":"message","role":"user","content":[]}}
`
	for _, c := range []struct {
		name, path, head string
		want             bool
	}{
		{"log", "/h/.gemini/tmp/6b0e/chats/" + filepath.Base(geminiLogFixture), string(logHead), true},
		{"document", "/h/.gemini/tmp/6b0e/chats/" + filepath.Base(geminiDocFixture), string(docHead), true},
		{"document without projectHash", "/c/s.json", `{"sessionId":"x","messages":[{"id":"a","type":"gemini","content":"hi"}]}`, true},
		{"log of messages only", "/c/s.jsonl", `{"id":"a","timestamp":"2026-11-18T09:00:00Z","type":"user","content":"hi"}` + "\n", true},
		{"rewind only", "/c/s.jsonl", `{"$rewindTo":"a"}` + "\n", true},
		{"log under .json", "/c/s.json", `{"sessionId":"x","projectHash":"p"}` + "\n" + `{"$set":{"lastUpdated":"x"}}` + "\n", true},
		{"claude code", "/h/.claude/projects/fleet/s1.jsonl", claude, false},
		{"codex", "/h/.codex/sessions/2026/11/18/rollout.jsonl", codex, false},
		{"gemini telemetry log", "/h/.gemini/tmp/6b0e/logs.json", `[{"sessionId":"x","messageId":0,"type":"user","message":"hi"}]`, false},
		{"package.json", "/r/package.json", `{"name":"fleet","scripts":{"test":"jest"}}`, false},
		{"log content, other extension", "/c/s.txt", string(logHead), false},
		{"a messages document of another tool", "/c/chat.json", `{"sessionId":"x","messages":[{"role":"user","content":"hi"}]}`, false},
	} {
		if got := (GeminiParser{}).Sniff(c.path, []byte(c.head)); got != c.want {
			t.Errorf("%s: Sniff = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestGeminiSniffOwnFiles(t *testing.T) { cursorSniffOwn(t, GeminiParser{}, "gemini") }

type geminiWant struct {
	id       string
	actor    Actor
	typ      string
	mode     string
	decision string
	rewound  bool
	unknown  bool
}

func geminiCheck(t *testing.T, steps []Step, session string, byActor map[Actor]int, wants []geminiWant) {
	t.Helper()
	if len(steps) != len(wants) {
		for _, s := range steps {
			t.Logf("%s %s %s", s.ID, s.Actor, s.Type)
		}
		t.Fatalf("%d steps, want %d", len(steps), len(wants))
	}
	counts := map[Actor]int{}
	for i, w := range wants {
		s := steps[i]
		got := geminiWant{s.ID, s.Actor, s.Type, s.Approval.Mode, s.Approval.Decision, s.Rewound, s.Unknown}
		if got != w {
			t.Errorf("step %d = %+v, want %+v", i, got, w)
		}
		if s.Format != FormatGemini || s.Session != session || len(s.Raw) == 0 || s.Bad != "" || s.Locator == "" {
			t.Errorf("%s: format %q session %q raw %d bad %q locator %q", s.ID, s.Format, s.Session, len(s.Raw), s.Bad, s.Locator)
		}
		counts[s.Actor]++
	}
	if !maps.Equal(counts, byActor) {
		t.Errorf("steps by actor %v, want %v", counts, byActor)
	}
}

func TestGeminiLog(t *testing.T) {
	steps := geminiCollect(t, geminiLogFixture)
	const (
		shell1  = "run_shell_command-1763457166000-7f2a"
		read    = "read_file-1763457271000-c01d"
		drop    = "run_shell_command-1763457281000-d4e5"
		replace = "replace-1763457381000-0b9c"
		fetch   = "web_fetch-1763457422000-1a"
		search  = "search_file_content-1763457423000-2b"
	)
	geminiCheck(t, steps, "3f9a7c21-5d0e-4b8a-9c61-0f2e8d7b4a10",
		map[Actor]int{ActorUser: 5, ActorAgent: 11, ActorTool: 6, ActorSystem: 7}, []geminiWant{
			{"line 1", ActorSystem, "session", "", "", false, false},
			{"line 2", ActorSystem, "$set", "default", "", false, false},
			{"u1", ActorUser, "user", "default", "", false, false},
			{"g1:thought:0", ActorAgent, "gemini", "default", "", false, false},
			{"g1", ActorAgent, "gemini", "default", "", false, false},
			{"g1@5", ActorSystem, "gemini/update", "default", "", false, false},
			{shell1, ActorAgent, "gemini/toolCall", "default", "", false, false},
			{shell1 + ":result", ActorTool, "gemini/toolResult", "default", "", false, false},
			{"g2", ActorAgent, "gemini", "default", "", false, false},
			{"u2", ActorUser, "user", "default", "", true, false},
			{"line 9", ActorSystem, "$set", "yolo", "", false, false},
			{read, ActorAgent, "gemini/toolCall", "yolo", "", true, false},
			{read + ":result", ActorTool, "gemini/toolResult", "yolo", "", true, false},
			{"g4", ActorAgent, "gemini", "yolo", "", true, false},
			{drop, ActorAgent, "gemini/toolCall", "yolo", "rejected", true, false},
			{drop + ":result", ActorTool, "gemini/toolResult", "yolo", "rejected", true, false},
			{"u3", ActorUser, "user", "yolo", "", true, false},
			{"line 13", ActorUser, "$rewindTo", "yolo", "", false, false},
			{"u4", ActorUser, "user", "yolo", "", false, false},
			{"g5", ActorAgent, "gemini", "yolo", "", false, false},
			{replace, ActorAgent, "gemini/toolCall", "yolo", "", false, false},
			{replace + ":result", ActorTool, "gemini/toolResult", "yolo", "", false, false},
			{"line 16", ActorSystem, "$patch", "yolo", "", false, true},
			{fetch, ActorAgent, "gemini/toolCall", "yolo", "", false, false},
			{fetch + ":result", ActorTool, "gemini/toolResult", "yolo", "", false, false},
			{search, ActorAgent, "gemini/toolCall", "yolo", "", false, false},
			{search + ":result", ActorTool, "gemini/toolResult", "yolo", "", false, false},
			{"c1", ActorSystem, "compression", "yolo", "", false, true},
			{"line 19", ActorSystem, "$set", "yolo", "", false, false},
		})

	s := geminiStep(t, steps, shell1)
	if s.Call.Command != `psql "$STAGING_DATABASE_URL" -c '\d bookings'` || s.Call.Tool != "run_shell_command" ||
		s.Call.ID != shell1 || s.Call.Path != "" || !strings.HasPrefix(s.Call.Input, `{"command":`) {
		t.Errorf("shell call = %+v", s.Call)
	}
	if s.Locator != "line 6" || !strings.HasPrefix(string(s.Raw), `{"id":"g1",`) || !s.Time.Equal(time.Date(2026, 11, 18, 9, 12, 46, 530e6, time.UTC)) {
		t.Errorf("shell call at %q, %v, raw %.40q", s.Locator, s.Time, s.Raw)
	}
	r := geminiStep(t, steps, shell1+":result").Result
	if r.CallID != shell1 || r.ExitCode == nil || *r.ExitCode != 0 || !strings.Contains(r.Output, `Table "public.bookings"`) || r.IsError {
		t.Errorf("shell result = %+v", r)
	}
	if c := geminiStep(t, steps, read).Call; c.Path != "/srv/fleet-api/.env.production" || c.Command != "" {
		t.Errorf("read call = %+v", c)
	}
	if c := geminiStep(t, steps, drop).Call; c.Command != "dropdb --if-exists -h db.prod.harbor-kayak.example -U fleet fleet" {
		t.Errorf("drop call = %+v", c)
	}
	if c := geminiStep(t, steps, replace).Call; c.Path != "/srv/fleet-api/migrations/0042_add_boat_class.sql" {
		t.Errorf("replace call = %+v", c)
	}
	if c := geminiStep(t, steps, fetch).Call; c.URL != "https://www.postgresql.org/docs/current/sql-altertable.html" {
		t.Errorf("fetch call = %+v", c)
	}
	if c := geminiStep(t, steps, search).Call; c.Pattern != "boat_class" || c.Path != "migrations" {
		t.Errorf("search call = %+v", c)
	}
	if r := geminiStep(t, steps, search+":result").Result; !r.IsError || r.Error != "Path does not exist: migrations" {
		t.Errorf("search result = %+v", r)
	}
	if th := geminiStep(t, steps, "g1:thought:0"); !th.Thinking || th.Text != "Checking the schema: The migration adds boat_class; I should see whether the column exists." ||
		!th.Time.Equal(time.Date(2026, 11, 18, 9, 12, 43, 2e6, time.UTC)) {
		t.Errorf("thought = %+v", th)
	}
	if u := geminiStep(t, steps, "u1"); u.Text != "The bookings migration fails on staging. Find out why and fix it." || u.Locator != "line 3" {
		t.Errorf("u1 = %+v", u)
	}
	if rw := geminiStep(t, steps, "line 13"); rw.Text != "rewind to u2 (4 messages removed from the history)" || string(rw.Raw) != `{"$rewindTo":"u2"}` {
		t.Errorf("rewind step = %+v", rw)
	}
}

func TestGeminiDocument(t *testing.T) {
	steps := geminiCollect(t, geminiDocFixture)
	const m = "5a1e0c1b-2f4d-4c55-9a1e-61b3f0d2c00"
	geminiCheck(t, steps, "7be2d4a0-1c3f-4e96-8a5b-d2f07c9e1b38",
		map[Actor]int{ActorUser: 2, ActorAgent: 7, ActorTool: 3, ActorSystem: 5}, []geminiWant{
			{"line 1", ActorSystem, "session", "auto_edit", "", false, false},
			{m + "1", ActorUser, "user", "auto_edit", "", false, false},
			{m + "2:thought:0", ActorAgent, "gemini", "auto_edit", "", false, false},
			{m + "2:thought:1", ActorAgent, "gemini", "auto_edit", "", false, false},
			{"run_shell_command-1763397639000-aa11", ActorAgent, "gemini/toolCall", "auto_edit", "", false, false},
			{"run_shell_command-1763397639000-aa11:result", ActorTool, "gemini/toolResult", "auto_edit", "", false, false},
			{"read_file-1763397640000-bb22", ActorAgent, "gemini/toolCall", "auto_edit", "", false, false},
			{"read_file-1763397640000-bb22:result", ActorTool, "gemini/toolResult", "auto_edit", "", false, false},
			{m + "3", ActorAgent, "gemini", "auto_edit", "", false, false},
			{m + "4", ActorSystem, "error", "auto_edit", "", false, false},
			{m + "5", ActorSystem, "info", "auto_edit", "", false, false},
			{m + "6", ActorUser, "user", "auto_edit", "", false, false},
			{m + "7", ActorAgent, "gemini", "auto_edit", "", false, false},
			{"write_file-1763398040000-cc33", ActorAgent, "gemini/toolCall", "auto_edit", "rejected", false, false},
			{"write_file-1763398040000-cc33:result", ActorTool, "gemini/toolResult", "auto_edit", "rejected", false, false},
			{m + "8", ActorSystem, "warning", "auto_edit", "", false, false},
			{"session.tail", ActorSystem, "session", "auto_edit", "", false, false},
		})
	head := steps[0]
	if !head.Time.Equal(time.Date(2026, 11, 17, 16, 40, 11, 302e6, time.UTC)) || !strings.HasSuffix(string(head.Raw), `"messages": `) {
		t.Errorf("session step at %v, raw ends %q", head.Time, head.Raw[max(0, len(head.Raw)-20):])
	}
	u := geminiStep(t, steps, m+"1")
	if u.Text != "Why is the nightly backup job failing?" || u.Locator != "line 8" ||
		!strings.HasPrefix(string(u.Raw), "{\n      \"id\": \""+m+"1\"") || !strings.HasSuffix(string(u.Raw), "}") {
		t.Errorf("first message = %q at %q, raw %q", u.Text, u.Locator, u.Raw)
	}
	if r := geminiStep(t, steps, "run_shell_command-1763397639000-aa11:result").Result; r.ExitCode == nil || *r.ExitCode != 3 {
		t.Errorf("exit code of the shell result: %+v", r)
	}
	if c := geminiStep(t, steps, "read_file-1763397640000-bb22").Call; c.Path != "/etc/fleet/backup.env" {
		t.Errorf("read call = %+v", c)
	}
	if c := geminiStep(t, steps, "write_file-1763398040000-cc33").Call; c.Path != "/etc/fleet/backup.env" {
		t.Errorf("write call = %+v", c)
	}
	if tail := steps[len(steps)-1]; tail.Text != "fields after the messages: summary\nsummary: Nightly backup investigation" {
		t.Errorf("tail = %q", tail.Text)
	}
}

// TestGeminiStableIDs: IDs are unique in a session and the same on every
// reading.
func TestGeminiStableIDs(t *testing.T) {
	for _, path := range []string{geminiLogFixture, geminiDocFixture} {
		a, b := geminiCollect(t, path), geminiCollect(t, path)
		if !slices.Equal(geminiIDs(a), geminiIDs(b)) {
			t.Errorf("%s: IDs differ between readings", path)
		}
		seen := map[string]bool{}
		for _, s := range a {
			if seen[s.ID] {
				t.Errorf("%s: ID %q twice", path, s.ID)
			}
			seen[s.ID] = true
		}
	}
}

func TestGeminiMalformedLog(t *testing.T) {
	path := geminiWrite(t, "session-x.jsonl", `{"sessionId":"s-bad","projectHash":"p"}
{"id":"u1","timestamp":"2026-11-18T10:00:00Z","type":"user","content":"first"}
{"id":"g1","timestamp":
[1,2,3]
null

{"id":"g2","timestamp":"not a time","type":"gemini","content":"after the bad lines","toolCalls":"not a list","thoughts":[1,{"subject":"s"}]}
`+"\r\n")
	steps := geminiCollect(t, path)
	want := []string{"line 1", "u1", "line 3", "line 4", "line 5", "g2:thought:0", "g2"}
	if ids := geminiIDs(steps); !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	for _, i := range []int{2, 3, 4} {
		if steps[i].Bad == "" || len(steps[i].Raw) == 0 || steps[i].Format != FormatGemini || steps[i].Session != "s-bad" {
			t.Errorf("step %d = %+v", i, steps[i])
		}
	}
	if g2 := steps[6]; g2.Text != "after the bad lines" || !g2.Time.IsZero() || g2.Bad != "" {
		t.Errorf("g2 = %+v", g2)
	}
}

func TestGeminiTruncatedDocument(t *testing.T) {
	full, err := os.ReadFile(geminiDocFixture)
	if err != nil {
		t.Fatal(err)
	}
	// Cut inside the third message: the two before it are read.
	cut := strings.Index(string(full), `"id": "5a1e0c1b-2f4d-4c55-9a1e-61b3f0d2c003"`) + 10
	path := geminiWrite(t, "session-cut.json", string(full[:cut]))
	steps := geminiCollect(t, path)
	last := steps[len(steps)-1]
	if last.Bad == "" || !strings.HasPrefix(string(last.Raw), "{\n      \"id\": \"5a1") {
		t.Fatalf("last step = %+v", last)
	}
	if steps[0].Type != "session" || steps[0].Session != "7be2d4a0-1c3f-4e96-8a5b-d2f07c9e1b38" {
		t.Errorf("first step = %+v", steps[0])
	}
	if n := len(steps); n != 9 { // session, 1 user, 2 thoughts, 2 calls and their results, the bad rest
		t.Errorf("%d steps: %v", n, geminiIDs(steps))
	}

	for _, c := range []string{"", "   ", "[]", `{"sessionId": 5`, `{"messages": {"a": 1}}`, `{"messages": [1, "x"], "sessionId": "s"}`, "{}  {}"} {
		path := geminiWrite(t, "session-odd.json", c)
		var n int
		err := GeminiParser{}.Parse(context.Background(), path, func(s Step) error {
			n++
			if len(s.Raw) == 0 && s.Bad == "" {
				t.Errorf("%q: step %+v", c, s)
			}
			return nil
		})
		if err != nil {
			t.Errorf("%q: %v", c, err)
		}
	}
}

// TestGeminiUpdates: a message appended again gives steps only for what
// changed in it.
func TestGeminiUpdates(t *testing.T) {
	path := geminiWrite(t, "session-u.jsonl", `{"sessionId":"s-u","projectHash":"p"}
{"id":"g1","timestamp":"2026-11-18T10:00:00Z","type":"gemini","content":"Running it.","toolCalls":[{"id":"c1","name":"run_shell_command","args":{"command":"make migrate"},"status":"executing","timestamp":"2026-11-18T10:00:01Z"}]}
{"id":"g1","timestamp":"2026-11-18T10:00:00Z","type":"gemini","content":"Running it.","toolCalls":[{"id":"c1","name":"run_shell_command","args":{"command":"make migrate"},"status":"success","result":[{"functionResponse":{"id":"c1","name":"run_shell_command","response":{"output":"done"}}}],"timestamp":"2026-11-18T10:00:01Z"}]}
{"id":"g1","timestamp":"2026-11-18T10:00:00Z","type":"gemini","content":"Ran it: done.","toolCalls":[{"id":"c1","name":"run_shell_command","args":{"command":"make migrate"},"status":"success","result":[{"functionResponse":{"id":"c1","name":"run_shell_command","response":{"output":"done"}}}],"timestamp":"2026-11-18T10:00:01Z"},{"name":"read_file","args":{"file_path":"a.txt"}}]}
`)
	steps := geminiCollect(t, path)
	want := []string{"line 1", "g1", "c1", "c1:result", "g1@4", "g1:call:1"}
	if ids := geminiIDs(steps); !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	if steps[3].Locator != "line 3" || steps[3].Result.Output != "done" {
		t.Errorf("result = %+v", steps[3])
	}
	if steps[4].Text != "Ran it: done." || steps[4].Locator != "line 4" {
		t.Errorf("changed text = %+v", steps[4])
	}
}

// TestGeminiRewinds: a rewind to an id not in the history empties it, as
// Gemini CLI does; a checkpoint ($set with messages) replaces the history
// without marking what it drops; a message back after a rewind is new.
func TestGeminiRewinds(t *testing.T) {
	path := geminiWrite(t, "session-r.jsonl", `{"sessionId":"s-r","projectHash":"p"}
{"id":"u1","timestamp":"2026-11-18T10:00:00Z","type":"user","content":"one"}
{"id":"g1","timestamp":"2026-11-18T10:00:01Z","type":"gemini","content":"two"}
{"$set":{"messages":[{"id":"s1","timestamp":"2026-11-18T10:00:02Z","type":"user","content":"summary of one and two"},{"id":"g1","timestamp":"2026-11-18T10:00:01Z","type":"gemini","content":"two"}]}}
{"id":"u2","timestamp":"2026-11-18T10:00:03Z","type":"user","content":"three"}
{"$rewindTo":"g1"}
{"id":"g1","timestamp":"2026-11-18T10:00:04Z","type":"gemini","content":"two"}
{"$rewindTo":"nowhere"}
{"id":"u3","timestamp":"2026-11-18T10:00:05Z","type":"user","content":"four"}
`)
	steps := geminiCollect(t, path)
	got := map[string]bool{}
	for _, s := range steps {
		got[s.ID] = s.Rewound
	}
	want := map[string]bool{
		"line 1": false, "u1": false, "g1": true, "line 4": false, "s1": true, "u2": true,
		"line 6": false, "g1@7": true, "line 8": false, "u3": false,
	}
	if len(got) != len(want) {
		t.Fatalf("steps %v", geminiIDs(steps))
	}
	for id, w := range want {
		if r, ok := got[id]; !ok || r != w {
			t.Errorf("%s: rewound %v (present %v), want %v", id, r, ok, w)
		}
	}
}

// FuzzGeminiParse: no panic; every step has its format, its bytes or a
// reason, a session, and an ID no other step of the file has.
func FuzzGeminiParse(f *testing.F) {
	for _, p := range []string{geminiLogFixture, geminiDocFixture} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, strings.HasSuffix(p, ".jsonl"))
		}
	}
	f.Add([]byte(`{"id":"a","type":"gemini","toolCalls":[{"args":{"command":1}}]}`+"\n"+`{"$rewindTo":"a"}`), true)
	f.Add([]byte(`{"messages":[{"id":"a"},{"id":"a"}],"sessionId":""}`), false)
	f.Add([]byte(`{"$set":{"messages":[{"id":"x"},{"id":"x"}]}}`+"\n"+`{"id":"x"}`+"\n"+`{"$rewindTo":"x"}`), true)
	dir := f.TempDir() // each fuzzing process runs its inputs one at a time
	f.Fuzz(func(t *testing.T, data []byte, log bool) {
		name := "session-f.json"
		if log {
			name += "l"
		}
		for _, s := range fuzzParse(t, GeminiParser{}, filepath.Join(dir, name), data) {
			if s.Session == "" {
				t.Fatalf("step without session: %+v", s)
			}
		}
	})
}
