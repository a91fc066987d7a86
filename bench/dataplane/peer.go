package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// The connection rate is also measured with peer tools, wrk against nginx
// (Debian packages wrk and nginx-light): event-loop programs in C whose
// own cost per connection is lower than the Go load generator's and sink's,
// so more of each connection's CPU time is the path's.

// httpPort is nginx's port on the target; the load balancer listens on it
// too.
const httpPort = 8080

// peerTools reports whether wrk and nginx are on PATH.
func peerTools() bool {
	for _, tool := range []string{"wrk", "nginx"} {
		if _, err := exec.LookPath(tool); err != nil {
			return false
		}
	}
	return true
}

// nginxConf is a one-process nginx that answers every request with one
// byte and closes the connection, as the Go sink does. Its files stay in
// dir.
const nginxConf = `master_process off;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 8192; }
http {
	access_log off;
	keepalive_timeout 0;
	client_body_temp_path %[1]s;
	proxy_temp_path %[1]s;
	fastcgi_temp_path %[1]s;
	uwsgi_temp_path %[1]s;
	scgi_temp_path %[1]s;
	server {
		listen %[2]s backlog=4096;
		location / { return 200 "x"; }
	}
}
`

// startNginx runs nginx in the target's namespace on httpPort.
func (b *bench) startNginx(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "privlink-bench-nginx-")
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.dirs = append(b.dirs, dir)
	b.mu.Unlock()
	addr := net.JoinHostPort(b.targetIP, strconv.Itoa(httpPort))
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, addr), 0o644); err != nil {
		return err
	}
	return b.runInTarget(ctx, httpPort, "nginx", "-p", dir, "-c", conf)
}

// wrkRate runs wrk inside ns against http://addr/ for connTime, each
// request on a new connection (Connection: close).
func (b *bench) wrkRate(ns, addr string) (connRun, error) {
	secs := max(1, int(b.o.connTime/time.Second))
	cmd := exec.Command("ip", "netns", "exec", ns, "wrk", "-t2", "-c"+strconv.Itoa(b.o.dialers), "-d"+strconv.Itoa(secs)+"s",
		"-H", "Connection: close", "http://"+addr+"/")
	return measureConns(cmd, parseWrk)
}

var (
	wrkTotal  = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(us|ms|s|m),`)
	wrkErrors = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads wrk's summary: completed requests, their time, and
// failures (socket errors and non-2xx answers).
func parseWrk(out []byte) (connResult, error) {
	m := wrkTotal.FindSubmatch(out)
	if m == nil {
		return connResult{}, errors.New("no request total")
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	d, err := time.ParseDuration(string(m[2]) + string(m[3]))
	if err != nil {
		return connResult{}, err
	}
	r := connResult{OK: n, Seconds: d.Seconds()}
	if e := wrkErrors.FindSubmatch(out); e != nil {
		for _, f := range e[1:] {
			v, _ := strconv.ParseInt(string(f), 10, 64)
			r.Failed += v
		}
	}
	if e := wrkNon2xx.FindSubmatch(out); e != nil {
		v, _ := strconv.ParseInt(string(e[1]), 10, 64)
		r.Failed += v
		r.OK -= v
	}
	if r.OK < 0 {
		return connResult{}, errors.New("more failures than requests")
	}
	return r, nil
}
