// Package timeline orders every happening the evidence shows into one
// story: the business's activity around the loss (bookings requested,
// confirmed, changed and cancelled; payments; calendar entries; mail) and
// the incident itself (each step of the agent's session, each detector
// finding), with the markers that frame it: the last backup, the incident
// (T0), its detection and the restore, and the loss window between them.
//
// Build turns evidence records into Events: each names its time (stored in
// UTC, shown in the case's zone), who acted (Actor), what happened
// (Action), what it concerns (Subject, and the Booking when one is known),
// and the records that show it. One happening seen twice (an email read
// from an mbox and over IMAP, a Stripe event and the object it describes,
// a calendar entry read from an ICS export and from the API) is one Event
// with every witness. FromStore reads a case and calls Build.
//
// The writers give the same Timeline as a terminal table (WriteText), data
// with stable columns (WriteJSONL, WriteCSV), a postmortem draft
// (WriteMarkdown) and one self-contained, offline HTML page (WriteHTML).
// Every text they write goes through the case's secret redaction first;
// the same Timeline always gives the same bytes.
package timeline
