package timeline

import (
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources/transcript"
)

// prompt is a message a person wrote in an agent session: the first one
// after T0 is when the loss was noticed, as far as the transcript shows.
type prompt struct {
	session string
	t       time.Time
	id      string
	text    string
}

// transcript reads an agent step or a detector finding.
func (b *builder) transcript(r *evidence.Record) {
	a := r.Facts.Attrs
	session := a["session"]
	if r.Kind == transcript.KindFinding {
		b.findings = append(b.findings, evidence.Record{ID: r.ID, Kind: r.Kind, OccurredAt: r.OccurredAt,
			Facts: evidence.Facts{Attrs: a}})
		sev := a["severity"]
		b.push(r, Event{Time: r.OccurredAt, Actor: System, Action: Finding, Subject: a["rule"], Severity: sev,
			Summary: joinNonEmpty(": ", sev+" "+a["rule"], oneLine(a["explanation"])), agent: b.agentInfo(session, "")})
		return
	}
	if r.Kind != transcript.KindStep {
		b.push(r, Event{Time: r.OccurredAt, Actor: System, Action: Recorded, Subject: r.ID, Summary: "transcript " + r.Kind})
		return
	}
	e := Event{Time: r.OccurredAt, Subject: "session " + shortID(session)}
	code := ""
	text := oneLine(a["text"])
	switch a["actor"] {
	case string(transcript.ActorUser):
		e.Actor, e.Action, e.Summary = Staff, AgentPrompt, "Person: “"+clip(text, 300)+"”"
		if text != "" && !r.OccurredAt.IsZero() {
			b.prompts = append(b.prompts, prompt{session: session, t: r.OccurredAt, id: r.ID, text: text})
		}
	case string(transcript.ActorAgent):
		e.Actor = Agent
		switch {
		case a["tool"] != "":
			e.Action, e.Summary = AgentCall, callSummary(a)
			code = clip(oneLine(first2(a["command"], a["input"])), 300)
			if s := callSubject(a); s != "" {
				e.Subject = s
			}
		case a["thinking"] == "true":
			e.Action, e.Summary = AgentThought, "Agent thought: "+clip(text, 300)
		default:
			e.Action, e.Summary = AgentMessage, "Agent: “"+clip(text, 300)+"”"
		}
	case string(transcript.ActorTool):
		e.Actor, e.Action, e.Summary = System, AgentResult, resultSummary(a)
	default:
		e.Actor, e.Action, e.Summary = System, AgentNote, joinNonEmpty(": ", "Session "+orDash(a["type"]), clip(text, 300))
	}
	if a["rewound"] == "true" {
		e.Summary += " (rewound)"
	}
	if a["sidechain"] == "true" {
		e.Summary = "[subagent] " + e.Summary
	}
	e.agent = b.agentInfo(session, code)
	b.push(r, e)
}

// callSummary says what a tool call did: the command it ran, the file it
// read or wrote, the address it fetched.
func callSummary(a map[string]string) string {
	tool := a["tool"]
	switch {
	case a["command"] != "":
		return "Agent ran " + tool + ": " + clip(oneLine(a["command"]), 300)
	case a["pattern"] != "" && a["path"] != "":
		return "Agent ran " + tool + " for " + clip(oneLine(a["pattern"]), 120) + " in " + a["path"]
	case a["path"] != "":
		return "Agent ran " + tool + " on " + a["path"]
	case a["url"] != "":
		return "Agent ran " + tool + " on " + a["url"]
	case a["input"] != "":
		return "Agent ran " + tool + ": " + clip(oneLine(a["input"]), 300)
	}
	return "Agent ran " + tool
}

// callSubject is the resource a call acted on: its file, address or
// first HTTP request.
func callSubject(a map[string]string) string {
	switch {
	case a["path"] != "":
		return a["path"]
	case a["url"] != "":
		return a["url"]
	case a["http"] != "":
		line, _, _ := strings.Cut(a["http"], "\n")
		return line
	}
	return ""
}

func resultSummary(a map[string]string) string {
	out := clip(oneLine(a["output"]), 200)
	what := "Tool returned"
	switch {
	case a["is_error"] == "true" || a["error"] != "":
		what = "Tool failed"
		if a["error"] != "" && out == "" {
			out = clip(oneLine(a["error"]), 200)
		}
	case a["exit_code"] != "" && a["exit_code"] != "0":
		what = "Tool returned exit " + a["exit_code"]
	}
	if a["decision"] != "" {
		what += " (person " + a["decision"] + ")"
	}
	return joinNonEmpty(": ", what, out)
}

func shortID(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return orDash(s)
}

// agentInfo keeps an agent step's session and command aside, and returns
// the index+1 its event refers to.
func (b *builder) agentInfo(session, code string) int32 {
	b.agent = append(b.agent, agentInfo{session: session, code: code})
	return int32(len(b.agent))
}
