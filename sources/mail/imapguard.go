package mail

import (
	"bytes"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"

	"github.com/salvagehq/salvage/sources"
)

// readCommands are the only IMAP commands salvage sends. None changes a
// mailbox: EXAMINE opens one read-only, STATUS and LIST only look, and a
// FETCH may not name a section that sets \Seen (see fetchSetsSeen).
// SELECT (read-write), STORE, COPY, MOVE, EXPUNGE, CLOSE (which expunges),
// APPEND, CREATE, DELETE, RENAME, SUBSCRIBE and everything else are refused.
var readCommands = map[string]bool{
	"CAPABILITY": true, "NOOP": true, "LOGOUT": true, "ID": true,
	"STARTTLS": true, "LOGIN": true, "AUTHENTICATE": true,
	"LIST": true, "STATUS": true, "NAMESPACE": true,
	"EXAMINE": true, "UNSELECT": true,
	"SEARCH": true, "UID SEARCH": true,
	"FETCH": true, "UID FETCH": true,
}

// guardConn is the connection under the IMAP client. Every command line the
// client writes is checked before any of it leaves: a command that could
// change the mailbox fails with sources.ErrWriteRefused (the client then
// closes the connection), and so does every later write. Literals (a password or a mailbox name sent as {n}) and SASL
// responses pass as data.
//
// pending, if set, is read before the connection: the greeting a client
// expects, when the real one came before STARTTLS.
type guardConn struct {
	net.Conn
	pending []byte

	mu      sync.Mutex
	line    []byte // the start of a line not yet ended
	literal int64  // literal bytes still to come
	cont    bool   // the line is the rest of a command after a literal
	err     error
}

// Read implements net.Conn.
func (g *guardConn) Read(p []byte) (int, error) {
	if len(g.pending) > 0 {
		n := copy(p, g.pending)
		g.pending = g.pending[n:]
		return n, nil
	}
	return g.Conn.Read(p)
}

// Write implements net.Conn. Complete lines are checked and sent; the end
// of a line not yet complete is held back until its end comes.
func (g *guardConn) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return 0, g.err
	}
	var out []byte
	for i := 0; i < len(p); {
		if g.literal > 0 {
			n := int(min(g.literal, int64(len(p)-i)))
			out = append(out, p[i:i+n]...)
			g.literal -= int64(n)
			i += n
			if g.literal == 0 {
				g.cont = true
			}
			continue
		}
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			g.line = append(g.line, p[i:]...)
			break
		}
		g.line = append(g.line, p[i:i+j+1]...)
		i += j + 1
		if !g.cont {
			if err := checkCommand(g.line); err != nil {
				g.err = err // the client closes the connection
				return 0, err
			}
		}
		out = append(out, g.line...)
		g.literal, g.cont = literalSize(g.line), false
		g.line = g.line[:0]
	}
	if len(out) > 0 {
		if _, err := g.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// refusal returns the command refused, if one was.
func (g *guardConn) refusal() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

var literalAtEnd = regexp.MustCompile(`~?\{(\d+)\+?\}\r?\n$`)

// literalSize returns the size of the literal announced at the end of a
// line, 0 if none.
func literalSize(line []byte) int64 {
	m := literalAtEnd.FindSubmatch(line)
	if m == nil {
		return 0
	}
	var n int64
	fmt.Sscan(string(m[1]), &n)
	return n
}

// checkCommand checks a line that starts a command: "tag SP name ...".
// A line without a space is not a command (a SASL response, or the DONE
// that ends IDLE: salvage sends neither IDLE nor anything that could
// follow).
func checkCommand(line []byte) error {
	text := strings.TrimRight(string(line), "\r\n")
	_, rest, ok := strings.Cut(text, " ")
	if !ok {
		return nil
	}
	name, args, _ := strings.Cut(rest, " ")
	name = strings.ToUpper(name)
	if name == "UID" {
		sub, more, _ := strings.Cut(args, " ")
		name, args = "UID "+strings.ToUpper(sub), more
	}
	if !readCommands[name] {
		return fmt.Errorf("IMAP %s: %w", name, sources.ErrWriteRefused)
	}
	if strings.HasSuffix(name, "FETCH") {
		if item := fetchSetsSeen(args); item != "" {
			return fmt.Errorf("IMAP %s %s (without .PEEK it marks the message read): %w", name, item, sources.ErrWriteRefused)
		}
	}
	return nil
}

// fetchSetsSeen returns the first FETCH item in args that sets \Seen:
// BODY[...] and BINARY[...] without .PEEK, RFC822 and RFC822.TEXT.
func fetchSetsSeen(args string) string {
	items := strings.FieldsFunc(strings.ToUpper(args), func(r rune) bool { return r == ' ' || r == '(' || r == ')' })
	for _, it := range items {
		switch {
		case it == "RFC822", it == "RFC822.TEXT", strings.HasPrefix(it, "BODY["), strings.HasPrefix(it, "BINARY["):
			return it
		}
	}
	return ""
}
