package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/privlink/privlink/internal/controllers"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/dns"
)

// DataPlaneMode chooses whether the server realizes networks in the kernel.
type DataPlaneMode string

// Data plane modes.
const (
	// DataPlaneAuto realizes networks when running as root on Linux, and
	// runs API-only otherwise.
	DataPlaneAuto DataPlaneMode = "auto"
	DataPlaneOn   DataPlaneMode = "on"
	DataPlaneOff  DataPlaneMode = "off"
)

// startControllers builds the data plane (if any) and the reconcilers, and
// runs them until s.life ends.
func (s *Server) startControllers(ctx context.Context) error {
	mode := s.cfg.DataPlane
	if mode == "" {
		mode = DataPlaneAuto
	}
	reason := ""
	switch {
	case mode == DataPlaneOff:
		reason = "data plane disabled (--dataplane=off)"
	case runtime.GOOS != "linux":
		reason = "not running on Linux"
	case os.Geteuid() != 0:
		reason = "not running as root"
	}
	if reason != "" && mode == DataPlaneOn {
		return fmt.Errorf("server: --dataplane=on but %s", reason)
	}

	var (
		dp    controllers.DataPlane
		ready controllers.Readiness
		recs  []controllers.Reconciler
	)
	if reason == "" {
		dcfg := dataplane.DefaultConfig()
		if s.cfg.DataPlanePrefix != "" {
			dcfg.Prefix = s.cfg.DataPlanePrefix
		}
		linux, err := dataplane.New(dcfg, s.log.With("component", "dataplane"))
		if err != nil {
			return fmt.Errorf("server: data plane: %w", err)
		}
		switch raised, err := linux.RaiseHostLimits(); {
		case err != nil:
			s.log.Warn("could not raise the host's neighbour table limits; a data plane of some hundred interfaces may drop packets", "err", err)
		case len(raised) > 0:
			s.log.Info("raised host limits the data plane outgrows", "sysctls", raised)
		}
		dp = controllers.LinuxDataPlane{Linux: linux}
		resolver := dns.NewResolver(s.log.With("component", "dns"), s.authority)
		zone, err := controllers.PublicZone(s.cfg.Config.Regions)
		if err != nil {
			return fmt.Errorf("server: public dns zone: %w", err)
		}
		resolver.SetPublicZone(zone)
		network := controllers.NewNetwork(s.life, s.db, dp, resolver, s.log.With("component", "network"))
		if err := network.Cleanup(ctx); err != nil && !errors.Is(err, dataplane.ErrUnsupported) {
			s.log.Warn("removing orphaned data plane objects", "err", err)
		}
		if _, err := linux.ApplyInternet(ctx, controllers.DesiredInternet(s.cfg.Config.Regions)); err != nil {
			return fmt.Errorf("server: stand-in internet: %w", err)
		}
		ready = network
		s.network = network
		s.apis = &controllers.AWSServiceAPIs{DB: s.db, DP: dp, Ready: network, Log: s.log.With("component", "awsapis"), Life: s.life, Dial: s.dialInternal}
		if err := s.apis.ServePublic(ctx, linux.InternetNamespace(), controllers.PublicAPIAddrs(s.cfg.Config.Regions)); err != nil {
			return fmt.Errorf("server: %w", err)
		}
		recs = append(recs, s.apis)
		recs = append(recs, network,
			&controllers.Health{DB: s.db, CP: s.cp, DP: dp, Log: s.log.With("component", "health"), Life: s.life,
				TestInterval: s.cfg.HealthCheckInterval, TestTimeout: s.cfg.HealthCheckTimeout})
		s.log.Info("data plane enabled", "prefix", dcfg.Prefix)
	} else {
		s.log.Warn("running API-only: no namespaces, DNS or traffic", "reason", reason)
	}
	s.endpoints = &controllers.Endpoints{DB: s.db, CP: s.cp, Ready: ready, DP: dp, Log: s.log.With("component", "privatelink"), Life: s.life, IdleTimeout: s.cfg.IdleTimeout}
	recs = append(recs,
		&controllers.Instances{DB: s.db, CP: s.cp, Ready: ready},
		&controllers.LoadBalancers{DB: s.db, CP: s.cp, Ready: ready},
		s.endpoints,
		&controllers.Verification{DB: s.db, CP: s.cp, Lookup: s.authority.LookupTXT, Window: s.cfg.PrivateDNSVerificationWindow},
		&controllers.Notifications{DB: s.db, Dir: filepath.Join(s.cfg.DataDir, "notifications"), Webhook: s.cfg.NotificationWebhook, Log: s.log.With("component", "notifications")},
	)
	runner := controllers.NewRunner(s.db, controllers.Config{Log: s.log.With("component", "controllers"), Resync: 30 * time.Second}, recs...)
	s.dataPlane = dp
	go runner.Run(s.life)
	return nil
}

// DataPlaneEnabled reports whether the server realizes networks in the kernel.
func (s *Server) DataPlaneEnabled() bool { return s.dataPlane != nil }
