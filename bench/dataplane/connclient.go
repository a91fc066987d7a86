package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// connClientFlag makes the binary the connection-rate load generator
// instead of the benchmark. The benchmark starts it inside a client
// namespace (ip netns exec), so its sockets are born there: no thread of
// it is pinned to a namespace, and the Go scheduler runs the dialers freely.
const connClientFlag = "-conn-client"

// connResult is what the load generator reports on stdout.
type connResult struct {
	OK      int64   `json:"ok"`
	Failed  int64   `json:"failed"`
	Seconds float64 `json:"seconds"`
}

// connClientMain runs the load generator: args are address, duration and
// dialers. The namespace it runs in must have its ephemeral ports widened
// (widenEphemeralPorts), as connRounds does.
func connClientMain(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: "+connClientFlag+" ADDR DURATION DIALERS")
		return 2
	}
	addr := args[0]
	d, err1 := time.ParseDuration(args[1])
	dialers, err2 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil || dialers < 1 {
		fmt.Fprintln(os.Stderr, "conn-client: bad duration or dialer count")
		return 2
	}
	var okN, failN atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range dialers {
		wg.Go(func() {
			// No keep-alive probes for connections this short: setting them
			// up costs four system calls per connection.
			dialer := net.Dialer{Timeout: 2 * time.Second, KeepAlive: -1}
			var one [1]byte
			for time.Now().Before(deadline) {
				c, err := dialer.Dial("tcp", addr)
				if err != nil {
					failN.Add(1)
					continue
				}
				c.SetDeadline(time.Now().Add(2 * time.Second))
				_, err = c.Write(one[:])
				if err == nil {
					_, err = io.ReadFull(c, one[:])
				}
				c.Close()
				if err != nil {
					failN.Add(1)
					continue
				}
				okN.Add(1)
			}
		})
	}
	wg.Wait()
	json.NewEncoder(os.Stdout).Encode(connResult{OK: okN.Load(), Failed: failN.Load(), Seconds: time.Since(start).Seconds()})
	return 0
}

// widenEphemeralPorts lets the calling thread's network namespace open
// tens of thousands of connections a second, as every load generator of
// that rate needs: the whole ephemeral port range, and connect may reuse
// ports in TIME_WAIT. Without it a client runs out of ports (28,232 ports
// held 60 s each allow ~470/s sustained) whatever path is measured.
func widenEphemeralPorts() error {
	for k, v := range map[string]string{"ipv4/ip_local_port_range": "1024 65535", "ipv4/tcp_tw_reuse": "1"} {
		if err := os.WriteFile("/proc/sys/net/"+k, []byte(v), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// connRun is one connection-rate run.
type connRun struct {
	Rate   float64 // completed connections per second
	Failed int64
	// CPU is the machine's busy CPU time per completed connection, all
	// namespaces and both ends included; Busy is the share of all CPUs
	// that was busy. With the CPUs saturated, CPU alone sets the rate.
	CPU  time.Duration
	Busy float64
}

func (r connRun) String() string {
	return fmt.Sprintf("%8.0f conn/s (%d failed), %5.0f µs CPU per connection, CPUs %.0f%% busy",
		r.Rate, r.Failed, us(r.CPU), 100*r.Busy)
}

// medianRun is the run with the median rate (the upper one of an even count).
func medianRun(runs []connRun) connRun {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b connRun) int { return cmp.Compare(a.Rate, b.Rate) })
	return sorted[len(sorted)/2]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// cpuTicks reads the busy and total CPU time of the machine from
// /proc/stat, in clock ticks.
func cpuTicks() (busy, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected %q", line)
	}
	for i, f := range fields[1:] {
		if i >= 8 { // guest time is already counted in user time
			break
		}
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

// clockTick is the unit of /proc/stat (USER_HZ, 100 on every Linux ABI).
const clockTick = 10 * time.Millisecond

// connRate runs the load generator inside ns against addr for connTime.
func (b *bench) connRate(ns, addr string) (connRun, error) {
	self, err := os.Executable()
	if err != nil {
		return connRun{}, err
	}
	cmd := exec.Command("ip", "netns", "exec", ns, self, connClientFlag, addr, b.o.connTime.String(), strconv.Itoa(b.o.dialers))
	return measureConns(cmd, func(out []byte) (connResult, error) {
		var r connResult
		err := json.Unmarshal(out, &r)
		return r, err
	})
}

// measureConns runs a load generator and reads its report with parse,
// taking the machine's busy CPU time around it.
func measureConns(cmd *exec.Cmd, parse func(stdout []byte) (connResult, error)) (connRun, error) {
	var stderr strings.Builder
	cmd.Stderr = &stderr
	busy0, total0, err := cpuTicks()
	if err != nil {
		return connRun{}, err
	}
	out, err := cmd.Output()
	if err != nil {
		return connRun{}, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	busy1, total1, err := cpuTicks()
	if err != nil {
		return connRun{}, err
	}
	r, err := parse(out)
	if err == nil && r.Seconds <= 0 {
		err = errors.New("no duration")
	}
	if err != nil {
		return connRun{}, fmt.Errorf("%s: bad report %q: %w", strings.Join(cmd.Args, " "), out, err)
	}
	run := connRun{Rate: float64(r.OK) / r.Seconds, Failed: r.Failed}
	if total1 > total0 {
		run.Busy = float64(busy1-busy0) / float64(total1-total0)
	}
	if r.OK > 0 {
		run.CPU = time.Duration(busy1-busy0) * clockTick / time.Duration(r.OK)
	}
	return run, nil
}
