// Package peer starts real servers for tests: PostgreSQL, MariaDB and
// Dovecot from their Debian packages, each on a free port of 127.0.0.1, in
// its own temporary directory, stopped and removed when the test ends.
//
// A peer whose programs are missing fails the test with the command that
// installs it (scripts/test-setup installs every package of .ci/packages).
// It never skips: CI must not pass without the real peer.
//
// Run as root, as CI does, each server runs as its own system user
// (postgres, mysql, nobody), because PostgreSQL and Dovecot refuse to run
// as root; run as a normal user, it runs as that user. Each server runs in
// its own process group with a parent-death signal, so none outlives the
// test, nor the test binary if it is killed (say, by -timeout).
//
// The helpers take a testing.TB and fail the test on error: call them from
// the test's goroutine. Linux only.
package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// Host is the only address the peers listen on.
const Host = "127.0.0.1"

const (
	startTimeout = 30 * time.Second // until a started server accepts connections
	stopTimeout  = 15 * time.Second // until a signalled server exits, then SIGKILL
	runTimeout   = 2 * time.Minute  // for one-shot commands (initdb, psql, ...)
	portAttempts = 3                // starts tried when the port was taken meanwhile
)

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
// Another process may take it before the caller binds it: the Start
// functions retry with a new port when that happens.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp4", Host+":0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// needPackage fails the test: a program of a peer is missing.
func needPackage(t testing.TB, what, pkg string) {
	t.Helper()
	t.Fatalf("missing %s: install it with: apt-get install -y %s (scripts/test-setup installs every peer)", what, pkg)
}

// findProgram returns the path of the first name found on PATH or in dirs.
func findProgram(names []string, dirs ...string) string {
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p
			}
		}
	}
	return ""
}

// account is the OS user a server runs as.
type account struct {
	name, group string
	uid, gid    int
	switchTo    bool // the test runs as root: switch to uid/gid in the child
}

// serverAccount returns the system user name (falling back to nobody) when
// the test runs as root, else the current user.
func serverAccount(t testing.TB, name string) account {
	t.Helper()
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatalf("look up current user: %v", err)
		}
		return lookupAccount(t, u, false)
	}
	u, err := user.Lookup(name)
	if err != nil {
		u, err = user.Lookup("nobody")
		if err != nil {
			t.Fatalf("look up user %s or nobody to run the server as: %v", name, err)
		}
	}
	return lookupAccount(t, u, true)
}

func lookupAccount(t testing.TB, u *user.User, switchTo bool) account {
	t.Helper()
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("user %s: %v", u.Username, err)
	}
	group := u.Gid
	if g, err := user.LookupGroupId(u.Gid); err == nil {
		group = g.Name
	}
	return account{name: u.Username, group: group, uid: uid, gid: gid, switchTo: switchTo}
}

// chown gives path to the account, when the test runs as root.
func (a account) chown(path string) error {
	if !a.switchTo {
		return nil
	}
	return os.Lchown(path, a.uid, a.gid)
}

// sysProcAttr: own process group, SIGKILL when the test binary dies, and
// the account's credentials. Go sets the parent-death signal after the
// credentials (a uid change clears it), which setpriv or su would not.
func (a account) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if a.switchTo {
		attr.Credential = &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), Groups: []uint32{}}
	}
	return attr
}

// tempDir makes a fresh directory that the account owns and can reach
// (mode 0755, directly under the temp dir: t.TempDir's parents are 0700),
// removed when the test ends. Its path stays short for unix sockets.
// Its name carries the test binary's pid, so that a later test can remove
// what a test binary killed before its cleanups (-timeout) left behind.
func tempDir(t testing.TB, kind string, a account) string {
	t.Helper()
	base := os.TempDir()
	if len(base) > 40 { // sockets go in here: keep paths far below 107 bytes
		base = "/tmp"
	}
	sweepOnce.Do(func() { sweep(base) })
	dir, err := os.MkdirTemp(base, fmt.Sprintf("salvage-peer-%d-%s-", os.Getpid(), kind))
	if err != nil {
		t.Fatalf("make temp dir: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("chmod %s: %v", dir, err)
	}
	if err := a.chown(dir); err != nil {
		t.Fatalf("chown %s: %v", dir, err)
	}
	return dir
}

var sweepOnce sync.Once

// sweep removes the directories of test binaries that are gone, left a
// minute or more ago.
func sweep(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, "salvage-peer-*-*-*"))
	for _, dir := range dirs {
		pid, err := strconv.Atoi(strings.Split(filepath.Base(dir), "-")[2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if fi, err := os.Lstat(dir); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > time.Minute {
			_ = os.RemoveAll(dir)
		}
	}
}

// mkdirs makes each directory (and parents), owned by the account.
func (a account) mkdirs(mode os.FileMode, dirs ...string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(d, mode); err != nil {
			return err
		}
		if err := a.chown(d); err != nil {
			return err
		}
	}
	return nil
}

// childEnv is the test's environment without variables that would point a
// server or client elsewhere (PGHOST, MYSQL_PWD, ...), plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "MYSQL") || strings.HasPrefix(k, "MARIADB") ||
			k == "LC_ALL" || k == "LANG" || strings.HasPrefix(k, "LC_") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "LC_ALL=C.UTF-8"), extra...)
}

// run runs a one-shot command as the account in dir, with stdin, and
// returns its stdout and stderr.
func run(a account, dir string, stdin string, name string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	attr := a.sysProcAttr()
	attr.Setpgid = false // stay in the test's group: Ctrl-C reaches it too
	cmd.SysProcAttr = attr
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w after %v", err, runTimeout)
	}
	return out.String(), errb.String(), err
}

// server is one running server process, the leader of its process group.
type server struct {
	name   string
	cmd    *exec.Cmd
	logs   []string       // files whose tail explains a failure
	sig    syscall.Signal // asks for a clean, quick shutdown
	exited chan struct{}  // closed when the process has exited (not yet reaped)
	once   sync.Once
	err    error // from Wait, once stopped
}

// startServer starts cmd as the account, its stdout and stderr appended to
// logPath. The caller must arrange for stop to run.
func startServer(name string, a account, cmd *exec.Cmd, logPath string, sig syscall.Signal, moreLogs ...string) (*server, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = a.sysProcAttr()
	if cmd.Env == nil {
		cmd.Env = childEnv()
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{name: name, cmd: cmd, logs: append([]string{logPath}, moreLogs...), sig: sig, exited: make(chan struct{})}
	go func() {
		waitExited(cmd.Process.Pid)
		close(s.exited)
	}()
	return s, nil
}

// waitExited blocks until process pid has exited, leaving it a zombie:
// while it is one, its pid and so its process group id cannot be reused.
func waitExited(pid int) {
	const pPID, wNOWAIT = 1, 0x1000000
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|wNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			return
		}
	}
}

// stop asks the server to shut down, kills it if it has not after
// stopTimeout, kills whatever is left in its process group, and reaps it.
// Safe to call more than once.
func (s *server) stop() error {
	s.once.Do(func() {
		pid := s.cmd.Process.Pid
		select {
		case <-s.exited:
		default:
			_ = syscall.Kill(pid, s.sig)
			select {
			case <-s.exited:
			case <-time.After(stopTimeout):
				_ = syscall.Kill(pid, syscall.SIGKILL)
				<-s.exited
			}
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL) // stragglers of the group
		s.err = s.cmd.Wait()
	})
	return s.err
}

// ready polls check every 100 ms until it succeeds, the server exits, or
// startTimeout passes; a server that exits is reaped. The returned error
// carries the tail of the server's logs.
func (s *server) ready(check func() error) error {
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.exited:
			err := s.stop()
			return fmt.Errorf("%s exited while starting (%v)%s", s.name, err, s.logTail())
		default:
		}
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v%s", s.name, startTimeout, err, s.logTail())
		}
		select {
		case <-s.exited:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// addrInUse reports whether the server's logs say its port was taken.
func (s *server) addrInUse() bool {
	for _, p := range s.logs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), "Address already in use") {
			return true
		}
	}
	return false
}

// logTail returns the last lines of the server's logs, for an error.
func (s *server) logTail() string {
	var b strings.Builder
	for _, p := range s.logs {
		fmt.Fprintf(&b, "\n--- tail of %s:\n%s", p, tail(p, 30))
	}
	return b.String()
}

// tail returns the last n lines of a file (read from its last 16 KiB).
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > 16<<10 {
		_, _ = f.Seek(-16<<10, 0)
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// listening returns nil when process pid itself holds a socket listening on
// 127.0.0.1:port: then whatever answers on that port is this server, not
// another one that took the port first.
func listening(pid, port int) error {
	inodes, err := listenInodes(port)
	if err != nil {
		return err
	}
	if len(inodes) == 0 {
		return fmt.Errorf("nothing listens on %s:%d yet", Host, port)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return err
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && inodes[link] {
			return nil
		}
	}
	return fmt.Errorf("another process listens on %s:%d", Host, port)
}

// listenInodes returns "socket:[INODE]" of each IPv4 socket listening on
// port of 127.0.0.1 or of every address.
func listenInodes(port int) (map[string]bool, error) {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return nil, err
	}
	want := fmt.Sprintf(":%04X", port)
	inodes := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != "0A" || !strings.HasSuffix(f[1], want) {
			continue
		}
		if ip := strings.TrimSuffix(f[1], want); ip == "0100007F" || ip == "00000000" {
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	return inodes, nil
}

// startOnFreePort calls start with a free port (first, if not 0) until it
// succeeds, retrying with another port when the one chosen was taken
// meanwhile, and returns the port. It arranges for the server to stop when
// the test ends.
func startOnFreePort(t testing.TB, what string, first int, start func(port int) (*server, error)) int {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := first
		if attempt > 1 || port == 0 {
			port = FreePort(t)
		}
		s, err := start(port)
		if err == nil {
			t.Cleanup(func() {
				if err := s.stop(); err != nil && !isSignalExit(err, s.sig) {
					t.Logf("%s on port %d exited: %v%s", what, port, err, s.logTail())
				}
			})
			return port
		}
		if s != nil {
			_ = s.stop()
			if s.addrInUse() && attempt < portAttempts {
				t.Logf("%s: port %d was taken, retrying on another", what, port)
				continue
			}
		}
		t.Fatalf("start %s: %v", what, err)
	}
}

// isSignalExit reports whether err says the process died of sig, which is
// how some servers end when asked to stop.
func isSignalExit(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}
