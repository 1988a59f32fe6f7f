package transcript

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	claudeTestSession = "7c0e5a2d-3b1f-4e8a-9d6c-2f4b8a1e5c93"
	claudeTestFile    = "testdata/claude/session.jsonl"
	claudeTestAgent   = "testdata/claude/" + claudeTestSession + "/subagents/agent-a3f9c1e.jsonl"
)

// claudeUUID is the uuid of the n-th record of the test session
// (testdata/claude/session.jsonl numbers them in order).
func claudeUUID(n int) string {
	return fmt.Sprintf("%08x-1111-4aaa-8bbb-%012x", 0x5e000000+n, 0xc0ffee000000+n)
}

// claudeCollect parses a file and returns its steps.
func claudeCollect(t testing.TB, path string) []Step {
	t.Helper()
	var steps []Step
	err := ClaudeParser{}.Parse(context.Background(), path, func(s Step) error {
		steps = append(steps, s)
		return nil
	})
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	return steps
}

// claudeWriteTemp writes lines as a JSONL file and returns its path.
func claudeWriteTemp(t testing.TB, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func claudeByID(steps []Step) map[string]Step {
	m := make(map[string]Step, len(steps))
	for _, s := range steps {
		m[s.ID] = s
	}
	return m
}

func claudeTS(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// claudeCheckWellFormed checks what holds for every step of a file read
// without errors: no Bad, the format, the raw line, a unique ID.
func claudeCheckWellFormed(t *testing.T, steps []Step, format string) {
	t.Helper()
	ids := map[string]bool{}
	for _, s := range steps {
		if s.Bad != "" {
			t.Errorf("%s: Bad %q", s.Locator, s.Bad)
		}
		if s.Format != format {
			t.Errorf("%s: Format %q", s.Locator, s.Format)
		}
		if len(s.Raw) == 0 || s.Raw[0] != '{' || s.Raw[len(s.Raw)-1] != '}' {
			t.Errorf("%s: Raw %.40q is not the record's line", s.Locator, s.Raw)
		}
		if s.ID == "" || ids[s.ID] {
			t.Errorf("%s: ID %q empty or repeated", s.Locator, s.ID)
		}
		ids[s.ID] = true
		if !strings.HasPrefix(s.Locator, "line ") {
			t.Errorf("Locator %q", s.Locator)
		}
		if !s.Time.IsZero() && s.Time.Location() != time.UTC {
			t.Errorf("%s: Time %v not UTC", s.Locator, s.Time)
		}
	}
}

func TestClaudeParseSession(t *testing.T) {
	steps := claudeCollect(t, claudeTestFile)
	claudeCheckWellFormed(t, steps, FormatClaude)

	// 25 records; four of them hold two or three blocks.
	if len(steps) != 30 {
		t.Fatalf("%d steps, want 30", len(steps))
	}
	actors := map[Actor]int{}
	var unknown []string
	for _, s := range steps {
		actors[s.Actor]++
		if s.Session != claudeTestSession {
			t.Errorf("%s: Session %q", s.ID, s.Session)
		}
		if s.Sidechain {
			t.Errorf("%s: Sidechain in the main session", s.ID)
		}
		if s.Unknown {
			unknown = append(unknown, s.Type)
		}
	}
	wantActors := map[Actor]int{ActorUser: 3, ActorAgent: 15, ActorTool: 8, ActorSystem: 4}
	for a, n := range wantActors {
		if actors[a] != n {
			t.Errorf("%d steps by %s, want %d (all: %v)", actors[a], a, n, actors)
		}
	}
	if strings.Join(unknown, ",") != "file-history-snapshot,progress" {
		t.Errorf("unknown steps %v", unknown)
	}

	byID := claudeByID(steps)
	u := claudeUUID
	type want struct {
		id, parent     string
		actor          Actor
		typ            string
		time           string
		text           string // prefix
		thinking       bool
		tool, command  string
		path, pattern  string
		callID         string
		exit           *int
		isError        bool
		mode, decision string
		unknown        bool
	}
	one, zero := 1, 0
	cases := []want{
		{id: "summary:" + u(21), actor: ActorSystem, typ: "summary", text: "Fix flaky migration lock"},
		{id: "line 2", actor: ActorSystem, typ: "file-history-snapshot", unknown: true},
		{id: u(1), actor: ActorUser, typ: "user", time: "2026-03-09T09:12:04.118Z", text: "The migrate step on staging hangs", mode: "default"},
		{id: u(2), parent: u(1), actor: ActorAgent, typ: "assistant", time: "2026-03-09T09:12:09.551Z", thinking: true, text: "The lock is probably never released", mode: "default"},
		{id: u(2) + ".1", parent: u(2), actor: ActorAgent, text: "I'll start by running", mode: "default"},
		{id: u(2) + ".2", parent: u(2) + ".1", actor: ActorAgent, tool: "Bash", command: "go test ./internal/migrate/... 2>&1 | tail -20", mode: "default"},
		{id: u(3), parent: u(2), actor: ActorTool, callID: "toolu_01Fq7bK2mWzXoJ4nR8sLtY3e", exit: &one, isError: true, text: "", mode: "default"},
		{id: u(4), parent: u(3), actor: ActorAgent, tool: "Read", path: "/home/marta/src/ferrovia-api/internal/migrate/lock.go"},
		{id: u(5), parent: u(4), actor: ActorTool, callID: "toolu_01Ab3dE5fG7hJ9kL1mN3pQ5r"},
		{id: u(6), actor: ActorAgent, tool: "Grep", path: "/home/marta/src/ferrovia-api/internal", pattern: "pg_advisory_(un)?lock"},
		{id: u(8) + ".1", parent: u(8), actor: ActorAgent, tool: "Edit", path: "/home/marta/src/ferrovia-api/internal/migrate/lock.go"},
		{id: u(11), actor: ActorTool, callID: "toolu_01Gh9iJ1kL3mN5oP7qR9sT1u", exit: &zero, mode: "default"},
		{id: u(12) + ".1", actor: ActorAgent, tool: "Bash", command: `psql "$STAGING_DATABASE_URL" -c 'DROP TABLE schema_migrations_lock;'`, mode: "default"},
		// The refusal.
		{id: u(13), parent: u(12), actor: ActorTool, callID: "toolu_01Ij1kL3mN5oP7qR9sT1uV3w", isError: true, mode: "default", decision: "rejected"},
		{id: u(14), parent: u(13), actor: ActorUser, text: "[Request interrupted by user for tool use]", mode: "default"},
		// The escalation: bypassPermissions from this prompt on.
		{id: u(15), parent: u(14), actor: ActorUser, text: "Never drop tables.", mode: "bypassPermissions"},
		// The branch: two answers to the same prompt.
		{id: u(16), parent: u(15), actor: ActorAgent, text: "Understood. I'll look", mode: "bypassPermissions"},
		{id: u(17), parent: u(15), actor: ActorAgent, text: "Understood, no DROP.", mode: "bypassPermissions"},
		{id: u(17) + ".1", parent: u(17), actor: ActorAgent, tool: "Bash", command: "./scripts/release-migration-lock.sh --env staging", mode: "bypassPermissions"},
		{id: u(18), parent: u(17), actor: ActorTool, exit: &zero, mode: "bypassPermissions"},
		{id: u(19), actor: ActorAgent, tool: "Task"},
		{id: u(20), parent: u(19), actor: ActorTool, text: "", callID: "toolu_01Mn5oP7qR9sT1uV3wX5yZ7a"},
		{id: u(23), parent: u(20), actor: ActorSystem, typ: "progress", unknown: true, mode: "bypassPermissions"},
		{id: u(22), parent: u(21), actor: ActorSystem, typ: "system/turn_duration", time: "2026-03-09T09:15:48.120Z"},
	}
	for _, c := range cases {
		s, ok := byID[c.id]
		if !ok {
			t.Errorf("no step %s", c.id)
			continue
		}
		if s.Parent != c.parent && (c.parent != "" || c.id == u(1)) {
			t.Errorf("%s: Parent %q, want %q", c.id, s.Parent, c.parent)
		}
		if s.Actor != c.actor {
			t.Errorf("%s: Actor %s, want %s", c.id, s.Actor, c.actor)
		}
		if c.typ != "" && s.Type != c.typ {
			t.Errorf("%s: Type %q, want %q", c.id, s.Type, c.typ)
		}
		if c.time != "" && !s.Time.Equal(claudeTS(t, c.time)) {
			t.Errorf("%s: Time %v, want %s", c.id, s.Time, c.time)
		}
		if c.text != "" && !strings.HasPrefix(s.Text, c.text) {
			t.Errorf("%s: Text %.60q, want %q…", c.id, s.Text, c.text)
		}
		if s.Thinking != c.thinking {
			t.Errorf("%s: Thinking %v", c.id, s.Thinking)
		}
		if s.Unknown != c.unknown {
			t.Errorf("%s: Unknown %v", c.id, s.Unknown)
		}
		if c.mode != "" && s.Approval.Mode != c.mode {
			t.Errorf("%s: Approval.Mode %q, want %q", c.id, s.Approval.Mode, c.mode)
		}
		if s.Approval.Decision != c.decision {
			t.Errorf("%s: Approval.Decision %q, want %q", c.id, s.Approval.Decision, c.decision)
		}
		if (c.tool != "") != (s.Call != nil) {
			t.Errorf("%s: Call %+v, want tool %q", c.id, s.Call, c.tool)
		} else if s.Call != nil {
			cl := s.Call
			if cl.Tool != c.tool || cl.Command != c.command || cl.Path != c.path || cl.Pattern != c.pattern {
				t.Errorf("%s: Call %s %q %q %q, want %s %q %q %q", c.id, cl.Tool, cl.Command, cl.Path, cl.Pattern, c.tool, c.command, c.path, c.pattern)
			}
			if !json.Valid([]byte(cl.Input)) || !strings.HasPrefix(cl.ID, "toolu_") {
				t.Errorf("%s: Call ID %q, Input %q", c.id, cl.ID, cl.Input)
			}
		}
		if (c.actor == ActorTool) != (s.Result != nil) {
			t.Errorf("%s: Result %+v", c.id, s.Result)
		} else if r := s.Result; r != nil {
			if c.callID != "" && r.CallID != c.callID {
				t.Errorf("%s: CallID %q, want %q", c.id, r.CallID, c.callID)
			}
			if (r.ExitCode == nil) != (c.exit == nil) || r.ExitCode != nil && *r.ExitCode != *c.exit {
				t.Errorf("%s: ExitCode %v, want %v", c.id, r.ExitCode, c.exit)
			}
			if r.IsError != c.isError {
				t.Errorf("%s: IsError %v", c.id, r.IsError)
			}
			if r.Output == "" {
				t.Errorf("%s: no Output", c.id)
			}
		}
	}

	// Every step before the escalation is in default mode, every one after
	// in bypassPermissions; the summary and snapshot come before any mode.
	seenBypass := false
	for i, s := range steps {
		switch {
		case i < 2:
			if s.Approval.Mode != "" {
				t.Errorf("%s: mode %q before any was set", s.ID, s.Approval.Mode)
			}
		case s.ID == u(15):
			seenBypass = true
			fallthrough
		case seenBypass:
			if s.Approval.Mode != "bypassPermissions" {
				t.Errorf("%s: mode %q after the escalation", s.ID, s.Approval.Mode)
			}
		default:
			if s.Approval.Mode != "default" {
				t.Errorf("%s: mode %q before the escalation", s.ID, s.Approval.Mode)
			}
		}
		if s.Cwd != "" && s.Cwd != "/home/marta/src/ferrovia-api" || s.GitBranch != "" && s.GitBranch != "fix/migration-lock" {
			t.Errorf("%s: Cwd %q GitBranch %q", s.ID, s.Cwd, s.GitBranch)
		}
	}

	// The records of one line share their Raw.
	if !bytes.Equal(byID[u(2)].Raw, byID[u(2)+".2"].Raw) {
		t.Error("blocks of one record do not share Raw")
	}
	// The failed test run's output and exit code.
	if out := byID[u(3)].Result.Output; !strings.Contains(out, "--- FAIL: TestLockReleasedOnError") {
		t.Errorf("output %q", out)
	}
}

func TestClaudeParseSubagent(t *testing.T) {
	steps := claudeCollect(t, claudeTestAgent)
	claudeCheckWellFormed(t, steps, FormatClaude)
	if len(steps) != 6 {
		t.Fatalf("%d steps, want 6", len(steps))
	}
	actors := map[Actor]int{}
	for _, s := range steps {
		actors[s.Actor]++
		if !s.Sidechain {
			t.Errorf("%s: not a sidechain step", s.ID)
		}
		if s.Session != claudeTestSession {
			t.Errorf("%s: Session %q, want the parent session", s.ID, s.Session)
		}
	}
	if actors[ActorUser] != 1 || actors[ActorAgent] != 3 || actors[ActorTool] != 2 {
		t.Errorf("actors %v", actors)
	}
	if c := steps[1].Call; c == nil || c.Tool != "Grep" || c.Pattern != "pg_(try_)?advisory_lock" || c.Path != "/home/marta/src/ferrovia-api" {
		t.Errorf("Grep call %+v", c)
	}
	if steps[1].Parent != steps[0].ID || steps[0].Parent != "" {
		t.Errorf("parents %q %q", steps[0].Parent, steps[1].Parent)
	}
}

func TestClaudeParseStable(t *testing.T) {
	for _, path := range []string{claudeTestFile, claudeTestAgent} {
		a, b := claudeCollect(t, path), claudeCollect(t, path)
		if len(a) != len(b) {
			t.Fatalf("%s: %d then %d steps", path, len(a), len(b))
		}
		for i := range a {
			if a[i].ID != b[i].ID || a[i].Parent != b[i].Parent || a[i].Session != b[i].Session {
				t.Errorf("%s: step %d: %s/%s then %s/%s", path, i, a[i].ID, a[i].Parent, b[i].ID, b[i].Parent)
			}
		}
	}
}

// TestClaudeParseScenario reads the committed incident scenario: the agent
// deleted the production volume with a curl to the provider's GraphQL API.
func TestClaudeParseScenario(t *testing.T) {
	files, err := filepath.Glob("../../fixtures/scenario/transcripts/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario transcripts: %v", err)
	}
	var found *Step
	for _, f := range files {
		head := make([]byte, 64<<10)
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := fh.Read(head)
		fh.Close()
		if !(ClaudeParser{}).Sniff(f, head[:n]) || (CodexParser{}).Sniff(f, head[:n]) {
			t.Errorf("%s: not sniffed as Claude Code alone", f)
		}
		steps := claudeCollect(t, f)
		claudeCheckWellFormed(t, steps, FormatClaude)
		session := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		for i := range steps {
			s := &steps[i]
			if s.Session != session {
				t.Errorf("%s: Session %q", s.ID, s.Session)
			}
			if s.Approval.Mode != "bypassPermissions" && s.Type != "summary" {
				t.Errorf("%s: mode %q", s.ID, s.Approval.Mode)
			}
			if s.Call != nil && strings.Contains(s.Call.Command, "volumeDelete") && strings.Contains(s.Call.Command, "curl") {
				if found != nil {
					t.Errorf("two volumeDelete calls: %s and %s", found.ID, s.ID)
				}
				found = s
			}
		}
	}
	if found == nil {
		t.Fatal("no curl call with the volumeDelete mutation")
	}
	if found.Call.Tool != "Bash" || found.Actor != ActorAgent {
		t.Errorf("volumeDelete call: %s by %s", found.Call.Tool, found.Actor)
	}
	if want := claudeTS(t, "2026-11-18T14:28:32.878Z"); !found.Time.Equal(want) {
		t.Errorf("volumeDelete call at %v, want %v", found.Time, want)
	}
	if found.Approval.Mode != "bypassPermissions" || found.Approval.Decision != "" {
		t.Errorf("volumeDelete approval %+v", found.Approval)
	}
	if !strings.Contains(found.Call.Command, "https://backboard.cloudrail.example/graphql/v2") {
		t.Errorf("command %q", found.Call.Command)
	}
}

func TestClaudeParseMalformed(t *testing.T) {
	good := `{"type":"user","uuid":"u-2","parentUuid":null,"sessionId":"s-1","timestamp":"2026-01-02T03:04:05.006Z","message":{"role":"user","content":"still here"}}`
	lines := []string{
		`{"type":"user","uuid":"u-1","sessionId":"s-1","timestamp":"2026-01-02T03:04:05.000Z","message":{"role":"user","content":"hello"},"permissionMode":"acceptEdits"}`,
		`this is not JSON`,
		`{"type":"user","uuid":"u-x","sessionId":"s-1"}`,
		`{"type":"assistant","uuid":"a-x","message":{"role":"assistant","content":5}}`,
		`{"type":"assistant","uuid":"a-y","message":"just a string"}`,
		`{"type":"assistant","uuid":"a-z","message":{"content":[{"type":"text","text":7}]}}`,
		`{"type":"user","uuid":"u-t","message":{"role":"user","content":"trunc`,
		`[1,2,3]`,
		`{"uuid":"no-type"}`,
		`{"type":"queue-operation","operation":{"weird":true},"uuid":17,"content":["not","a","string"]}`,
		`{"type":"custom-title","customTitle":"Lock fix","sessionId":"s-1"}`,
		good,
	}
	path := claudeWriteTemp(t, "broken.jsonl", lines...)
	steps := claudeCollect(t, path)
	if len(steps) != len(lines) {
		t.Fatalf("%d steps for %d lines", len(steps), len(lines))
	}
	wantBad := map[int]bool{2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true}
	for i, s := range steps {
		loc := fmt.Sprintf("line %d", i+1)
		if s.Locator != loc || s.Format != FormatClaude || !bytes.Equal(s.Raw, []byte(lines[i])) {
			t.Errorf("step %d: Locator %q Format %q Raw %q", i, s.Locator, s.Format, s.Raw)
		}
		if (s.Bad != "") != wantBad[i+1] {
			t.Errorf("%s: Bad %q", loc, s.Bad)
		}
		if s.Session != "s-1" {
			t.Errorf("%s: Session %q", loc, s.Session)
		}
	}
	if !steps[9].Unknown || steps[9].Type != "queue-operation" || steps[10].Type != "custom-title" || !steps[10].Unknown {
		t.Errorf("unknown types: %+v / %+v", steps[9], steps[10])
	}
	last := steps[len(steps)-1]
	if last.ID != "u-2" || last.Text != "still here" || last.Approval.Mode != "acceptEdits" {
		t.Errorf("last step %+v", last)
	}
}

func TestClaudeParseLongLine(t *testing.T) {
	big := strings.Repeat("0123456789abcdef\\n", 5<<20/18)
	line := `{"type":"user","uuid":"u-big","parentUuid":"a-1","sessionId":"s-big","timestamp":"2026-01-02T03:04:05.000Z",` +
		`"message":{"role":"user","content":[{"tool_use_id":"toolu_big","type":"tool_result","content":"` + big + `","is_error":false}]},` +
		`"toolUseResult":{"stdout":"` + big + `","stderr":"","interrupted":false,"isImage":false}}`
	if len(line) < 5<<20 {
		t.Fatalf("line of %d bytes", len(line))
	}
	next := `{"type":"assistant","uuid":"a-2","parentUuid":"u-big","sessionId":"s-big","message":{"role":"assistant","content":[{"type":"text","text":"done"}]}}`
	path := claudeWriteTemp(t, "big.jsonl", line, next)
	steps := claudeCollect(t, path)
	if len(steps) != 2 {
		t.Fatalf("%d steps", len(steps))
	}
	r := steps[0].Result
	if steps[0].Bad != "" || r == nil || len(r.Output) != len(big)/18*17 || len(steps[0].Raw) != len(line) {
		t.Fatalf("big step: Bad %q, Raw %d bytes", steps[0].Bad, len(steps[0].Raw))
	}
	if r.ExitCode == nil || *r.ExitCode != 0 {
		t.Errorf("ExitCode %v", r.ExitCode)
	}
	if steps[1].ID != "a-2" || steps[1].Text != "done" || steps[1].Locator != "line 2" {
		t.Errorf("after the big line: %+v", steps[1])
	}
}

func TestClaudeParseEdgeCases(t *testing.T) {
	lines := []string{
		// Before any record names the session.
		`{"type":"summary","summary":"An earlier part","leafUuid":"a-9"}`,
		`{"type":"summary","summary":"The same leaf again","leafUuid":"a-9"}`,
		`{"type":"file-history-snapshot","messageId":"u-1","snapshot":{},"isSnapshotUpdate":false}`,
		`{"type":"user","uuid":"u-1","parentUuid":null,"sessionId":"sess-A","isMeta":true,"timestamp":"2026-01-02T03:04:05Z","message":{"role":"user","content":"Caveat: the messages below were generated by the user while running local commands."}}`,
		// A re-logged record keeps its content under a distinct ID.
		`{"type":"user","uuid":"u-1","parentUuid":null,"sessionId":"sess-A","isMeta":true,"timestamp":"2026-01-02T03:04:05Z","message":{"role":"user","content":"again"}}`,
		`{"type":"assistant","uuid":"a-1","parentUuid":"u-1","sessionId":"sess-A","timestamp":"2026-01-02T03:04:06+01:00","message":{"role":"assistant","content":"plain string answer"}}`,
		`{"type":"user","uuid":"u-2","parentUuid":"a-1","sessionId":"sess-A","message":{"role":"user","content":[{"type":"text","text":"look"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}}`,
		`{"type":"assistant","uuid":"a-2","parentUuid":"u-2","sessionId":"sess-A","message":{"role":"assistant","content":[{"type":"tool_use","id":"toolu_w","name":"WebFetch","input":{"url":"https://status.example.com","prompt":"is it up"}},{"type":"tool_use","id":"toolu_s","name":"WebSearch","input":{"query":"cloudrail volume restore"}},{"type":"tool_use","id":"toolu_m","name":"mcp__db__execute_command","input":{"command":"DROP DATABASE prod"}},{"type":"tool_use","id":"toolu_n","name":"NotebookEdit","input":{"notebook_path":"/w/a.ipynb","new_source":"x"}},{"type":"tool_use","id":"toolu_g","name":"Glob","input":{"pattern":"**/*.env"}}]}}`,
		`{"type":"user","uuid":"u-3","parentUuid":"a-2","sessionId":"sess-A","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_w","content":"up"},{"type":"tool_result","tool_use_id":"toolu_s","content":[{"type":"text","text":"result one"},{"type":"image"}]}]},"toolUseResult":"ignored: two results"}`,
		`{"type":"user","uuid":"u-4","sessionId":"sess-A","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_m","content":"Exit code 127\nbash: psql: command not found","is_error":true}]},"toolUseResult":"Error: Exit code 127\nbash: psql: command not found"}`,
		`{"type":"user","uuid":"u-5","sessionId":"sess-A","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_n","content":"The user doesn't want to proceed with this tool use.","is_error":true}]},"toolUseResult":"User rejected tool use","toolDenialKind":"user-rejected"}`,
		`{"type":"user","uuid":"u-6","sessionId":"sess-A","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_g","content":"","is_error":true}]},"toolUseResult":{"stdout":"partial","stderr":"","interrupted":true}}`,
		`{"type":"user","uuid":"u-6b","sessionId":"sess-A","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_grep","content":"","is_error":false}]},"toolUseResult":{"stdout":"","stderr":"","interrupted":false,"isImage":false,"returnCodeInterpretation":"No matches found"}}`,
		`{"type":"system","subtype":"compact_boundary","content":"Conversation compacted","uuid":"c-1","parentUuid":null,"logicalParentUuid":"u-6","sessionId":"sess-A"}`,
		`{"type":"user","uuid":"u-7","parentUuid":"c-1","sessionId":"sess-A","isCompactSummary":true,"message":{"role":"user","content":"This session is being continued from a previous conversation."}}`,
		`{"type":"assistant","uuid":"a-3","parentUuid":"u-7","sessionId":"sess-A","message":{"role":"assistant","content":[]}}`,
		`{"type":"assistant","uuid":"a-4","parentUuid":"a-3","sessionId":"sess-A","message":{"role":"assistant","content":[{"type":"redacted_thinking","data":"xyz"},{"type":"fancy_new_block","x":1}]}}`,
	}
	path := claudeWriteTemp(t, "edge.jsonl", strings.Join(lines, "\r\n"))
	steps := claudeCollect(t, path)
	claudeCheckWellFormed(t, steps, FormatClaude)
	byID := claudeByID(steps)
	for _, s := range steps {
		if s.Session != "sess-A" {
			t.Errorf("%s: Session %q", s.ID, s.Session)
		}
	}
	check := func(id string, ok bool, what string, v any) {
		t.Helper()
		if !ok {
			t.Errorf("%s: %s: %+v", id, what, v)
		}
	}
	s := byID["summary:a-9@line 2"]
	check("summary 2", s.Text == "The same leaf again", "repeated summary", s)
	s = byID["u-1"]
	check("u-1", s.Actor == ActorSystem && strings.HasPrefix(s.Text, "Caveat"), "meta text is the harness's", s)
	s = byID["u-1@line 5"]
	check("u-1@line 5", s.Text == "again", "re-logged record", s)
	s = byID["a-1"]
	check("a-1", s.Actor == ActorAgent && s.Text == "plain string answer" && s.Time.Equal(claudeTS(t, "2026-01-02T02:04:06Z")), "string content, time in UTC", s)
	s = byID["u-2.1"]
	check("u-2.1", s.Actor == ActorUser && s.Text == "[image image/png]" && s.Parent == "u-2", "image", s)
	calls := map[string]*Call{}
	for _, s := range steps {
		if s.Call != nil {
			calls[s.Call.ID] = s.Call
		}
	}
	check("toolu_w", calls["toolu_w"].URL == "https://status.example.com", "WebFetch URL", calls["toolu_w"])
	check("toolu_s", calls["toolu_s"].Pattern == "cloudrail volume restore", "WebSearch query", calls["toolu_s"])
	check("toolu_m", calls["toolu_m"].Command == "DROP DATABASE prod", "MCP command", calls["toolu_m"])
	check("toolu_n", calls["toolu_n"].Path == "/w/a.ipynb", "notebook path", calls["toolu_n"])
	check("toolu_g", calls["toolu_g"].Pattern == "**/*.env" && calls["toolu_g"].Path == "", "Glob", calls["toolu_g"])
	s = byID["u-3.1"]
	check("u-3.1", s.Result != nil && s.Result.Output == "result one\n[image]" && s.Result.ExitCode == nil, "array result, record-level result not applied to two", s.Result)
	s = byID["u-4"]
	check("u-4", s.Result != nil && s.Result.ExitCode != nil && *s.Result.ExitCode == 127 && s.Result.IsError, "exit code 127", s.Result)
	s = byID["u-5"]
	check("u-5", s.Approval.Decision == "rejected", "refusal", s.Approval)
	s = byID["u-6"]
	check("u-6", s.Result != nil && s.Result.Output == "partial" && s.Result.ExitCode == nil && s.Result.Error == "interrupted", "interrupted", s.Result)
	s = byID["u-6b"]
	check("u-6b", s.Result != nil && s.Result.ExitCode == nil, "exit status read as no match: unknown", s.Result)
	s = byID["c-1"]
	check("c-1", s.Parent == "u-6" && s.Type == "system/compact_boundary" && s.Text == "Conversation compacted", "compact boundary", s)
	s = byID["u-7"]
	check("u-7", s.Actor == ActorSystem, "compaction summary is the harness's", s)
	s = byID["a-3"]
	check("a-3", s.Actor == ActorAgent && s.Text == "" && s.Parent == "u-7", "empty content", s)
	s = byID["a-4"]
	check("a-4", s.Thinking && s.Actor == ActorAgent, "redacted thinking", s)
	s = byID["a-4.1"]
	check("a-4.1", s.Unknown && s.Parent == "a-4", "unknown block", s)
}

func TestClaudeParseFallbackSession(t *testing.T) {
	path := claudeWriteTemp(t, "0f1e2d3c-aaaa-4bbb-8ccc-123456789abc.jsonl",
		`{"type":"summary","summary":"x","leafUuid":"l"}`,
		`{"type":"user","uuid":"u","message":{"role":"user","content":"no session id"}}`)
	for _, s := range claudeCollect(t, path) {
		if s.Session != "0f1e2d3c-aaaa-4bbb-8ccc-123456789abc" {
			t.Errorf("%s: Session %q, want the file's name", s.ID, s.Session)
		}
	}
}

func TestClaudeParseStops(t *testing.T) {
	errStop := errors.New("stop")
	n := 0
	err := ClaudeParser{}.Parse(context.Background(), claudeTestFile, func(Step) error {
		n++
		if n == 5 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || n != 5 {
		t.Errorf("emit error: %v after %d steps", err, n)
	}
	var lines []string
	for i := 0; i < 200; i++ {
		lines = append(lines, fmt.Sprintf(`{"type":"user","uuid":"u%d","sessionId":"s","message":{"content":"x"}}`, i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = ClaudeParser{}.Parse(ctx, claudeWriteTemp(t, "c.jsonl", lines...), func(Step) error {
		n++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= 200 {
		t.Errorf("cancelled: %v after %d steps", err, n)
	}
	if err := (ClaudeParser{}).Parse(context.Background(), filepath.Join(t.TempDir(), "missing.jsonl"), func(Step) error { return nil }); err == nil {
		t.Error("no error for a missing file")
	}
}

func claudeHead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 64<<10 {
		b = b[:64<<10]
	}
	return b
}

func TestClaudeSniff(t *testing.T) {
	longFirst := `{"parentUuid":null,"isSidechain":false,"userType":"external","sessionId":"s","type":"user","message":{"role":"user","content":"` +
		strings.Repeat("x", 70<<10) + `"}}`
	cases := []struct {
		path string
		head []byte
		want bool
	}{
		{claudeTestFile, claudeHead(t, claudeTestFile), true},
		{claudeTestAgent, claudeHead(t, claudeTestAgent), true},
		{"/home/x/.claude/projects/-home-x/s.jsonl", []byte(`{"type":"file-history-snapshot","messageId":"m","snapshot":{"messageId":"m"},"isSnapshotUpdate":false}` + "\n"), true},
		{"/p/s.jsonl", []byte("\n\n" + `{"type":"queue-operation","operation":"dequeue","timestamp":"2026-01-01T00:00:00Z","sessionId":"s"}` + "\n"), true},
		{"/p/s.jsonl", []byte(longFirst[:64<<10]), true},
		// A record type newer than the parser, with Claude Code's fields.
		{"/p/s.jsonl", []byte(`{"type":"permission-mode","permissionMode":"plan","sessionId":"s","userType":"external"}` + "\n"), true},
		{"/p/s.jsonl", []byte(`{"type":"whatever","sessionId":"s"}` + "\n"), false},
		{"/p/s.json", claudeHead(t, claudeTestFile), false},
		{"/p/s.jsonl", nil, false},
		{"/p/s.jsonl", []byte("not json\n"), false},
		{"/p/s.jsonl", []byte(`{"type":"user","content":"no claude field"}` + "\n"), false},
		{"/p/s.jsonl", []byte(`{"type":"message","role":"user","content":[]}` + "\n"), false},
		{codexTestRollout, claudeHead(t, codexTestRollout), false},
		{codexTestOld, claudeHead(t, codexTestOld), false},
	}
	gemini, _ := filepath.Glob("testdata/gemini/*")
	for _, g := range gemini {
		cases = append(cases, struct {
			path string
			head []byte
			want bool
		}{g, claudeHead(t, g), false})
	}
	// Gemini CLI's JSONL as its engineers write it, in case testdata/gemini
	// changes.
	cases = append(cases, struct {
		path string
		head []byte
		want bool
	}{"/h/.gemini/tmp/p/chats/session-1.jsonl", []byte(`{"sessionId":"3f9a","projectHash":"6b0e","startTime":"2026-11-18T09:12:03.114Z","lastUpdated":"2026-11-18T09:12:03.114Z","kind":"main"}` + "\n"), false})
	for _, c := range cases {
		if got := (ClaudeParser{}).Sniff(c.path, c.head); got != c.want {
			t.Errorf("Sniff(%s, %.60q) = %v, want %v", c.path, c.head, got, c.want)
		}
	}
}

func FuzzClaudeParse(f *testing.F) {
	for _, path := range []string{claudeTestFile, claudeTestAgent} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			f.Add(line)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"user","message":{"content":[{"type":"tool_result","content":[{"type":"text","text":"Exit code -"}]}]},"toolUseResult":{"stdout":null,"exitCode":1e400}}`))
	f.Add([]byte("{\"type\":\"summary\"}\r\n\n{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\",\"name\":\"Bash\",\"input\":\"x\"}]}}"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.jsonl")
		steps := fuzzParse(t, ClaudeParser{}, path, data)
		lines := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		for _, s := range steps {
			if s.Bad == "" && (s.ID == "" || s.Session == "") {
				t.Fatalf("step without ID or Session: %+v", s)
			}
		}
		if len(steps) < lines {
			t.Fatalf("%d steps for %d lines", len(steps), lines)
		}
		_ = (ClaudeParser{}).Sniff(path, data)
	})
}

// claudeBenchFile writes a Claude Code session of about size bytes with the
// mix of a working session: prompts, thinking, text, Bash, Read, Edit and
// Grep calls with their results (and toolUseResult copies), progress
// records and snapshots.
func claudeBenchFile(tb testing.TB, size int) string {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the lock migration staging deploy error retry table index volume token backup " +
		"context cancel defer return func package import struct string int bool nil err if for range go test")
	text := func(n int) string {
		var sb strings.Builder
		for sb.Len() < n {
			sb.WriteString(words[rng.IntN(len(words))])
			switch rng.IntN(12) {
			case 0:
				sb.WriteString("\n")
			case 1:
				sb.WriteString("\t\"quoted\" ")
			default:
				sb.WriteByte(' ')
			}
		}
		return sb.String()
	}
	session := "b3c4d5e6-0000-4000-8000-00000000beef"
	var buf bytes.Buffer
	parent := any(nil)
	n := 0
	write := func(rec map[string]any) {
		n++
		uuid := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
		rec["uuid"] = uuid
		rec["parentUuid"] = parent
		rec["isSidechain"] = false
		rec["userType"] = "external"
		rec["cwd"] = "/home/dev/src/project"
		rec["sessionId"] = session
		rec["version"] = "2.0.42"
		rec["gitBranch"] = "main"
		rec["timestamp"] = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(n) * 1500 * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		b, err := json.Marshal(rec)
		if err != nil {
			tb.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
		parent = uuid
	}
	assistant := func(blocks ...map[string]any) {
		write(map[string]any{"type": "assistant", "requestId": "req_011CVbench", "message": map[string]any{
			"model": "claude-sonnet-4-5-20250929", "id": "msg_01bench", "type": "message", "role": "assistant",
			"content": blocks, "stop_reason": nil, "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": 4, "cache_creation_input_tokens": 900, "cache_read_input_tokens": 21000, "output_tokens": 180, "service_tier": "standard"},
		}})
	}
	result := func(id, content string, isError bool, tur any) {
		write(map[string]any{"type": "user", "message": map[string]any{"role": "user", "content": []map[string]any{
			{"tool_use_id": id, "type": "tool_result", "content": content, "is_error": isError}}}, "toolUseResult": tur})
	}
	for call := 0; buf.Len() < size; call++ {
		id := fmt.Sprintf("toolu_%020d", call)
		switch rng.IntN(10) {
		case 0:
			write(map[string]any{"type": "user", "permissionMode": "default", "message": map[string]any{"role": "user", "content": text(300)}})
			write(map[string]any{"type": "file-history-snapshot", "messageId": parent, "snapshot": map[string]any{"trackedFileBackups": map[string]any{}}, "isSnapshotUpdate": false})
		case 1, 2, 3:
			cmd := "go test ./... 2>&1 | tail -" + fmt.Sprint(rng.IntN(50))
			assistant(map[string]any{"type": "thinking", "thinking": text(800), "signature": strings.Repeat("Zm9v", 60)},
				map[string]any{"type": "tool_use", "id": id, "name": "Bash", "input": map[string]any{"command": cmd, "description": "Run tests"}})
			out := text(500 + rng.IntN(6000))
			if rng.IntN(4) == 0 {
				result(id, "Exit code 1\n"+out, true, "Error: Exit code 1\n"+out)
			} else {
				result(id, out, false, map[string]any{"stdout": out, "stderr": "", "interrupted": false, "isImage": false})
			}
		case 4, 5:
			file := fmt.Sprintf("/home/dev/src/project/pkg/file%d.go", rng.IntN(100))
			assistant(map[string]any{"type": "tool_use", "id": id, "name": "Read", "input": map[string]any{"file_path": file}})
			content := text(2000 + rng.IntN(12000))
			write(map[string]any{"type": "user", "message": map[string]any{"role": "user", "content": []map[string]any{
				{"tool_use_id": id, "type": "tool_result", "content": []map[string]any{{"type": "text", "text": content}}}}},
				"toolUseResult": map[string]any{"type": "text", "file": map[string]any{"filePath": file, "content": content, "numLines": 200, "startLine": 1, "totalLines": 200}}})
		case 6:
			file := fmt.Sprintf("/home/dev/src/project/pkg/file%d.go", rng.IntN(100))
			old, nw, orig := text(200), text(250), text(4000)
			assistant(map[string]any{"type": "text", "text": text(200)},
				map[string]any{"type": "tool_use", "id": id, "name": "Edit", "input": map[string]any{"file_path": file, "old_string": old, "new_string": nw}})
			result(id, "The file "+file+" has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n"+text(600), false,
				map[string]any{"filePath": file, "oldString": old, "newString": nw, "originalFile": orig, "structuredPatch": []any{}, "userModified": false, "replaceAll": false})
		case 7:
			assistant(map[string]any{"type": "tool_use", "id": id, "name": "Grep", "input": map[string]any{"pattern": "func .*Lock", "path": "/home/dev/src/project", "output_mode": "content"}})
			out := text(1500)
			result(id, out, false, map[string]any{"mode": "content", "numFiles": 3, "filenames": []string{}, "content": out, "numLines": 20})
		case 8:
			write(map[string]any{"type": "progress", "data": map[string]any{"type": "bash_progress", "output": text(300)}, "toolUseID": id, "parentToolUseID": id})
		default:
			assistant(map[string]any{"type": "text", "text": text(1200)})
		}
	}
	path := filepath.Join(tb.TempDir(), session+".jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func BenchmarkClaudeParse(b *testing.B) {
	path := claudeBenchFile(b, 20<<20)
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(info.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		steps := 0
		err := ClaudeParser{}.Parse(context.Background(), path, func(s Step) error {
			if s.Bad != "" {
				b.Fatalf("%s: %s", s.Locator, s.Bad)
			}
			steps++
			return nil
		})
		if err != nil || steps == 0 {
			b.Fatal(err, steps)
		}
	}
}

func TestClaudeParseBOM(t *testing.T) {
	first := "\xef\xbb\xbf" + `{"type":"user","uuid":"u-1","sessionId":"s","message":{"role":"user","content":"hi"}}`
	path := claudeWriteTemp(t, "bom.jsonl", first)
	steps := claudeCollect(t, path)
	if len(steps) != 1 || steps[0].Bad != "" || steps[0].Text != "hi" || string(steps[0].Raw) != first {
		t.Fatalf("steps %+v", steps)
	}
	if !(ClaudeParser{}).Sniff(path, []byte(first)) {
		t.Error("not sniffed")
	}
}

func TestClaudeParseAgentFileIDs(t *testing.T) {
	path := claudeWriteTemp(t, "agent-b71c.jsonl",
		`{"type":"user","uuid":"x-1","sessionId":"main-s","isSidechain":true,"agentId":"b71c","message":{"role":"user","content":"task"}}`,
		`{"type":"queue-operation","operation":"dequeue","sessionId":"main-s"}`)
	steps := claudeCollect(t, path)
	if len(steps) != 2 || steps[0].ID != "x-1" || steps[1].ID != "agent-b71c:line 2" || !steps[0].Sidechain {
		t.Errorf("steps %+v", steps)
	}
}
