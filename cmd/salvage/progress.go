package main

import (
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/salvagehq/salvage/sources"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progressUI shows importers' progress: bars on a terminal, a log line every
// few seconds otherwise (CI logs, redirected output).
type progressUI struct {
	bars *mpb.Progress // nil when not a terminal
	log  *slog.Logger
	now  func() time.Time
}

var _ sources.Progress = (*progressUI)(nil)

func (a *app) newProgress(w io.Writer) *progressUI {
	p := &progressUI{log: a.log, now: a.now}
	if !a.noProgress && terminalWidth(w) >= 40 {
		p.bars = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
	}
	return p
}

// Bar implements sources.Progress.
func (p *progressUI) Bar(name string, total int64) sources.Bar {
	if p.bars == nil {
		return &logBar{name: name, total: total, log: p.log, now: p.now, last: p.now()}
	}
	b := p.bars.AddBar(total,
		mpb.PrependDecorators(
			decor.Name(name, decor.WCSyncSpaceR),
			decor.Any(func(s decor.Statistics) string {
				if s.Total <= 0 {
					return count(s.Current)
				}
				return count(s.Current) + " / " + count(s.Total)
			}, decor.WCSyncSpace),
		),
		mpb.AppendDecorators(decor.AverageSpeed(0, "%.0f/s", decor.WCSyncSpace)),
	)
	return &termBar{b: b}
}

// Wait waits for the bars to finish drawing.
func (p *progressUI) Wait() {
	if p.bars != nil {
		p.bars.Wait()
	}
}

type termBar struct {
	b    *mpb.Bar
	once sync.Once
}

func (t *termBar) SetTotal(n int64) {
	if n <= 0 {
		n = -1 // unknown: the bar follows the count
	}
	t.b.SetTotal(n, false)
}
func (t *termBar) Add(n int64) { t.b.IncrInt64(n) }

// Done completes the bar at its current count.
func (t *termBar) Done() { t.once.Do(func() { t.b.SetTotal(-1, true) }) }

// logBar reports progress as log lines, at most one every 5 seconds.
type logBar struct {
	mu          sync.Mutex
	name        string
	done, total int64
	log         *slog.Logger
	now         func() time.Time
	last        time.Time
	reported    bool // a progress line was logged: the work was long enough to say when it ends
	finished    bool
}

func (l *logBar) SetTotal(n int64) {
	l.mu.Lock()
	l.total = n
	l.mu.Unlock()
}

func (l *logBar) Add(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done += n
	if now := l.now(); now.Sub(l.last) >= 5*time.Second {
		l.last = now
		l.reported = true
		l.report("progress")
	}
}

func (l *logBar) Done() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.finished && l.reported {
		l.report("finished")
	}
	l.finished = true
}

func (l *logBar) report(msg string) {
	if l.total > 0 {
		l.log.Info(msg, "what", l.name, "done", l.done, "of", l.total)
	} else {
		l.log.Info(msg, "what", l.name, "done", l.done)
	}
}
