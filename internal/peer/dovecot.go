package peer

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Dovecot is a Dovecot IMAP server started by StartDovecot.
type Dovecot struct {
	Addr string // 127.0.0.1:PORT, plain IMAP (no TLS), LOGIN and AUTHENTICATE PLAIN
	Host string // 127.0.0.1
	Port int
	Dir  string // dovecot.conf, users, run/dovecot.log, mail/USER/Maildir

	owner account // the account Dovecot reads mail as; message files must be its
}

// dovecotConf is shared/peers/dovecot.conf.tmpl, with the account names as
// parameters (nobody and nogroup when the test runs as root) and any uid
// allowed to own mail (a normal user's may be below 500).
const dovecotConf = `# minimal non-root Dovecot 2.3 for tests (loopback only)
protocols = imap
listen = 127.0.0.1
base_dir = @DIR@/run
state_dir = @DIR@/state
log_path = @DIR@/run/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:@DIR@/mail/%u/Maildir
first_valid_uid = 1
first_valid_gid = 1
default_login_user = @USER@
default_internal_user = @USER@
default_internal_group = @GROUP@
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u @DIR@/users
}
userdb {
  driver = static
  args = uid=@USER@ gid=@GROUP@ home=@DIR@/mail/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = @PORT@
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`

// StartDovecot starts Dovecot (2.3 on Debian 12) serving IMAP on
// 127.0.0.1 for users, a map of user name to password, each with an empty
// Maildir++ INBOX. Put messages in with Deliver. The server is stopped and
// its directory removed when the test ends.
func StartDovecot(t testing.TB, users map[string]string) *Dovecot {
	t.Helper()
	return startDovecot(t, users, 0)
}

// startDovecot is StartDovecot trying port first, if not 0.
func startDovecot(t testing.TB, users map[string]string, port int) *Dovecot {
	t.Helper()
	bin := findProgram([]string{"dovecot"}, "/usr/sbin", "/usr/local/sbin")
	if bin == "" || !isExec("/usr/lib/dovecot/imap") || !isExec("/usr/lib/dovecot/imap-login") {
		needPackage(t, "Dovecot IMAP server (dovecot, imap, imap-login)", "dovecot-imapd")
	}
	// Dovecot refuses mail access as root: as root, run it as nobody.
	a := serverAccount(t, "nobody")
	d := &Dovecot{Host: Host, Dir: tempDir(t, "dovecot", a), owner: a}

	names := make([]string, 0, len(users))
	for name := range users {
		names = append(names, name)
	}
	sort.Strings(names)
	var passwd strings.Builder
	for _, name := range names {
		pw := users[name]
		if name == "" || strings.ContainsAny(name, ":/%\\ \t\r\n") || strings.ContainsAny(pw, ":\r\n") {
			t.Fatalf("dovecot user %q or its password has a character passwd-file cannot hold", name)
		}
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s\n", name, pw)
	}
	if err := os.WriteFile(filepath.Join(d.Dir, "users"), []byte(passwd.String()), 0o644); err != nil {
		t.Fatalf("write dovecot users: %v", err)
	}
	runDir, state, mail := filepath.Join(d.Dir, "run"), filepath.Join(d.Dir, "state"), filepath.Join(d.Dir, "mail")
	if err := a.mkdirs(0o755, runDir, state, mail); err != nil {
		t.Fatalf("make dovecot dirs: %v", err)
	}
	for _, name := range names {
		if _, err := d.maildir(name, "INBOX"); err != nil {
			t.Fatalf("make maildir of %s: %v", name, err)
		}
	}

	conf := filepath.Join(d.Dir, "dovecot.conf")
	d.Port = startOnFreePort(t, "Dovecot", port, func(port int) (*server, error) {
		text := strings.NewReplacer("@DIR@", d.Dir, "@PORT@", strconv.Itoa(port),
			"@USER@", a.name, "@GROUP@", a.group).Replace(dovecotConf)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "-F", "-c", conf)
		cmd.Dir = d.Dir
		s, err := startServer("dovecot", a, cmd, filepath.Join(d.Dir, "stderr.log"), syscall.SIGTERM,
			filepath.Join(runDir, "dovecot.log"))
		if err != nil {
			return nil, err
		}
		return s, s.ready(func() error {
			if err := listening(s.cmd.Process.Pid, port); err != nil {
				return err
			}
			return imapGreeting(fmt.Sprintf("%s:%d", Host, port))
		})
	})
	d.Addr = fmt.Sprintf("%s:%d", Host, d.Port)
	return d
}

// imapGreeting connects and reads the server's "* OK" greeting.
func imapGreeting(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read IMAP greeting: %w", err)
	}
	if !strings.HasPrefix(line, "* OK") {
		return fmt.Errorf("IMAP greeting %q", strings.TrimSpace(line))
	}
	_, _ = c.Write([]byte("z LOGOUT\r\n"))
	return nil
}

// Maildir returns the directory of mailbox of user: USER's Maildir for
// INBOX (or ""), else its Maildir++ folder ".NAME", where a nested name
// uses "." (Dovecot's separator here; "/" is taken as ".").
func (d *Dovecot) Maildir(user, mailbox string) string {
	root := filepath.Join(d.Dir, "mail", user, "Maildir")
	if mailbox == "" || strings.EqualFold(mailbox, "INBOX") {
		return root
	}
	return filepath.Join(root, "."+strings.ReplaceAll(mailbox, "/", "."))
}

// maildir makes mailbox of user (cur, new, tmp, and maildirfolder for a
// folder), owned by the server's account, and returns its directory.
func (d *Dovecot) maildir(user, mailbox string) (string, error) {
	if user == "" || strings.ContainsAny(user, "/\\") || strings.Contains(mailbox, "..") ||
		strings.HasPrefix(mailbox, ".") || strings.HasPrefix(mailbox, "/") {
		return "", fmt.Errorf("bad user %q or mailbox %q", user, mailbox)
	}
	dir := d.Maildir(user, mailbox)
	home := filepath.Join(d.Dir, "mail", user)
	root := filepath.Join(home, "Maildir")
	for _, p := range []string{home, root, dir, filepath.Join(dir, "cur"), filepath.Join(dir, "new"), filepath.Join(dir, "tmp")} {
		if err := os.Mkdir(p, 0o700); err != nil && !os.IsExist(err) {
			return "", err
		}
		if err := d.owner.chown(p); err != nil {
			return "", err
		}
	}
	if dir != root {
		mark := filepath.Join(dir, "maildirfolder")
		if err := os.WriteFile(mark, nil, 0o600); err != nil {
			return "", err
		}
		if err := d.owner.chown(mark); err != nil {
			return "", err
		}
	}
	return dir, nil
}

var deliveries atomic.Int64

// Deliver places raw as a new message of mailbox (INBOX, or a folder made
// as needed) of user: written to tmp/, then renamed into new/ with no
// flags, owned by the server's account. It returns the file's path; note
// that Dovecot may later move the file to cur/ (see MaildirFiles). Use
// CRLF line ends in raw to have IMAP fetch return it byte for byte.
func (d *Dovecot) Deliver(t testing.TB, user, mailbox string, raw []byte) string {
	t.Helper()
	dir, err := d.maildir(user, mailbox)
	if err != nil {
		t.Fatalf("deliver to %s/%s: %v", user, mailbox, err)
	}
	now := time.Now()
	name := fmt.Sprintf("%d.M%dP%dQ%d.salvage-test", now.Unix(), now.Nanosecond()/1000, os.Getpid(), deliveries.Add(1))
	tmp := filepath.Join(dir, "tmp", name)
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		t.Fatalf("deliver to %s/%s: %v", user, mailbox, err)
	}
	if err := d.owner.chown(tmp); err != nil {
		t.Fatalf("deliver to %s/%s: %v", user, mailbox, err)
	}
	path := filepath.Join(dir, "new", name)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatalf("deliver to %s/%s: %v", user, mailbox, err)
	}
	return path
}

// MaildirFiles returns the paths of every message file of mailbox of user,
// in cur/ and new/, sorted by file name (the part before any ":2,"), so a
// test can check that reading changed no flag (see MaildirFlags).
func (d *Dovecot) MaildirFiles(t testing.TB, user, mailbox string) []string {
	t.Helper()
	dir := d.Maildir(user, mailbox)
	var files []string
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatalf("list maildir %s/%s: %v", user, mailbox, err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				files = append(files, filepath.Join(dir, sub, e.Name()))
			}
		}
	}
	key := func(p string) string { k, _, _ := strings.Cut(filepath.Base(p), ":"); return k }
	sort.Slice(files, func(i, j int) bool { return key(files[i]) < key(files[j]) })
	return files
}

// MaildirFlags returns the flags of a Maildir message file: the letters
// after ":2," in its name (S seen, R replied, F flagged, T trashed, D
// draft), "" when it has none.
func MaildirFlags(path string) string {
	_, flags, _ := strings.Cut(filepath.Base(path), ":2,")
	return flags
}
