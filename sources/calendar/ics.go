package calendar

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
	"github.com/spf13/pflag"
)

// ICS is `salvage import ics`: iCalendar files, folders of them, and
// calendar URLs (a Google Calendar "secret address in iCal format", an
// Outlook published calendar, a CalDAV export).
type ICS struct {
	since, until string
	maxSize      string
	maxInstances int
	calendar     string
	insecureHTTP bool

	// transport replaces the HTTP transport in tests; nil in use.
	transport http.RoundTripper
}

var (
	_ sources.Importer = (*ICS)(nil)
	_ sources.Checker  = (*ICS)(nil)
)

// NewICS returns the iCalendar importer, with the defaults its flags have.
func NewICS() *ICS { return &ICS{maxSize: defaultMaxSize, maxInstances: defaultMaxInstances} }

const (
	defaultMaxSize      = "100MiB"
	defaultMaxInstances = 5000
)

// Name implements sources.Importer.
func (*ICS) Name() string { return "ics" }

// Source implements sources.Importer.
func (*ICS) Source() evidence.Source { return evidence.Calendar }

// Help implements sources.Importer.
func (*ICS) Help() sources.Help {
	return sources.Help{
		Args:    "FILE|DIR|URL...",
		MinArgs: 1,
		Short:   "Import calendar events from iCalendar (.ics) files, folders and URLs",
		Long: `Import the events of iCalendar files: exports from Google Calendar,
Outlook and Exchange, Apple Calendar, CalDAV servers. A folder is read
whole (every *.ics below it, in name order). An http(s) URL is fetched
with one GET, read-only: a Google Calendar "secret address in iCal format",
an Outlook or iCloud published calendar (webcal:// is read as https://).
Plain http is refused except to this machine (the address is often a
secret), unless --insecure-http.

Every event becomes evidence with the id ics:<UID> (and the instance's
original start for an instance of a recurring event): the same ids the
Google Calendar import gives, so an event read from both is one record.

Recurring events are expanded into their instances between --since and
--until (by default from 90 days before case.last_backup, or a year ago,
to the end of the month a year from now): RRULE, RDATE and EXDATE, with RECURRENCE-ID overrides
replacing the instances they change. Events that do not recur, and
overrides, are imported whatever their dates. When one event appears more
than once (two exports, or an invitation and its update), every version is
kept and the newest SEQUENCE (then LAST-MODIFIED) is the latest.

Times are read in their TZID: an IANA zone, a Windows zone name as Outlook
writes ("W. Europe Standard Time"), or the file's own VTIMEZONE. Times
without a zone, and all-day dates, are in the case's time zone.

Events that cannot be read (no UID, no start, an end before the start, an
unknown zone, a cut-off file) are kept as rejected input with the reason;
the import goes on. Importing a file again stores nothing new; a file
already imported with the same options is skipped.`,
		Example: `  salvage import ics calendar-export.ics
  salvage import ics exports/calendars/
  salvage import ics "https://calendar.google.com/calendar/ical/…/private-…/basic.ics"
  salvage import ics --since 2026-01-01 --until 2027-06-30 team.ics`,
	}
}

// Flags implements sources.Importer.
func (im *ICS) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&im.since, "since", "", "expand recurring events from this time (default: 90 days before case.last_backup, or a year ago)")
	fs.StringVar(&im.until, "until", "", "expand recurring events up to this time (default: the end of the month a year from now)")
	fs.StringVar(&im.maxSize, "max-size", defaultMaxSize, "refuse files and downloads larger than this (bytes, or with KB, MB, GB, KiB, MiB, GiB)")
	fs.IntVar(&im.maxInstances, "max-instances", defaultMaxInstances, "instances kept per recurring event within the window")
	fs.StringVar(&im.calendar, "calendar", "", "name the calendar the events belong to (default: the file's X-WR-CALNAME)")
	fs.BoolVar(&im.insecureHTTP, "insecure-http", false, "allow plain http:// URLs to other machines (the address travels in clear text)")
}

// icsVersion changes when the same file would be read differently: a file
// imported by another version is read again.
const icsVersion = "1"

// icsOptions is everything an import decides before reading.
type icsOptions struct {
	read    icsReadOptions
	window  icsWindow
	maxSize int64
}

func (im *ICS) options(run *sources.Run) (icsOptions, error) {
	loc := run.Config.Location()
	o := icsOptions{read: icsReadOptions{caseLoc: loc, caseZone: run.Config.Case.Timezone, calendar: strings.TrimSpace(im.calendar)}}
	if o.read.caseZone == "" || o.read.caseZone == "Local" {
		o.read.caseZone = loc.String()
	}
	now := run.Now().UTC()
	switch {
	case im.since != "":
		t, err := evidence.ParseTime(im.since, loc)
		if err != nil {
			return o, fmt.Errorf("%w: --since: %v", sources.ErrUsage, err)
		}
		o.window.since = t
	case !run.Config.Case.LastBackup.IsZero():
		o.window.since = run.Config.Case.LastBackup.Add(-90 * 24 * time.Hour)
	default:
		o.window.since = now.AddDate(-1, 0, 0)
	}
	// A year from now, to the end of that month: the same for every run
	// of a month, so a file already read is not read again for a moved
	// window.
	y, m, _ := now.AddDate(1, 0, 0).Date()
	o.window.until = time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
	if im.until != "" {
		t, err := evidence.ParseTime(im.until, loc)
		if err != nil {
			return o, fmt.Errorf("%w: --until: %v", sources.ErrUsage, err)
		}
		o.window.until = t
	}
	if !o.window.since.Before(o.window.until) {
		return o, fmt.Errorf("%w: --since %s is not before --until %s", sources.ErrUsage,
			o.window.since.Format(time.RFC3339), o.window.until.Format(time.RFC3339))
	}
	if im.maxInstances < 1 {
		return o, fmt.Errorf("%w: --max-instances must be at least 1", sources.ErrUsage)
	}
	o.window.max = im.maxInstances
	n, err := parseSize(im.maxSize)
	if err != nil {
		return o, fmt.Errorf("%w: --max-size: %v", sources.ErrUsage, err)
	}
	o.maxSize = n
	return o, nil
}

// fingerprint names the options that change what a file gives, for the
// checkpoint that lets a later import skip a file it has already read. The
// window only matters to files with recurring events.
func (o icsOptions) fingerprint(recurring bool) string {
	parts := []string{"v" + icsVersion, o.read.caseZone, o.read.calendar}
	if recurring {
		parts = append(parts, o.window.since.UTC().Format(time.RFC3339), o.window.until.UTC().Format(time.RFC3339), strconv.Itoa(o.window.max))
	}
	return strings.Join(parts, " ")
}

// parseSize reads "100MiB", "50MB", "1GiB", "4096".
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		n      int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	up := strings.ToUpper(s)
	for _, u := range units {
		if strings.HasSuffix(up, u.suffix) {
			up, mult = strings.TrimSpace(strings.TrimSuffix(up, u.suffix)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(up, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q: want a size such as 100MiB", s)
	}
	return n * mult, nil
}

// icsInput is one file or URL to read.
type icsInput struct {
	path string   // a file
	url  *url.URL // or a URL
	name string   // what locators and messages call it (a URL without its secrets)
}

// inputs lists what the arguments name: files, the *.ics files below
// folders (in lexical order), URLs. A missing path or a bad URL is a usage
// error, before anything is read.
func (im *ICS) inputs(args []string) ([]icsInput, error) {
	var out []icsInput
	for _, arg := range args {
		if u, ok, err := im.parseURL(arg); ok {
			if err != nil {
				return nil, err
			}
			out = append(out, icsInput{url: u, name: redactURL(u)})
			continue
		}
		info, err := os.Stat(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: no such file or folder", sources.ErrUsage, arg)
		}
		if !info.IsDir() {
			out = append(out, icsInput{path: arg, name: arg})
			continue
		}
		n := len(out)
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".ics") && !strings.HasPrefix(d.Name(), "._") {
				out = append(out, icsInput{path: p, name: p})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read folder %s: %w", arg, err)
		}
		if len(out) == n {
			return nil, fmt.Errorf("%w: %s: no *.ics files in this folder", sources.ErrUsage, arg)
		}
	}
	return out, nil
}

// parseURL reads an argument that is a URL. ok says it is one.
func (im *ICS) parseURL(arg string) (u *url.URL, ok bool, err error) {
	scheme, _, found := strings.Cut(arg, "://")
	if !found {
		return nil, false, nil
	}
	switch strings.ToLower(scheme) {
	case "http", "https", "webcal", "webcals":
	default:
		if _, err := os.Stat(arg); err == nil {
			return nil, false, nil // a file whose name has "://"
		}
		return nil, true, fmt.Errorf("%w: %s: only http(s) and webcal URLs can be read", sources.ErrUsage, scheme)
	}
	u, err = url.Parse(arg)
	if err != nil || u.Host == "" {
		return nil, true, fmt.Errorf("%w: not a URL: %s", sources.ErrUsage, redactArg(arg))
	}
	if s := strings.ToLower(u.Scheme); s == "webcal" || s == "webcals" {
		u.Scheme = "https"
	}
	if strings.EqualFold(u.Scheme, "http") && !isLoopbackHost(u.Hostname()) && !im.insecureHTTP {
		return nil, true, fmt.Errorf("%w: %s: plain http to another machine sends the calendar's address, often a secret, in clear text; use https (or --insecure-http)", sources.ErrUsage, redactURL(u))
	}
	return u, true, nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// redactURL shows a calendar URL without what makes it a secret: the user
// and password, the query, and path segments that look like keys (Google's
// "private-…", Outlook's and iCloud's long tokens), of which it keeps the
// last four characters.
func redactURL(u *url.URL) string {
	segs := strings.Split(u.EscapedPath(), "/")
	for i, s := range segs {
		if rest, ok := strings.CutPrefix(s, "private-"); ok {
			segs[i] = "private-…" + lastN(rest, 4)
		} else if looksLikeKey(s) {
			segs[i] = "…" + lastN(s, 4)
		}
	}
	return u.Scheme + "://" + u.Host + strings.Join(segs, "/")
}

// redactArg shows an argument that is not a valid URL: its scheme only.
func redactArg(s string) string {
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		return scheme + "://…"
	}
	return "…"
}

func lastN(s string, n int) string {
	if len(s) <= n {
		return ""
	}
	return s[len(s)-n:]
}

// looksLikeKey reports whether a path segment looks like a secret token:
// long, and letters mixed with digits.
func looksLikeKey(s string) bool {
	if len(s) < 20 || strings.ContainsAny(s, ".%@") {
		return false
	}
	var letters, digits bool
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters = true
		case c == '-' || c == '_':
		default:
			return false
		}
	}
	return letters && digits
}

// errTooBig is an input larger than --max-size.
var errTooBig = errors.New("larger than --max-size")

// read returns an input's bytes: a file opened read-only, or a URL fetched
// with one GET through the read-only client, at most max bytes either way.
func (im *ICS) read(ctx context.Context, in icsInput, client *http.Client, max int64) ([]byte, error) {
	var r io.Reader
	if in.url == nil {
		f, err := os.Open(in.path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if info, err := f.Stat(); err == nil && info.Size() > max {
			return nil, fmt.Errorf("%s: %d bytes: %w (%d); raise --max-size to read it", in.name, info.Size(), errTooBig, max)
		}
		r = f
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.url.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %v", in.name, err)
		}
		req.Header.Set("Accept", "text/calendar, text/plain;q=0.5, */*;q=0.1")
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %s", in.name, icsScrub(err.Error(), in.url))
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			hint := ""
			switch resp.StatusCode {
			case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
				hint = " (a secret calendar address that was reset no longer works: copy the current one)"
			}
			return nil, fmt.Errorf("GET %s: HTTP %s%s", in.name, resp.Status, hint)
		}
		if resp.ContentLength > max {
			return nil, fmt.Errorf("%s: %d bytes: %w (%d); raise --max-size to read it", in.name, resp.ContentLength, errTooBig, max)
		}
		r = resp.Body
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %s", in.name, icsScrub(err.Error(), in.url))
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: more than %d bytes: %w; raise --max-size to read it", in.name, max, errTooBig)
	}
	return b, nil
}

// icsScrub removes a URL from an error message (net/http quotes it whole).
func icsScrub(msg string, u *url.URL) string {
	if u == nil {
		return msg
	}
	return strings.ReplaceAll(msg, u.String(), redactURL(u))
}

func (im *ICS) client() *http.Client {
	c := sources.ReadOnlyClient(im.transport)
	guard := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" && !isLoopbackHost(req.URL.Hostname()) && !im.insecureHTTP {
			return fmt.Errorf("redirected to plain http (%s): refused", redactURL(req.URL))
		}
		return guard(req, via)
	}
	return c
}

// Check implements sources.Checker: the flags, and every file or folder
// exists (URLs are only parsed).
func (im *ICS) Check(run *sources.Run) error {
	if _, err := im.options(run); err != nil {
		return err
	}
	if _, err := im.inputs(run.Args); err != nil {
		return err
	}
	_, err := NewConverter(run.Config)
	return err
}

// Import implements sources.Importer. It reads every input first, then
// decides versions and overrides across all of them (icsSet.resolve), then
// stores.
func (im *ICS) Import(ctx context.Context, run *sources.Run) error {
	o, err := im.options(run)
	if err != nil {
		return err
	}
	inputs, err := im.inputs(run.Args)
	if err != nil {
		return err
	}
	conv, err := NewConverter(run.Config)
	if err != nil {
		return err
	}
	client := im.client()
	set := newICSSet()
	var (
		failed []error
		done   []icsDone // the files read, for their checkpoints
		seen   = map[string]string{}
		order  int
	)
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := im.read(ctx, in, client, o.maxSize)
		switch {
		case errors.Is(err, errTooBig):
			run.Log.Warn("not read: "+err.Error(), "input", in.name)
			if err := run.Sink.Reject(ctx, evidence.Rejected{Source: evidence.Calendar, Via: "ics", Locator: in.name, Reason: err.Error()}); err != nil {
				return err
			}
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			run.Log.Error("not read", "input", in.name, "err", err)
			failed = append(failed, err)
			continue
		}
		sum := sha256.Sum256(data)
		key := "ics/" + hex.EncodeToString(sum[:])
		if first, dup := seen[key]; dup {
			run.Log.Info("same content as an input already read; skipped", "input", in.name, "same_as", first)
			continue
		}
		seen[key] = in.name
		if v, ok, err := run.Sink.Checkpoint(ctx, key); err != nil {
			return err
		} else if ok && (v == o.fingerprint(false) || v == o.fingerprint(true)) {
			run.Log.Info("already imported with these options; skipped", "input", in.name)
			continue
		}
		bar := run.Progress.Bar("ics "+filepath.Base(in.name), int64(len(data)))
		read, err := readICS(ctx, data, in.name, o.read, &order, func(n int) { bar.Add(int64(n)) })
		bar.Done()
		if err != nil {
			return err
		}
		for _, r := range read.rejects {
			if err := run.Sink.Reject(ctx, r); err != nil {
				return err
			}
		}
		for _, n := range read.notes {
			run.Log.Warn(n.what, "at", n.at)
		}
		set.add(read.events)
		recurring := slices.ContainsFunc(read.events, (*icsVEvent).recurring)
		done = append(done, icsDone{key: key, fingerprint: o.fingerprint(recurring)})
	}
	res := set.resolve(o.window)
	for _, r := range res.rejects {
		if err := run.Sink.Reject(ctx, evidence.Rejected{Source: evidence.Calendar, Via: "ics", Locator: r.v.locator(&r.v.ev), Reason: r.reason, Raw: r.v.raw}); err != nil {
			return err
		}
	}
	for _, n := range res.notes {
		run.Log.Warn(n.what, "at", n.at)
	}
	for _, reason := range res.ignored {
		if err := run.Sink.Ignore(ctx, reason); err != nil {
			return err
		}
	}
	bar := run.Progress.Bar("ics events", int64(len(res.outs)))
	err = recordsICS(ctx, conv, res.outs, func(r evidence.Record) error {
		bar.Add(1)
		return run.Sink.Put(ctx, r)
	})
	bar.Done()
	if err != nil {
		return err
	}
	for _, d := range done {
		if err := run.Sink.SaveCheckpoint(ctx, d.key, d.fingerprint); err != nil {
			return err
		}
	}
	return errors.Join(failed...)
}

// icsDone is a file read: its checkpoint key (its content's hash) and the
// options it was read with.
type icsDone struct{ key, fingerprint string }

// recordsICS turns the events into records on every core (the extraction
// rules are most of the work) and hands them to put in order, while the
// next ones are being made.
func recordsICS(ctx context.Context, conv *Converter, outs []icsOut, put func(evidence.Record) error) error {
	const chunk = 256
	workers := max(1, runtime.GOMAXPROCS(0))
	chunks := (len(outs) + chunk - 1) / chunk
	done := make([]chan []evidence.Record, chunks)
	for i := range done {
		done[i] = make(chan []evidence.Record, 1)
	}
	todo := make(chan int)
	ahead := make(chan struct{}, 2*workers) // chunks made and not yet put
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(todo)
		for i := 0; i < chunks; i++ {
			select {
			case ahead <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case todo <- i:
			case <-stop:
				return
			}
		}
	}()
	for w := 0; w < workers; w++ {
		go func() {
			for i := range todo {
				lo, hi := i*chunk, min(len(outs), (i+1)*chunk)
				recs := make([]evidence.Record, 0, hi-lo)
				for j := lo; j < hi; j++ {
					recs = append(recs, conv.Record(&outs[j].ev, "ics", outs[j].raw, outs[j].locator))
				}
				done[i] <- recs
			}
		}()
	}
	for i := 0; i < chunks; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var recs []evidence.Record
		select {
		case recs = <-done[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-ahead
		for _, r := range recs {
			if err := put(r); err != nil {
				return err
			}
		}
	}
	return nil
}
