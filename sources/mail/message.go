// Package mail imports email, read-only: from an IMAP server (salvage import
// imap) and from exports (salvage import mail: mbox, Maildir, .eml). Every
// message is parsed the same way, so the same email read over IMAP and from
// an mbox is one record: MIME decoded with go-message, the text part chosen
// (or the HTML one turned into text), quoted replies cut off so a reply does
// not repeat old facts, booking facts read by the shared extraction rules,
// and an attached .ics invitation kept as calendar evidence.
package mail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	gomail "github.com/emersion/go-message/mail"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources/calendar"
	"github.com/salvagehq/salvage/sources/extract"
)

// Limits on what one message may make salvage read into memory for text:
// the raw bytes are kept whole whatever their size.
const (
	maxTextPart = 4 << 20 // a text or HTML part
	maxICSPart  = 8 << 20 // an invitation
)

var setCharsets sync.Once

// Parser turns raw messages into evidence.
type Parser struct {
	cfg  evidence.Config
	x    *extract.Extractor
	conv *calendar.Converter
	now  func() time.Time
}

// NewParser reads the case configuration (extraction rules, zone).
func NewParser(cfg evidence.Config, now func() time.Time) (*Parser, error) {
	setCharsets.Do(func() { message.CharsetReader = charset.Reader })
	x, err := extract.New(cfg)
	if err != nil {
		return nil, err
	}
	conv, err := calendar.NewConverter(cfg)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Parser{cfg: cfg, x: x, conv: conv, now: now}, nil
}

// Parsed is what one message gave.
type Parsed struct {
	// Record is the email's evidence.
	Record evidence.Record
	// Calendar holds the events of attached invitations.
	Calendar []evidence.Record
	// Rejected holds attachments that could not be read.
	Rejected []evidence.Rejected
	// Problems says what could only be decoded in part (an unknown
	// charset, broken base64): the message is kept, its facts may be
	// incomplete.
	Problems []string
	// Booking reports whether the message says anything about a booking.
	Booking bool
}

// ErrNotMail means the bytes are not an email at all.
var ErrNotMail = errors.New("not an email")

// Message is a decoded email, as the rules see it.
type Message struct {
	MessageID  string
	Subject    string
	From       *gomail.Address
	To, Cc     []*gomail.Address
	Date       time.Time
	InReplyTo  []string
	References []string
	// Text is the body as plain text, before quoted replies are cut.
	Text string
	// reply caches Reply.
	reply       *string
	Invitations [][]byte
	Problems    []string
}

// Decode reads a message's headers and body.
func Decode(raw []byte) (*Message, error) {
	setCharsets.Do(func() { message.CharsetReader = charset.Reader })
	m := &Message{}
	mr, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil && mr == nil {
		return nil, fmt.Errorf("%w: %v", ErrNotMail, err)
	}
	if err != nil {
		m.Problems = append(m.Problems, err.Error())
	}
	h := mr.Header
	if h.Len() == 0 {
		return nil, fmt.Errorf("%w: no header", ErrNotMail)
	}
	if m.MessageID, err = h.MessageID(); err != nil {
		m.Problems = append(m.Problems, "Message-ID: "+err.Error())
	}
	if m.Subject, err = h.Subject(); err != nil {
		m.Subject = h.Get("Subject")
		m.Problems = append(m.Problems, "Subject: "+err.Error())
	}
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		m.From = from[0]
	} else if h.Get("From") != "" {
		m.Problems = append(m.Problems, fmt.Sprintf("From %q: not an address", h.Get("From")))
	}
	m.To, _ = h.AddressList("To")
	m.Cc, _ = h.AddressList("Cc")
	if h.Get("Date") != "" {
		if m.Date, err = h.Date(); err != nil {
			m.Problems = append(m.Problems, fmt.Sprintf("Date %q: %v", h.Get("Date"), err))
		}
	} else {
		m.Problems = append(m.Problems, "no Date header")
	}
	m.InReplyTo, _ = h.MsgIDList("In-Reply-To")
	m.References, _ = h.MsgIDList("References")
	if m.MessageID == "" && m.Subject == "" && m.From == nil && m.Date.IsZero() {
		return nil, fmt.Errorf("%w: no Message-ID, Subject, From or Date", ErrNotMail)
	}
	plain, html := m.readParts(mr)
	switch {
	case plain != "":
		m.Text = plain
	case html != "":
		m.Text = extract.PlainText(html)
	}
	return m, nil
}

// Readable is the message as a person reads it: its From, To and Date,
// then its text (the plain part, or the HTML part's text).
func (m *Message) Readable() string {
	var b strings.Builder
	if m.From != nil {
		fmt.Fprintf(&b, "From: %s\n", readableAddress(m.From))
	}
	if len(m.To) > 0 {
		to := make([]string, len(m.To))
		for i, a := range m.To {
			to[i] = readableAddress(a)
		}
		fmt.Fprintf(&b, "To: %s\n", strings.Join(to, ", "))
	}
	if !m.Date.IsZero() {
		fmt.Fprintf(&b, "Date: %s\n", m.Date.Format("Mon, 2 Jan 2006 15:04 -0700"))
	}
	b.WriteString("\n")
	b.WriteString(strings.TrimSpace(m.Text))
	return b.String()
}

// readableAddress is an address as a person reads it: "Name <addr>", the name
// decoded (net/mail's String would encode it again as RFC 2047).
func readableAddress(a *gomail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

// Reply is Text without the quoted earlier messages (worked out when first
// asked: describing a message for a person needs only Text).
func (m *Message) Reply() string {
	if m.reply == nil {
		r := StripQuoted(m.Text)
		m.reply = &r
	}
	return *m.reply
}

// readParts walks the MIME tree and keeps the first text part, the first
// HTML part and every calendar part.
func (m *Message) readParts(mr *gomail.Reader) (plain, html string) {
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return plain, html
		}
		if err != nil {
			if p == nil {
				m.Problems = append(m.Problems, "MIME: "+err.Error())
				return plain, html
			}
			m.Problems = append(m.Problems, "MIME part: "+err.Error())
		}
		var ctype string
		var filename string
		switch h := p.Header.(type) {
		case *gomail.InlineHeader:
			ctype, _, _ = h.ContentType()
		case *gomail.AttachmentHeader:
			ctype, _, _ = h.ContentType()
			filename, _ = h.Filename()
		}
		ctype = strings.ToLower(ctype)
		isICS := ctype == "text/calendar" || ctype == "application/ics" || strings.HasSuffix(strings.ToLower(filename), ".ics")
		switch {
		case isICS:
			if b := m.readPart(p.Body, maxICSPart, "calendar part"); len(b) > 0 {
				m.Invitations = append(m.Invitations, b)
			}
		case filename != "":
			// Other attachments are in the raw bytes; nothing to read.
		case ctype == "text/plain" || ctype == "":
			if plain == "" {
				plain = string(m.readPart(p.Body, maxTextPart, "text part"))
			}
		case ctype == "text/html":
			if html == "" {
				html = string(m.readPart(p.Body, maxTextPart, "HTML part"))
			}
		}
	}
}

func (m *Message) readPart(r io.Reader, limit int64, what string) []byte {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		m.Problems = append(m.Problems, fmt.Sprintf("%s: %v (kept what could be decoded)", what, err))
	}
	if int64(len(b)) > limit {
		m.Problems = append(m.Problems, fmt.Sprintf("%s longer than %d MiB: only the start is read for facts", what, limit>>20))
		b = b[:limit]
	}
	return b
}

// Replies quote the message they answer. These lines start the quoted part:
// "On … wrote:" in several languages, Outlook's separators, and its header
// block ("From: …" then "Sent:"/"Date:" within a few lines).
var (
	replyIntro = regexp.MustCompile(`(?i)^(?:on .+ wrote|em .+ escreveu|le .+ a écrit|el .+ escribió|am .+ schrieb .+|il .+ ha scritto|op .+ schreef .+)\s*:\s*$`)
	separator  = regexp.MustCompile(`(?i)^(?:-{2,}\s*(?:original message|mensagem original|mensaje original|message d'origine|ursprüngliche nachricht|messaggio originale|forwarded message|mensagem encaminhada)\s*-{2,}|_{10,})\s*$`)
	quoteFrom  = regexp.MustCompile(`(?i)^\*?(?:from|de|von|da|van)\s*:\*?\s+\S`)
	quoteSent  = regexp.MustCompile(`(?i)^\*?(?:sent|date|enviado|data|fecha|envoyé|gesendet|inviato|verzonden)\s*:\*?\s+\S`)
)

// StripQuoted returns text without the earlier messages a reply quotes:
// lines starting with ">" and everything from a reply's introduction or
// Outlook's quoted header block on.
func StripQuoted(text string) string {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var out []string
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if replyIntro.MatchString(t) || separator.MatchString(t) {
			break
		}
		// "On Tue, 3 Oct 2026 at 10:00, Ana Sousa <a@b>" wrapped onto a
		// second line before "wrote:".
		if i+1 < len(lines) && strings.HasPrefix(strings.ToLower(t), "on ") && replyIntro.MatchString(t+" "+strings.TrimSpace(lines[i+1])) {
			break
		}
		if quoteFrom.MatchString(t) && outlookBlock(lines[i+1:]) {
			break
		}
		if strings.HasPrefix(t, ">") {
			continue
		}
		out = append(out, line)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// outlookBlock reports whether the lines after a "From:" line carry the rest
// of a quoted header block.
func outlookBlock(next []string) bool {
	for i, l := range next {
		if i == 4 {
			return false
		}
		if quoteSent.MatchString(strings.TrimSpace(l)) {
			return true
		}
	}
	return false
}

// Digest identifies a message's content whatever the channel: line endings
// as LF, and without the headers Google Takeout adds to an mbox export.
func Digest(raw []byte) string {
	h := sha256.New()
	header, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		header, body, ok = bytes.Cut(raw, []byte("\r\n\r\n"))
	}
	if ok {
		for _, line := range unfoldedLines(header) {
			name, _, _ := strings.Cut(line, ":")
			if n := strings.ToLower(name); n == "x-gm-thrid" || n == "x-gmail-labels" {
				continue
			}
			io.WriteString(h, strings.TrimRight(line, "\r")+"\n")
		}
		h.Write([]byte("\n"))
	} else {
		body = raw
	}
	h.Write(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")))
	return hex.EncodeToString(h.Sum(nil))
}

// unfoldedLines splits a header block into fields, folded lines joined.
func unfoldedLines(header []byte) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(string(header), "\r\n", "\n"), "\n") {
		if len(out) > 0 && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			out[len(out)-1] += "\n" + l
			continue
		}
		out = append(out, l)
	}
	return out
}

// Parse turns one message into evidence. via is the channel ("imap",
// "mbox", "maildir", "eml"), locator where it was found. attrs are extra
// facts the channel knows (the mailbox, Gmail labels, Maildir flags). An
// error means raw is not an email at all: keep it as rejected input.
func (p *Parser) Parse(ctx context.Context, raw []byte, via, locator string, attrs map[string]string) (Parsed, error) {
	m, err := Decode(raw)
	if err != nil {
		return Parsed{}, err
	}
	digest := Digest(raw)
	out := Parsed{Problems: m.Problems}
	id := m.MessageID
	if id == "" {
		id = "no-message-id-" + digest[:32]
	}
	r := evidence.Record{
		ID: "mail:<" + strings.Map(safeIDRune, id) + ">", Source: evidence.Mail, Via: via, Kind: "email",
		Raw: raw, Digest: digest, Locator: locator,
	}
	if !m.Date.IsZero() {
		r.OccurredAt = m.Date.UTC()
		r.Zone = m.Date.Format("-07:00")
	}
	// Decoded once, here: exports show it without decoding it again.
	r.Readable = &evidence.Readable{Title: m.Subject, Text: m.Readable()}
	from := ""
	if m.From != nil {
		from = strings.ToLower(m.From.Address)
	}
	res := p.x.Extract(extract.Input{Source: evidence.Mail, From: from, Subject: m.Subject, Text: m.Reply()})
	f := res.Facts
	f.Attrs = map[string]string{}
	for k, v := range res.By {
		f.Attrs["rule."+k] = v
	}
	for k, v := range attrs {
		f.Attrs[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			f.Attrs[k] = v
		}
	}
	set("subject", m.Subject)
	set("from", from)
	if m.From != nil {
		set("from_name", m.From.Name)
	}
	set("to", addresses(m.To))
	set("cc", addresses(m.Cc))
	for _, id := range m.InReplyTo {
		f.Links = append(f.Links, evidence.Link{Rel: "in_reply_to", ID: id})
	}
	for _, id := range m.References {
		f.Links = append(f.Links, evidence.Link{Rel: "references", ID: id})
	}
	if len(m.Problems) > 0 {
		f.Attrs["decode_problems"] = strings.Join(m.Problems, "; ")
	}
	if len(res.Problems) > 0 {
		f.Attrs["rule_problems"] = strings.Join(res.Problems, "; ")
	}
	for i, inv := range m.Invitations {
		loc := fmt.Sprintf("%s#invitation %d", r.ID, i+1)
		recs, rej, err := calendar.Invitations(ctx, p.conv, p.cfg, inv, loc, p.now())
		if err != nil {
			return Parsed{}, err
		}
		for _, c := range recs {
			for _, l := range c.Facts.Links {
				if l.Rel == "ical_uid" {
					f.Links = append(f.Links, l)
				}
			}
		}
		out.Calendar = append(out.Calendar, recs...)
		out.Rejected = append(out.Rejected, rej...)
	}
	// An amount alone (an invoice from a supplier) says nothing of a
	// booking; a reference, a status, dates, an item or an invitation do.
	out.Booking = f.Ref != "" || f.Status != "" || f.Start != nil || f.End != nil || f.Item != "" || len(m.Invitations) > 0
	r.Facts = f
	out.Record = r
	return out, nil
}

func addresses(as []*gomail.Address) string {
	var out []string
	for _, a := range as {
		out = append(out, strings.ToLower(a.Address))
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), ",")
}

// safeIDRune keeps a Message-ID usable in a record id.
func safeIDRune(r rune) rune {
	if r <= ' ' || r == 0x7f {
		return -1
	}
	return r
}
