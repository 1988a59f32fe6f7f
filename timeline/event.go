package timeline

import (
	"slices"
	"strconv"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/reconcile"
)

// Actor is who did what an Event shows.
type Actor string

// The actors.
const (
	// Customer: a customer booked, paid, wrote.
	Customer Actor = "customer"
	// Staff: a person of the business (a calendar entry, a sent email, a
	// refund), or the person at the agent's keyboard.
	Staff Actor = "staff"
	// Agent: the coding agent.
	Agent Actor = "agent"
	// System: software acting on its own: Stripe expiring a checkout, a
	// tool returning to the agent, a detector's finding, a newsletter.
	System Actor = "system"
)

// Action is what happened. Actions are grouped by the part before the dot.
type Action string

// The actions. Only ever added to: jsonl and csv consumers may match them.
const (
	BookingRequested Action = "booking.requested"
	BookingConfirmed Action = "booking.confirmed"
	BookingChanged   Action = "booking.changed"
	BookingCancelled Action = "booking.cancelled"

	PaymentRequested  Action = "payment.requested"  // a payment was started, not completed
	PaymentAuthorized Action = "payment.authorized" // authorised, to be captured later
	PaymentSucceeded  Action = "payment.succeeded"
	PaymentFailed     Action = "payment.failed"
	PaymentCancelled  Action = "payment.cancelled"
	PaymentRefunded   Action = "payment.refunded"
	PaymentUpdated    Action = "payment.updated" // a payment object whose status says nothing of the above

	CheckoutStarted Action = "checkout.started"
	CheckoutExpired Action = "checkout.expired"
	CustomerCreated Action = "customer.created"

	CalendarCreated   Action = "calendar.created"
	CalendarMoved     Action = "calendar.moved" // its start or end changed
	CalendarChanged   Action = "calendar.changed"
	CalendarCancelled Action = "calendar.cancelled"

	MailSent     Action = "mail.sent"
	MailReceived Action = "mail.received"

	AgentPrompt  Action = "agent.prompt"  // a person wrote to the agent
	AgentMessage Action = "agent.message" // the agent wrote
	AgentThought Action = "agent.thought" // the agent's recorded reasoning
	AgentCall    Action = "agent.call"    // the agent ran a tool
	AgentResult  Action = "agent.result"  // a tool's answer
	AgentNote    Action = "agent.note"    // the harness: summaries, settings, notices

	Finding Action = "finding" // a detector's finding about an agent step

	Recorded Action = "evidence.recorded" // a record of a kind no rule reads
)

// Event is one happening the evidence shows.
type Event struct {
	// Time is when it happened, in UTC; zero when no evidence says.
	Time   time.Time
	Actor  Actor
	Action Action
	// Subject is what it concerns: the booking reference when one is
	// known, else the resource (a vehicle, a Stripe object, a file, the
	// agent's session, a detector rule).
	Subject string
	// Booking is the reference of the booking it belongs to: the rebuilt
	// booking that holds its evidence (from the last reconcile), else the
	// reference its evidence names, normalised; empty when neither.
	Booking string
	// Source is the surviving system that shows it.
	Source evidence.Source
	// Summary says what happened in one line, secrets redacted.
	Summary string
	// Evidence lists the records that show it, the one whose time is
	// shown first.
	Evidence []Witness

	// Severity is a finding's severity ("critical", "high", …); empty
	// for other events.
	Severity string

	agent  int32 // index+1 in Timeline.agent (an agent step's session and command); 0: none
	detail int32 // index+1 in Timeline.details; 0: none
	rank   int8  // authority of Time among merged witnesses: lower wins
}

// agentInfo is what the postmortem needs of an agent step or finding
// beyond its event: kept aside, as most events are no agent steps.
type agentInfo struct {
	session string
	code    string // a call's command or input
}

// Witness is one record that shows an event.
type Witness struct {
	// ID and Version name the record version.
	ID      string
	Version int
	// Kind is the record's kind ("payment_intent", "email", …).
	Kind string
	// Via lists the channels the version came through ("file", "imap",
	// "mbox", …), sorted.
	Via []string
}

// String is the witness as the text and csv forms write it: the record id,
// and " v2" for a later version (ids hold no spaces).
func (w Witness) String() string {
	if w.Version > 1 {
		return w.ID + " v" + strconv.Itoa(w.Version)
	}
	return w.ID
}

// Vias returns the channels of all of e's witnesses, sorted, each once.
func (e *Event) Vias() []string {
	var out []string
	for _, w := range e.Evidence {
		out = append(out, w.Via...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// MarkerKind names a marker.
type MarkerKind string

// The markers, in the order they usually happen.
const (
	LastBackup MarkerKind = "last_backup"
	Incident   MarkerKind = "incident"
	Detection  MarkerKind = "detection"
	Restore    MarkerKind = "restore"
)

// Marker is a moment that frames the loss.
type Marker struct {
	Kind MarkerKind
	// Time is in UTC.
	Time time.Time
	// Label is what the marker is called ("Incident (T0)").
	Label string
	// Basis says how the time is known ("case configuration",
	// "--incident-at", "transcript finding destructive-graphql", …).
	Basis string
	// Evidence is the record that gives the time, when one does.
	Evidence string
	// Note adds what a reader should know about it (the action at T0).
	Note string
}

// Window is a span of time in UTC; a zero End is open.
type Window struct {
	Start, End time.Time
}

// Contains reports whether t is in w (start included, end excluded).
func (w Window) Contains(t time.Time) bool {
	if t.IsZero() || w.Start.IsZero() && w.End.IsZero() {
		return false
	}
	return (w.Start.IsZero() || !t.Before(w.Start)) && (w.End.IsZero() || t.Before(w.End))
}

// Timeline is the ordered events of a case, with its markers.
type Timeline struct {
	// Location is the case's zone: times are shown in it.
	Location *time.Location
	// Events are ordered by time (untimed events last), then by source,
	// first evidence id and action.
	Events []Event
	// Markers are ordered by time; a marker whose time is not known is
	// absent.
	Markers []Marker
	// Window is the loss window: from the last backup to the restore, or,
	// until a restore is recorded, open-ended.
	Window Window
	// Incident describes T0 from the transcript findings; nil when no
	// finding proposes one.
	Incident *IncidentInfo
	// Case is what the store says of the recovery (reconcile, imports);
	// nil when the timeline was built without a store.
	Case *CaseInfo
	// Records counts the records read, by source; Untimed the events
	// without a time.
	Records map[evidence.Source]int
	Untimed int
	// Filtered says which filter was applied, for the reports; Total is
	// the number of events before it.
	Filtered Filter
	Total    int

	details []string    // evidence details, for the HTML report
	agent   []agentInfo // of agent steps and findings
	secrets *evidence.SecretSet
}

// session is the agent session of e, if it is an agent step or finding.
func (t *Timeline) session(e *Event) string {
	if e.agent <= 0 || int(e.agent) > len(t.agent) {
		return ""
	}
	return t.agent[e.agent-1].session
}

// code is the command or input of e, if it is an agent call.
func (t *Timeline) code(e *Event) string {
	if e.agent <= 0 || int(e.agent) > len(t.agent) {
		return ""
	}
	return t.agent[e.agent-1].code
}

// IncidentInfo is the incident as the transcript findings tell it.
type IncidentInfo struct {
	// Time is T0 as the findings propose it (which a case's incident_at
	// or --incident-at may override in the Incident marker).
	Time time.Time
	// Explanation is the destructive action, in one line.
	Explanation string
	// Session is the agent session, Step the record id of the step.
	Session, Step string
	// Format is the transcript format ("claude-code", …).
	Format string
	// Credential is the fingerprint of the credential the action used,
	// FoundIn the file it was first seen in and FoundWhere where that is;
	// empty when no credential-chain finding names one.
	Credential, FoundIn, FoundWhere string
	// ApprovalMode is the session's approval mode at the action, when a
	// no-confirmation finding names it; Confirmation that finding's
	// explanation.
	ApprovalMode, Confirmation string
	// Findings are every finding of the session, in time order.
	Findings []FindingInfo
}

// FindingInfo is one detector finding.
type FindingInfo struct {
	Time        time.Time
	Rule        string
	Severity    string
	Explanation string
	// ID is the finding's record id, Step the step's.
	ID, Step string
	// Details are the finding's particulars (credential, found_in,
	// approval_mode, …).
	Details map[string]string
}

// CaseInfo is what a case knows of the recovery beyond the evidence.
type CaseInfo struct {
	// Jobs are the import jobs, oldest first.
	Jobs []evidence.Job
	// Reconcile is the last reconcile run and Summary its summary; nil
	// when bookings were never rebuilt.
	Reconcile *evidence.ReconcileRun
	Summary   *reconcile.Summary
	// Bookings are the rebuilt bookings, in the order stored.
	Bookings []BookingInfo
}

// BookingInfo is what the reports need of a rebuilt booking.
type BookingInfo struct {
	Ref         string
	Status      string
	NeedsReview bool
	Reasons     []string
	// Evidence is the number of records the booking was rebuilt from.
	Evidence int
}

// Filter selects events. Its zero value keeps them all.
type Filter struct {
	// Since and Until bound the events' times (Since included, Until
	// excluded); an untimed event is left out when either is set.
	Since, Until time.Time
	// Sources keeps events of these sources; empty means all.
	Sources []evidence.Source
	// Booking keeps events of this booking (references compare by their
	// letters and digits, in any case: "ach 2dhb4" is ACH-2DHB4).
	Booking string
}

// Empty reports whether f keeps every event.
func (f Filter) Empty() bool {
	return f.Since.IsZero() && f.Until.IsZero() && len(f.Sources) == 0 && f.Booking == ""
}

// Keep reports whether f keeps e.
func (f Filter) Keep(e *Event) bool {
	if !f.Since.IsZero() && (e.Time.IsZero() || e.Time.Before(f.Since)) {
		return false
	}
	if !f.Until.IsZero() && (e.Time.IsZero() || !e.Time.Before(f.Until)) {
		return false
	}
	if len(f.Sources) > 0 && !slices.Contains(f.Sources, e.Source) {
		return false
	}
	if f.Booking != "" && (e.Booking == "" || reconcile.RefKey(e.Booking) != reconcile.RefKey(f.Booking)) {
		return false
	}
	return true
}
