package timeline

import (
	"bytes"
	"context"
	"fmt"
	"github.com/salvagehq/salvage/reconcile"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/peer"
)

// artifactDir is where the Chromium test saves its screenshots: the
// directory $SALVAGE_ARTIFACTS names (a "timeline" folder in it), kept
// after the test for a person or CI to look at; without it, a temporary
// directory removed when the test ends. The test logs the paths.
func artifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SALVAGE_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "timeline")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pageWatch records what a page asks of the network, the errors it throws
// and the errors it logs.
type pageWatch struct {
	mu       sync.Mutex
	requests []string
	errors   []string
}

func watchPage(t testing.TB, ctx context.Context) *pageWatch {
	t.Helper()
	w := &pageWatch{}
	err := chromedp.Listen(ctx, func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			w.requests = append(w.requests, e.Request.URL)
		case *runtime.EventExceptionThrown:
			w.errors = append(w.errors, "exception: "+e.ExceptionDetails.Text+exceptionDescription(e))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				w.errors = append(w.errors, "console "+string(e.Type))
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				w.errors = append(w.errors, "log: "+e.Entry.Text)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func exceptionDescription(e *runtime.EventExceptionThrown) string {
	if ex := e.ExceptionDetails.Exception; ex != nil && ex.Description != "" {
		return " " + ex.Description
	}
	return ""
}

// outside returns the requests that went anywhere but the file itself or
// data: URLs.
func (w *pageWatch) outside() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, u := range w.requests {
		if !strings.HasPrefix(u, "file:") && !strings.HasPrefix(u, "data:") {
			out = append(out, u)
		}
	}
	return out
}

func (w *pageWatch) problems() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.errors)
}

func run[T any](t testing.TB, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// drawnPixels counts, per lane, the canvas pixels in the lane's band that
// are marks (saturated colours): the lane backgrounds, grid and loss-window
// shade are all pale.
const drawnPixels = `(() => {
  const c = document.getElementById('canvas'), g = c.getContext('2d');
  const dpr = c.width / c.clientWidth, img = g.getImageData(0, 0, c.width, c.height).data;
  const out = [];
  const lanes = document.documentElement.getAttribute('data-drawn').split(',').length;
  for (let l = 0; l < lanes; l++) {
    let n = 0;
    const y0 = Math.round((66 + l * 62 + 2) * dpr), y1 = Math.round((66 + (l + 1) * 62 - 2) * dpr);
    for (let y = y0; y < y1; y++) for (let x = Math.round(120 * dpr); x < c.width; x++) {
      const i = (y * c.width + x) * 4, r = img[i], gg = img[i + 1], b = img[i + 2];
      if (Math.max(r, gg, b) - Math.min(r, gg, b) > 60) n++;
    }
    out.push(n);
  }
  return out;
})()`

// shadedPixels counts the canvas pixels of the loss window's shade in the
// last lane's band, where the scenario's transcript lane is mostly empty.
const shadedPixels = `(() => {
  const c = document.getElementById('canvas'), g = c.getContext('2d');
  const dpr = c.width / c.clientWidth, img = g.getImageData(0, 0, c.width, c.height).data;
  const lanes = document.documentElement.getAttribute('data-drawn').split(',').length;
  const y = Math.round((66 + (lanes - 1) * 62 + 8) * dpr);
  let shaded = 0, plain = 0;
  for (let x = Math.round(120 * dpr); x < c.width; x++) {
    const i = (y * c.width + x) * 4, r = img[i], gg = img[i + 1], b = img[i + 2];
    if (r > 200 && r - gg > 8 && r - b > 8) shaded++; else plain++;
  }
  return [shaded, plain];
})()`

// TestHTMLInChromium opens the scenario's HTML page in headless Chromium
// (a real peer: it fails, never skips, when the browser is missing) and
// checks that the lanes render with the loss window shaded, that filtering
// by a booking lists exactly that booking's events, that clicking an event
// shows its evidence, redacted, that zooming works, and that the page makes
// no request: every request it sends is logged, and any that is not a
// file: or data: URL fails the test. Screenshots are saved (see
// artifactDir).
func TestHTMLInChromium(t *testing.T) {
	tl := scenarioTimeline(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "timeline.html")
	var b bytes.Buffer
	if err := tl.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b.Bytes(), []byte(`http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;`)) {
		t.Fatal("the page has no Content-Security-Policy that forbids loading")
	}

	ctx := peer.StartChromium(t, 1400, 1000)
	watch := watchPage(t, ctx)
	pageURL := (&url.URL{Scheme: "file", Path: page}).String()
	run(t, ctx, chromedp.Navigate(pageURL))
	run(t, ctx, chromedp.Poll[bool](`document.documentElement.getAttribute('data-rendered') === '1'`, chromedp.WithPollingTimeout(30*time.Second)))

	// The lanes render: each source's lane has marks, and the loss window
	// is shaded.
	drawn := run(t, ctx, chromedp.Evaluate[string](`document.documentElement.getAttribute('data-drawn')`))
	pixels := run(t, ctx, chromedp.Evaluate[[]int](drawnPixels))
	lanes := strings.Split(drawn, ",")
	if len(lanes) != 4 || len(pixels) != 4 {
		t.Fatalf("lanes drawn %q, pixels %v: want the four sources", drawn, pixels)
	}
	for i, l := range lanes {
		name, n, _ := strings.Cut(l, ":")
		if c, _ := strconv.Atoi(n); c == 0 || pixels[i] < 20 {
			t.Errorf("lane %s: %s events drawn, %d pixels of marks", name, n, pixels[i])
		}
	}
	shade := run(t, ctx, chromedp.Evaluate[[]int](shadedPixels))
	if shade[0] < 100 || shade[1] < 100 {
		t.Errorf("loss window: %d shaded and %d plain pixels across a lane, want both (the window starts mid-way)", shade[0], shade[1])
	}
	arts := artifactDir(t)
	shot := func(name string) {
		png := run(t, ctx, chromedp.FullScreenshot(100))
		path := filepath.Join(arts, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	shot("timeline-scenario.png")

	// Filtering by a booking lists its events and nothing else.
	ref, want := busiestBooking(tl)
	run(t, ctx, chromedp.SendKeys(chromedp.ID("booking"), strings.ToLower(strings.ReplaceAll(ref, "-", " "))))
	run(t, ctx, chromedp.Poll[bool](fmt.Sprintf(`document.documentElement.getAttribute('data-matches') === '%d'`, want),
		chromedp.WithPollingTimeout(10*time.Second)))
	rows := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#list tbody tr')].map(r => r.getAttribute('data-booking'))`))
	if len(rows) != want {
		t.Errorf("booking %s: the list shows %d events, want %d", ref, len(rows), want)
	}
	for _, r := range rows {
		if reconcile.RefKey(r) != reconcile.RefKey(ref) {
			t.Errorf("booking %s: the list shows an event of %q", ref, r)
		}
	}
	drawn = run(t, ctx, chromedp.Evaluate[string](`document.documentElement.getAttribute('data-drawn')`))
	total := 0
	for _, l := range strings.Split(drawn, ",") {
		_, n, _ := strings.Cut(l, ":")
		c, _ := strconv.Atoi(n)
		total += c
	}
	if total != want {
		t.Errorf("booking %s: %d events drawn (%s), want %d", ref, total, drawn, want)
	}
	shot("timeline-booking.png")

	// Clicking an event shows its evidence, redacted.
	first := run(t, ctx, chromedp.Evaluate[int](`+document.querySelector('#list tbody tr').getAttribute('data-i')`))
	run(t, ctx, chromedp.Click(chromedp.CSS("#list tbody tr")))
	detail := run(t, ctx, chromedp.Evaluate[string](`document.getElementById('detail').innerText`))
	e := tl.Events[first]
	if !strings.Contains(detail, e.Evidence[0].ID) || !strings.Contains(detail, "evidence") {
		t.Errorf("the evidence panel does not show %s:\n%s", e.Evidence[0].ID, detail)
	}

	// Clear the filter, zoom to the incident, click the destructive call:
	// its evidence shows the credential by fingerprint only.
	run(t, ctx, chromedp.Evaluate[chromedp.Void](`(() => { const i = document.getElementById('booking'); i.value = ''; i.dispatchEvent(new Event('input')); })()`))
	run(t, ctx, chromedp.Poll[bool](fmt.Sprintf(`document.documentElement.getAttribute('data-matches') === '%d'`, len(tl.Events)),
		chromedp.WithPollingTimeout(10*time.Second)))
	before := run(t, ctx, chromedp.Evaluate[string](`document.documentElement.getAttribute('data-view')`))
	run(t, ctx, chromedp.Click(chromedp.ID("zoom-incident")))
	run(t, ctx, chromedp.Poll[bool](`document.documentElement.getAttribute('data-view') !== `+strconv.Quote(before), chromedp.WithPollingTimeout(10*time.Second)))
	span := func() float64 {
		v := run(t, ctx, chromedp.Evaluate[string](`document.documentElement.getAttribute('data-view')`))
		a, b, _ := strings.Cut(v, ",")
		x, _ := strconv.ParseFloat(a, 64)
		y, _ := strconv.ParseFloat(b, 64)
		return y - x
	}
	if s := span(); s < 2*3600e3-1 || s > 2*3600e3+1 {
		t.Errorf("the incident view spans %v ms, want two hours", s)
	}
	shot("timeline-incident.png")
	in, _ := tl.Marker(Incident)
	idx := slices.IndexFunc(tl.Events, func(e Event) bool { return e.Action == AgentCall && e.Evidence[0].ID == in.Evidence })
	if idx < 0 {
		t.Fatal("no event of the T0 step")
	}
	run(t, ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector('#list tbody tr[data-i="%d"]').click()`, idx)))
	detail = run(t, ctx, chromedp.Evaluate[string](`document.getElementById('detail').innerText`))
	if !strings.Contains(detail, "crl_pat_…gemM") || !strings.Contains(detail, in.Evidence) {
		t.Errorf("the T0 step's evidence panel shows no fingerprint or id:\n%s", detail)
	}
	for _, s := range plantedSecrets(t) {
		if strings.Contains(detail, s) {
			t.Errorf("the evidence panel shows the planted secret %s", evidence.Fingerprint(s))
		}
	}

	// The wheel zooms around the pointer.
	before = run(t, ctx, chromedp.Evaluate[string](`document.documentElement.getAttribute('data-view')`))
	s0 := span()
	run(t, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('canvas').dispatchEvent(new WheelEvent('wheel', {deltaY: -400, clientX: 700, clientY: 200, bubbles: true, cancelable: true}))`))
	run(t, ctx, chromedp.Poll[bool](`document.documentElement.getAttribute('data-view') !== `+strconv.Quote(before), chromedp.WithPollingTimeout(10*time.Second)))
	if s1 := span(); s1 >= s0 {
		t.Errorf("the wheel did not zoom in: view %v ms, was %v", s1, s0)
	}

	// Dragging pans: the view keeps its span and moves later in time when
	// dragged to the left.
	view := func() (float64, float64) {
		v := run(t, ctx, chromedp.Evaluate[string](`document.documentElement.getAttribute('data-view')`))
		a, b, _ := strings.Cut(v, ",")
		x, _ := strconv.ParseFloat(a, 64)
		y, _ := strconv.ParseFloat(b, 64)
		return x, y
	}
	a0, b0 := view()
	box := run(t, ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.getElementById('canvas').getBoundingClientRect(); return [r.left, r.top, r.width]; })()`))
	y := box[1] + 66 + 30
	run(t, ctx, chromedp.Steps(
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, box[0]+box[2]*0.7, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box[0]+box[2]*0.6, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box[0]+box[2]*0.5, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, box[0]+box[2]*0.5, y, chromedp.ButtonLeft),
	))
	run(t, ctx, chromedp.Poll[bool](`document.documentElement.getAttribute('data-view') !== `+strconv.Quote(fmt.Sprintf("%.0f,%.0f", a0, b0)), chromedp.WithPollingTimeout(10*time.Second)))
	if a1, b1 := view(); a1 <= a0 || b1-a1 < (b0-a0)*0.99 || b1-a1 > (b0-a0)*1.01 {
		t.Errorf("dragging left moved the view from %v–%v to %v–%v, want later with the same span", a0, b0, a1, b1)
	}

	// Nothing so far made the page complain: no exception, no refused
	// inline script or style (the policy allows them by hash), no error.
	// (The test's own pixel reads draw a hint about willReadFrequently.)
	var problems []string
	for _, p := range watch.problems() {
		if !strings.Contains(p, "willReadFrequently") {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		t.Errorf("the page reported errors: %v", problems)
	}

	// The page's policy forbids connecting anywhere: a fetch is refused
	// before it reaches the network.
	got := run(t, ctx, chromedp.Evaluate[string](`fetch('http://127.0.0.1:9/x').then(() => 'sent', () => 'refused')`, chromedp.EvalAwaitPromise))
	if got != "refused" {
		t.Errorf("a fetch from the page was %s", got)
	}
	if out := watch.outside(); len(out) > 0 {
		t.Errorf("the page sent requests beyond its own file: %v", out)
	}
	var sawRefusal bool
	for _, p := range watch.problems() {
		sawRefusal = sawRefusal || strings.Contains(p, "Content Security Policy")
	}
	if !sawRefusal {
		t.Errorf("no Content Security Policy refusal was logged for the fetch: %v", watch.problems())
	}
}

// busiestBooking returns the booking with the most events (ties: the first
// by reference) and how many.
func busiestBooking(tl *Timeline) (string, int) {
	n := map[string]int{}
	refs := map[string]string{}
	for _, e := range tl.Events {
		if k := reconcile.RefKey(e.Booking); k != "" {
			n[k]++
			if refs[k] == "" || e.Booking < refs[k] {
				refs[k] = e.Booking
			}
		}
	}
	best := ""
	for k, c := range n {
		if best == "" || c > n[best] || c == n[best] && k < best {
			best = k
		}
	}
	return refs[best], n[best]
}
