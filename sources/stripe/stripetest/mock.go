package stripetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/salvagehq/salvage/internal/peer"
)

// MockKey is a key stripe-mock accepts: it wants any sk_test_ or rk_test_
// key with three parts.
const MockKey = "sk_test_123"

const (
	// mockBuildTimeout bounds the first `go tool stripe-mock` build. It took
	// 26 s here with an empty build cache (2 cores), 0.2 s once cached.
	mockBuildTimeout = 10 * time.Minute
	mockStartTimeout = 60 * time.Second // from start until it answers
	mockStopTimeout  = 10 * time.Second // from SIGTERM until SIGKILL
	mockPortAttempts = 3
)

// StartMock starts Stripe's stripe-mock (`go tool stripe-mock`, the tool
// dependency in go.mod) on free ports of 127.0.0.1, waits until it answers
// GET /v1/payment_intents, and returns its HTTP URL (http://127.0.0.1:PORT).
// It stops it, and everything it started, when the test ends.
//
// stripe-mock runs from the module root (found by walking up from the
// working directory to go.mod) in its own process group, with SIGTERM as
// its parent-death signal: `go tool` passes the signal on to stripe-mock,
// so neither outlives the test binary. It listens on HTTP and HTTPS (both
// given, or it would listen on every interface), without
// -strict-version-check: its spec is newer than stripe-go v76's
// 2023-10-16. stripe-mock is stateless: each list holds one fixture object
// and created filters are ignored; it accepts any key like MockKey.
//
// The first call in a test binary builds stripe-mock if the build cache
// lacks it (26 s here from an empty cache), before the start timeout
// begins. StartMock fails the test, never skips it, when stripe-mock cannot
// be built or started.
func StartMock(t testing.TB) string {
	t.Helper()
	root := moduleRoot(t)
	goCmd := goCommand(t)
	buildMock(t, goCmd, root)

	for attempt := 1; ; attempt++ {
		httpPort := peer.FreePort(t)
		httpsPort := peer.FreePort(t)
		for httpsPort == httpPort {
			httpsPort = peer.FreePort(t)
		}
		m, err := startMock(t, goCmd, root, httpPort, httpsPort)
		if err == nil {
			t.Cleanup(func() {
				if err := m.stop(); err != nil {
					t.Logf("stripe-mock: %v", err)
				}
			})
			return m.url
		}
		if m != nil {
			_ = m.stop()
			if m.addrInUse() && attempt < mockPortAttempts {
				t.Logf("stripe-mock: port %d or %d was taken, retrying on others", httpPort, httpsPort)
				continue
			}
		}
		t.Fatalf("start stripe-mock: %v", err)
	}
}

// moduleRoot returns the directory of the go.mod above the working
// directory, which must declare the stripe-mock tool.
func moduleRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("stripe-mock: working directory: %v", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			if !strings.Contains(string(b), "github.com/stripe/stripe-mock") {
				t.Fatalf("stripe-mock: %s declares no stripe-mock tool: run go get -tool github.com/stripe/stripe-mock@v0.203.0 there", filepath.Join(dir, "go.mod"))
			}
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("stripe-mock: no go.mod above %s", wd)
		}
	}
}

// goCommand returns the go command: the one on PATH (go test puts its own
// GOROOT/bin first), else $GOROOT/bin/go.
func goCommand(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	t.Fatalf("stripe-mock: the go command is not on PATH: it runs `go tool stripe-mock`")
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

var mockBuild struct {
	sync.Mutex
	done bool
}

// buildMock builds stripe-mock into the build cache once per test binary
// (`go tool -n` builds the tool and prints its path without running it).
func buildMock(t testing.TB, goCmd, root string) {
	t.Helper()
	mockBuild.Lock()
	defer mockBuild.Unlock()
	if mockBuild.done {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), mockBuildTimeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, goCmd, "tool", "-n", "stripe-mock")
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w after %v", err, mockBuildTimeout)
		}
		t.Fatalf("build stripe-mock (go tool -n stripe-mock in %s): %v\n%s", root, err, out)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Logf("built stripe-mock in %v", d.Round(100*time.Millisecond))
	}
	mockBuild.done = true
}

// mock is one running `go tool stripe-mock`, leader of its process group.
type mock struct {
	url    string
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed when the go command has exited (not reaped)
	once   sync.Once
	err    error
}

func startMock(t testing.TB, goCmd, root string, httpPort, httpsPort int) (*mock, error) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "stripe-mock.log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	httpAddr := fmt.Sprintf("%s:%d", peer.Host, httpPort)
	cmd := exec.Command(goCmd, "tool", "stripe-mock",
		"-http-addr", httpAddr, "-https-addr", fmt.Sprintf("%s:%d", peer.Host, httpsPort))
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group, so that stop reaches stripe-mock too. SIGTERM if the
	// test binary dies: go tool relays it to stripe-mock before it exits.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s tool stripe-mock: %w", goCmd, err)
	}
	m := &mock{url: "http://" + httpAddr, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		waitExited(cmd.Process.Pid)
		close(m.exited)
	}()

	client := &http.Client{Timeout: 2 * time.Second}
	listening := "Listening for HTTP at address: " + httpAddr
	deadline := time.Now().Add(mockStartTimeout)
	for {
		select {
		case <-m.exited:
			err := m.stop()
			return m, fmt.Errorf("stripe-mock exited while starting (%v)%s", err, m.logTail())
		default:
		}
		err := m.answers(client, listening)
		if err == nil {
			if d := time.Since(start); d > 5*time.Second {
				t.Logf("stripe-mock answered after %v", d.Round(100*time.Millisecond))
			}
			return m, nil
		}
		if time.Now().After(deadline) {
			return m, fmt.Errorf("stripe-mock not answering after %v: %v%s", mockStartTimeout, err, m.logTail())
		}
		select {
		case <-m.exited:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// answers checks that this stripe-mock said it listens on the address (not
// another process that took the port) and serves a list.
func (m *mock) answers(client *http.Client, listening string) error {
	b, err := os.ReadFile(m.log)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), listening) {
		return errors.New("not listening yet")
	}
	req, err := http.NewRequest(http.MethodGet, m.url+"/v1/payment_intents?limit=1", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+MockKey)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /v1/payment_intents: %s", resp.Status)
	}
	return nil
}

// stop asks go tool (which relays to stripe-mock) to stop, kills it after
// mockStopTimeout, kills whatever is left in its process group, and reaps
// it. Safe to call more than once. A stop by signal is not an error.
func (m *mock) stop() error {
	m.once.Do(func() {
		pid := m.cmd.Process.Pid
		select {
		case <-m.exited:
		default:
			_ = syscall.Kill(pid, syscall.SIGTERM)
			select {
			case <-m.exited:
			case <-time.After(mockStopTimeout):
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				<-m.exited
			}
		}
		// The leader is a zombie until Wait, so its group id is still ours.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		err := m.cmd.Wait()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			m.err = err
		}
	})
	return m.err
}

func (m *mock) addrInUse() bool {
	b, err := os.ReadFile(m.log)
	return err == nil && strings.Contains(strings.ToLower(string(b)), "address already in use")
}

// logTail returns the last lines of stripe-mock's output.
func (m *mock) logTail() string {
	f, err := os.Open(m.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return "\n--- stripe-mock output:\n" + strings.Join(lines, "\n")
}

// waitExited blocks until process pid has exited, leaving it a zombie:
// while it is one, its pid and so its process group id cannot be reused.
// (As internal/peer does.)
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
