package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

// ErrCheckerRunning is returned by a second call to HealthChecker.Run.
var ErrCheckerRunning = errors.New("proxy: health checker already running")

// HealthDialFunc opens a TCP connection to addr from the load balancer's own
// interface address (the data plane decides how).
type HealthDialFunc func(ctx context.Context, addr netip.AddrPort) (net.Conn, error)

// HealthTarget is a target to check.
type HealthTarget struct {
	ID   string
	Addr netip.AddrPort
	AZ   string
}

// HealthStatus is one target's published health.
type HealthStatus struct {
	Target HealthTarget
	Health TargetHealth
}

// HealthCheckerConfig configures a HealthChecker for one target group.
type HealthCheckerConfig struct {
	Settings HealthCheckSettings
	Dial     HealthDialFunc
	// OnChange is called, in order and never concurrently, whenever a
	// target's health changes; the last call for a deregistered target has
	// state unused, reason Target.NotRegistered.
	OnChange func(HealthStatus)
	// Disabled turns health checks off (HealthCheckEnabled=false): targets
	// are unavailable with Target.HealthCheckDisabled and take traffic.
	Disabled bool
	// DeregistrationDelay is how long a deregistered target stays draining;
	// zero means ELB's default of 300 s.
	DeregistrationDelay time.Duration
	// TestInterval and TestTimeout, when set, replace the settings' interval
	// and timeout and bypass ELB's 5 s and 2 s minimums. Tests only.
	TestInterval time.Duration
	TestTimeout  time.Duration
	Logger       *slog.Logger
}

// HealthChecker runs ELB-style health checks against a target group's targets
// and keeps each target's TargetHealth.
type HealthChecker struct {
	settings HealthCheckSettings
	matcher  []codeRange
	interval time.Duration
	timeout  time.Duration
	dereg    time.Duration
	disabled bool
	dial     HealthDialFunc
	onChange func(HealthStatus)
	log      *slog.Logger

	publishMu sync.Mutex // serialises OnChange calls

	mu      sync.Mutex
	ctx     context.Context // set by Run; nil before
	targets map[string]*checkedTarget
}

type checkedTarget struct {
	target    HealthTarget
	health    TargetHealth
	successes int
	failures  int
	stop      context.CancelFunc // stops the check loop or the drain timer
}

// NewHealthChecker validates cfg and returns a checker; call Run to start it.
func NewHealthChecker(cfg HealthCheckerConfig) (*HealthChecker, error) {
	s := cfg.Settings.WithDefaults()
	if cfg.TestInterval > 0 {
		// Keep Validate meaningful for the other fields.
		s.IntervalSeconds = max(s.IntervalSeconds, 5)
		s.TimeoutSeconds = min(max(s.TimeoutSeconds, 2), s.IntervalSeconds)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if cfg.Dial == nil && !cfg.Disabled {
		return nil, fmt.Errorf("nil dial function: %w", ErrInvalidHealthCheck)
	}
	h := &HealthChecker{
		settings: s,
		interval: s.interval(),
		timeout:  s.timeout(),
		dereg:    cfg.DeregistrationDelay,
		disabled: cfg.Disabled,
		dial:     cfg.Dial,
		onChange: cfg.OnChange,
		log:      loggerOrDiscard(cfg.Logger),
		targets:  make(map[string]*checkedTarget),
	}
	if s.Protocol != HealthCheckTCP {
		h.matcher, _ = parseMatcher(s.Matcher) // validated above
	}
	if cfg.TestInterval > 0 {
		h.interval = cfg.TestInterval
		h.timeout = min(h.timeout, cfg.TestInterval)
	}
	if cfg.TestTimeout > 0 {
		h.timeout = cfg.TestTimeout
	}
	if h.dereg <= 0 {
		h.dereg = 300 * time.Second
	}
	return h, nil
}

// Run checks targets until ctx ends. Targets registered before Run start
// being checked when it starts.
func (h *HealthChecker) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.ctx != nil {
		h.mu.Unlock()
		return ErrCheckerRunning
	}
	h.ctx = ctx
	for _, t := range h.targets {
		if t.health.State != StateDraining {
			h.startLocked(t)
		}
	}
	h.mu.Unlock()
	<-ctx.Done()
	h.mu.Lock()
	for _, t := range h.targets {
		if t.stop != nil {
			t.stop()
		}
	}
	h.mu.Unlock()
	return nil
}

// SetTargets registers targets not yet known and deregisters known ones that
// are missing from ts (they drain, then disappear).
func (h *HealthChecker) SetTargets(ts []HealthTarget) {
	want := make(map[string]bool, len(ts))
	for _, t := range ts {
		want[t.ID] = true
	}
	h.Register(ts...)
	var gone []string
	h.mu.Lock()
	for id, t := range h.targets {
		if !want[id] && t.health.State != StateDraining {
			gone = append(gone, id)
		}
	}
	h.mu.Unlock()
	h.Deregister(gone...)
}

// Register adds targets in state initial (Elb.RegistrationInProgress). A
// draining target registered again starts over; a known one is unchanged.
func (h *HealthChecker) Register(ts ...HealthTarget) {
	var changed []HealthStatus
	h.mu.Lock()
	for _, nt := range ts {
		if t, ok := h.targets[nt.ID]; ok {
			if t.health.State != StateDraining {
				continue
			}
			t.stop()
		}
		t := &checkedTarget{target: nt, health: healthRegistering}
		if h.disabled {
			t.health = healthDisabled
		}
		h.targets[nt.ID] = t
		changed = append(changed, HealthStatus{nt, t.health})
		if h.ctx != nil {
			h.startLocked(t)
		}
	}
	h.mu.Unlock()
	h.publish(changed...)
}

// Deregister moves targets to draining (Target.DeregistrationInProgress) and
// removes them after the deregistration delay.
func (h *HealthChecker) Deregister(ids ...string) {
	var changed []HealthStatus
	h.mu.Lock()
	for _, id := range ids {
		t, ok := h.targets[id]
		if !ok || t.health.State == StateDraining {
			continue
		}
		if t.stop != nil {
			t.stop()
		}
		t.health = healthDraining
		changed = append(changed, HealthStatus{t.target, t.health})
		timer := time.AfterFunc(h.dereg, func() { h.finishDrain(t) })
		t.stop = func() { timer.Stop() }
	}
	h.mu.Unlock()
	h.publish(changed...)
}

func (h *HealthChecker) finishDrain(t *checkedTarget) {
	h.mu.Lock()
	if h.targets[t.target.ID] != t {
		h.mu.Unlock()
		return
	}
	delete(h.targets, t.target.ID)
	h.mu.Unlock()
	h.publish(HealthStatus{t.target, healthNotRegistered})
}

// Health returns the target's current health; an unknown target is unused
// with Target.NotRegistered, as DescribeTargetHealth reports it.
func (h *HealthChecker) Health(id string) TargetHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.targets[id]; ok {
		return t.health
	}
	return healthNotRegistered
}

// Snapshot returns every known target's health, sorted by target ID.
func (h *HealthChecker) Snapshot() []HealthStatus {
	h.mu.Lock()
	out := make([]HealthStatus, 0, len(h.targets))
	for _, t := range h.targets {
		out = append(out, HealthStatus{t.target, t.health})
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Target.ID < out[j].Target.ID })
	return out
}

func (h *HealthChecker) startLocked(t *checkedTarget) {
	if h.disabled {
		return
	}
	ctx, cancel := context.WithCancel(h.ctx)
	t.stop = cancel
	go h.loop(ctx, t)
}

// loop checks one target every interval, the first check right away.
func (h *HealthChecker) loop(ctx context.Context, t *checkedTarget) {
	ticker := time.NewTicker(h.interval)
	defer ticker.Stop()
	for {
		res := h.checkOnce(ctx, t.target)
		if ctx.Err() != nil {
			return
		}
		h.record(t, res)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// record applies one check result with ELB's threshold rules: healthy after
// HealthyThresholdCount consecutive successes, unhealthy after
// UnhealthyThresholdCount consecutive failures; initial until either.
func (h *HealthChecker) record(t *checkedTarget, failure *TargetHealth) {
	h.mu.Lock()
	if h.targets[t.target.ID] != t || t.health.State == StateDraining {
		h.mu.Unlock()
		return
	}
	next := t.health
	if failure == nil {
		t.successes++
		t.failures = 0
		if t.successes >= h.settings.HealthyThresholdCount {
			next = healthHealthy
		}
	} else {
		t.failures++
		t.successes = 0
		if t.failures >= h.settings.UnhealthyThresholdCount {
			next = *failure
		}
	}
	if next.State == StateInitial {
		next = healthInitialCheck
	}
	if next == t.health {
		h.mu.Unlock()
		return
	}
	t.health = next
	st := HealthStatus{t.target, next}
	h.mu.Unlock()
	h.publish(st)
}

func (h *HealthChecker) publish(sts ...HealthStatus) {
	if h.onChange == nil || len(sts) == 0 {
		return
	}
	h.publishMu.Lock()
	defer h.publishMu.Unlock()
	for _, st := range sts {
		h.onChange(st)
	}
}

// checkOnce runs one health check; nil means success, otherwise the health
// an unhealthy target would report for this failure.
func (h *HealthChecker) checkOnce(ctx context.Context, t HealthTarget) *TargetHealth {
	addr := t.Addr
	if h.settings.Port != TrafficPort {
		p, _ := strconv.Atoi(h.settings.Port) // validated
		addr = netip.AddrPortFrom(addr.Addr(), uint16(p))
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	conn, err := h.dial(ctx, addr)
	if err != nil {
		h.log.Debug("health check connect failed", "target", t.ID, "addr", addr, "err", err)
		return &TargetHealth{StateUnhealthy, ReasonFailedHealthChecks, "Health checks failed"}
	}
	defer conn.Close()
	if h.settings.Protocol == HealthCheckTCP {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	code, err := h.httpCheck(ctx, conn, addr)
	switch {
	case err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded)):
		return &TargetHealth{StateUnhealthy, ReasonTimeout, "Request timed out"}
	case err != nil:
		h.log.Debug("health check request failed", "target", t.ID, "addr", addr, "err", err)
		return &TargetHealth{StateUnhealthy, ReasonFailedHealthChecks, "Health checks failed"}
	case !matches(h.matcher, code):
		return &TargetHealth{StateUnhealthy, ReasonResponseCodeMismatch,
			fmt.Sprintf("Health checks failed with these codes: [%d]", code)}
	}
	return nil
}

// httpCheck sends GET Path over conn (TLS without certificate verification
// for HTTPS, as ELB does) and returns the status code.
func (h *HealthChecker) httpCheck(ctx context.Context, conn net.Conn, addr netip.AddrPort) (int, error) {
	if h.settings.Protocol == HealthCheckHTTPS {
		tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // ELB does not verify target certificates.
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		conn = tc
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr.String()+h.settings.Path, nil)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
	req.Close = true
	if err := req.Write(conn); err != nil {
		return 0, fmt.Errorf("send request to %s: %w", addr, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return 0, fmt.Errorf("read response from %s: %w", addr, err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
