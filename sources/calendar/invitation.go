package calendar

import (
	"context"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// Invitations reads an iCalendar attachment (the invitation a booking system
// sends with its confirmation email) into calendar evidence, via "email",
// with the same ids as the calendar's own events: an invitation whose UID is
// the calendar event's is the same record. Recurring invitations are
// expanded within a year either side of now. locator names the attachment
// ("mail:<id>#part 2"). Unreadable events come back as rejected input.
func Invitations(ctx context.Context, conv *Converter, cfg evidence.Config, data []byte, locator string, now time.Time) ([]evidence.Record, []evidence.Rejected, error) {
	loc := cfg.Location()
	o := icsReadOptions{caseLoc: loc, caseZone: cfg.Case.Timezone}
	if o.caseZone == "" || o.caseZone == "Local" {
		o.caseZone = loc.String()
	}
	order := 0
	read, err := readICS(ctx, data, locator, o, &order, func(int) {})
	if err != nil {
		return nil, nil, err
	}
	for i := range read.rejects {
		read.rejects[i].Via = "email"
	}
	set := newICSSet()
	set.add(read.events)
	res := set.resolve(icsWindow{since: now.AddDate(-1, 0, 0), until: now.AddDate(1, 0, 0), max: defaultMaxInstances})
	var recs []evidence.Record
	for i := range res.outs {
		out := &res.outs[i]
		recs = append(recs, conv.Record(&out.ev, "email", out.raw, out.locator))
	}
	for _, r := range res.rejects {
		read.rejects = append(read.rejects, evidence.Rejected{Source: evidence.Calendar, Via: "email", Locator: r.v.locator(&r.v.ev), Reason: r.reason, Raw: r.v.raw})
	}
	return recs, read.rejects, nil
}
