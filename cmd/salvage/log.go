package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// logHandler writes log records for a person at a terminal: no timestamp,
// the level only when it matters, attributes as key=value after the message
// (the logger's context, such as import=stripe, only with --verbose).
//
//	warning: skipped charges: the key lacks rak_charge_read
//	mail read (messages=617 about_bookings=559 unrelated=58)
type logHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Leveler
	attrs []slog.Attr
}

func newLogHandler(w io.Writer, level slog.Leveler) *logHandler {
	return &logHandler{mu: new(sync.Mutex), w: w, level: level}
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	case r.Level < slog.LevelInfo:
		b.WriteString("debug: ")
	}
	b.WriteString(r.Message)
	var kv []string
	add := func(a slog.Attr) bool {
		v := a.Value.Resolve().String()
		if strings.ContainsAny(v, " \t\"=") || v == "" {
			v = fmt.Sprintf("%q", v)
		}
		kv = append(kv, a.Key+"="+v)
		return true
	}
	// The logger's own context (import=stripe) says what the command
	// line already says; it is shown with --verbose only.
	if h.level.Level() < slog.LevelInfo {
		for _, a := range h.attrs {
			add(a)
		}
	}
	r.Attrs(add)
	if len(kv) > 0 {
		b.WriteString(" (" + strings.Join(kv, " ") + ")")
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

// WithGroup is not used by salvage; groups are flattened.
func (h *logHandler) WithGroup(string) slog.Handler { return h }
