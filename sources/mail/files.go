package mail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
	"github.com/spf13/pflag"
)

// Files is `salvage import mail`: mbox files, Maildir folders, .eml files
// and folders of them.
type Files struct{}

var (
	_ sources.Importer = (*Files)(nil)
	_ sources.Checker  = (*Files)(nil)
)

// NewFiles returns the mail file importer.
func NewFiles() *Files { return &Files{} }

// Name implements sources.Importer.
func (*Files) Name() string { return "mail" }

// Source implements sources.Importer.
func (*Files) Source() evidence.Source { return evidence.Mail }

// Help implements sources.Importer.
func (*Files) Help() sources.Help {
	return sources.Help{
		Args:    "PATH...",
		MinArgs: 1,
		Short:   "Import email from mbox files, Maildir folders and .eml files",
		Long: `Import email exports, read-only: mbox files (Google Takeout, Thunderbird,
mboxrd and mboxo quoting), Maildir folders (cur and new; flags are read from
the file names, never changed), .eml files, and folders holding any of them.

Every message is kept as evidence with its bytes as they were. Booking facts
are read from its subject and text by the extraction rules (salvage.toml
[[rules]], then the built-in ones), after the earlier messages a reply
quotes are cut off. An .ics invitation attached to a message is imported as
calendar evidence. Mail that says nothing about a booking is kept too, and
counted separately. A message that cannot be read at all is kept as
rejected input with the reason; a message that can only be partly decoded
(an unknown charset, broken base64) is kept with what could be read.

The same message read from an mbox, a Maildir and over IMAP is one record.
An interrupted import of a large mbox continues where it stopped.`,
		Example: `  salvage import mail takeout/All\ mail\ Including\ Spam\ and\ Trash.mbox
  salvage import mail ~/Maildir/bookings
  salvage import mail exported-messages/`,
	}
}

// Flags implements sources.Importer.
func (*Files) Flags(fs *pflag.FlagSet) {}

// Check implements sources.Checker: every path exists and the case's rules
// compile.
func (f *Files) Check(run *sources.Run) error {
	for _, root := range run.Args {
		if _, err := os.Stat(root); err != nil {
			return fmt.Errorf("%w: %s: no such file or folder", sources.ErrUsage, root)
		}
	}
	_, err := NewParser(run.Config, run.Now)
	return err
}

// Import implements sources.Importer.
func (f *Files) Import(ctx context.Context, run *sources.Run) error {
	p, err := NewParser(run.Config, run.Now)
	if err != nil {
		return err
	}
	st := &stats{}
	defer st.report(run)
	for _, root := range run.Args {
		if err := f.path(ctx, run, p, st, root); err != nil {
			return err
		}
	}
	return nil
}

func (f *Files) path(ctx context.Context, run *sources.Run, p *Parser, st *stats, root string) error {
	info, err := os.Stat(root)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		if isMbox(root) {
			return importMbox(ctx, run, p, st, root)
		}
		return importEML(ctx, run, p, st, root, "eml", nil)
	}
	// A folder: Maildir folders (any folder with cur or new), mbox files
	// and .eml files below it, in lexical order.
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "cur" || name == "new" {
				return importMaildir(ctx, run, p, st, path)
			}
			if d.Name() == "tmp" && isMaildir(filepath.Dir(path)) {
				return filepath.SkipDir // being delivered: not messages yet
			}
			return nil
		}
		switch ext := strings.ToLower(filepath.Ext(path)); {
		case ext == ".eml":
			return importEML(ctx, run, p, st, path, "eml", nil)
		case ext == ".mbox" || ext == ".mbx" || (ext == "" && isMbox(path)):
			return importMbox(ctx, run, p, st, path)
		}
		return nil
	})
}

func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// isMbox reports whether the file starts like an mbox: "From " on its
// first line.
func isMbox(path string) bool {
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".mbox" || ext == ".mbx" {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 5)
	n, _ := io.ReadFull(f, head)
	return string(head[:n]) == "From "
}

// stats counts what an import saw, for its summary.
type stats struct {
	messages, booking, unrelated, invitations, partial int
}

func (s *stats) report(run *sources.Run) {
	if s.messages == 0 {
		return
	}
	msg := fmt.Sprintf("read %d message(s): %d about bookings, %d unrelated, %d calendar invitation(s)",
		s.messages, s.booking, s.unrelated, s.invitations)
	if s.partial > 0 {
		msg += fmt.Sprintf(", %d decoded only in part (attribute decode_problems; --verbose lists them)", s.partial)
	}
	run.Log.Info(msg)
}

// put parses one message and gives the sink everything it holds; a message
// that is not an email at all is rejected.
func put(ctx context.Context, run *sources.Run, p *Parser, st *stats, raw []byte, via, locator string, attrs map[string]string) error {
	parsed, err := p.Parse(ctx, raw, via, locator, attrs)
	if errors.Is(err, ErrNotMail) {
		return run.Sink.Reject(ctx, evidence.Rejected{Source: evidence.Mail, Via: via, Locator: locator, Reason: err.Error(), Raw: raw})
	}
	if err != nil {
		return err
	}
	st.messages++
	if parsed.Booking {
		st.booking++
	} else {
		st.unrelated++
	}
	if len(parsed.Problems) > 0 {
		st.partial++
		run.Log.Debug("partly decoded", "message", parsed.Record.ID, "problems", strings.Join(parsed.Problems, "; "))
	}
	st.invitations += len(parsed.Calendar)
	if err := run.Sink.Put(ctx, parsed.Record); err != nil {
		return err
	}
	for _, c := range parsed.Calendar {
		if err := run.Sink.Put(ctx, c); err != nil {
			return err
		}
	}
	for _, r := range parsed.Rejected {
		if err := run.Sink.Reject(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func importEML(ctx context.Context, run *sources.Run, p *Parser, st *stats, path, via string, attrs map[string]string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return put(ctx, run, p, st, raw, via, path, attrs)
}

// importMaildir reads one cur or new folder. Flags are part of the file
// name (":2,FRS"): they are read, never changed.
func importMaildir(ctx context.Context, run *sources.Run, p *Parser, st *stats, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	bar := run.Progress.Bar("maildir "+filepath.Base(filepath.Dir(dir))+"/"+filepath.Base(dir), int64(len(entries)))
	defer bar.Done()
	for _, e := range entries { // ReadDir sorts by name
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		attrs := map[string]string{"maildir_folder": filepath.Base(dir)}
		if _, flags, ok := strings.Cut(e.Name(), ":2,"); ok {
			attrs["maildir_flags"] = flags
		}
		if err := importEML(ctx, run, p, st, filepath.Join(dir, e.Name()), "maildir", attrs); err != nil {
			return err
		}
		bar.Add(1)
	}
	// errors.Is(err, filepath.SkipDir) ends the walk of this folder only.
	return filepath.SkipDir
}

// mboxCheckpoint is where a large mbox import got to: the byte offset of
// the next message, in a file recognised by its start.
type mboxCheckpoint struct {
	Offset int64  `json:"offset"`
	Head   string `json:"head"` // SHA-256 of the file's first 64 KiB
}

// importMbox streams an mbox: messages start at "From " lines after a blank
// line (or at the top); ">From " lines (any number of ">") are unquoted
// (mboxrd). Lines may be of any length.
func importMbox(ctx context.Context, run *sources.Run, p *Parser, st *stats, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	sum := sha256.Sum256(head[:n])
	abs, _ := filepath.Abs(path)
	key := "mbox/" + abs
	cp := mboxCheckpoint{Head: hex.EncodeToString(sum[:])}
	if v, ok, err := run.Sink.Checkpoint(ctx, key); err != nil {
		return err
	} else if ok {
		var old mboxCheckpoint
		if json.Unmarshal([]byte(v), &old) == nil && old.Head == cp.Head && old.Offset <= info.Size() {
			cp.Offset = old.Offset // the same file, maybe grown: continue
		}
	}
	if _, err := f.Seek(cp.Offset, io.SeekStart); err != nil {
		return err
	}
	bar := run.Progress.Bar("mbox "+filepath.Base(path), info.Size())
	bar.Add(cp.Offset)
	defer bar.Done()
	r := &mboxReader{br: newReader(f), offset: cp.Offset}
	for i := 0; ; i++ {
		msg, start, err := r.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		attrs := map[string]string{}
		if labels := gmailLabels(msg); labels != "" {
			attrs["gmail_labels"] = labels
		}
		if err := put(ctx, run, p, st, msg, "mbox", path+":"+strconv.FormatInt(start, 10), attrs); err != nil {
			return err
		}
		cp.Offset = r.offset
		b, _ := json.Marshal(cp)
		if err := run.Sink.SaveCheckpoint(ctx, key, string(b)); err != nil {
			return err
		}
		bar.Add(r.offset - start)
	}
}

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 1<<20) }

// mboxReader splits an mbox into messages.
type mboxReader struct {
	br     *bufio.Reader
	offset int64 // of the next unread byte
	peeked []byte
}

// line reads one line, whatever its length, with its newline.
func (r *mboxReader) line() ([]byte, error) {
	if r.peeked != nil {
		l := r.peeked
		r.peeked = nil
		return l, nil
	}
	l, err := r.br.ReadBytes('\n')
	r.offset += int64(len(l))
	if len(l) > 0 && errors.Is(err, io.EOF) {
		return l, nil
	}
	return l, err
}

// next returns the next message without its "From " line, unquoted, and
// the offset where its "From " line starts.
func (r *mboxReader) next() (msg []byte, start int64, err error) {
	// Find the "From " line.
	for {
		start = r.offset
		if r.peeked != nil {
			start -= int64(len(r.peeked))
		}
		l, err := r.line()
		if err != nil {
			return nil, 0, err
		}
		if bytes.HasPrefix(l, []byte("From ")) {
			break
		}
		if len(bytes.TrimSpace(l)) != 0 {
			// Text before the first "From " line: not mbox framing. Keep
			// it as a message of its own so nothing is lost.
			r.peeked = l
			break
		}
	}
	var b bytes.Buffer
	blank := false // the previous line was empty
	for {
		l, err := r.line()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if blank && bytes.HasPrefix(l, []byte("From ")) {
			r.peeked = l
			break
		}
		blank = len(bytes.TrimRight(l, "\r\n")) == 0
		// mboxrd: ">From ", ">>From " … lose one ">".
		if q := bytes.TrimLeft(l, ">"); len(q) < len(l) && bytes.HasPrefix(q, []byte("From ")) {
			l = l[1:]
		}
		b.Write(l)
	}
	msg = b.Bytes()
	// The blank line before the next "From " belongs to the mbox, not to
	// the message.
	if bytes.HasSuffix(msg, []byte("\r\n\r\n")) {
		msg = msg[:len(msg)-2]
	} else if bytes.HasSuffix(msg, []byte("\n\n")) {
		msg = msg[:len(msg)-1]
	}
	return msg, start, nil
}

// gmailLabels reads a Takeout message's X-Gmail-Labels header.
func gmailLabels(msg []byte) string {
	header, _, _ := bytes.Cut(msg, []byte("\n\n"))
	for _, l := range unfoldedLines(header) {
		if name, value, ok := strings.Cut(l, ":"); ok && strings.EqualFold(name, "X-Gmail-Labels") {
			return strings.TrimSpace(strings.ReplaceAll(value, "\n", ""))
		}
	}
	return ""
}
