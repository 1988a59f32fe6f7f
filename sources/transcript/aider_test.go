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

const aiderFixture = "testdata/aider/.aider.chat.history.md"

func aiderCollect(t testing.TB, path string) []Step {
	t.Helper()
	var steps []Step
	err := AiderParser{}.Parse(context.Background(), path, func(s Step) error {
		steps = append(steps, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

func aiderWrite(t testing.TB, content string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, ".aider.chat.history.md")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAiderSniff(t *testing.T) {
	head, err := os.ReadFile(aiderFixture)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path, head string
		want             bool
	}{
		{"history", "/r/fleet-api/.aider.chat.history.md", string(head), true},
		{"by name", "/r/fleet-api/.aider.chat.history.md", "", true},
		{"copied, other name", "/case/evidence/aider-history.md", string(head), true},
		{"header first", "/case/h.txt", "# aider chat started at 2026-11-18 14:04:02\n", true},
		{"input history", "/r/fleet-api/.aider.input.history", "\n# 2026-11-18 14:04:10.123456\n+hi\n", false},
		{"cursor export", "/case/chat.md", "# Fix\n_Exported on 11/18/2026 at 14:22:07 GMT from Cursor (2.0.77)_\n", false},
		{"readme about aider", "/r/README.md", "# Using aider\n\n# aider chat started at is the header.\n", false},
	} {
		if got := (AiderParser{}).Sniff(c.path, []byte(c.head)); got != c.want {
			t.Errorf("%s: Sniff = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestAiderSniffOwnFiles(t *testing.T) { cursorSniffOwn(t, AiderParser{}, "aider") }

func TestAiderHistory(t *testing.T) {
	steps := aiderCollect(t, aiderFixture)
	s1 := "aider-2026-11-18T14:04:02-" + cursorPathHash(aiderFixture)
	s2 := "aider-2026-11-18T16:20:45-" + cursorPathHash(aiderFixture)
	type want struct {
		session, id string
		actor       Actor
		typ         string
		mode        string
		decision    string
		unknown     bool
	}
	y := "yes-always"
	wants := []want{
		{s1, "line 2", ActorSystem, "session", "", "", false},
		{s1, "line 4", ActorTool, "output", "", "", false},
		{s1, "line 5", ActorSystem, "argv", "", "", false},
		{s1, "line 6", ActorTool, "output", "", "", false},
		{s1, "line 11", ActorUser, "user", "", "", false},
		{s1, "line 14", ActorAgent, "assistant", "", "", false},
		{s1, "line 18", ActorTool, "output", "", "", false},
		{s1, "line 20", ActorUser, "confirm", "", "approved", false},
		{s1, "line 22", ActorAgent, "assistant", "", "", false},
		{s1, "line 24", ActorAgent, "assistant/edit", "", "", false},
		{s1, "line 37", ActorAgent, "assistant/shell", "", "approved", false},
		{s1, "line 41", ActorTool, "output", "", "", false},
		{s1, "line 45", ActorUser, "confirm", "", "approved", false},
		{s1, "line 46", ActorTool, "output", "", "", false},
		{s1, "line 47", ActorUser, "confirm", "", "rejected", false},
		{s1, "line 49", ActorUser, "user", "", "", false},
		{s1, "line 49.1", ActorUser, "user/command", "", "", false},
		{s1, "line 51", ActorUser, "confirm", "", "approved", false},
		{s1, "line 52", ActorTool, "output", "", "", false},
		{s1, "line 54", ActorUser, "user", "", "", false},
		{s1, "line 56", ActorAgent, "assistant", "", "", false},
		{s1, "line 58", ActorAgent, "assistant/shell", "", "rejected", false},
		{s1, "line 63", ActorTool, "output", "", "", false},
		{s1, "line 66", ActorUser, "confirm", "", "rejected", false},
		{s1, "line 68", ActorUser, "user", "", "", false},
		{s1, "line 70", ActorTool, "output", "", "", false},
		{s2, "line 73", ActorSystem, "session", "", "", false},
		{s2, "line 75", ActorSystem, "argv", y, "", false},
		{s2, "line 76", ActorTool, "output", y, "", false},
		{s2, "line 80", ActorUser, "user", y, "", false},
		{s2, "line 82", ActorAgent, "assistant", y, "", false},
		{s2, "line 89", ActorAgent, "assistant/shell", y, "rejected", false},
		{s2, "line 93", ActorTool, "output", y, "", false},
		{s2, "line 95", ActorSystem, "confirm", y, "rejected", false},
		{s2, "line 96", ActorTool, "output", y, "", false},
		{s2, "line 97", ActorSystem, "confirm", y, "approved", false},
		{s2, "line 99", ActorSystem, "heading", y, "", true},
		{s2, "line 101", ActorUser, "user", y, "", false},
		{s2, "line 101.1", ActorUser, "user/command", y, "", false},
		{s2, "line 103", ActorSystem, "confirm", y, "", true},
	}
	if len(steps) != len(wants) {
		for _, s := range steps {
			t.Logf("%s %s %s", s.ID, s.Actor, s.Type)
		}
		t.Fatalf("%d steps, want %d", len(steps), len(wants))
	}
	counts := map[Actor]int{}
	t1 := time.Date(2026, 11, 18, 14, 4, 2, 0, time.UTC)
	t2 := time.Date(2026, 11, 18, 16, 20, 45, 0, time.UTC)
	for i, w := range wants {
		s := steps[i]
		got := want{s.Session, s.ID, s.Actor, s.Type, s.Approval.Mode, s.Approval.Decision, s.Unknown}
		if got != w {
			t.Errorf("step %d = %+v, want %+v", i, got, w)
		}
		if s.Format != FormatAider || len(s.Raw) == 0 || s.Bad != "" || s.Locator != strings.TrimSuffix(strings.TrimSuffix(s.ID, ".1"), ".2") {
			t.Errorf("%s: format %q raw %d bad %q locator %q", s.ID, s.Format, len(s.Raw), s.Bad, s.Locator)
		}
		if wt := map[string]time.Time{s1: t1, s2: t2}[s.Session]; !s.Time.Equal(wt) {
			t.Errorf("%s: time %v, want %v", s.ID, s.Time, wt)
		}
		counts[s.Actor]++
	}
	if want := map[Actor]int{ActorSystem: 8, ActorTool: 11, ActorUser: 13, ActorAgent: 8}; !maps.Equal(counts, want) {
		t.Errorf("steps by actor %v, want %v", counts, want)
	}

	find := func(id string) Step {
		for _, s := range steps {
			if s.ID == id {
				return s
			}
		}
		t.Fatalf("no step %q", id)
		return Step{}
	}
	if s := find("line 11"); s.Text != "The bookings migration leaves boat_class NULL for old rows.\nBackfill it and make the column NOT NULL." ||
		string(s.Raw) != "#### The bookings migration leaves boat_class NULL for old rows.  \n#### Backfill it and make the column NOT NULL.  " {
		t.Errorf("prompt = %q, raw %q", s.Text, s.Raw)
	}
	if c := find("line 24").Call; c.Tool != "edit" || c.Path != "migrations/0042_add_boat_class.sql" ||
		!strings.HasPrefix(c.Input, "<<<<<<< SEARCH\n") || !strings.HasSuffix(c.Input, ">>>>>>> REPLACE") {
		t.Errorf("edit = %+v", c)
	}
	if c := find("line 37").Call; c.Tool != "shell" || c.Command != `psql "$LOCAL_DATABASE_URL" -f migrations/0042_add_boat_class.sql` {
		t.Errorf("local migration = %+v", c)
	}
	if c := find("line 58").Call; c.Command != "pg_dump \"$PROD_DATABASE_URL\" > /tmp/fleet-before-0042.sql\npsql \"$PROD_DATABASE_URL\" -f migrations/0042_add_boat_class.sql" {
		t.Errorf("production commands = %+v", c)
	}
	if c := find("line 49.1").Call; c.Command != `psql "$LOCAL_DATABASE_URL" -c 'SELECT count(*) FROM bookings WHERE boat_class IS NULL'` {
		t.Errorf("/run = %+v", c)
	}
	if c := find("line 101.1").Call; c.Command != "rm -rf tmp/exports" {
		t.Errorf("! = %+v", c)
	}
	if r := find("line 41").Result; r.Output != "Tokens: 10k sent, 180 received. Cost: $0.04 message, $0.07 session.\n"+
		"Applied edit to migrations/0042_add_boat_class.sql\nCommit 3f2a9c1 feat: backfill boat_class and make it NOT NULL\n"+
		`psql "$LOCAL_DATABASE_URL" -f migrations/0042_add_boat_class.sql` {
		t.Errorf("output = %q", r.Output)
	}
	// A quote and a "####" line inside a fenced block stay in the reply.
	if s := find("line 82"); !strings.Contains(s.Text, "> staging only, never production\n#### step 1") {
		t.Errorf("reply = %q", s.Text)
	}
	if s := find("line 5"); s.Text != "/home/marta/.local/bin/aider --model sonnet --auto-commits" {
		t.Errorf("argv = %q", s.Text)
	}

	// Re-reading gives the same IDs.
	again := aiderCollect(t, aiderFixture)
	for i := range steps {
		if again[i].ID != steps[i].ID || again[i].Session != steps[i].Session {
			t.Errorf("re-parse %d: %s/%s, want %s/%s", i, again[i].Session, again[i].ID, steps[i].Session, steps[i].ID)
		}
	}
}

// TestAiderSessionsApart: the same history in two repositories gives two
// sessions.
func TestAiderSessionsApart(t *testing.T) {
	content := "# aider chat started at 2026-11-18 14:04:02\n\n#### hi  \n"
	a, b := aiderCollect(t, aiderWrite(t, content)), aiderCollect(t, aiderWrite(t, content))
	if a[0].Session == b[0].Session || !strings.HasPrefix(a[0].Session, "aider-2026-11-18T14:04:02-") {
		t.Errorf("sessions %q and %q", a[0].Session, b[0].Session)
	}
}

func TestAiderMalformed(t *testing.T) {
	content := strings.Join([]string{
		"#### a prompt before any header  ",
		"",
		"# aider chat started at sometime yesterday",
		"",
		"#### still read  ",
		"",
		"A reply whose block is never closed:",
		"",
		"```bash",
		"rm -rf build",
		"#### the next prompt  ",
		"> Run shell command? (Y)es/(N)o [Yes]: y  ",
		"",
		"# aider chat started at 2026-11-18 18:00:00",
		"#### <blank>  ",
	}, "\n")
	path := aiderWrite(t, content)
	steps := aiderCollect(t, path)
	var ids, bad []string
	for _, s := range steps {
		ids = append(ids, s.ID)
		if s.Bad != "" {
			bad = append(bad, s.ID)
		}
		if s.Format != FormatAider || len(s.Raw) == 0 || s.Session == "" {
			t.Errorf("step %+v", s)
		}
	}
	want := []string{"line 1", "line 3", "line 5", "line 7", "line 11", "line 12", "line 14", "line 15"}
	if !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	if !slices.Equal(bad, []string{"line 3"}) {
		t.Errorf("bad %v", bad)
	}
	if s := steps[0]; s.Session != "aider-"+cursorPathHash(path) || !s.Time.IsZero() {
		t.Errorf("before the header: %+v", s)
	}
	if s := steps[2]; s.Session != "aider-line3-"+cursorPathHash(path) || s.Text != "still read" {
		t.Errorf("after the bad header: %+v", s)
	}
	if s := steps[3]; !strings.HasSuffix(s.Text, "rm -rf build") {
		t.Errorf("unclosed reply = %q", s.Text)
	}
	if s := steps[7]; s.Text != "" || s.Actor != ActorUser {
		t.Errorf("blank prompt = %+v", s)
	}
}

// TestAiderEditsAndAnswers: a udiff edit names its file; an answer to a
// shell question is set on the block it names, not on the first one; a
// question about a command no reply offered carries the command itself.
func TestAiderEditsAndAnswers(t *testing.T) {
	content := strings.Join([]string{
		"# aider chat started at 2026-11-18 18:00:00",
		"",
		"#### tidy up  ",
		"",
		"```diff",
		"--- a/bin/cleanup.sh",
		"+++ b/bin/cleanup.sh",
		"@@ -1 +1 @@",
		"-rm -rf /srv/fleet/tmp",
		"+rm -rf /srv/fleet/tmp/*",
		"```",
		"",
		"```bash",
		"ls /srv/fleet/tmp",
		"```",
		"",
		"```bash",
		"bin/cleanup.sh",
		"```",
		"",
		"> bin/cleanup.sh  ",
		"> Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]: n  ",
		"> ls /srv/fleet/tmp  ",
		"> Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]: y  ",
		"> dropdb fleet  ",
		"> Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]: d  ",
	}, "\n")
	steps := aiderCollect(t, aiderWrite(t, content))
	byID := map[string]Step{}
	for _, s := range steps {
		byID[s.ID] = s
	}
	// The reply starts on the diff's fence line: the edit is its second step there.
	if byID["line 5"].Type != "assistant" {
		t.Errorf("reply = %+v", byID["line 5"])
	}
	if c := byID["line 5.1"].Call; c == nil || c.Tool != "edit" || c.Path != "bin/cleanup.sh" {
		t.Errorf("diff edit = %+v", byID["line 5.1"])
	}
	if s := byID["line 13"]; s.Call == nil || s.Call.Command != "ls /srv/fleet/tmp" || s.Approval.Decision != "approved" {
		t.Errorf("ls block = %+v", s)
	}
	if s := byID["line 17"]; s.Call == nil || s.Call.Command != "bin/cleanup.sh" || s.Approval.Decision != "rejected" {
		t.Errorf("cleanup block = %+v", s)
	}
	if s := byID["line 26"]; s.Call == nil || s.Call.Command != "dropdb fleet" || s.Approval.Decision != "rejected" || s.Actor != ActorUser {
		t.Errorf("question about a command no reply offered = %+v", s)
	}
}

// FuzzAiderParse: no panic; every step has its format, its bytes or a
// reason, and an ID no other step of its session has.
func FuzzAiderParse(f *testing.F) {
	if b, err := os.ReadFile(aiderFixture); err == nil {
		f.Add(b)
	}
	f.Add([]byte("# aider chat started at 2026-11-18 14:04:02\n```bash\n#### x  \n> y  \n```\n"))
	f.Add([]byte("```sh\nls\n```\n> ls  \n> Run shell command? (Y)es/(N)o [Yes]: y  \n"))
	f.Add([]byte("x\n<<<<<<< SEARCH\n=======\n#### q\n"))
	f.Add([]byte("#### /git push --force  \n#### !  \n> aider  \n"))
	dir := f.TempDir() // each fuzzing process runs its inputs one at a time
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range fuzzParse(t, AiderParser{}, filepath.Join(dir, ".aider.chat.history.md"), data) {
			if s.Session == "" {
				t.Fatalf("step without session: %+v", s)
			}
		}
	})
}
