package proxy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TargetState is ELBv2's TargetHealthStateEnum.
type TargetState string

// Target health states, spelled as the ELBv2 API spells them.
const (
	StateInitial     TargetState = "initial"
	StateHealthy     TargetState = "healthy"
	StateUnhealthy   TargetState = "unhealthy"
	StateUnused      TargetState = "unused"
	StateDraining    TargetState = "draining"
	StateUnavailable TargetState = "unavailable"
)

// Target health reason codes (ELBv2 TargetHealthReasonEnum).
const (
	ReasonRegistrationInProgress   = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking    = "Elb.InitialHealthChecking"
	ReasonResponseCodeMismatch     = "Target.ResponseCodeMismatch"
	ReasonTimeout                  = "Target.Timeout"
	ReasonFailedHealthChecks       = "Target.FailedHealthChecks"
	ReasonNotRegistered            = "Target.NotRegistered"
	ReasonNotInUse                 = "Target.NotInUse"
	ReasonDeregistrationInProgress = "Target.DeregistrationInProgress"
	ReasonInvalidState             = "Target.InvalidState"
	ReasonIPUnusable               = "Target.IpUnusable"
	ReasonHealthCheckDisabled      = "Target.HealthCheckDisabled"
	ReasonInternalError            = "Elb.InternalError"
)

// TargetHealth is the state, reason code and description DescribeTargetHealth
// reports. Healthy targets carry neither reason nor description.
type TargetHealth struct {
	State       TargetState
	Reason      string
	Description string
}

// Canonical TargetHealth values, with descriptions worded as ELB words them.
var (
	healthRegistering   = TargetHealth{StateInitial, ReasonRegistrationInProgress, "Target registration is in progress"}
	healthInitialCheck  = TargetHealth{StateInitial, ReasonInitialHealthChecking, "Initial health checking in progress"}
	healthHealthy       = TargetHealth{State: StateHealthy}
	healthDraining      = TargetHealth{StateDraining, ReasonDeregistrationInProgress, "Target deregistration is in progress"}
	healthNotRegistered = TargetHealth{StateUnused, ReasonNotRegistered, "Target is not registered to the target group"}
	healthDisabled      = TargetHealth{StateUnavailable, ReasonHealthCheckDisabled, "Health checks disabled"}
)

// HealthCheckProtocol is a target group's HealthCheckProtocol.
type HealthCheckProtocol string

// Health check protocols a network load balancer target group supports.
const (
	HealthCheckTCP   HealthCheckProtocol = "TCP"
	HealthCheckHTTP  HealthCheckProtocol = "HTTP"
	HealthCheckHTTPS HealthCheckProtocol = "HTTPS"
)

// TrafficPort is the HealthCheckPort value meaning "the target's own port".
const TrafficPort = "traffic-port"

// ErrInvalidHealthCheck is wrapped by every health check validation error.
var ErrInvalidHealthCheck = errors.New("proxy: invalid health check settings")

// HealthCheckSettings are a target group's health check attributes. Zero
// values take ELB's network load balancer defaults.
type HealthCheckSettings struct {
	Protocol                HealthCheckProtocol // default TCP
	Port                    string              // "traffic-port" (default) or 1-65535
	Path                    string              // HTTP(S) only; default "/"
	Matcher                 string              // HTTP(S) only; "200-399" (default), "200,202"
	IntervalSeconds         int                 // 5-300, default 30
	TimeoutSeconds          int                 // 2-120, default 10 (6 for HTTP)
	HealthyThresholdCount   int                 // 2-10, default 5
	UnhealthyThresholdCount int                 // 2-10, default 2
}

// WithDefaults returns s with zero fields set to ELB's defaults.
func (s HealthCheckSettings) WithDefaults() HealthCheckSettings {
	if s.Protocol == "" {
		s.Protocol = HealthCheckTCP
	}
	if s.Port == "" {
		s.Port = TrafficPort
	}
	if s.Protocol != HealthCheckTCP {
		if s.Path == "" {
			s.Path = "/"
		}
		if s.Matcher == "" {
			s.Matcher = "200-399"
		}
	}
	if s.IntervalSeconds == 0 {
		s.IntervalSeconds = 30
	}
	if s.TimeoutSeconds == 0 {
		s.TimeoutSeconds = 10
		if s.Protocol != HealthCheckTCP {
			s.TimeoutSeconds = 6
		}
	}
	if s.HealthyThresholdCount == 0 {
		s.HealthyThresholdCount = 5
	}
	if s.UnhealthyThresholdCount == 0 {
		s.UnhealthyThresholdCount = 2
	}
	return s
}

// Validate checks s (after defaults) against ELB's bounds.
func (s HealthCheckSettings) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalidHealthCheck)
	}
	switch s.Protocol {
	case HealthCheckTCP:
		if s.Path != "" || s.Matcher != "" {
			return bad("path and matcher are not allowed for TCP health checks")
		}
	case HealthCheckHTTP, HealthCheckHTTPS:
		if !strings.HasPrefix(s.Path, "/") || len(s.Path) > 1024 {
			return bad("health check path %q must start with / and be at most 1024 characters", s.Path)
		}
		if _, err := parseMatcher(s.Matcher); err != nil {
			return err
		}
	default:
		return bad("health check protocol %q", s.Protocol)
	}
	if s.Port != TrafficPort {
		if p, err := strconv.Atoi(s.Port); err != nil || p < 1 || p > 65535 {
			return bad("health check port %q", s.Port)
		}
	}
	if s.IntervalSeconds < 5 || s.IntervalSeconds > 300 {
		return bad("interval %d s outside 5-300", s.IntervalSeconds)
	}
	if s.TimeoutSeconds < 2 || s.TimeoutSeconds > 120 {
		return bad("timeout %d s outside 2-120", s.TimeoutSeconds)
	}
	if s.TimeoutSeconds > s.IntervalSeconds {
		return bad("timeout %d s exceeds interval %d s", s.TimeoutSeconds, s.IntervalSeconds)
	}
	if s.HealthyThresholdCount < 2 || s.HealthyThresholdCount > 10 {
		return bad("healthy threshold %d outside 2-10", s.HealthyThresholdCount)
	}
	if s.UnhealthyThresholdCount < 2 || s.UnhealthyThresholdCount > 10 {
		return bad("unhealthy threshold %d outside 2-10", s.UnhealthyThresholdCount)
	}
	return nil
}

func (s HealthCheckSettings) interval() time.Duration {
	return time.Duration(s.IntervalSeconds) * time.Second
}

func (s HealthCheckSettings) timeout() time.Duration {
	return time.Duration(s.TimeoutSeconds) * time.Second
}

// codeRange is one inclusive range of an HTTP matcher.
type codeRange struct{ lo, hi int }

// parseMatcher parses an HTTP code matcher: "200", "200,202" or "200-399".
func parseMatcher(m string) ([]codeRange, error) {
	if m == "" {
		return nil, fmt.Errorf("empty matcher: %w", ErrInvalidHealthCheck)
	}
	var out []codeRange
	for part := range strings.SplitSeq(m, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		l, err := parseCode(lo)
		if err != nil {
			return nil, fmt.Errorf("matcher %q: %w", m, err)
		}
		h := l
		if isRange {
			if h, err = parseCode(hi); err != nil {
				return nil, fmt.Errorf("matcher %q: %w", m, err)
			}
			if h < l {
				return nil, fmt.Errorf("matcher %q: range %d-%d is reversed: %w", m, l, h, ErrInvalidHealthCheck)
			}
		}
		out = append(out, codeRange{l, h})
	}
	return out, nil
}

func parseCode(s string) (int, error) {
	c, err := strconv.Atoi(s)
	if err != nil || c < 200 || c > 599 {
		return 0, fmt.Errorf("HTTP code %q outside 200-599: %w", s, ErrInvalidHealthCheck)
	}
	return c, nil
}

func matches(ranges []codeRange, code int) bool {
	for _, r := range ranges {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}
