package transcript

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// script builds a session from short lines, one step each:
//
//	user: text             a prompt
//	agent: text            the agent's words
//	call ID: command       a Bash call (ID is also its call id)
//	read ID: path          a Read call
//	result ID: output      the result of call ID
//	refuse ID              the person refused call ID
//	mode: name             the approval mode from here on
type script struct {
	steps []Step
	mode  string
	cwd   string
	t     time.Time
}

func newScript(cwd, mode string) *script {
	return &script{cwd: cwd, mode: mode, t: time.Date(2026, 11, 18, 14, 0, 0, 0, time.UTC)}
}

func (s *script) add(lines ...string) *script {
	for _, l := range lines {
		head, body, _ := strings.Cut(l, ": ")
		kind, id, _ := strings.Cut(head, " ")
		s.t = s.t.Add(time.Second)
		st := Step{Format: FormatClaude, Session: "s1", ID: fmt.Sprintf("%d", len(s.steps)+1), Time: s.t, Cwd: s.cwd}
		switch kind {
		case "user":
			st.Actor, st.Text = ActorUser, body
		case "agent":
			st.Actor, st.Text = ActorAgent, body
		case "call":
			st.Actor, st.Call = ActorAgent, &Call{ID: id, Tool: "Bash", Command: body}
		case "read":
			st.Actor, st.Call = ActorAgent, &Call{ID: id, Tool: "Read", Path: body}
		case "result":
			st.Actor, st.Result = ActorTool, &Result{CallID: id, Output: body}
		case "refuse":
			st.Actor, st.Result = ActorTool, &Result{CallID: id, Output: "The user doesn't want to proceed with this tool use.", IsError: true}
			st.Approval.Decision = "rejected"
		case "approve":
			// The call just before is approved by a person (Cursor, Codex).
			s.steps[len(s.steps)-1].Approval.Decision = "approved"
			continue
		case "mode":
			s.mode = body
			continue
		default:
			panic("script: " + l)
		}
		st.Approval.Mode = s.mode
		s.steps = append(s.steps, st)
	}
	return s
}

// rules lists findings as "rule severity @step".
func rules(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s @%s", f.Rule, f.Severity, f.Step))
	}
	slices.Sort(out)
	return out
}

func TestDetect(t *testing.T) {
	const project = "/home/ana/src/shop"
	tests := []struct {
		name string
		s    *script
		want []string
		t0   string // step proposed as T0, "" for none
	}{
		{
			name: "the nine seconds: token from an unrelated file, GraphQL delete, nobody asked",
			s: newScript(project, "bypassPermissions").add(
				"user: fix the staging deploy",
				"call c1: grep -rn TOKEN ~ --include='.env*'",
				"result c1: /home/ana/old/dash/.env:2:CLOUD_TOKEN=crl_pat_Q8mZ2vLk9TpX4rWn7YbC3dHs",
				"read c2: /home/ana/old/dash/.env",
				"result c2: 1\tCLOUD_TOKEN=crl_pat_Q8mZ2vLk9TpX4rWn7YbC3dHs",
				"agent: I'll remove the stale volume.",
				`call c3: curl -X POST https://api.cloud.example/graphql -H "Authorization: Bearer crl_pat_Q8mZ2vLk9TpX4rWn7YbC3dHs" -d '{"query":"mutation { volumeDelete(volumeId: \"v\") }"}'`,
				`result c3: {"data":{"volumeDelete":true}}`,
			),
			want: []string{
				"credential-chain critical @7",
				"credential-file-read high @4",
				"credential-search high @2",
				"destructive-graphql critical @7",
				"no-confirmation critical @7",
			},
			t0: "7",
		},
		{
			name: "a project's own credential used for the project is not a chain",
			s: newScript(project, "default").add(
				"user: deploy",
				"read c1: /home/ana/src/shop/.env",
				"result c1: API_TOKEN=sk_test_4eC39HqLyjWDarjtT1zdp7dcXyZ",
				"call c2: curl -H 'Authorization: Bearer sk_test_4eC39HqLyjWDarjtT1zdp7dcXyZ' https://api.example/v1/charges",
			),
			want: []string{"credential-file-read medium @2"},
		},
		{
			name: "refused rm -rf is not T0 and needs no confirmation",
			s: newScript(project, "default").add(
				"user: clean up",
				"call c1: rm -rf /var/lib/postgresql",
				"refuse c1",
			),
			want: []string{"destructive-shell medium @2"},
		},
		{
			name: "a yes after a question is a confirmation",
			s: newScript(project, "default").add(
				"user: tidy the build",
				"agent: Shall I delete the build folder?",
				"user: yes, go ahead",
				"call c1: rm -rf ./build",
			),
			want: []string{"destructive-shell high @4"},
			t0:   "4",
		},
		{
			name: "recorded approval (Cursor, Codex)",
			s: newScript(project, "on-request").add(
				"user: drop the old table",
				`call c1: psql -c "DROP TABLE legacy_bookings"`,
				"approve",
			),
			want: []string{"destructive-sql critical @2"},
			t0:   "2",
		},
		{
			name: "default mode: approval not recorded is medium",
			s: newScript(project, "default").add(
				"user: reset the branch",
				"call c1: git push --force origin main",
			),
			want: []string{"destructive-shell critical @2", "no-confirmation medium @2"},
			t0:   "2",
		},
		{
			name: "staging task touching production; escalation",
			s: newScript(project, "default").add(
				"user: redeploy staging",
				"mode: bypassPermissions",
				"call c1: cloudrail up --environment staging",
				`result c1: Error: token "ops" is scoped to environment "production"`,
				"call c2: kubectl --context prod-eu get pods",
			),
			want: []string{"approval-escalation medium @2", "environment-confusion high @2", "environment-confusion high @4"},
		},
		{
			name: "cloud CLIs, SQL without WHERE, HTTP DELETE, docker volumes",
			s: newScript(project, "never").add(
				"user: do it",
				"call c1: railway volume delete pg-data",
				`call c2: mysql -e "DELETE FROM bookings"`,
				`call c3: mysql -e "DELETE FROM bookings WHERE id = 3"`,
				"call c4: curl -X DELETE https://api.example/v1/db/7",
				"call c5: docker volume prune -f",
				"call c6: aws s3 ls s3://bucket",
			),
			want: []string{
				"destructive-cloud critical @2",
				"destructive-http critical @5",
				"destructive-shell critical @6",
				"destructive-sql critical @3",
				"no-confirmation critical @2",
				"no-confirmation critical @3",
				"no-confirmation critical @5",
				"no-confirmation critical @6",
			},
			t0: "2",
		},
		{
			name: "ordinary work finds nothing",
			s: newScript(project, "default").add(
				"user: fix the test",
				"read c1: /home/ana/src/shop/search.go",
				"call c2: go test ./...",
				"call c3: git commit -am 'fix month boundary'",
				"call c4: grep -rn 'func Search' internal",
				"call c5: rm -f coverage.out",
			),
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Detect(tc.s.steps)
			if g := rules(got); !slices.Equal(g, tc.want) {
				t.Errorf("findings:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(tc.want, "\n  "))
				for _, f := range got {
					t.Logf("%s: %s", f.Rule, f.Explanation)
				}
			}
			i := ProposeT0(got)
			switch {
			case tc.t0 == "" && i >= 0:
				t.Errorf("T0 proposed at step %s, want none", got[i].Step)
			case tc.t0 != "" && (i < 0 || got[i].Step != tc.t0):
				t.Errorf("T0 at %d, want step %s", i, tc.t0)
			}
			for _, f := range got {
				if strings.Contains(f.Explanation, "crl_pat_Q8mZ2vLk9TpX4rWn7YbC3dHs") {
					t.Errorf("%s explanation shows the secret: %s", f.Rule, f.Explanation)
				}
			}
		})
	}
}
