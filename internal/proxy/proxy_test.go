package proxy

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// countingHandler counts records and remembers the last "suppressed" value.
type countingHandler struct {
	mu         sync.Mutex
	n          int
	suppressed int64
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countingHandler) WithGroup(string) slog.Handler            { return h }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	h.suppressed = 0
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "suppressed" {
			h.suppressed = a.Value.Int64()
		}
		return true
	})
	return nil
}

func TestLogLimiter(t *testing.T) {
	tests := []struct {
		name           string
		first, second  int // messages before and after the window rolls over
		wantLogged     int
		wantSuppressed int64 // reported on the last logged message
	}{
		{"under budget", 2, 0, 2, 0},
		{"flood is cut to burst", 10, 0, 3, 0},
		{"next window reports suppressed", 10, 1, 4, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &countingHandler{}
			l := newLogLimiter(slog.New(h), time.Minute, 3)
			now := time.Unix(1000, 0)
			l.now = func() time.Time { return now }
			for range tt.first {
				l.Warn("dial failed")
			}
			now = now.Add(time.Minute)
			for range tt.second {
				l.Warn("dial failed")
			}
			if h.n != tt.wantLogged || h.suppressed != tt.wantSuppressed {
				t.Fatalf("logged %d (suppressed=%d), want %d (suppressed=%d)", h.n, h.suppressed, tt.wantLogged, tt.wantSuppressed)
			}
		})
	}
}
