// Package transcript imports the transcripts coding agents keep of their
// sessions (Claude Code, Codex CLI, Gemini CLI, Cursor, Aider) as evidence,
// one record per step, and runs the forensic detectors over them: the
// destructive actions, the credentials the agent went looking for and used,
// the environments it confused, and whether a person approved any of it.
//
// Each format has a Parser that turns a file into Steps in file order; the
// importer (transcript.go) redacts secrets, stores the steps and the
// findings, and proposes the incident time. Parsers know nothing of the
// store, of redaction or of the detectors.
package transcript

import (
	"context"
	"time"
)

// The formats a Parser reads; Step.Format and --format use these names.
const (
	FormatClaude = "claude-code"
	FormatCodex  = "codex"
	FormatGemini = "gemini"
	FormatCursor = "cursor"
	FormatAider  = "aider"
)

// Actor is who a step is by.
type Actor string

const (
	// ActorUser is the person at the keyboard: prompts, answers, decisions.
	ActorUser Actor = "user"
	// ActorAgent is the model: what it said, thought, and decided to run.
	ActorAgent Actor = "agent"
	// ActorTool is what a tool returned to the agent.
	ActorTool Actor = "tool"
	// ActorSystem is the harness: summaries, notices, compaction, settings.
	ActorSystem Actor = "system"
)

// Step is one thing that happened in an agent session: a prompt, a message,
// a thought, a tool call, a tool's result, a person's decision, a setting
// that changed. A format's record that holds several such things (a Claude
// Code assistant message with text and two tool_use blocks) gives one Step
// per thing, each with its own ID.
type Step struct {
	// Format is the format's name (FormatClaude, …).
	Format string
	// Session identifies the session: the format's own id (Claude Code's
	// sessionId, Codex's session_meta id, Cursor's composerId), or, for
	// formats without one, a stable id derived from the file and the
	// session's start (Aider).
	Session string
	// ID is unique and stable within the session: the record's uuid, with a
	// suffix for the n-th block of a record ("<uuid>.1"), a call id, or a
	// line number for formats without ids. Re-reading the same file gives
	// the same IDs.
	ID string
	// Parent is the ID of the step this one follows when the format records
	// it (Claude Code's parentUuid: sessions branch, and the tree is rebuilt
	// from these); empty otherwise.
	Parent string
	// Time is when it happened, in UTC; zero when the format gives none.
	Time time.Time
	// Actor is who it is by.
	Actor Actor
	// Type is the format's own name for the record ("assistant",
	// "response_item/function_call", "bubble", "summary", …).
	Type string
	// Text is what was said or thought, as text; Thinking marks the
	// model's reasoning (thinking blocks, reasoning items).
	Text     string
	Thinking bool
	// Call is set for a tool call, Result for a tool's result.
	Call   *Call
	Result *Result
	// Approval is what the format says about a person's approval of this
	// step (a call), or, on other steps, the session's settings from here
	// on (permission mode, approval policy).
	Approval Approval
	// Cwd and GitBranch are the working directory and branch the format
	// recorded for this step, when it did.
	Cwd       string
	GitBranch string
	// Sidechain marks a subagent's step (Claude Code's isSidechain, a
	// subagent transcript beside the session).
	Sidechain bool
	// Rewound marks content the user rewound (Gemini CLI $rewindTo): no
	// longer in the session's history, still evidence of what happened.
	Rewound bool
	// Unknown marks a record of a type this parser does not know: kept as
	// evidence with its Type and Raw, counted, never fatal.
	Unknown bool
	// Raw is the record's bytes exactly as in the file (one JSONL line
	// without its line end, one markdown block, one database value). Every
	// Step of the same record shares the same Raw.
	Raw []byte
	// Locator says where in the file the record is ("line 12",
	// "composerData:abc", "offset 4096").
	Locator string
	// Bad, when not empty, says why the record could not be read: the
	// importer keeps Raw as a rejected input with this reason. Only Raw,
	// Locator and Format need be set on such a step.
	Bad string
}

// Call is a tool call the agent made: the tool, and what it was given.
type Call struct {
	// ID links the call to its Result (tool_use id, call_id); may be empty.
	ID string
	// Tool is the tool's name as the format gives it ("Bash", "Read",
	// "shell", "run_terminal_cmd", "apply_patch").
	Tool string
	// Input is the call's arguments as the format gave them (JSON as text,
	// or the command for formats without structure).
	Input string
	// Command is the shell command line when the tool runs one.
	Command string
	// Path is the file the tool reads or writes, when it names one.
	Path string
	// URL is the address a web tool fetches, when it names one.
	URL string
	// Pattern is what a search tool looks for (Grep's pattern, a glob).
	Pattern string
}

// Result is what a tool returned.
type Result struct {
	// CallID is the Call.ID it answers; may be empty.
	CallID string
	// Output is the tool's output as text (stdout and stderr as given).
	Output string
	// ExitCode is the command's exit status when the format records it.
	ExitCode *int
	// IsError reports that the format marks the result as an error;
	// Error is its message when there is one apart from Output.
	IsError bool
	Error   string
}

// Approval is what a transcript says about a person's say over a step.
type Approval struct {
	// Mode is the session's setting as the format names it: Claude Code's
	// permissionMode ("default", "acceptEdits", "bypassPermissions",
	// "plan"), Codex's approval_policy ("untrusted", "on-request",
	// "never") and sandbox_policy, Gemini's approval mode ("yolo"),
	// Aider's --yes-always.
	Mode string
	// Sandbox is the sandbox policy when the format records one.
	Sandbox string
	// Decision is a person's answer about this very step when the format
	// records one: "approved", "rejected" (Cursor's userDecision, an Aider
	// y/n answer, a Codex approval event); empty when none was asked.
	Decision string
}

// Parser reads one transcript format.
type Parser interface {
	// Format is the format's name (FormatClaude, …).
	Format() string
	// Sniff reports whether a file looks like this format, from its path and
	// its first bytes (up to 64 KiB). It must not claim another format's
	// files: the importer tries parsers in order and takes the first yes.
	Sniff(path string, head []byte) bool
	// Parse reads the file at path, opened read-only, and calls emit for
	// each step in file order. A record it cannot read becomes a Step with
	// Bad set, and parsing goes on; Parse returns an error only when the
	// file as a whole cannot be read, or when emit or ctx does.
	Parse(ctx context.Context, path string, emit func(Step) error) error
}
