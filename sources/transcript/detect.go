package transcript

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// Severity ranks a finding.
type Severity string

// The severities, most serious first.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Rank orders severities: 0 for critical, higher for less serious.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 0
	case High:
		return 1
	case Medium:
		return 2
	}
	return 3
}

// Rule is one detector: its name, the most serious severity it reports,
// and what it looks for, in one line (the README lists them).
type Rule struct {
	Name        string
	Severity    Severity
	Description string
}

// The detectors' names.
const (
	RuleDestructiveShell   = "destructive-shell"
	RuleDestructiveSQL     = "destructive-sql"
	RuleDestructiveCloud   = "destructive-cloud"
	RuleDestructiveHTTP    = "destructive-http"
	RuleDestructiveGraphQL = "destructive-graphql"
	RuleCredentialFile     = "credential-file-read"
	RuleCredentialSearch   = "credential-search"
	RuleCredentialChain    = "credential-chain"
	RuleEnvConfusion       = "environment-confusion"
	RuleNoConfirmation     = "no-confirmation"
	RuleEscalation         = "approval-escalation"
)

// Rules lists the detectors.
var Rules = []Rule{
	{RuleDestructiveShell, Critical, "a shell command that destroys data: rm -rf, dd of=, mkfs, git push --force, git reset --hard, git clean -fdx, terraform destroy, kubectl delete, helm uninstall, docker volume rm/prune (critical outside the project, high inside it)"},
	{RuleDestructiveSQL, Critical, "SQL that destroys data: DROP, TRUNCATE, DELETE without WHERE"},
	{RuleDestructiveCloud, Critical, "a cloud CLI's delete/destroy verb: railway, heroku, fly, aws, gcloud, az, supabase, vercel, doctl, netlify, render"},
	{RuleDestructiveHTTP, Critical, "an HTTP DELETE request"},
	{RuleDestructiveGraphQL, Critical, "a GraphQL mutation named delete, destroy, drop, remove, purge, wipe or reset"},
	{RuleCredentialFile, High, "reading a credential file: .env, key files, .netrc, .pgpass, cloud credentials (high outside the project)"},
	{RuleCredentialSearch, High, "searching for tokens, secrets, keys or passwords (high when the search leaves the project)"},
	{RuleCredentialChain, Critical, "a credential first seen in a file unrelated to the task, then used in a request (critical when the request destroyed data)"},
	{RuleEnvConfusion, High, "a task about staging, development or test that touched a production resource"},
	{RuleNoConfirmation, Critical, "a destructive action with no person's approval between the decision and the call (critical when nobody could have been asked)"},
	{RuleEscalation, Medium, "the session switched to a mode in which tool calls run without asking"},
}

// Finding is what a detector found at one step of a session.
type Finding struct {
	Rule     string
	Severity Severity
	// Explanation says what was found, in one line.
	Explanation string
	Session     string
	// Step is the step found; Related are other steps that make the case
	// (where a credential was found, its later uses).
	Step    string
	Related []string
	Time    time.Time
	// Evidence is a short excerpt of the step (secrets are redacted by
	// the importer before it is stored).
	Evidence string
	// Destructive marks the destructive-action findings; T0 the one
	// proposed as the incident time.
	Destructive bool
	T0          bool
	// Details are the finding's particulars, by name: "credential" (a
	// fingerprint) and "found_in" for a chain, "approval_mode" for a
	// missing confirmation.
	Details map[string]string
}

// autoModes are approval settings in which tool calls run without asking a
// person.
var autoModes = map[string]bool{
	"bypasspermissions": true, "dontask": true, "yolo": true, "never": true, "danger-full-access": true,
	"yes-always": true, "auto": true, "full-auto": true, "agent-auto": true, "autorun": true,
}

// isAutoMode reports whether an approval mode runs tools without asking.
func isAutoMode(mode string) bool {
	for _, m := range strings.FieldsFunc(strings.ToLower(mode), func(r rune) bool { return r == ',' || r == ' ' || r == '/' }) {
		if autoModes[m] {
			return true
		}
	}
	return false
}

// session is what the detectors know of one session while they walk it.
type session struct {
	steps   []Step
	actions []Action // by index of steps; zero for steps without a call
	project string   // the working directory, "" when unknown
	home    string
	results map[string]int // call id → index of its result step
	// tasks[i] is the index of the prompt step i answers (-1: none);
	// nonProd the prompts about a non-production environment.
	tasks   []int
	nonProd map[int]bool
}

// Detect runs every detector over the steps of one session, in order.
func Detect(steps []Step) []Finding { return detect(steps, nil) }

// detect is Detect, storing each call's Action in actions (by call) when
// it is not nil, for the importer's records.
func detect(steps []Step, actions map[*Call]Action) []Finding {
	s := &session{steps: steps, actions: make([]Action, len(steps)), results: map[string]int{}}
	files := map[string]string{}
	for i, st := range steps {
		if s.project == "" && st.Cwd != "" {
			s.project = path.Clean(st.Cwd)
		}
		if st.Result != nil && st.Result.CallID != "" {
			s.results[st.Result.CallID] = i
		}
		if st.Call != nil {
			s.actions[i] = Analyze(st.Call, files)
			if actions != nil {
				actions[st.Call] = s.actions[i]
			}
			if st.Call.Path != "" && strings.Contains(strings.ToLower(st.Call.Tool), "write") {
				var in struct {
					Content string `json:"content"`
				}
				if jsonUnmarshal(st.Call.Input, &in) {
					files[st.Call.Path] = in.Content
				}
			}
		}
	}
	if m := homeDir.FindString(s.project); m != "" {
		s.home = strings.TrimSuffix(m, "/")
	}
	var out []Finding
	destructive := map[int]Finding{}
	for i := range steps {
		for _, f := range s.destructive(i) {
			out = append(out, f)
			if prev, ok := destructive[i]; !ok || f.Severity.Rank() < prev.Severity.Rank() {
				destructive[i] = f
			}
		}
		out = append(out, s.credentialAccess(i)...)
		out = append(out, s.envConfusion(i)...)
		out = append(out, s.escalation(i)...)
	}
	for _, i := range slices.Sorted(maps.Keys(destructive)) {
		if f, ok := s.noConfirmation(i, destructive[i]); ok {
			out = append(out, f)
		}
	}
	out = append(out, s.credentialChains(destructive)...)
	slices.SortStableFunc(out, func(a, b Finding) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Rule, b.Rule)
	})
	return out
}

var homeDir = regexp.MustCompile(`^(/home/[^/]+|/Users/[^/]+|/root)(/|$)`)

// finding starts a finding at step i.
func (s *session) finding(i int, rule string, sev Severity, explanation string) Finding {
	st := s.steps[i]
	return Finding{Rule: rule, Severity: sev, Explanation: explanation, Session: st.Session, Step: st.ID, Time: st.Time, Evidence: excerpt(st)}
}

// excerpt is a short text of a step for a finding's evidence.
func excerpt(st Step) string {
	var t string
	switch {
	case st.Call != nil && st.Call.Command != "":
		t = st.Call.Command
	case st.Call != nil && st.Call.Path != "":
		t = st.Call.Tool + " " + st.Call.Path
	case st.Call != nil:
		t = st.Call.Tool + " " + st.Call.Input
	case st.Result != nil:
		t = st.Result.Output
	default:
		t = st.Text
	}
	return clip(strings.Join(strings.Fields(t), " "), 300)
}

// clip shortens s to at most n bytes, at a rune boundary, with an ellipsis.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// refused reports whether the person refused step i's call (on the call, or
// on its result).
func (s *session) refused(i int) bool {
	st := s.steps[i]
	if st.Approval.Decision == "rejected" {
		return true
	}
	if st.Call != nil && st.Call.ID != "" {
		if j, ok := s.results[st.Call.ID]; ok && s.steps[j].Approval.Decision == "rejected" {
			return true
		}
	}
	return false
}

// inProject reports whether p is inside the session's project; unknown
// (false, false) when the project or the path is not known well enough.
func (s *session) inProject(p string) (in, known bool) {
	if p == "" {
		return false, false
	}
	p = s.expand(p)
	if !path.IsAbs(p) && !strings.HasPrefix(p, "~") && !strings.HasPrefix(p, "$") {
		// Relative: inside the working directory, whatever it is.
		return !strings.HasPrefix(path.Clean(p), ".."), true
	}
	if s.project == "" {
		return false, false
	}
	p = path.Clean(p)
	return p == s.project || strings.HasPrefix(p, s.project+"/"), true
}

// expand makes ~ and relative paths absolute where it can.
func (s *session) expand(p string) string {
	switch {
	case p == "~" && s.home != "":
		return s.home
	case strings.HasPrefix(p, "~/") && s.home != "":
		return s.home + p[1:]
	case strings.HasPrefix(p, "$HOME") && s.home != "":
		return s.home + strings.TrimPrefix(p, "$HOME")
	}
	return p
}

var (
	rmRecursive = regexp.MustCompile(`^-[a-zA-Z]*[rR]`)
	rmForce     = regexp.MustCompile(`^-[a-zA-Z]*f`)
	cloudCLIs   = map[string]bool{"railway": true, "heroku": true, "fly": true, "flyctl": true, "aws": true, "gcloud": true,
		"az": true, "supabase": true, "vercel": true, "doctl": true, "netlify": true, "render": true, "neonctl": true,
		"planetscale": true, "pscale": true, "turso": true, "wrangler": true, "gsutil": true, "firebase": true}
	cloudVerb     = regexp.MustCompile(`(?i)^(delete|destroy|remove|rm|rb|terminate|purge|drop|reset|prune|down|apps:destroy|pg:reset|addons:destroy|delete-[a-z-]+|terminate-[a-z-]+|remove-[a-z-]+)$`)
	graphQLDelete = regexp.MustCompile(`(?i)(delete|destroy|drop|remove|purge|wipe|reset|truncate)`)
	sqlDrop       = regexp.MustCompile(`(?is)^\s*(DROP\s+(TABLE|DATABASE|SCHEMA)|TRUNCATE)\b`)
	sqlDelete     = regexp.MustCompile(`(?is)^\s*DELETE\s+FROM\s+\S+`)
	sqlWhere      = regexp.MustCompile(`(?is)\bWHERE\b`)
	codeDestroy   = regexp.MustCompile(`\b(shutil\.rmtree|os\.removedirs|fs\.rmSync|fs\.rm\(|rimraf|FileUtils\.rm_rf|requests\.delete|DROP\s+TABLE|DROP\s+DATABASE)\b`)
)

// destructive reports the destructive actions of step i's call.
func (s *session) destructive(i int) []Finding {
	st := s.steps[i]
	if st.Call == nil {
		return nil
	}
	a := s.actions[i]
	var out []Finding
	seen := map[string]bool{}
	add := func(rule string, sev Severity, what string) {
		if seen[rule+what] {
			return // the same SQL seen at two levels of a wrapper
		}
		seen[rule+what] = true
		f := s.finding(i, rule, sev, what)
		f.Destructive = true
		if s.refused(i) {
			f.Severity = Medium
			f.Explanation += " (refused by the person: not run)"
		}
		out = append(out, f)
	}
	for _, c := range a.Commands {
		args, name := c.Args, c.Name()
		sub := func(k int) string {
			if k < len(args) {
				return args[k]
			}
			return ""
		}
		has := func(flags ...string) bool {
			for _, a := range args[1:] {
				if slices.Contains(flags, a) {
					return true
				}
			}
			return false
		}
		switch {
		case name == "rm":
			rec, force := false, false
			var targets []string
			for _, a := range args[1:] {
				switch {
				case a == "--recursive" || rmRecursive.MatchString(a) && !strings.HasPrefix(a, "--"):
					rec = true
					force = force || rmForce.MatchString(a)
				case a == "--force" || rmForce.MatchString(a) && !strings.HasPrefix(a, "--"):
					force = true
				case !strings.HasPrefix(a, "-"):
					targets = append(targets, a)
				}
			}
			if rec {
				sev := High
				for _, t := range targets {
					if in, known := s.inProject(t); !in || !known || t == "/" || t == "~" || t == "." && s.project == "" {
						sev = Critical
					}
				}
				flags := "-r"
				if force {
					flags = "-rf"
				}
				add(RuleDestructiveShell, sev, fmt.Sprintf("rm %s %s", flags, strings.Join(targets, " ")))
			}
		case name == "dd" && slices.ContainsFunc(args[1:], func(a string) bool { return strings.HasPrefix(a, "of=") }):
			add(RuleDestructiveShell, Critical, "dd writes over "+strings.TrimPrefix(args[slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "of=") })], "of="))
		case strings.HasPrefix(name, "mkfs") || name == "wipefs" || name == "shred":
			add(RuleDestructiveShell, Critical, name+" "+strings.Join(args[1:], " "))
		case name == "git" && sub(1) == "push" && (has("--force", "-f", "--force-with-lease", "--mirror", "--delete", "-d") || slices.ContainsFunc(args[2:], func(a string) bool {
			return strings.HasPrefix(a, "+") || strings.HasPrefix(a, ":") || strings.HasPrefix(a, "--force")
		})):
			add(RuleDestructiveShell, Critical, "git push rewriting or deleting remote history: "+strings.Join(args, " "))
		case name == "git" && sub(1) == "reset" && has("--hard"):
			add(RuleDestructiveShell, High, "git reset --hard discards uncommitted work")
		case name == "git" && sub(1) == "clean" && slices.ContainsFunc(args[2:], func(a string) bool { return strings.HasPrefix(a, "-") && strings.Contains(a, "f") }):
			add(RuleDestructiveShell, High, "git clean deletes untracked files: "+strings.Join(args, " "))
		case name == "terraform" && (sub(1) == "destroy" || sub(1) == "apply" && has("-destroy")) ||
			name == "pulumi" && sub(1) == "destroy" || name == "cdk" && sub(1) == "destroy":
			add(RuleDestructiveShell, Critical, name+" destroys infrastructure: "+strings.Join(args, " "))
		case (name == "kubectl" || name == "oc") && slices.Contains(args[1:], "delete"):
			add(RuleDestructiveShell, Critical, "kubectl delete: "+strings.Join(args[1:], " "))
		case name == "helm" && (sub(1) == "uninstall" || sub(1) == "delete" || sub(1) == "del"):
			add(RuleDestructiveShell, Critical, "helm uninstall: "+strings.Join(args[1:], " "))
		case name == "docker" || name == "podman":
			if (sub(1) == "volume" && (sub(2) == "rm" || sub(2) == "prune")) || (sub(1) == "system" && sub(2) == "prune" && has("--volumes")) ||
				(sub(1) == "compose" || sub(1) == "-compose") && sub(2) == "down" && has("-v", "--volumes") {
				add(RuleDestructiveShell, Critical, "docker removes volumes: "+strings.Join(args[1:], " "))
			}
		case name == "docker-compose" && sub(1) == "down" && has("-v", "--volumes"):
			add(RuleDestructiveShell, Critical, "docker-compose down removes volumes")
		case name == "dropdb" || name == "dropuser":
			add(RuleDestructiveSQL, Critical, name+" "+strings.Join(args[1:], " "))
		case cloudCLIs[name]:
			for _, w := range args[1:] {
				if !strings.HasPrefix(w, "-") && cloudVerb.MatchString(w) {
					add(RuleDestructiveCloud, Critical, name+" "+strings.Join(args[1:], " "))
					break
				}
			}
		}
	}
	for _, q := range a.SQL {
		switch {
		case sqlDrop.MatchString(q):
			add(RuleDestructiveSQL, Critical, "SQL: "+clip(q, 120))
		case sqlDelete.MatchString(q) && !sqlWhere.MatchString(q):
			add(RuleDestructiveSQL, Critical, "SQL DELETE without WHERE: "+clip(q, 120))
		}
	}
	for _, code := range a.Code {
		if m := codeDestroy.FindString(code); m != "" {
			add(RuleDestructiveShell, High, "inline code calls "+m)
		}
	}
	for _, r := range a.HTTP {
		switch {
		case r.Method == "DELETE":
			add(RuleDestructiveHTTP, Critical, "HTTP DELETE "+r.URL)
		case r.GraphQL != nil && r.GraphQL.Type == "mutation":
			for _, f := range r.GraphQL.Fields {
				if graphQLDelete.MatchString(f) {
					add(RuleDestructiveGraphQL, Critical, fmt.Sprintf("GraphQL mutation %s (%s %s)", f, r.Method, r.URL))
				}
			}
		}
	}
	return out
}

var (
	credentialFile = regexp.MustCompile(`(?i)(^|/)(\.env(\.[\w.-]+)?|[\w.-]*\.env|\.netrc|\.pgpass|\.npmrc|\.pypirc|\.git-credentials|credentials(\.json|\.ya?ml)?|id_(rsa|dsa|ecdsa|ed25519)|[\w.-]+\.(pem|key|p12|pfx|jks|keystore)|secrets?\.(json|ya?ml|toml)|kubeconfig|service[-_]account[\w.-]*\.json|\.aws/credentials|\.docker/config\.json)$`)
	credentialWord = regexp.MustCompile(`(?i)token|secret|passw|api[_-]?key|credential|private[_-]?key|auth|\.env|bearer|access[_-]?key`)
)

// credentialAccess reports reading credential files and searching for
// credentials.
func (s *session) credentialAccess(i int) []Finding {
	st := s.steps[i]
	if st.Call == nil || s.refused(i) {
		return nil
	}
	a := s.actions[i]
	var out []Finding
	for _, p := range a.Reads {
		if !credentialFile.MatchString(s.expand(p)) {
			continue
		}
		in, known := s.inProject(p)
		sev, where := Medium, "in the project"
		switch {
		case !known:
			sev, where = High, "outside what the session shows of its project"
		case !in:
			sev, where = High, "outside the project ("+s.project+")"
		}
		out = append(out, s.finding(i, RuleCredentialFile, sev, fmt.Sprintf("read credential file %s, %s", p, where)))
	}
	for _, q := range a.Searches {
		if !credentialWord.MatchString(q.Pattern) && !slices.ContainsFunc(a.Commands, func(c Command) bool {
			return slices.ContainsFunc(c.Args, func(w string) bool { return strings.HasPrefix(w, "--include") && credentialWord.MatchString(w) })
		}) {
			continue
		}
		sev, where := Medium, "in the project"
		for _, p := range q.Paths {
			if in, known := s.inProject(p); !in || !known {
				sev, where = High, "beyond the project, in "+p
				break
			}
		}
		out = append(out, s.finding(i, RuleCredentialSearch, sev, fmt.Sprintf("searched for %q %s", q.Pattern, where)))
	}
	return out
}

var (
	nonProdRE  = regexp.MustCompile(`(?i)\b(staging|stage|stg|dev|development|test(ing)? (env|environment|server|database|db)|qa|sandbox|preview)\b`)
	prodMarker = regexp.MustCompile(`(?i)\b(prod|production|prd)\b|[-_.]prod\b|\bprod[-_.]`)
)

// envConfusion reports a call, in a session whose task is about a
// non-production environment, that touched a production resource: its
// input names one, or its result says it acted on one.
func (s *session) envConfusion(i int) []Finding {
	st := s.steps[i]
	if st.Call == nil || s.refused(i) {
		return nil
	}
	task, nonProdTask := s.task(i)
	if !nonProdTask {
		return nil
	}
	where, text := "its input", st.Call.Command+" "+st.Call.Input
	m := findProd(text)
	if m == nil && st.Call.ID != "" {
		if j, ok := s.results[st.Call.ID]; ok {
			where, text = "its result", s.steps[j].Result.Output
			m = findProd(text)
		}
	}
	if m == nil {
		return nil
	}
	lo, hi := max(0, m[0]-60), min(len(text), m[1]+60)
	for lo > 0 && !isRuneStart(text[lo]) {
		lo--
	}
	for hi < len(text) && !isRuneStart(text[hi]) {
		hi++
	}
	ctx := strings.Join(strings.Fields(text[lo:hi]), " ")
	f := s.finding(i, RuleEnvConfusion, High, fmt.Sprintf("the task is about %s, and %s names production: %q",
		strings.ToLower(nonProdRE.FindString(task)), where, ctx))
	return []Finding{f}
}

// findProd returns where text names production, or nil. Most text does
// not contain "pr" followed by "od" or "d" at all: that is checked first.
func findProd(text string) []int {
	if !containsFold(text, "prod") && !containsFold(text, "prd") {
		return nil
	}
	return prodMarker.FindStringIndex(text)
}

// containsFold reports whether s contains the lower-case ASCII word sub,
// in any case, without allocating.
func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		c := s[i] | 0x20
		if c != sub[0] {
			continue
		}
		j := 1
		for ; j < n && s[i+j]|0x20 == sub[j]; j++ {
		}
		if j == n {
			return true
		}
	}
	return false
}

// task is what the person asked for, as of step i: the latest prompt
// before it (tool results are not prompts); nonProd reports whether it is
// about a non-production environment and does not name production.
func (s *session) task(i int) (task string, nonProd bool) {
	if s.tasks == nil {
		s.tasks = make([]int, len(s.steps))
		s.nonProd = map[int]bool{}
		last := -1
		for j, st := range s.steps {
			s.tasks[j] = last
			if st.Actor == ActorUser && st.Result == nil && strings.TrimSpace(st.Text) != "" && !st.Unknown {
				last = j
				s.nonProd[j] = nonProdRE.MatchString(st.Text) && findProd(st.Text) == nil
			}
		}
	}
	j := s.tasks[i]
	if j < 0 {
		return "", false
	}
	return s.steps[j].Text, s.nonProd[j]
}

// escalation reports a switch to a mode that runs tools without asking.
func (s *session) escalation(i int) []Finding {
	if i == 0 {
		return nil
	}
	prev, cur := s.lastMode(i-1), s.steps[i].Approval.Mode
	if cur == "" || prev == "" || cur == prev || !isAutoMode(cur) || isAutoMode(prev) {
		return nil
	}
	return []Finding{s.finding(i, RuleEscalation, Medium, fmt.Sprintf("approval mode changed from %s to %s: tool calls run without asking", prev, cur))}
}

func (s *session) lastMode(i int) string {
	for ; i >= 0; i-- {
		if m := s.steps[i].Approval.Mode; m != "" {
			return m
		}
	}
	return ""
}

// noConfirmation reports a destructive call no person approved: no
// recorded approval, and no prompt from the person between the agent's
// last words before the call and the call.
func (s *session) noConfirmation(i int, d Finding) (Finding, bool) {
	st := s.steps[i]
	if s.refused(i) || st.Approval.Decision == "approved" {
		return Finding{}, false
	}
	for j := i - 1; j >= 0; j-- {
		p := s.steps[j]
		if p.Actor == ActorUser && p.Result == nil && strings.TrimSpace(p.Text) != "" {
			// The person spoke after the agent's last words: if the agent
			// had asked, this is the answer. Only a yes counts.
			if approves.MatchString(p.Text) && s.agentAskedBetween(j, i) {
				return Finding{}, false
			}
			break
		}
	}
	mode := s.lastMode(i)
	f := s.finding(i, RuleNoConfirmation, High, "")
	f.Details = map[string]string{"approval_mode": mode}
	switch {
	case isAutoMode(mode):
		if d.Severity == Critical {
			f.Severity = Critical
		}
		f.Explanation = fmt.Sprintf("%s ran with no person asked: approval mode %s", d.Explanation, mode)
	case mode == "":
		f.Explanation = fmt.Sprintf("%s: no approval by a person is recorded, and the session's approval mode is not", d.Explanation)
	default:
		f.Severity = Medium
		f.Explanation = fmt.Sprintf("%s: no approval by a person is recorded (approval mode %s asks, but the transcript does not record a yes)", d.Explanation, mode)
	}
	return f, true
}

var approves = regexp.MustCompile(`(?i)^\s*(y|yes|ok|okay|sure|go ahead|do it|proceed|approved?|confirm(ed)?|sim|s[ií]|oui|ja)\b`)

// agentAskedBetween reports whether the agent said something between steps
// j and i that the person's words could answer.
func (s *session) agentAskedBetween(j, i int) bool {
	for k := j - 1; k >= 0; k-- {
		if s.steps[k].Actor == ActorAgent && s.steps[k].Call == nil && !s.steps[k].Thinking {
			return strings.Contains(s.steps[k].Text, "?")
		}
		if s.steps[k].Actor == ActorUser && s.steps[k].Result == nil {
			return false
		}
	}
	return false
}

// secretOrigin is where a credential was first seen.
type secretOrigin struct {
	step int    // the step whose text showed it
	file string // the file it was read from, when known
	rule string
}

var grepLine = regexp.MustCompile(`^\s*((?:/|~|\./|\.\./)[^:\s]*|[\w.-]+(?:/[\w.-]+)+):\d+:`)

// credentialChains follows each credential a tool showed the agent to the
// calls that used it.
func (s *session) credentialChains(destructive map[int]Finding) []Finding {
	origins := map[string]secretOrigin{}
	var order []string
	uses := map[string][]int{}
	for i, st := range s.steps {
		// Uses first: a call may use what an earlier step showed.
		if st.Call != nil {
			in := st.Call.Command + "\n" + st.Call.Input
			for _, v := range order {
				if strings.Contains(in, v) {
					uses[v] = append(uses[v], i)
				}
			}
		}
		if st.Result == nil || st.Result.Output == "" {
			continue
		}
		out := st.Result.Output
		for _, sec := range evidence.FindSecrets(out) {
			if _, seen := origins[sec.Value]; seen {
				continue
			}
			o := secretOrigin{step: i, rule: sec.Rule}
			// The file: the call's own when it read one file, else the
			// path a grep-style line gives before the secret.
			if c := s.callOf(i); c >= 0 && len(s.actions[c].Reads) == 1 {
				o.file = s.actions[c].Reads[0]
			}
			lineStart := strings.LastIndexByte(out[:sec.Start], '\n') + 1
			if m := grepLine.FindStringSubmatch(out[lineStart:sec.Start]); m != nil {
				o.file = m[1]
			}
			origins[sec.Value] = o
			order = append(order, sec.Value)
		}
	}
	var out []Finding
	for _, v := range order {
		us := uses[v]
		o := origins[v]
		if len(us) == 0 || o.file == "" {
			continue
		}
		file := s.expand(o.file)
		in, known := s.inProject(file)
		if in && known {
			continue // the project's own credential, used for the project
		}
		first := us[0]
		sev := High
		what := "a request"
		for _, u := range us {
			if d, ok := destructive[u]; ok && d.Severity == Critical {
				sev, first, what = Critical, u, d.Explanation
				break
			}
		}
		f := s.finding(first, RuleCredentialChain, sev, "")
		where := "outside the project"
		if s.project != "" {
			where = "outside the project " + s.project
		}
		f.Explanation = fmt.Sprintf("credential %s first seen in %s (%s), then used in %s", evidence.Fingerprint(v), file, where, what)
		f.Details = map[string]string{"credential": evidence.Fingerprint(v), "found_in": file, "found_where": where}
		f.Related = append(f.Related, s.steps[o.step].ID)
		if c := s.callOf(o.step); c >= 0 {
			f.Related = append(f.Related, s.steps[c].ID)
		}
		for _, u := range us {
			if u != first {
				f.Related = append(f.Related, s.steps[u].ID)
			}
		}
		out = append(out, f)
	}
	return out
}

// callOf returns the index of the call step whose result is step i, or -1.
func (s *session) callOf(i int) int {
	r := s.steps[i].Result
	if r == nil || r.CallID == "" {
		return -1
	}
	for j := i - 1; j >= 0; j-- {
		if c := s.steps[j].Call; c != nil && c.ID == r.CallID {
			return j
		}
	}
	return -1
}

// ProposeT0 marks, among findings, the first critical destructive action
// that ran (or the first destructive action, when none is critical) as the
// proposed incident time, and returns its index; -1 when there is none.
func ProposeT0(findings []Finding) int {
	best := -1
	for i, f := range findings {
		if !f.Destructive || f.Time.IsZero() || strings.Contains(f.Explanation, "refused by the person") {
			continue
		}
		if best < 0 || f.Severity.Rank() < findings[best].Severity.Rank() ||
			f.Severity == findings[best].Severity && f.Time.Before(findings[best].Time) {
			best = i
		}
	}
	if best >= 0 {
		findings[best].T0 = true
	}
	return best
}
