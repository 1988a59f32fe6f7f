package transcript

import (
	"reflect"
	"strings"
	"testing"
)

func TestAnalyzeShell(t *testing.T) {
	tests := []struct {
		name     string
		call     Call
		commands []string // program names, in order
		http     []string // "METHOD URL"
		graphql  []string // "type field,field"
		sql      int
		reads    []string
		search   []string
	}{
		{
			name:     "curl GraphQL mutation with line continuations",
			call:     Call{Command: "curl -sS -X POST https://api.example/graphql/v2 \\\n  -H \"Authorization: Bearer tok\" \\\n  -d '{\"query\":\"mutation { volumeDelete(volumeId: \\\"v1\\\") }\"}'"},
			commands: []string{"curl"},
			http:     []string{"POST https://api.example/graphql/v2"},
			graphql:  []string{"mutation volumeDelete"},
		},
		{
			name:     "named operation, operationName picks it",
			call:     Call{Command: `curl https://api.example/graphql --json '{"operationName":"B","query":"query A { me { id } } mutation B { projectDestroy(id: 1) }"}'`},
			commands: []string{"curl"},
			http:     []string{"POST https://api.example/graphql"},
			graphql:  []string{"mutation projectDestroy"},
		},
		{
			name:     "bash -lc unwraps",
			call:     Call{Command: `bash -lc "cd /srv && rm -rf data && echo done"`},
			commands: []string{"bash", "cd", "rm", "echo"},
		},
		{
			name:     "docker exec sh -c with SQL",
			call:     Call{Command: `docker exec db sh -c 'psql -U app -c "DROP TABLE bookings;"'`},
			commands: []string{"docker", "psql"},
			sql:      2, // seen at both levels
		},
		{
			name:     "ssh remote command",
			call:     Call{Command: `ssh -p 2222 deploy@prod.example "sudo systemctl stop app; rm -rf /var/lib/app"`},
			commands: []string{"ssh", "systemctl", "rm"},
		},
		{
			name:     "env assignment, sudo and timeout prefixes",
			call:     Call{Command: `TOKEN=abc sudo -E timeout 30 kubectl delete ns staging`},
			commands: []string{"kubectl"},
		},
		{
			name:     "curl DELETE and -d @file from an earlier write",
			call:     Call{Command: `curl -X DELETE https://api.example/v1/volumes/9 && curl -d @body.json https://api.example/graphql`},
			commands: []string{"curl", "curl"},
			http:     []string{"DELETE https://api.example/v1/volumes/9", "POST https://api.example/graphql"},
			graphql:  []string{"mutation dropDatabase"},
		},
		{
			name:     "grep for tokens across home, then source a .env",
			call:     Call{Command: `grep -rn "API_TOKEN" ~ --include='.env*' 2>/dev/null | head -20; . ./.env.staging`},
			commands: []string{"grep", "head", "."},
			reads:    []string{"./.env.staging"},
			search:   []string{"API_TOKEN in ~"},
		},
		{
			name:   "Read tool",
			call:   Call{Tool: "Read", Path: "/home/x/.env"},
			reads:  []string{"/home/x/.env"},
			search: nil,
		},
		{
			name:   "Grep tool",
			call:   Call{Tool: "Grep", Pattern: "secret", Path: "/home/x"},
			search: []string{"secret in /home/x"},
		},
		{
			name: "SQL tool input",
			call: Call{Tool: "mcp__postgres__query", Input: `{"sql":"TRUNCATE bookings"}`},
			sql:  1,
		},
		{
			name:     "not shell at all",
			call:     Call{Command: `if [ "$x" = "y" ]; then echo "unbalanced`},
			commands: []string{"[", "echo"},
		},
	}
	files := map[string]string{"body.json": `{"query":"mutation { dropDatabase(id: 3) }"}`}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Analyze(&tc.call, files)
			var names, http, ops, search []string
			for _, c := range a.Commands {
				names = append(names, c.Name())
			}
			for _, r := range a.HTTP {
				http = append(http, r.Method+" "+r.URL)
				if r.GraphQL != nil {
					ops = append(ops, r.GraphQL.Type+" "+strings.Join(r.GraphQL.Fields, ","))
				}
			}
			for _, s := range a.Searches {
				search = append(search, s.Pattern+" in "+strings.Join(s.Paths, ","))
			}
			if tc.commands != nil && !reflect.DeepEqual(names, tc.commands) {
				t.Errorf("commands %q, want %q", names, tc.commands)
			}
			if !reflect.DeepEqual(http, tc.http) {
				t.Errorf("http %q, want %q", http, tc.http)
			}
			if !reflect.DeepEqual(ops, tc.graphql) {
				t.Errorf("graphql %q, want %q", ops, tc.graphql)
			}
			if len(a.SQL) != tc.sql {
				t.Errorf("sql %q, want %d statements", a.SQL, tc.sql)
			}
			if tc.reads != nil && !reflect.DeepEqual(a.Reads, tc.reads) {
				t.Errorf("reads %q, want %q", a.Reads, tc.reads)
			}
			if tc.search != nil && !reflect.DeepEqual(search, tc.search) {
				t.Errorf("searches %q, want %q", search, tc.search)
			}
		})
	}
}
