package peer

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPrograms are the names Debian and others give the browser.
var chromiumPrograms = []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"}

// ChromiumPath returns the path of the Chromium executable, failing the test
// with the command that installs it when there is none.
func ChromiumPath(t testing.TB) string {
	t.Helper()
	p := findProgram(chromiumPrograms, "/usr/bin", "/usr/lib/chromium")
	if p == "" {
		needPackage(t, "Chromium (headless browser)", "chromium")
	}
	return p
}

// ChromiumOptions are the allocator options StartChromium uses: chromedp's
// defaults (headless, no first run, no background networking, …) and the
// flags that keep the browser off the network (PEERS.md): no QUIC, no
// component updates, no sync, and every host name resolving to nothing but
// 127.0.0.1. Run as root, as CI does, Chromium needs --no-sandbox.
func ChromiumOptions(exe, userDataDir string, width, height int) []chromedp.ExecAllocatorOption {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(userDataDir),
		chromedp.WindowSize(width, height),
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	return opts
}

// StartChromium starts headless Chromium (Debian chromium) with a window of
// width × height CSS pixels and a profile of its own, and returns a chromedp
// context of its first tab. The browser stops when the test ends. A
// missing browser fails the test; it is never skipped.
func StartChromium(t testing.TB, width, height int) context.Context {
	t.Helper()
	exe := ChromiumPath(t)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), ChromiumOptions(exe, t.TempDir(), width, height)...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser; its context must not time out
	// (that would stop the browser), so the wait is bounded here instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start Chromium (%s): %v", exe, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("start Chromium (%s): not ready after a minute", exe)
	}
	return ctx
}
