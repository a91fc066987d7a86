// Package server assembles a running privlink: it opens the store, applies
// the configuration's identities, builds the control plane and the API
// services, and serves HTTP. It is what `privlink server` and the end-to-end
// tests start.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/awsapi/ec2"
	"github.com/privlink/privlink/internal/awsapi/elbv2"
	iamapi "github.com/privlink/privlink/internal/awsapi/iam"
	"github.com/privlink/privlink/internal/awsapi/route53"
	"github.com/privlink/privlink/internal/awsapi/sts"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/config"
	"github.com/privlink/privlink/internal/controllers"
	"github.com/privlink/privlink/internal/controlplane"
	"github.com/privlink/privlink/internal/dns"
	"github.com/privlink/privlink/internal/iam"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/bolt"
)

// Config configures a Server.
type Config struct {
	Listen  string
	DataDir string
	Config  *config.Config
	Log     *slog.Logger
	// DataPlane chooses kernel realization (default auto: when root on Linux).
	DataPlane DataPlaneMode
	// DataPlanePrefix prefixes every namespace and link (default "pl").
	DataPlanePrefix string
	// IdleTimeout overrides the 350 s idle timeout of endpoint connections.
	IdleTimeout time.Duration
	// HealthCheckInterval/Timeout shorten health checks below ELB's
	// minimums; tests only.
	HealthCheckInterval, HealthCheckTimeout time.Duration
	// NotificationWebhook, when set, also receives every connection
	// notification line as a POST to <URL>/<topic> (see README).
	NotificationWebhook string
	// PrivateDNSVerificationWindow is how long a missing or wrong
	// verification TXT record is looked up again before the name is failed
	// (default controllers.DefaultVerificationWindow).
	PrivateDNSVerificationWindow time.Duration
}

// Server is a running privlink.
type Server struct {
	cfg       Config
	log       *slog.Logger
	db        *store.DB
	dir       *iam.Directory
	cp        *controlplane.ControlPlane
	ln        net.Listener
	http      *http.Server
	handler   http.Handler
	bootstrap *iam.Credentials
	// authority serves the stored public hosted zones (Route 53).
	authority *dns.Authority

	life      context.Context
	stop      context.CancelFunc
	network   *controllers.Network
	endpoints *controllers.Endpoints
	dataPlane controllers.DataPlane

	// internal is the network-context listener (see netcontext.go).
	internalLn net.Listener
	internal   *http.Server
	apis       *controllers.AWSServiceAPIs
}

// Start opens the store, bootstraps identities and starts serving. On error
// everything opened so far is closed.
func Start(ctx context.Context, cfg Config) (s *Server, err error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Config == nil {
		cfg.Config = config.Default()
	}
	if cfg.NotificationWebhook != "" {
		if u, err := url.Parse(cfg.NotificationWebhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("server: the notification webhook %q is not an http(s) URL", cfg.NotificationWebhook)
		}
	}
	s = &Server{cfg: cfg, log: cfg.Log}
	s.life, s.stop = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	backend, err := bolt.Open(filepath.Join(cfg.DataDir, "state.db"))
	if err != nil {
		return nil, err
	}
	kinds := controlplane.Kinds()
	maps.Copy(kinds, iam.Kinds())
	s.db, err = store.Open(ctx, backend, kinds, cfg.Log.With("component", "store"))
	if err != nil {
		backend.Close()
		return nil, err
	}
	s.dir = iam.New(s.db, cfg.Log.With("component", "iam"))
	if s.bootstrap, err = s.dir.Bootstrap(ctx, cfg.Config); err != nil {
		return nil, fmt.Errorf("server: bootstrap identities: %w", err)
	}
	var regions []cloud.Region
	for _, name := range cfg.Config.Regions {
		r, err := cloud.NewRegion(name)
		if err != nil {
			return nil, err
		}
		regions = append(regions, r)
	}
	authz := iam.NewAuthorizer(s.dir)
	s.cp, err = controlplane.New(controlplane.Config{DB: s.db, Regions: regions, Log: cfg.Log.With("component", "controlplane"), Authorizer: authz})
	if err != nil {
		return nil, err
	}
	api := awsapi.NewServer(s.dir, cfg.Config.Regions, cfg.Log.With("component", "api"),
		ec2.NewService(s.cp),
		elbv2.NewService(s.cp),
		sts.NewService(map[string]awsapi.Handler{"AssumeRole": sts.AssumeRole(s.dir), "GetCallerIdentity": sts.GetCallerIdentity(authz)}),
		iamapi.NewService(s.dir),
		route53.NewService(s.cp),
	)
	// Public hosted zones are served before any request can change them.
	s.authority = dns.NewAuthority()
	(&controllers.HostedZoneAuthority{Authority: s.authority, Build: controlplane.BuildHostedZone, Log: cfg.Log.With("component", "route53")}).Start(s.db)
	if err := s.startInternal(api); err != nil {
		return nil, err
	}
	if err := s.startControllers(ctx); err != nil {
		return nil, err
	}
	go s.dir.RunPurger(s.life, time.Minute) // expired role-session keys
	s.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: listen: %w", err)
	}
	s.handler = api
	s.http = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the API listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Handler is the API's HTTP handler (tests drive it without a socket).
func (s *Server) Handler() http.Handler { return s.handler }

// Endpoint is the API URL for AWS_ENDPOINT_URL.
func (s *Server) Endpoint() string { return "http://" + s.Addr() }

// BootstrapCredentials returns the key pair created on first start, if any.
func (s *Server) BootstrapCredentials() *iam.Credentials { return s.bootstrap }

// Directory exposes the identity directory.
func (s *Server) Directory() *iam.Directory { return s.dir }

// ControlPlane exposes the control plane.
func (s *Server) ControlPlane() *controlplane.ControlPlane { return s.cp }

// Close shuts down in order: stop accepting HTTP and finish in-flight
// requests (up to 5 s), close the internal listener, stop the controllers,
// DNS servers and endpoint proxies, then flush and close the store. The
// kernel state stays: instances keep their addresses, routes and filters,
// and the next start reconciles DNS and endpoint traffic from the store.
func (s *Server) Close() error {
	var errs []error
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, s.http.Shutdown(ctx))
		cancel()
	} else if s.ln != nil {
		errs = append(errs, s.ln.Close())
	}
	{
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, s.closeInternal(ctx))
		cancel()
	}
	if s.stop != nil {
		s.stop()
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}
