package transcript

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	codexTestSession = "0199d3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"
	codexTestRollout = "testdata/codex/rollout-2026-03-11T14-02-17-" + codexTestSession + ".jsonl"
	codexTestOld     = "testdata/codex/old-format.jsonl"
)

func codexCollect(t testing.TB, path string) []Step {
	t.Helper()
	var steps []Step
	err := CodexParser{}.Parse(context.Background(), path, func(s Step) error {
		steps = append(steps, s)
		return nil
	})
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	return steps
}

func TestCodexParseRollout(t *testing.T) {
	steps := codexCollect(t, codexTestRollout)
	claudeCheckWellFormed(t, steps, FormatCodex)
	if len(steps) != 32 {
		t.Fatalf("%d steps, want one per line (32)", len(steps))
	}
	actors := map[Actor]int{}
	for _, s := range steps {
		actors[s.Actor]++
		if s.Session != codexTestSession {
			t.Errorf("%s: Session %q", s.ID, s.Session)
		}
		if s.Time.IsZero() {
			t.Errorf("%s: no Time", s.ID)
		}
		if s.Parent != "" {
			t.Errorf("%s: Parent %q", s.ID, s.Parent)
		}
		if s.GitBranch != "main" || s.Cwd != "/home/joao/src/lagoa-billing" {
			t.Errorf("%s: GitBranch %q Cwd %q", s.ID, s.GitBranch, s.Cwd)
		}
	}
	want := map[Actor]int{ActorUser: 4, ActorAgent: 12, ActorTool: 7, ActorSystem: 9}
	for a, n := range want {
		if actors[a] != n {
			t.Errorf("%d steps by %s, want %d (%v)", actors[a], a, n, actors)
		}
	}
	byID := claudeByID(steps)
	one, zero := 1, 0
	cases := []struct {
		id             string
		actor          Actor
		typ            string
		time           string
		text           string
		thinking       bool
		tool, command  string
		path, pattern  string
		exit           *int
		isError        bool
		mode, sandbox  string
		decision       string
		unknown        bool
		resultCallID   string
		outputContains string
	}{
		{id: "line 1", actor: ActorSystem, typ: "session_meta", time: "2026-03-11T14:02:17.204Z"},
		{id: "line 2", actor: ActorSystem, typ: "response_item/message", text: "<environment_context>"},
		{id: "line 3", actor: ActorUser, typ: "response_item/message", text: "The nightly invoice export job fails"},
		{id: "line 4", actor: ActorUser, typ: "event_msg/user_message", text: "The nightly invoice export job fails"},
		{id: "line 5", actor: ActorSystem, typ: "turn_context", mode: "on-request", sandbox: "workspace-write", text: "approval_policy=on-request sandbox_policy=workspace-write model=gpt-5-codex"},
		{id: "line 7", actor: ActorAgent, typ: "response_item/reasoning", thinking: true, text: "**Locating the export job**", mode: "on-request", sandbox: "workspace-write"},
		{id: "call_kX2mP9qR4sT6uV8w", actor: ActorAgent, typ: "response_item/function_call", time: "2026-03-11T14:02:37.015Z", tool: "shell", command: `bash -lc 'rg -n '\''invoice_exports'\'' -S jobs tests'`},
		{id: "call_kX2mP9qR4sT6uV8w:output", actor: ActorTool, exit: &zero, resultCallID: "call_kX2mP9qR4sT6uV8w", outputContains: "jobs/export.py:41"},
		{id: "call_aB3cD5eF7gH9iJ1k", actor: ActorAgent, tool: "shell", command: "bash -lc 'python -m pytest tests/test_export.py -q'"},
		{id: "call_aB3cD5eF7gH9iJ1k:output", actor: ActorTool, exit: &one, isError: true, outputContains: "UniqueViolation"},
		{id: "call_lM2nO4pQ6rS8tU0v", actor: ActorAgent, typ: "response_item/custom_tool_call", tool: "apply_patch", path: "jobs/export.py"},
		{id: "call_lM2nO4pQ6rS8tU0v:patch-end", actor: ActorTool, typ: "event_msg/patch_apply_end", outputContains: "M jobs/export.py"},
		{id: "call_lM2nO4pQ6rS8tU0v:output", actor: ActorTool, exit: &zero, outputContains: "Success. Updated"},
		{id: "call_wX3yZ5aB7cD9eF1g", actor: ActorAgent, tool: "shell", command: `bash -lc 'psql "$BILLING_DATABASE_URL" -c '\''TRUNCATE invoice_exports;'\'''`, mode: "on-request"},
		{id: "call_wX3yZ5aB7cD9eF1g:approval", actor: ActorSystem, typ: "event_msg/exec_approval_request", text: "approval requested: bash -lc"},
		// The refusal.
		{id: "call_wX3yZ5aB7cD9eF1g:output", actor: ActorTool, decision: "rejected", outputContains: "exec command rejected by user", mode: "on-request", sandbox: "workspace-write"},
		// The escalation.
		{id: "line 24", actor: ActorSystem, typ: "turn_context", mode: "never", sandbox: "danger-full-access"},
		{id: "call_hI2jK4lM6nO8pQ0r", actor: ActorAgent, tool: "shell", command: `bash -lc 'psql "$BILLING_DATABASE_URL" -c '\''TRUNCATE invoice_exports;'\'''`, mode: "never", sandbox: "danger-full-access", time: "2026-03-11T14:05:06.902Z"},
		{id: "call_hI2jK4lM6nO8pQ0r:end", actor: ActorTool, typ: "event_msg/exec_command_end", exit: &zero, outputContains: "TRUNCATE TABLE", mode: "never"},
		{id: "call_hI2jK4lM6nO8pQ0r:output", actor: ActorTool, exit: &zero, outputContains: "TRUNCATE TABLE"},
		{id: "line 28", actor: ActorAgent, typ: "response_item/web_search_call", tool: "web_search", pattern: "postgres ON CONFLICT DO NOTHING psycopg2 rowcount"},
		{id: "line 29", actor: ActorSystem, typ: "world_state", unknown: true, mode: "never"},
		{id: "line 31", actor: ActorAgent, typ: "event_msg/agent_message", text: "Cleared invoice_exports"},
	}
	for _, c := range cases {
		s, ok := byID[c.id]
		if !ok {
			t.Errorf("no step %s", c.id)
			continue
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
		if s.Thinking != c.thinking || s.Unknown != c.unknown {
			t.Errorf("%s: Thinking %v Unknown %v", c.id, s.Thinking, s.Unknown)
		}
		if c.mode != "" && s.Approval.Mode != c.mode || c.sandbox != "" && s.Approval.Sandbox != c.sandbox {
			t.Errorf("%s: Approval %+v, want %s/%s", c.id, s.Approval, c.mode, c.sandbox)
		}
		if s.Approval.Decision != c.decision {
			t.Errorf("%s: Decision %q, want %q", c.id, s.Approval.Decision, c.decision)
		}
		if (c.tool != "") != (s.Call != nil) {
			t.Errorf("%s: Call %+v", c.id, s.Call)
		} else if cl := s.Call; cl != nil {
			if cl.Tool != c.tool || cl.Command != c.command || cl.Path != c.path || cl.Pattern != c.pattern {
				t.Errorf("%s: Call %s %q %q %q, want %s %q %q %q", c.id, cl.Tool, cl.Command, cl.Path, cl.Pattern, c.tool, c.command, c.path, c.pattern)
			}
			if c.tool != "web_search" && cl.ID != c.id {
				t.Errorf("%s: Call.ID %q", c.id, cl.ID)
			}
		}
		if (c.actor == ActorTool) != (s.Result != nil) {
			t.Errorf("%s: Result %+v", c.id, s.Result)
		} else if r := s.Result; r != nil {
			if (r.ExitCode == nil) != (c.exit == nil) || r.ExitCode != nil && *r.ExitCode != *c.exit {
				t.Errorf("%s: ExitCode %v, want %v", c.id, r.ExitCode, c.exit)
			}
			if r.IsError != c.isError {
				t.Errorf("%s: IsError %v", c.id, r.IsError)
			}
			if !strings.Contains(r.Output, c.outputContains) {
				t.Errorf("%s: Output %.80q", c.id, r.Output)
			}
			if c.resultCallID != "" && r.CallID != c.resultCallID || !strings.HasPrefix(c.id, r.CallID+":") {
				t.Errorf("%s: CallID %q", c.id, r.CallID)
			}
		}
	}
	// The approval settings apply from their turn_context on.
	for i, s := range steps {
		wantMode := ""
		switch {
		case i >= 23:
			wantMode = "never"
		case i >= 4:
			wantMode = "on-request"
		}
		if s.Approval.Mode != wantMode {
			t.Errorf("%s: mode %q, want %q", s.ID, s.Approval.Mode, wantMode)
		}
	}
	// The cwd of the function calls is their workdir.
	if s := byID["call_kX2mP9qR4sT6uV8w"]; s.Cwd != "/home/joao/src/lagoa-billing" {
		t.Errorf("workdir %q", s.Cwd)
	}
}

func TestCodexParseOldFormat(t *testing.T) {
	steps := codexCollect(t, codexTestOld)
	claudeCheckWellFormed(t, steps, FormatCodex)
	if len(steps) != 10 {
		t.Fatalf("%d steps", len(steps))
	}
	start := claudeTS(t, "2025-05-02T10:11:12.345Z")
	for _, s := range steps {
		if s.Session != "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f" {
			t.Errorf("%s: Session %q", s.ID, s.Session)
		}
		if !s.Time.Equal(start) {
			t.Errorf("%s: Time %v, want the session's start", s.ID, s.Time)
		}
		if s.GitBranch != "main" {
			t.Errorf("%s: GitBranch %q", s.ID, s.GitBranch)
		}
	}
	byID := claudeByID(steps)
	if s := byID["line 1"]; s.Type != "session_meta" || s.Text != "Always run the tests before committing." {
		t.Errorf("meta %+v", s)
	}
	if s := byID["line 2"]; s.Type != "state" || s.Actor != ActorSystem {
		t.Errorf("state %+v", s)
	}
	if s := byID["line 3"]; s.Actor != ActorUser || s.Type != "message" || !strings.HasPrefix(s.Text, "The site build is stale") {
		t.Errorf("prompt %+v", s)
	}
	s := byID["call_Q1w2E3r4T5y6U7i8"]
	if s.Call == nil || s.Call.Tool != "local_shell" || s.Call.Command != "rm -rf build/" || s.Cwd != "/home/ines/src/docs-site" {
		t.Errorf("local shell call %+v %+v", s, s.Call)
	}
	s = byID["call_Q1w2E3r4T5y6U7i8:output"]
	if s.Result == nil || s.Result.ExitCode == nil || *s.Result.ExitCode != 0 || s.Result.Output != "" {
		t.Errorf("output %+v", s.Result)
	}
	s = byID["call_O9p0A1s2D3f4G5h6"]
	if s.Call == nil || s.Call.Command != "make site" {
		t.Errorf("shell call %+v", s.Call)
	}
	s = byID["call_O9p0A1s2D3f4G5h6:output"]
	if s.Result == nil || s.Result.ExitCode == nil || *s.Result.ExitCode != 2 || !s.Result.IsError || !strings.HasPrefix(s.Result.Output, "make: ***") {
		t.Errorf("output %+v", s.Result)
	}
	if s := byID["line 10"]; s.Actor != ActorAgent {
		t.Errorf("answer %+v", s)
	}
}

func TestCodexParseStable(t *testing.T) {
	for _, path := range []string{codexTestRollout, codexTestOld} {
		a, b := codexCollect(t, path), codexCollect(t, path)
		if len(a) != len(b) {
			t.Fatalf("%s: %d then %d steps", path, len(a), len(b))
		}
		for i := range a {
			if a[i].ID != b[i].ID || a[i].Session != b[i].Session {
				t.Errorf("%s: step %d: %s then %s", path, i, a[i].ID, b[i].ID)
			}
		}
	}
}

func TestCodexParseMalformed(t *testing.T) {
	lines := []string{
		`{"timestamp":"2026-01-01T00:00:00.000Z","type":"session_meta","payload":{"id":"sess-1","timestamp":"2026-01-01T00:00:00.000Z","cwd":"/w"}}`,
		`not json at all`,
		`{"timestamp":"2026-01-01T00:00:01.000Z","type":"response_item"}`,
		`{"timestamp":"2026-01-01T00:00:02.000Z","type":"response_item","payload":{"type":"function_call","name":"shell","arguments":"{}","call_id":7}}`,
		`{"timestamp":"2026-01-01T00:00:03.000Z","type":"event_msg","payload":{"type":"future_thing","text":{"nested":true},"call_id":[1]}}`,
		`{"timestamp":"2026-01-01T00:00:04.000Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"trunc`,
		`{"no":"type"}`,
		`"a string"`,
		`{"timestamp":"2026-01-01T00:00:05.000Z","type":"response_item","payload":{"type":"function_call","name":"shell","arguments":"not json","call_id":"c-1"}}`,
		`{"timestamp":"bad time","type":"response_item","payload":{"type":"function_call_output","call_id":"c-1","output":{"content":"boom","success":false}}}`,
	}
	path := claudeWriteTemp(t, "rollout-broken.jsonl", lines...)
	steps := codexCollect(t, path)
	if len(steps) != len(lines) {
		t.Fatalf("%d steps for %d lines", len(steps), len(lines))
	}
	wantBad := map[int]bool{2: true, 3: true, 4: true, 6: true, 7: true, 8: true}
	for i, s := range steps {
		loc := fmt.Sprintf("line %d", i+1)
		if s.Locator != loc || s.Format != FormatCodex || !bytes.Equal(s.Raw, []byte(lines[i])) {
			t.Errorf("step %d: %q %q %q", i, s.Locator, s.Format, s.Raw)
		}
		if (s.Bad != "") != wantBad[i+1] {
			t.Errorf("%s: Bad %q", loc, s.Bad)
		}
		if s.Session != "sess-1" {
			t.Errorf("%s: Session %q", loc, s.Session)
		}
	}
	if s := steps[4]; !s.Unknown || s.Type != "event_msg/future_thing" {
		t.Errorf("unknown event %+v", s)
	}
	if s := steps[8]; s.Call == nil || s.Call.Input != "not json" || s.Call.Command != "" {
		t.Errorf("call with bad arguments %+v", s.Call)
	}
	s := steps[9]
	if s.Result == nil || s.Result.Output != "boom" || !s.Result.IsError || !s.Time.Equal(claudeTS(t, "2026-01-01T00:00:05Z")) {
		t.Errorf("output object %+v, time %v (want the last seen)", s.Result, s.Time)
	}
}

func TestCodexParseLongLine(t *testing.T) {
	big := strings.Repeat("x", 5<<20)
	lines := []string{
		`{"timestamp":"2026-01-01T00:00:00.000Z","type":"session_meta","payload":{"id":"sess-big"}}`,
		`{"timestamp":"2026-01-01T00:00:01.000Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c-big","output":"` + big + `"}}`,
		`{"timestamp":"2026-01-01T00:00:02.000Z","type":"event_msg","payload":{"type":"agent_message","message":"after"}}`,
	}
	steps := codexCollect(t, claudeWriteTemp(t, "big.jsonl", lines...))
	if len(steps) != 3 || steps[1].Result == nil || len(steps[1].Result.Output) != len(big) || steps[2].Text != "after" {
		t.Fatalf("steps %d", len(steps))
	}
}

func TestCodexDecisions(t *testing.T) {
	lines := []string{
		`{"timestamp":"2026-01-01T00:00:00.000Z","type":"session_meta","payload":{"id":"s"}}`,
		`{"timestamp":"2026-01-01T00:00:01.000Z","type":"event_msg","payload":{"type":"exec_approval","call_id":"c1","decision":"approved_for_session"}}`,
		`{"timestamp":"2026-01-01T00:00:02.000Z","type":"event_msg","payload":{"type":"exec_approval","call_id":"c2","decision":"denied"}}`,
		`{"timestamp":"2026-01-01T00:00:03.000Z","type":"event_msg","payload":{"type":"patch_approval","call_id":"c3","decision":{"approved_execpolicy_amendment":{"proposed_execpolicy_amendment":["rm"]}}}}`,
		`{"timestamp":"2026-01-01T00:00:04.000Z","type":"event_msg","payload":{"type":"exec_approval","call_id":"c4","decision":"abort"}}`,
		`{"timestamp":"2026-01-01T00:00:05.000Z","type":"event_msg","payload":{"type":"exec_command_end","call_id":"c5","command":["rm","-rf","/srv/data"],"exit_code":-1,"aggregated_output":"exec command rejected by user","status":"declined"}}`,
		`{"timestamp":"2026-01-01T00:00:06.000Z","type":"response_item","payload":{"type":"custom_tool_call_output","call_id":"c6","output":"patch rejected by user"}}`,
		`{"timestamp":"2026-01-01T00:00:07.000Z","type":"turn_context","payload":{"cwd":"/w","approval_policy":"untrusted","sandbox_policy":{"mode":"read-only"},"model":"m"}}`,
	}
	steps := codexCollect(t, claudeWriteTemp(t, "d.jsonl", lines...))
	want := []struct{ id, decision string }{
		{"line 1", ""}, {"c1:decision", "approved"}, {"c2:decision", "rejected"}, {"c3:decision", "approved"},
		{"c4:decision", "rejected"}, {"c5:end", "rejected"}, {"c6:output", "rejected"}, {"line 8", ""},
	}
	for i, w := range want {
		s := steps[i]
		if s.ID != w.id || s.Approval.Decision != w.decision || s.Unknown {
			t.Errorf("step %d: %s %q unknown=%v, want %s %q", i, s.ID, s.Approval.Decision, s.Unknown, w.id, w.decision)
		}
		if w.decision != "" && i < 5 && s.Actor != ActorUser {
			t.Errorf("%s: decision by %s", s.ID, s.Actor)
		}
	}
	if a := steps[7].Approval; a.Mode != "untrusted" || a.Sandbox != "read-only" {
		t.Errorf("old sandbox form: %+v", a)
	}
}

func TestCodexCommand(t *testing.T) {
	cases := []struct{ raw, want string }{
		{`["bash","-lc","rm -rf x"]`, `bash -lc 'rm -rf x'`},
		{`["ls","-la","/tmp/a b"]`, `ls -la '/tmp/a b'`},
		{`["echo","it's",""]`, `echo 'it'\''s' ''`},
		{`["git","commit","-m","a=b,c:d@e%f+g"]`, `git commit -m a=b,c:d@e%f+g`},
		{`"cargo build --release"`, `cargo build --release`},
		{`{"not":"a command"}`, ``},
		{`[1,2]`, ``},
		{``, ``},
	}
	for _, c := range cases {
		if got := codexCommand([]byte(c.raw)); got != c.want {
			t.Errorf("codexCommand(%s) = %q, want %q", c.raw, got, c.want)
		}
	}
}

func TestCodexOutput(t *testing.T) {
	cases := []struct {
		output  string
		want    string
		exit    int // -999: none
		isError bool
	}{
		{`"{\"output\":\"hi\\n\",\"metadata\":{\"exit_code\":0,\"duration_seconds\":0.1}}"`, "hi\n", 0, false},
		{`"{\"output\":\"nope\",\"metadata\":{\"exit_code\":3}}"`, "nope", 3, true},
		{`"Exit code: 1\nWall time: 0.2 seconds\nOutput:\nfailed\n"`, "Exit code: 1\nWall time: 0.2 seconds\nOutput:\nfailed\n", 1, true},
		{`"Chunk ID: 9\nWall time: 1.0 seconds\nProcess exited with code 0\nOutput:\nok"`, "Chunk ID: 9\nWall time: 1.0 seconds\nProcess exited with code 0\nOutput:\nok", 0, false},
		{`{"content":"boom","success":false}`, "boom", -999, true},
		{`[{"type":"input_text","text":"a"},{"type":"input_image","image_url":"data:"}]`, "a\n[image]", -999, false},
		{`"{not json with \"metadata\""`, `{not json with "metadata"`, -999, false},
		{`null`, "", -999, false},
	}
	for _, c := range cases {
		r, _ := codexOutput(&codexItem{CallID: "c", Output: []byte(c.output)})
		exit := -999
		if r.ExitCode != nil {
			exit = *r.ExitCode
		}
		if r.Output != c.want || exit != c.exit || r.IsError != c.isError || r.CallID != "c" {
			t.Errorf("codexOutput(%s) = %q %d %v, want %q %d %v", c.output, r.Output, exit, r.IsError, c.want, c.exit, c.isError)
		}
	}
}

func TestCodexParseStops(t *testing.T) {
	errStop := errors.New("stop")
	n := 0
	err := CodexParser{}.Parse(context.Background(), codexTestRollout, func(Step) error {
		n++
		if n == 3 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || n != 3 {
		t.Errorf("emit error: %v after %d", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var lines []string
	for i := 0; i < 100; i++ {
		lines = append(lines, `{"type":"event_msg","payload":{"type":"token_count"}}`)
	}
	if err := (CodexParser{}).Parse(ctx, claudeWriteTemp(t, "c.jsonl", lines...), func(Step) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestCodexSniff(t *testing.T) {
	cases := []struct {
		path string
		head []byte
		want bool
	}{
		{codexTestRollout, claudeHead(t, codexTestRollout), true},
		{codexTestOld, claudeHead(t, codexTestOld), true},
		// A session_meta whose instructions run past the head.
		{"/x/s.jsonl", []byte(`{"timestamp":"2026-01-01T00:00:00.000Z","type":"session_meta","payload":{"id":"s","instructions":"` + strings.Repeat("y", 64<<10)), true},
		// Known by its path, whatever its first line.
		{"/home/a/.codex/sessions/2026/01/01/x.jsonl", []byte(`{"timestamp":"2026-01-01T00:00:00.000Z","type":"response_item","payload":{"type":"message"}}` + "\n"), true},
		{"/tmp/rollout-2026-01-01T00-00-00-abc.jsonl", nil, true},
		{"/home/a/.codex/history.jsonl", []byte(`{"session_id":"s","ts":1760000000,"text":"hi"}` + "\n"), false},
		{"/tmp/rollout-x.json", claudeHead(t, codexTestRollout), false},
		{claudeTestFile, claudeHead(t, claudeTestFile), false},
		{claudeTestAgent, claudeHead(t, claudeTestAgent), false},
		// A Claude Code session under a path that says Codex.
		{"/home/a/.codex/sessions/rollout-claude.jsonl", claudeHead(t, claudeTestFile), false},
		{"/x/s.jsonl", []byte(`{"id":"m1","timestamp":"2026-01-01T00:00:00Z","type":"user","content":[]}` + "\n"), false},
		{"/x/s.jsonl", []byte(`{"sessionId":"3f9a","projectHash":"6b0e","startTime":"2026-11-18T09:12:03.114Z"}` + "\n"), false},
		{"/x/s.jsonl", []byte("garbage\n"), false},
	}
	gemini, _ := filepath.Glob("testdata/gemini/*")
	for _, g := range gemini {
		cases = append(cases, struct {
			path string
			head []byte
			want bool
		}{g, claudeHead(t, g), false})
	}
	if files, _ := filepath.Glob("../../fixtures/scenario/transcripts/*.jsonl"); len(files) > 0 {
		cases = append(cases, struct {
			path string
			head []byte
			want bool
		}{files[0], claudeHead(t, files[0]), false})
	}
	for _, c := range cases {
		if got := (CodexParser{}).Sniff(c.path, c.head); got != c.want {
			t.Errorf("Sniff(%s, %.60q) = %v, want %v", c.path, c.head, got, c.want)
		}
	}
}

func FuzzCodexParse(f *testing.F) {
	for _, path := range []string{codexTestRollout, codexTestOld} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			f.Add(line)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"event_msg","payload":{"type":"x","decision":{"a":1,"b":2}}}`))
	f.Add([]byte(`{"id":"x","instructions":5}` + "\n" + `{"type":"local_shell_call","action":{"command":"ls"}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "rollout-fuzz.jsonl")
		steps := fuzzParse(t, CodexParser{}, path, data)
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
		if len(steps) != lines {
			t.Fatalf("%d steps for %d lines", len(steps), lines)
		}
		_ = (CodexParser{}).Sniff(path, data)
	})
}

func TestCodexParseForkMeta(t *testing.T) {
	lines := []string{
		"\xef\xbb\xbf" + `{"timestamp":"2026-01-01T00:00:00.000Z","type":"session_meta","payload":{"id":"fork-1","forked_from_id":"orig-1","cwd":"/w/fork","git":{"branch":"b1"}}}`,
		`{"timestamp":"2025-12-31T00:00:00.000Z","type":"session_meta","payload":{"id":"orig-1","cwd":"/w/orig","git":{"branch":"b0"}}}`,
		`{"timestamp":"2026-01-01T00:00:01.000Z","type":"event_msg","payload":{"type":"user_message","message":"go on"}}`,
	}
	steps := codexCollect(t, claudeWriteTemp(t, "rollout-fork.jsonl", lines...))
	if len(steps) != 3 || steps[0].Bad != "" || string(steps[0].Raw) != lines[0] {
		t.Fatalf("steps %+v", steps)
	}
	for _, s := range steps {
		if s.Session != "fork-1" || s.Cwd != "/w/fork" || s.GitBranch != "b1" {
			t.Errorf("%s: Session %q Cwd %q GitBranch %q", s.ID, s.Session, s.Cwd, s.GitBranch)
		}
	}
}
