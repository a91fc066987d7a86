package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHealthCheckSettingsValidate(t *testing.T) {
	tests := []struct {
		name    string
		s       HealthCheckSettings
		wantErr bool
	}{
		{"defaults", HealthCheckSettings{}, false},
		{"http defaults", HealthCheckSettings{Protocol: HealthCheckHTTP}, false},
		{"https full", HealthCheckSettings{Protocol: HealthCheckHTTPS, Port: "8443", Path: "/health", Matcher: "200,202",
			IntervalSeconds: 10, TimeoutSeconds: 5, HealthyThresholdCount: 3, UnhealthyThresholdCount: 3}, false},
		{"unknown protocol", HealthCheckSettings{Protocol: "UDP"}, true},
		{"tcp with path", HealthCheckSettings{Path: "/"}, true},
		{"path without slash", HealthCheckSettings{Protocol: HealthCheckHTTP, Path: "health"}, true},
		{"bad matcher", HealthCheckSettings{Protocol: HealthCheckHTTP, Matcher: "2xx"}, true},
		{"port zero", HealthCheckSettings{Port: "0"}, true},
		{"port words", HealthCheckSettings{Port: "http"}, true},
		{"interval too short", HealthCheckSettings{IntervalSeconds: 4}, true},
		{"interval too long", HealthCheckSettings{IntervalSeconds: 301}, true},
		{"timeout too short", HealthCheckSettings{TimeoutSeconds: 1}, true},
		{"timeout above interval", HealthCheckSettings{IntervalSeconds: 5, TimeoutSeconds: 6}, true},
		{"healthy threshold 1", HealthCheckSettings{HealthyThresholdCount: 1}, true},
		{"unhealthy threshold 11", HealthCheckSettings{UnhealthyThresholdCount: 11}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.WithDefaults().Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidHealthCheck) {
				t.Fatalf("error %v does not wrap ErrInvalidHealthCheck", err)
			}
		})
	}
}

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		matcher string
		match   []int
		miss    []int
		wantErr bool
	}{
		{matcher: "200", match: []int{200}, miss: []int{201, 302}},
		{matcher: "200,202", match: []int{200, 202}, miss: []int{201}},
		{matcher: "200-399", match: []int{200, 301, 399}, miss: []int{400, 503}},
		{matcher: "200-299, 404", match: []int{204, 404}, miss: []int{403}},
		{matcher: "", wantErr: true},
		{matcher: "399-200", wantErr: true},
		{matcher: "100", wantErr: true},
		{matcher: "600", wantErr: true},
		{matcher: "200-", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.matcher, func(t *testing.T) {
			m, err := parseMatcher(tt.matcher)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseMatcher(%q) error = %v, wantErr %v", tt.matcher, err, tt.wantErr)
			}
			for _, c := range tt.match {
				if !matches(m, c) {
					t.Errorf("%d does not match %q", c, tt.matcher)
				}
			}
			for _, c := range tt.miss {
				if matches(m, c) {
					t.Errorf("%d matches %q", c, tt.matcher)
				}
			}
		})
	}
}

// recorder collects published health changes.
type recorder struct {
	mu  sync.Mutex
	all []HealthStatus
}

func (r *recorder) record(s HealthStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, s)
}

func (r *recorder) states(id string) []TargetHealth {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []TargetHealth
	for _, s := range r.all {
		if s.Target.ID == id {
			out = append(out, s.Health)
		}
	}
	return out
}

func (r *recorder) last(id string) TargetState {
	st := r.states(id)
	if len(st) == 0 {
		return ""
	}
	return st[len(st)-1].State
}

func runChecker(t *testing.T, cfg HealthCheckerConfig) *HealthChecker {
	t.Helper()
	h, err := NewHealthChecker(cfg)
	if err != nil {
		t.Fatalf("NewHealthChecker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

var errRefused = errors.New("connection refused (scripted)")

func TestHealthCheckerThresholds(t *testing.T) {
	failed := TargetHealth{StateUnhealthy, ReasonFailedHealthChecks, "Health checks failed"}
	tests := []struct {
		name               string
		healthy, unhealthy int
		results            []bool // check outcomes; the last one repeats
		want               []TargetHealth
	}{
		{
			name: "healthy after threshold", healthy: 3, unhealthy: 2,
			results: []bool{true, true, true},
			want:    []TargetHealth{healthRegistering, healthInitialCheck, healthHealthy},
		},
		{
			name: "unhealthy from initial", healthy: 5, unhealthy: 2,
			results: []bool{false, false},
			want:    []TargetHealth{healthRegistering, healthInitialCheck, failed},
		},
		{
			name: "only consecutive results count", healthy: 2, unhealthy: 2,
			results: []bool{true, false, true, true, false, true, false, false},
			want:    []TargetHealth{healthRegistering, healthInitialCheck, healthHealthy, failed},
		},
		{
			name: "recovers after healthy threshold", healthy: 2, unhealthy: 3,
			results: []bool{false, false, false, true, true},
			want:    []TargetHealth{healthRegistering, healthInitialCheck, failed, healthHealthy},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			dial := func(ctx context.Context, _ netip.AddrPort) (net.Conn, error) {
				mu.Lock()
				ok := tt.results[min(calls, len(tt.results)-1)]
				calls++
				mu.Unlock()
				if !ok {
					return nil, errRefused
				}
				a, b := net.Pipe()
				b.Close()
				return a, nil
			}
			rec := &recorder{}
			h := runChecker(t, HealthCheckerConfig{
				Settings: HealthCheckSettings{HealthyThresholdCount: tt.healthy, UnhealthyThresholdCount: tt.unhealthy},
				Dial:     dial, OnChange: rec.record, TestInterval: 2 * time.Millisecond,
			})
			h.Register(HealthTarget{ID: "i-1", Addr: netip.MustParseAddrPort("10.0.0.1:80")})
			waitFor(t, "all scripted checks", 5*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return calls > len(tt.results)+2
			})
			if d := cmp.Diff(tt.want, rec.states("i-1")); d != "" {
				t.Fatalf("published health (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.want[len(tt.want)-1], h.Health("i-1")); d != "" {
				t.Fatalf("Health (-want +got):\n%s", d)
			}
		})
	}
}

func TestHealthCheckerTCPFollowsListener(t *testing.T) {
	ln := listenTCP(t)
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	steady := listenTCP(t)
	bal := NewBalancer(false)
	bal.SetTargets([]Target{
		{ID: "i-flaky", Addr: addr, AZ: "az1", State: StateInitial},
		{ID: "i-steady", Addr: steady.Addr().(*net.TCPAddr).AddrPort(), AZ: "az1", State: StateInitial},
	})
	rec := &recorder{}
	const interval = 20 * time.Millisecond
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(lbIP, 0))}
	h := runChecker(t, HealthCheckerConfig{
		Settings: HealthCheckSettings{HealthyThresholdCount: 2, UnhealthyThresholdCount: 2},
		Dial: func(ctx context.Context, a netip.AddrPort) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", a.String())
		},
		OnChange: func(s HealthStatus) {
			bal.SetState(s.Target.ID, s.Health.State)
			rec.record(s)
		},
		TestInterval: interval,
		TestTimeout:  500 * time.Millisecond,
	})
	h.SetTargets([]HealthTarget{{ID: "i-flaky", Addr: addr, AZ: "az1"}, {ID: "i-steady", Addr: steady.Addr().(*net.TCPAddr).AddrPort(), AZ: "az1"}})
	waitFor(t, "both healthy", 5*time.Second, func() bool {
		return rec.last("i-flaky") == StateHealthy && rec.last("i-steady") == StateHealthy
	})
	ln.Close()
	stopped := time.Now()
	waitFor(t, "stopped target unhealthy", 5*time.Second, func() bool { return rec.last("i-flaky") == StateUnhealthy })
	// ELB's bound is interval × unhealthy threshold; allow one more interval
	// for the check already scheduled and scheduler noise.
	if el := time.Since(stopped); el > 3*interval+500*time.Millisecond {
		t.Errorf("taken out of rotation after %v, want about %v", el, 2*interval)
	}
	for hash := range uint64(200) {
		if tg, _ := bal.Pick("az1", hash); tg.ID != "i-steady" {
			t.Fatalf("Pick chose %q with i-flaky unhealthy", tg.ID)
		}
	}
	if got := h.Health("i-flaky"); got.Reason != ReasonFailedHealthChecks {
		t.Fatalf("Health = %+v, want reason %s", got, ReasonFailedHealthChecks)
	}
	reopened, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Fatalf("reopen %v: %v", addr, err)
	}
	t.Cleanup(func() { reopened.Close() })
	waitFor(t, "reopened target healthy", 5*time.Second, func() bool { return rec.last("i-flaky") == StateHealthy })
}

func TestHealthCheckerHTTP(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/accepted":
			w.WriteHeader(http.StatusAccepted)
		case "/slow":
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	quiet := log.New(io.Discard, "", 0) // the plain-HTTP-to-TLS case makes the server complain
	plain := httptest.NewUnstartedServer(handler)
	plain.Config.ErrorLog = quiet
	plain.Start()
	defer plain.Close()
	tlsSrv := httptest.NewUnstartedServer(handler)
	tlsSrv.Config.ErrorLog = quiet
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	tests := []struct {
		name     string
		srv      *httptest.Server
		protocol HealthCheckProtocol
		path     string
		matcher  string
		want     TargetHealth
	}{
		{"200 in default range", plain, HealthCheckHTTP, "/ok", "", healthHealthy},
		{"202 matched by list", plain, HealthCheckHTTP, "/accepted", "200,202", healthHealthy},
		{"202 outside list", plain, HealthCheckHTTP, "/accepted", "200", TargetHealth{StateUnhealthy, ReasonResponseCodeMismatch,
			"Health checks failed with these codes: [202]"}},
		{"503", plain, HealthCheckHTTP, "/down", "", TargetHealth{StateUnhealthy, ReasonResponseCodeMismatch,
			"Health checks failed with these codes: [503]"}},
		{"timeout", plain, HealthCheckHTTP, "/slow", "", TargetHealth{StateUnhealthy, ReasonTimeout, "Request timed out"}},
		{"https without certificate checks", tlsSrv, HealthCheckHTTPS, "/ok", "", healthHealthy},
		{"plain HTTP to a TLS port", tlsSrv, HealthCheckHTTP, "/ok", "", TargetHealth{StateUnhealthy, ReasonResponseCodeMismatch,
			"Health checks failed with these codes: [400]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			var d net.Dialer
			h := runChecker(t, HealthCheckerConfig{
				Settings: HealthCheckSettings{Protocol: tt.protocol, Path: tt.path, Matcher: tt.matcher,
					HealthyThresholdCount: 2, UnhealthyThresholdCount: 2},
				Dial: func(ctx context.Context, a netip.AddrPort) (net.Conn, error) {
					return d.DialContext(ctx, "tcp", a.String())
				},
				OnChange:     rec.record,
				TestInterval: 10 * time.Millisecond,
				TestTimeout:  150 * time.Millisecond,
			})
			addr := tt.srv.Listener.Addr().(*net.TCPAddr).AddrPort()
			h.Register(HealthTarget{ID: "i-web", Addr: addr})
			waitFor(t, fmt.Sprintf("state %s", tt.want.State), 5*time.Second, func() bool {
				return rec.last("i-web") == tt.want.State
			})
			if d := cmp.Diff(tt.want, h.Health("i-web")); d != "" {
				t.Fatalf("Health (-want +got):\n%s", d)
			}
		})
	}
}

func TestHealthCheckerDeregistration(t *testing.T) {
	ln := listenTCP(t)
	rec := &recorder{}
	var d net.Dialer
	h := runChecker(t, HealthCheckerConfig{
		Settings: HealthCheckSettings{HealthyThresholdCount: 2},
		Dial: func(ctx context.Context, a netip.AddrPort) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", a.String())
		},
		OnChange:            rec.record,
		TestInterval:        10 * time.Millisecond,
		DeregistrationDelay: 100 * time.Millisecond,
	})
	h.SetTargets([]HealthTarget{{ID: "i-1", Addr: ln.Addr().(*net.TCPAddr).AddrPort()}})
	waitFor(t, "healthy", 5*time.Second, func() bool { return rec.last("i-1") == StateHealthy })
	h.SetTargets(nil)
	if got := h.Health("i-1"); got != healthDraining {
		t.Fatalf("Health after deregistration = %+v, want draining", got)
	}
	waitFor(t, "drained", 5*time.Second, func() bool { return rec.last("i-1") == StateUnused })
	want := []TargetHealth{healthRegistering, healthInitialCheck, healthHealthy, healthDraining, healthNotRegistered}
	if d := cmp.Diff(want, rec.states("i-1")); d != "" {
		t.Fatalf("published health (-want +got):\n%s", d)
	}
	if got := h.Snapshot(); len(got) != 0 {
		t.Fatalf("Snapshot = %+v, want empty", got)
	}
	if got := h.Health("i-1"); got.Reason != ReasonNotRegistered {
		t.Fatalf("Health of removed target = %+v, want %s", got, ReasonNotRegistered)
	}
}

func TestHealthCheckerDisabled(t *testing.T) {
	rec := &recorder{}
	h := runChecker(t, HealthCheckerConfig{
		Disabled:            true,
		Dial:                func(context.Context, netip.AddrPort) (net.Conn, error) { panic("dialled with checks disabled") },
		OnChange:            rec.record,
		DeregistrationDelay: 10 * time.Millisecond,
	})
	h.Register(HealthTarget{ID: "i-1", Addr: netip.MustParseAddrPort("10.0.0.1:80")})
	if got := h.Health("i-1"); got != healthDisabled {
		t.Fatalf("Health = %+v, want unavailable with %s", got, ReasonHealthCheckDisabled)
	}
	h.Deregister("i-1")
	waitFor(t, "drained", 5*time.Second, func() bool { return rec.last("i-1") == StateUnused })
	want := []TargetHealth{healthDisabled, healthDraining, healthNotRegistered}
	if d := cmp.Diff(want, rec.states("i-1")); d != "" {
		t.Fatalf("published health (-want +got):\n%s", d)
	}
}

func TestNewHealthCheckerRejects(t *testing.T) {
	dial := func(context.Context, netip.AddrPort) (net.Conn, error) { return nil, errRefused }
	tests := []struct {
		name string
		cfg  HealthCheckerConfig
	}{
		{"no dial", HealthCheckerConfig{}},
		{"interval below minimum without test option", HealthCheckerConfig{Dial: dial, Settings: HealthCheckSettings{IntervalSeconds: 1}}},
		{"bad matcher", HealthCheckerConfig{Dial: dial, Settings: HealthCheckSettings{Protocol: HealthCheckHTTP, Matcher: "ok"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewHealthChecker(tt.cfg); !errors.Is(err, ErrInvalidHealthCheck) {
				t.Fatalf("NewHealthChecker error = %v, want ErrInvalidHealthCheck", err)
			}
		})
	}
}
