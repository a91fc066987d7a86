// Package proxy owns the load balancer's L4 data path — target selection, TCP
// and UDP relaying, PROXY protocol v2 and target health checks — over sockets
// and dial functions handed to it; it must not create namespaces, touch the
// kernel's network configuration or read the store.
package proxy

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Errors shared by the proxies.
var (
	ErrClosed  = errors.New("proxy: closed")
	ErrNoRoute = errors.New("proxy: no route for connection")
)

func loggerOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return l
}

// logLimiter rate-limits per-connection logs: at most burst messages per
// window; the count of suppressed messages is reported with the next one let
// through, so a flood of failing connections cannot flood the log.
type logLimiter struct {
	log    *slog.Logger
	window time.Duration
	burst  int

	now func() time.Time

	mu         sync.Mutex
	start      time.Time
	sent       int
	suppressed int
}

func newLogLimiter(log *slog.Logger, window time.Duration, burst int) *logLimiter {
	return &logLimiter{log: log, window: window, burst: burst, now: time.Now}
}

// Warn logs msg unless the window's budget is spent.
func (l *logLimiter) Warn(msg string, args ...any) {
	l.mu.Lock()
	now := l.now()
	if now.Sub(l.start) >= l.window {
		l.start, l.sent = now, 0
	}
	if l.sent >= l.burst {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.sent++
	suppressed := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	l.log.Warn(msg, args...)
}
