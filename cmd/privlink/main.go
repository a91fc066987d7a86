// Command privlink runs the privlink server and its tools.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/privlink/privlink/internal/config"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/server"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

const usage = `privlink: VPC endpoints and endpoint services with a real data plane.

Usage:
  privlink server [--listen ADDR] [--data-dir DIR] [--config FILE] [--dataplane auto|on|off]
  privlink exec INSTANCE-ID -- COMMAND [ARG...]
  privlink policy validate [--kind KIND] FILE | simulate --input FILE
  privlink version

Run 'privlink <command> --help' for a command's flags.
`

func main() {
	// The data plane re-executes this binary to enter an instance's
	// namespaces; that entry point must run before anything else.
	if dataplane.ExecMain(os.Args) {
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "server":
		return runServer(args[1:], stdout, stderr)
	case "exec":
		return runExec(args[1:], os.Stdin, stdout, stderr)
	case "policy":
		return runPolicy(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "privlink %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "privlink: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func runServer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:4566", "address of the AWS API endpoint")
	dataDir := fs.String("data-dir", "./privlink-data", "directory of the embedded store")
	configPath := fs.String("config", "", "YAML file with regions, organizations and accounts")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	dataPlane := fs.String("dataplane", "auto", "realize networks in the kernel: auto (when root on Linux), on or off")
	prefix := fs.String("dataplane-prefix", "pl", "prefix of every namespace and link the data plane creates")
	webhook := fs.String("notification-webhook", "", "URL that also receives every connection notification as a POST to <URL>/<topic>")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "privlink: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := config.Default()
	if *configPath != "" {
		var err error
		if cfg, err = config.Load(*configPath); err != nil {
			fmt.Fprintf(stderr, "privlink: %v\n", err)
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mode := server.DataPlaneMode(*dataPlane)
	switch mode {
	case server.DataPlaneAuto, server.DataPlaneOn, server.DataPlaneOff:
	default:
		fmt.Fprintf(stderr, "privlink: --dataplane must be auto, on or off, not %q\n", *dataPlane)
		return 2
	}
	srv, err := server.Start(ctx, server.Config{Listen: *listen, DataDir: *dataDir, Config: cfg, Log: log, DataPlane: mode, DataPlanePrefix: *prefix, NotificationWebhook: *webhook})
	if err != nil {
		fmt.Fprintf(stderr, "privlink: %v\n", err)
		return 1
	}
	log.Info("privlink API listening", "endpoint", srv.Endpoint(), "data_dir", *dataDir, "regions", cfg.Regions)
	printBanner(stdout, srv, cfg)
	<-ctx.Done()
	log.Info("shutting down")
	if err := srv.Close(); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

func printBanner(w io.Writer, srv *server.Server, cfg *config.Config) {
	creds := srv.BootstrapCredentials()
	if creds != nil {
		fmt.Fprintf(w, "Created account %s with a new access key (stored in the data dir).\n", creds.AccountID)
	} else if c, ok := srv.Directory().RootCredentials(); ok && len(cfg.Accounts) == 0 {
		creds = c
	}
	if creds == nil {
		fmt.Fprintf(w, "privlink is ready at %s; use the access keys of your config file, e.g.\n  export AWS_DEFAULT_REGION=%s AWS_ENDPOINT_URL=%s\n", srv.Endpoint(), cfg.Regions[0], srv.Endpoint())
		return
	}
	fmt.Fprintf(w, "privlink is ready. Point the AWS CLI and SDKs at it with:\n\n")
	fmt.Fprintf(w, "export AWS_ACCESS_KEY_ID=%s\n", creds.AccessKeyID)
	fmt.Fprintf(w, "export AWS_SECRET_ACCESS_KEY=%s\n", creds.SecretAccessKey)
	fmt.Fprintf(w, "export AWS_DEFAULT_REGION=%s\n", cfg.Regions[0])
	fmt.Fprintf(w, "export AWS_ENDPOINT_URL=%s\n\n", srv.Endpoint())
	fmt.Fprintf(w, "then try: aws sts get-caller-identity && aws ec2 describe-availability-zones\n")
}
