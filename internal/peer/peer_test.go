package peer

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestFreePort(t *testing.T) {
	t.Parallel()
	port := FreePort(t)
	l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", port, err)
	}
	l.Close()
}

func TestMissingPeerMessage(t *testing.T) {
	t.Parallel()
	msg := fatalOf(t, func(tb testing.TB) { needPackage(tb, "PostgreSQL server", "postgresql") })
	if want := "missing PostgreSQL server: install it with: apt-get install -y postgresql"; !strings.HasPrefix(msg, want) {
		t.Fatalf("message %q, want it to start with %q", msg, want)
	}
}

// fatalTB records what Fatalf says instead of failing the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalOf runs fn and returns what it passed to Fatalf ("" if nothing).
func fatalOf(t *testing.T, fn func(testing.TB)) string {
	rec := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec)
	}()
	<-done
	return rec.msg
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	start := time.Now()
	p := StartPostgres(t)
	t.Logf("PostgreSQL ready on port %d in %v", p.Port, time.Since(start).Round(time.Millisecond))

	if got := p.Psql(t, "postgres", "select 1"); got != "1\n" {
		t.Fatalf("select 1 = %q, want %q", got, "1\n")
	}
	p.Psql(t, "postgres", "create database salvage")
	p.Psql(t, "salvage", `
		create table booking (id text primary key, guest text not null, starts timestamptz);
		insert into booking values ('bk_1', 'Zoë Ñúñez', '2026-03-01 10:00:00+01'), ('bk_2', 'Bob', null);`)
	got := p.Psql(t, "salvage", "select id, guest, starts from booking order by id")
	want := "bk_1|Zoë Ñúñez|2026-03-01 09:00:00+00\nbk_2|Bob|\n"
	if got != want {
		t.Fatalf("rows = %q, want %q", got, want)
	}

	// The DSN is a URL that a client accepts.
	if want := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/salvage?sslmode=disable", p.Port); p.DSN("salvage") != want {
		t.Fatalf("DSN = %q, want %q", p.DSN("salvage"), want)
	}
	out, err := exec.Command(filepath.Join(p.bin, "psql"), "-X", "-A", "-t", "-c", "select count(*) from booking", p.DSN("salvage")).CombinedOutput()
	if err != nil || string(out) != "2\n" {
		t.Fatalf("psql with the DSN: %v: %q", err, out)
	}
	msg := fatalOf(t, func(tb testing.TB) { p.Psql(tb, "salvage", "select nope from booking") })
	if !strings.Contains(msg, `column "nope" does not exist`) {
		t.Fatalf("a failing Psql says %q, want psql's error", msg)
	}
	assertLoopbackOnly(t, p.Port)
}

func TestMariaDB(t *testing.T) {
	t.Parallel()
	start := time.Now()
	m := StartMariaDB(t)
	t.Logf("MariaDB ready on port %d in %v", m.Port, time.Since(start).Round(time.Millisecond))

	if got := m.Exec(t, "", "select 1"); got != "1\n" {
		t.Fatalf("select 1 = %q, want %q", got, "1\n")
	}
	m.Exec(t, "", "create database salvage")
	m.Exec(t, "salvage", `
		create table booking (id varchar(32) primary key, guest text not null, starts datetime null);
		insert into booking values ('bk_1', 'Zoë Ñúñez', '2026-03-01 09:00:00'), ('bk_2', 'Bob', null);`)
	got := m.Exec(t, "salvage", "select id, guest, starts from booking order by id")
	want := "bk_1\tZoë Ñúñez\t2026-03-01 09:00:00\nbk_2\tBob\tNULL\n"
	if got != want {
		t.Fatalf("rows = %q, want %q", got, want)
	}
	if got := m.Exec(t, "salvage", "select @@character_set_database, @@time_zone"); got != "utf8mb4\t+00:00\n" {
		t.Fatalf("charset and time zone = %q", got)
	}
	if want := fmt.Sprintf("root@tcp(127.0.0.1:%d)/salvage", m.Port); m.DSN("salvage") != want {
		t.Fatalf("DSN = %q, want %q", m.DSN("salvage"), want)
	}
	msg := fatalOf(t, func(tb testing.TB) { m.Exec(tb, "salvage", "select nope from booking") })
	if !strings.Contains(msg, "Unknown column 'nope'") {
		t.Fatalf("a failing Exec says %q, want the client's error", msg)
	}
	assertLoopbackOnly(t, m.Port)
}

func TestDovecot(t *testing.T) {
	t.Parallel()
	start := time.Now()
	d := StartDovecot(t, map[string]string{"alice": "pw", "bob": "secret"})
	t.Logf("Dovecot ready on %s in %v", d.Addr, time.Since(start).Round(time.Millisecond))

	msg1 := []byte("From: Zoë <zoe@example.com>\r\nTo: alice@example.com\r\nSubject: Booking bk_1 confirmed\r\n" +
		"Message-ID: <bk1@example.com>\r\nDate: Sun, 01 Mar 2026 09:00:00 +0000\r\n\r\nSee you on Sunday.\r\n")
	msg2 := []byte("From: bob@example.com\r\nSubject: Change of time\r\n\r\nCan we move to 11:00?\r\n")
	msg3 := []byte("From: shop@example.com\r\nSubject: Archived\r\n\r\nOld.\r\n")
	p1 := d.Deliver(t, "alice", "INBOX", msg1)
	d.Deliver(t, "alice", "INBOX", msg2)
	d.Deliver(t, "alice", "Archive", msg3)
	if filepath.Base(filepath.Dir(p1)) != "new" || MaildirFlags(p1) != "" {
		t.Fatalf("delivered to %s, want new/ without flags", p1)
	}

	c := dialIMAP(t, d.Addr)
	if !strings.HasPrefix(c.line(), "* OK") {
		t.Fatal("no IMAP greeting")
	}
	if _, status := c.cmd("x LOGIN bob wrong"); !strings.HasPrefix(status, "x NO") {
		t.Fatalf("LOGIN with a wrong password: %q", status)
	}
	if _, status := c.cmd("a LOGIN alice pw"); !strings.HasPrefix(status, "a OK") {
		t.Fatalf("LOGIN: %q", status)
	}
	untagged, status := c.cmd("b EXAMINE INBOX")
	if !strings.HasPrefix(status, "b OK [READ-ONLY]") || !strings.Contains(untagged, "* 2 EXISTS\r\n") {
		t.Fatalf("EXAMINE INBOX:\n%s%s", untagged, status)
	}
	untagged, status = c.cmd("c FETCH 1 BODY.PEEK[]")
	if !strings.HasPrefix(status, "c OK") || !strings.Contains(untagged, fmt.Sprintf("BODY[] {%d}\r\n%s)", len(msg1), msg1)) {
		t.Fatalf("FETCH 1 BODY.PEEK[]:\n%s%s", untagged, status)
	}
	untagged, status = c.cmd("d EXAMINE Archive")
	if !strings.HasPrefix(status, "d OK") || !strings.Contains(untagged, "* 1 EXISTS\r\n") {
		t.Fatalf("EXAMINE Archive:\n%s%s", untagged, status)
	}
	c.cmd("e LOGOUT")

	files := d.MaildirFiles(t, "alice", "INBOX")
	if len(files) != 2 {
		t.Fatalf("INBOX files = %q, want 2", files)
	}
	if base := filepath.Base(p1); !strings.HasPrefix(filepath.Base(files[0]), base) {
		t.Fatalf("first INBOX file %s, want the delivered %s", files[0], base)
	}
	for _, f := range files {
		if strings.Contains(MaildirFlags(f), "S") {
			t.Errorf("%s gained the Seen flag", f)
		}
		if b, err := os.ReadFile(f); err != nil || len(b) == 0 {
			t.Errorf("read %s: %v", f, err)
		}
	}
	assertLoopbackOnly(t, d.Port)
}

// TestSideBySide starts two of each peer at once: ports and directories
// must differ and every server answer.
func TestSideBySide(t *testing.T) {
	t.Parallel()
	ports, dirs := map[int]bool{}, map[string]bool{}
	for i := range 2 {
		p := StartPostgres(t)
		m := StartMariaDB(t)
		d := StartDovecot(t, map[string]string{"u": "p"})
		for _, port := range []int{p.Port, m.Port, d.Port} {
			if ports[port] {
				t.Fatalf("port %d used twice", port)
			}
			ports[port] = true
		}
		for _, dir := range []string{p.Dir, m.Dir, d.Dir} {
			if dirs[dir] {
				t.Fatalf("dir %s used twice", dir)
			}
			dirs[dir] = true
		}
		if got := p.Psql(t, "postgres", "select "+strconv.Itoa(i)); got != strconv.Itoa(i)+"\n" {
			t.Fatalf("postgres %d: %q", i, got)
		}
		if got := m.Exec(t, "", "select "+strconv.Itoa(i)); got != strconv.Itoa(i)+"\n" {
			t.Fatalf("mariadb %d: %q", i, got)
		}
		if err := imapGreeting(d.Addr); err != nil {
			t.Fatalf("dovecot %d: %v", i, err)
		}
	}
}

// TestPortTaken starts a server on a port that another process listens on:
// it must notice, and start on another port.
func TestPortTaken(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	d := startDovecot(t, map[string]string{"u": "p"}, taken)
	if d.Port == taken {
		t.Fatalf("Dovecot claims the taken port %d", taken)
	}
	if err := imapGreeting(d.Addr); err != nil {
		t.Fatal(err)
	}
}

func TestListenInodes(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if err := listening(os.Getpid(), port); err != nil {
		t.Fatalf("this process listens on %d: %v", port, err)
	}
	if err := listening(os.Getppid(), port); err == nil {
		t.Fatalf("the parent process does not listen on %d", port)
	}
}

// assertLoopbackOnly checks that nothing listens on port of another
// address than 127.0.0.1.
func assertLoopbackOnly(t *testing.T, port int) {
	t.Helper()
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		suffix := fmt.Sprintf(":%04X", port)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 3 && f[3] == "0A" && strings.HasSuffix(f[1], suffix) && f[1] != "0100007F"+suffix {
				t.Errorf("something listens on %s in %s", f[1], file)
			}
		}
	}
}

// imapConn is a raw IMAP conversation.
type imapConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialIMAP(t *testing.T, addr string) *imapConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &imapConn{t: t, c: c, r: bufio.NewReader(c)}
}

// line reads one response line, with any literal ({N}) it announces.
func (c *imapConn) line() string {
	c.t.Helper()
	var b strings.Builder
	for {
		s, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read IMAP response: %v (so far %q)", err, b.String()+s)
		}
		b.WriteString(s)
		trimmed := strings.TrimSuffix(s, "\r\n")
		if i := strings.LastIndexByte(trimmed, '{'); i >= 0 && strings.HasSuffix(trimmed, "}") {
			if n, err := strconv.Atoi(trimmed[i+1 : len(trimmed)-1]); err == nil {
				lit := make([]byte, n)
				if _, err := io.ReadFull(c.r, lit); err != nil {
					c.t.Fatalf("read IMAP literal: %v", err)
				}
				b.Write(lit)
				continue
			}
		}
		return b.String()
	}
}

// cmd sends a tagged command and returns the untagged responses and the
// tagged status line.
func (c *imapConn) cmd(command string) (untagged, status string) {
	c.t.Helper()
	tag, _, _ := strings.Cut(command, " ")
	if _, err := io.WriteString(c.c, command+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", command, err)
	}
	var b strings.Builder
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			return b.String(), l
		}
		b.WriteString(l)
	}
}

// TestChromium starts the browser, loads a page from a data: URL and runs
// its script: the DevTools connection works and the flags do not break it.
func TestChromium(t *testing.T) {
	ctx := StartChromium(t, 800, 600)
	if err := chromedp.Do(ctx, chromedp.Navigate(`data:text/html,<title>peer</title><p id=p></p><script>document.getElementById("p").textContent = String(6*7)</script>`)); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title + " " + document.getElementById("p").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if got != "peer 42" {
		t.Fatalf("page says %q, want %q", got, "peer 42")
	}
}

func TestMissingChromiumMessage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := chromiumPrograms
	chromiumPrograms = []string{"no-such-chromium-for-this-test"}
	defer func() { chromiumPrograms = old }()
	msg := fatalOf(t, func(tb testing.TB) { ChromiumPath(tb) })
	if want := "missing Chromium (headless browser): install it with: apt-get install -y chromium"; !strings.HasPrefix(msg, want) {
		t.Fatalf("message %q, want it to start with %q", msg, want)
	}
}
