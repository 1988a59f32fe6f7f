package calendar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	gcal "google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
	"github.com/spf13/pflag"
)

// Scopes salvage asks for: reading only.
var readScopes = []string{gcal.CalendarReadonlyScope}

// GCal is `salvage import gcal`.
type GCal struct {
	from      []string
	calendars []string
	since     string
	apiBase   string
	subject   string
	tokenFile string
	list      bool

	// Tests shorten waits.
	sleep func(context.Context, time.Duration) error
}

var (
	_ sources.Importer  = (*GCal)(nil)
	_ sources.Inspector = (*GCal)(nil)
	_ sources.Checker   = (*GCal)(nil)
)

// NewGCal returns the Google Calendar importer.
func NewGCal() *GCal { return &GCal{} }

// Name implements sources.Importer.
func (*GCal) Name() string { return "gcal" }

// Source implements sources.Importer.
func (*GCal) Source() evidence.Source { return evidence.Calendar }

const defaultGoogleAPI = "https://www.googleapis.com/calendar/v3/"

// Help implements sources.Importer.
func (*GCal) Help() sources.Help {
	return sources.Help{
		Short: "Import Google Calendar events, cancelled ones included",
		Long: `Import the events of one or more Google calendars, read-only, with the
Calendar API: every instance of recurring events, and cancelled and deleted
events too (a cancelled booking is evidence).

Credentials, with the read-only scope calendar.readonly only:
  - a service account key file named by $GOOGLE_APPLICATION_CREDENTIALS (share
    the calendar with the service account's email, or use --subject for
    domain-wide delegation in Google Workspace);
  - or --token-file: a gcloud user credentials file (authorized_user) or an
    OAuth token ({"access_token": …}).
Nothing is ever written to the calendar.

The first import reads events from --since (default: 30 days before
case.last_backup); it ends with a sync token, kept as the checkpoint, so the
next run fetches only what changed since. An interrupted import continues
from its last page; a sync token that Google no longer accepts leads to a
full re-read, which stores nothing twice.

--list-calendars shows the calendars the credentials may read, and their ids.

--from reads events.list responses saved as JSON files instead (the pages
the API returns, as a script or the API explorer saves them): the same
evidence as from the API, with no credentials.`,
		Example: `  GOOGLE_APPLICATION_CREDENTIALS=sa.json salvage import gcal --list-calendars
  salvage import gcal --calendar c_3da9…@group.calendar.google.com
  salvage import gcal --token-file token.json --calendar primary --since 2026-06-01
  salvage import gcal --from saved-pages/ --calendar fleet@example.com`,
	}
}

// Flags implements sources.Importer.
func (g *GCal) Flags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&g.calendars, "calendar", nil, "calendar id to import (repeatable; see --list-calendars)")
	fs.StringArrayVar(&g.from, "from", nil, "read saved events.list pages (JSON files or folders) instead of the API (repeatable)")
	fs.StringVar(&g.since, "since", "", "the first import reads events ending from this time (default: 30 days before case.last_backup)")
	fs.StringVar(&g.apiBase, "api-base", defaultGoogleAPI, "Calendar API base URL (a local replay in tests)")
	fs.StringVar(&g.subject, "subject", "", "with a service account: the Workspace user to act as (domain-wide delegation)")
	fs.StringVar(&g.tokenFile, "token-file", "", "OAuth credentials file (gcloud authorized_user JSON, or a token JSON) instead of a service account")
	fs.BoolVar(&g.list, "list-calendars", false, "list the calendars these credentials may read, then stop")
}

// Inspecting implements sources.Inspector.
func (g *GCal) Inspecting() bool { return g.list }

// Inspect lists the calendars the credentials may read.
func (g *GCal) Inspect(ctx context.Context, run *sources.Run, out io.Writer) error {
	svc, err := g.service(ctx, run)
	if err != nil {
		return err
	}
	var items []*gcal.CalendarListEntry
	call := svc.CalendarList.List().MaxResults(250)
	for token := ""; ; {
		if token != "" {
			call.PageToken(token)
		}
		var list *gcal.CalendarList
		err := g.retry(ctx, run, "list calendars", func() error {
			var err error
			list, err = call.Context(ctx).Do()
			return err
		})
		if err != nil {
			return explainGoogle(err, "list calendars")
		}
		items = append(items, list.Items...)
		if token = list.NextPageToken; token == "" {
			break
		}
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tACCESS\tTIME ZONE")
	for _, c := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Id, c.Summary, c.AccessRole, c.TimeZone)
	}
	return tw.Flush()
}

// Check implements sources.Checker: the flags and the case's rules (the
// credentials are read when the import starts).
func (g *GCal) Check(run *sources.Run) error {
	if len(g.from) > 0 {
		if len(g.calendars) > 1 {
			return fmt.Errorf("%w: with --from, give at most one --calendar (the pages' calendar)", sources.ErrUsage)
		}
		for _, root := range g.from {
			if _, err := os.Stat(root); err != nil {
				return fmt.Errorf("%w: --from %s: no such file or folder", sources.ErrUsage, root)
			}
		}
	} else {
		if len(g.calendars) == 0 {
			return fmt.Errorf("%w: give --calendar ID (salvage import gcal --list-calendars shows them)", sources.ErrUsage)
		}
		if _, err := g.timeMin(run); err != nil {
			return err
		}
	}
	_, err := NewConverter(run.Config)
	return err
}

// Import implements sources.Importer.
func (g *GCal) Import(ctx context.Context, run *sources.Run) error {
	if err := g.Check(run); err != nil {
		return err
	}
	if len(g.from) > 0 {
		return g.importFiles(ctx, run)
	}
	timeMin, err := g.timeMin(run)
	if err != nil {
		return err
	}
	conv, err := NewConverter(run.Config)
	if err != nil {
		return err
	}
	svc, err := g.service(ctx, run)
	if err != nil {
		return err
	}
	for _, id := range g.calendars {
		if err := g.importCalendar(ctx, run, svc, conv, id, timeMin); err != nil {
			return err
		}
	}
	return nil
}

func (g *GCal) timeMin(run *sources.Run) (time.Time, error) {
	if g.since != "" {
		t, err := evidence.ParseTime(g.since, run.Config.Location())
		if err != nil {
			return t, fmt.Errorf("%w: --since: %v", sources.ErrUsage, err)
		}
		return t, nil
	}
	if lb := run.Config.Case.LastBackup; !lb.IsZero() {
		return lb.Add(-30 * 24 * time.Hour), nil
	}
	return time.Time{}, nil
}

// service builds the Calendar client: credentials from the environment or
// the token file, every request (the token exchange too) through the
// read-only guard, and the raw bytes of each response kept for evidence.
func (g *GCal) service(ctx context.Context, run *sources.Run) (*gcal.Service, error) {
	if u, err := url.Parse(g.apiBase); err != nil || (u.Scheme != "https" && !isLoopback(u)) {
		return nil, fmt.Errorf("%w: --api-base %q: want https (or http to this machine)", sources.ErrUsage, g.apiBase)
	}
	ts, guarded, err := g.tokenSource(ctx, run)
	if err != nil {
		return nil, err
	}
	client := &http.Client{
		Transport: &oauth2.Transport{Source: ts, Base: &capture{base: guarded.Transport}},
		Timeout:   guarded.Timeout,
	}
	return gcal.NewService(ctx, option.WithHTTPClient(client), option.WithEndpoint(g.apiBase))
}

func isLoopback(u *url.URL) bool {
	h := u.Hostname()
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// tokenSource reads the credentials: --token-file, else the service account
// key named by GOOGLE_APPLICATION_CREDENTIALS. It returns them with the
// read-only client every request goes through: the token exchange at the
// file's token URL is the one POST it lets through, and the credentials are
// built with that client so their own requests use it too.
func (g *GCal) tokenSource(ctx context.Context, run *sources.Run) (oauth2.TokenSource, *http.Client, error) {
	path, kind := g.tokenFile, "--token-file"
	if path == "" {
		path, kind = run.Getenv("GOOGLE_APPLICATION_CREDENTIALS"), "GOOGLE_APPLICATION_CREDENTIALS"
	}
	if path == "" {
		return nil, nil, errors.New("no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or give --token-file (salvage import gcal --help)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", kind, err)
	}
	var head struct {
		Type        string `json:"type"`
		TokenURI    string `json:"token_uri"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, nil, fmt.Errorf("%s %s: not a credentials file: %v", kind, path, err)
	}
	params := google.CredentialsParams{Scopes: readScopes, Subject: g.subject}
	guardedFor := func(tokenURL string) (context.Context, *http.Client) {
		c := sources.ReadOnlyClient(nil, sources.Allowed{Method: http.MethodPost, URL: tokenURL,
			Why: "OAuth token exchange; changes nothing in the calendar"})
		return context.WithValue(ctx, oauth2.HTTPClient, c), c
	}
	switch {
	case head.Type == string(google.ServiceAccount):
		tokenURL := head.TokenURI
		if tokenURL == "" {
			tokenURL = google.JWTTokenURL
		}
		gctx, client := guardedFor(tokenURL)
		creds, err := google.CredentialsFromJSONWithTypeAndParams(gctx, data, google.ServiceAccount, params)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %v", kind, path, err)
		}
		return creds.TokenSource, client, nil
	case head.Type == string(google.AuthorizedUser):
		if g.subject != "" {
			return nil, nil, fmt.Errorf("%w: --subject is for service accounts", sources.ErrUsage)
		}
		tokenURL := head.TokenURI
		if tokenURL == "" {
			tokenURL = google.Endpoint.TokenURL
		}
		gctx, client := guardedFor(tokenURL)
		creds, err := google.CredentialsFromJSONWithTypeAndParams(gctx, data, google.AuthorizedUser, params)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %v", kind, path, err)
		}
		return creds.TokenSource, client, nil
	case head.AccessToken != "":
		var tok oauth2.Token
		if err := json.Unmarshal(data, &tok); err != nil {
			return nil, nil, fmt.Errorf("%s %s: %v", kind, path, err)
		}
		return oauth2.StaticTokenSource(&tok), sources.ReadOnlyClient(nil), nil
	}
	return nil, nil, fmt.Errorf("%s %s: not a service account key, a gcloud user credentials file or an OAuth token (type %q)", kind, path, head.Type)
}

// syncState is a calendar's checkpoint: the sync token of the last complete
// read, or, while a read is in progress, where it got to.
type syncState struct {
	SyncToken string `json:"sync_token,omitempty"`
	// A read in progress: from a sync token (Base) or a full read from
	// TimeMin; PageToken is the next page to fetch.
	Base      string `json:"base,omitempty"`
	TimeMin   string `json:"time_min,omitempty"`
	PageToken string `json:"page_token,omitempty"`
}

func (g *GCal) importCalendar(ctx context.Context, run *sources.Run, svc *gcal.Service, conv *Converter, calendarID string, timeMin time.Time) error {
	cpKey := "gcal/" + calendarID
	var st syncState
	if v, ok, err := run.Sink.Checkpoint(ctx, cpKey); err != nil {
		return err
	} else if ok {
		if err := json.Unmarshal([]byte(v), &st); err != nil {
			return fmt.Errorf("checkpoint %s: %w", cpKey, err)
		}
	}
	if st.PageToken == "" { // not in the middle of a read: start one
		st.Base, st.TimeMin = st.SyncToken, ""
		if st.Base == "" && !timeMin.IsZero() {
			st.TimeMin = timeMin.UTC().Format(time.RFC3339)
		}
	}
	bar := run.Progress.Bar("gcal "+calendarID, 0)
	defer bar.Done()
	for {
		call := svc.Events.List(calendarID).SingleEvents(true).ShowDeleted(true).MaxResults(2500)
		if st.Base != "" {
			call.SyncToken(st.Base)
		} else if st.TimeMin != "" {
			call.TimeMin(st.TimeMin)
		}
		if st.PageToken != "" {
			call.PageToken(st.PageToken)
		}
		var (
			page *gcal.Events
			raw  []byte
		)
		err := g.retry(ctx, run, "list events of "+calendarID, func() error {
			var err error
			body := &captured{}
			page, err = call.Context(withCapture(ctx, body)).Do()
			raw = body.b
			return err
		})
		var gerr *googleapi.Error
		if errors.As(err, &gerr) && gerr.Code == http.StatusGone && st.Base != "" {
			// The sync token expired: read everything again. The store
			// keeps what is unchanged as it is.
			run.Log.Warn("Google no longer accepts the sync token; reading the whole calendar again", "calendar", calendarID)
			st = syncState{}
			if !timeMin.IsZero() {
				st.TimeMin = timeMin.UTC().Format(time.RFC3339)
			}
			continue
		}
		if err != nil {
			return explainGoogle(err, "calendar "+calendarID)
		}
		if err := g.storePage(ctx, run, conv, calendarID, page, raw); err != nil {
			return err
		}
		bar.Add(int64(len(page.Items)))
		if page.NextPageToken != "" {
			st.PageToken = page.NextPageToken
		} else {
			st = syncState{SyncToken: page.NextSyncToken}
		}
		b, _ := json.Marshal(st)
		if err := run.Sink.SaveCheckpoint(ctx, cpKey, string(b)); err != nil {
			return err
		}
		if st.PageToken == "" {
			return nil
		}
	}
}

// storePage puts each event of a page read from the API.
func (g *GCal) storePage(ctx context.Context, run *sources.Run, conv *Converter, calendarID string, page *gcal.Events, raw []byte) error {
	return g.storePageAt(ctx, run, conv, calendarID, page, raw, func(_ int, id string) string {
		return g.apiBase + "calendars/" + calendarID + "/events/" + id
	})
}

// storePageAt puts each event of a page, with its bytes as they arrived.
func (g *GCal) storePageAt(ctx context.Context, run *sources.Run, conv *Converter, calendarID string, page *gcal.Events, raw []byte, locate func(i int, id string) string) error {
	var rawPage struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &rawPage); err != nil || len(rawPage.Items) != len(page.Items) {
		return fmt.Errorf("calendar %s: the page's bytes do not match the events read (%v)", calendarID, err)
	}
	zone := page.TimeZone
	for i, item := range page.Items {
		locator := locate(i, item.Id)
		e, err := fromGoogle(item, calendarID, zone, run.Config.Location())
		if err != nil {
			if err := run.Sink.Reject(ctx, evidence.Rejected{Source: evidence.Calendar, Via: "gcal", Locator: locator, Reason: err.Error(), Raw: rawPage.Items[i]}); err != nil {
				return err
			}
			continue
		}
		if err := run.Sink.Put(ctx, conv.Record(e, "gcal", rawPage.Items[i], locator)); err != nil {
			return err
		}
	}
	return nil
}

// fromGoogle reads an API event as an Event. All-day dates are midnight in
// the case's zone, as the ICS import reads them.
func fromGoogle(item *gcal.Event, calendarID, calendarZone string, caseZone *time.Location) (*Event, error) {
	e := &Event{
		UID: item.ICalUID, Summary: item.Summary, Description: item.Description, Location: item.Location,
		Status: item.Status, Sequence: int(item.Sequence), Calendar: calendarID, GoogleID: item.Id,
		RecurringEventID: item.RecurringEventId, Properties: map[string]string{},
	}
	if e.UID == "" {
		// Deleted instances of a recurring event may carry only their id.
		if item.RecurringEventId == "" {
			return nil, fmt.Errorf("event %s has no iCalUID", item.Id)
		}
		e.UID = item.RecurringEventId + "@google.com"
	}
	var err error
	if e.Start, e.AllDay, e.Zone, err = googleTime(item.Start, calendarZone, caseZone); err != nil {
		return nil, fmt.Errorf("event %s: start: %w", item.Id, err)
	}
	if e.End, _, _, err = googleTime(item.End, calendarZone, caseZone); err != nil {
		return nil, fmt.Errorf("event %s: end: %w", item.Id, err)
	}
	if !e.Start.IsZero() && !e.End.IsZero() && e.End.Before(e.Start) {
		return nil, fmt.Errorf("event %s ends before it starts", item.Id)
	}
	if o := item.OriginalStartTime; o != nil && item.RecurringEventId != "" {
		if o.Date != "" {
			// An all-day instance is named by its date: midnight UTC, as
			// recurrenceKey and the ICS import write it.
			if e.RecurrenceID, err = time.Parse("2006-01-02", o.Date); err != nil {
				return nil, fmt.Errorf("event %s: original start: %w", item.Id, err)
			}
		} else if e.RecurrenceID, _, _, err = googleTime(o, calendarZone, caseZone); err != nil {
			return nil, fmt.Errorf("event %s: original start: %w", item.Id, err)
		}
	}
	if e.Created, err = parseRFC3339(item.Created); err != nil {
		return nil, fmt.Errorf("event %s: created: %w", item.Id, err)
	}
	if e.Updated, err = parseRFC3339(item.Updated); err != nil {
		return nil, fmt.Errorf("event %s: updated: %w", item.Id, err)
	}
	if item.Organizer != nil {
		e.Organizer = strings.ToLower(item.Organizer.Email)
	}
	for _, a := range item.Attendees {
		if a.Email == "" || a.Resource || a.Self || strings.EqualFold(a.Email, e.Organizer) {
			continue
		}
		e.Attendees = append(e.Attendees, strings.ToLower(a.Email))
	}
	e.Attendees = sortedAttendees(e.Attendees)
	if p := item.ExtendedProperties; p != nil {
		for k, v := range p.Shared {
			e.Properties[k] = v
		}
		for k, v := range p.Private { // private wins: the business's own
			e.Properties[k] = v
		}
	}
	return e, nil
}

func parseRFC3339(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}

// googleTime reads an EventDateTime: a dateTime with its offset (and a zone
// name beside it), or an all-day date.
func googleTime(t *gcal.EventDateTime, calendarZone string, caseZone *time.Location) (time.Time, bool, string, error) {
	if t == nil {
		return time.Time{}, false, "", nil
	}
	zone := t.TimeZone
	if zone == "" {
		zone = calendarZone
	}
	if t.DateTime != "" {
		v, err := time.Parse(time.RFC3339, t.DateTime)
		return v.UTC(), false, zone, err
	}
	if t.Date != "" {
		v, err := time.ParseInLocation("2006-01-02", t.Date, caseZone)
		return v.UTC(), true, caseZone.String(), err
	}
	return time.Time{}, false, "", nil
}

// retry runs do, waiting and trying again when Google asks to slow down
// (403 rateLimitExceeded, 429) or fails on its side (5xx). The generated
// client retries nothing itself.
func (g *GCal) retry(ctx context.Context, run *sources.Run, what string, do func() error) error {
	sleep := g.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	for attempt := 1; ; attempt++ {
		err := do()
		if err == nil || ctx.Err() != nil {
			return err
		}
		wait, ok := retryableGoogle(err, attempt)
		if !ok {
			return err
		}
		run.Log.Info("Google request failed; trying again", "what", what, "attempt", attempt, "wait", wait.String(), "reason", err.Error())
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func retryableGoogle(err error, attempt int) (time.Duration, bool) {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return backoff(attempt), attempt <= 5 // the network
	}
	rateLimited := gerr.Code == http.StatusTooManyRequests ||
		gerr.Code == http.StatusForbidden && slices.ContainsFunc(gerr.Errors, func(e googleapi.ErrorItem) bool {
			return e.Reason == "rateLimitExceeded" || e.Reason == "userRateLimitExceeded"
		})
	switch {
	case rateLimited && attempt <= 10:
		if s, err := strconv.Atoi(gerr.Header.Get("Retry-After")); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
		return backoff(attempt), true
	case gerr.Code >= 500 && attempt <= 5:
		return backoff(attempt), true
	}
	return 0, false
}

func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 5)
	return min(d, 32*time.Second) + time.Duration(rand.Int64N(int64(d/4)+1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// explainGoogle turns an API refusal into what to do.
func explainGoogle(err error, what string) error {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		var rerr *oauth2.RetrieveError
		if errors.As(err, &rerr) {
			return fmt.Errorf("%s: Google refused the credentials (HTTP %d %s)", what, rerr.Response.StatusCode, rerr.ErrorCode)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	switch gerr.Code {
	case http.StatusUnauthorized:
		return fmt.Errorf("%s: Google refused the credentials (HTTP 401): %s", what, gerr.Message)
	case http.StatusForbidden:
		return fmt.Errorf("%s: no read access (HTTP 403: %s). Share the calendar with the service account's email, or use --subject for domain-wide delegation", what, gerr.Message)
	case http.StatusNotFound:
		return fmt.Errorf("%s: no such calendar, or not shared with these credentials (HTTP 404); salvage import gcal --list-calendars shows the ids", what)
	}
	return fmt.Errorf("%s: Google answered HTTP %d: %s", what, gerr.Code, gerr.Message)
}

// capture keeps a copy of each response body for the request's context, so
// the events keep the bytes they arrived as.
type capture struct{ base http.RoundTripper }

type captured struct{ b []byte }

type captureKey struct{}

func withCapture(ctx context.Context, c *captured) context.Context {
	return context.WithValue(ctx, captureKey{}, c)
}

func (c *capture) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	slot, ok := req.Context().Value(captureKey{}).(*captured)
	if err != nil || !ok || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	slot.b = b
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// importFiles reads saved events.list pages, as the API returned them.
func (g *GCal) importFiles(ctx context.Context, run *sources.Run) error {
	if len(g.calendars) > 1 {
		return fmt.Errorf("%w: with --from, give at most one --calendar (the pages' calendar)", sources.ErrUsage)
	}
	calendarID := "file"
	if len(g.calendars) == 1 {
		calendarID = g.calendars[0]
	}
	conv, err := NewConverter(run.Config)
	if err != nil {
		return err
	}
	bar := run.Progress.Bar("gcal files", 0)
	defer bar.Done()
	for _, root := range g.from {
		paths, err := filesUnder(root, ".json")
		if err != nil {
			return err
		}
		for _, path := range paths {
			if err := ctx.Err(); err != nil {
				return err
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var page gcal.Events
			if err := json.Unmarshal(raw, &page); err != nil || page.Kind != "calendar#events" {
				reason := "not an events.list page (kind calendar#events)"
				if err != nil {
					reason += ": " + err.Error()
				}
				if err := run.Sink.Reject(ctx, evidence.Rejected{Source: evidence.Calendar, Via: "gcal", Locator: path, Reason: reason, Raw: raw}); err != nil {
					return err
				}
				continue
			}
			if err := g.storePageAt(ctx, run, conv, calendarID, &page, raw, func(i int, id string) string {
				return fmt.Sprintf("%s#items[%d]", path, i)
			}); err != nil {
				return err
			}
			bar.Add(int64(len(page.Items)))
		}
	}
	return nil
}

// filesUnder returns root if it is a file, or the files with ext below it,
// in lexical order.
func filesUnder(root, ext string) ([]string, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{root}, nil
	}
	var out []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(p), ext) {
			out = append(out, p)
		}
		return err
	})
	return out, err
}
