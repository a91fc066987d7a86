package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where named namespaces are bind-mounted, shared with iproute2.
const netnsDir = "/run/netns"

func nsPath(name string) string { return filepath.Join(netnsDir, name) }

func nsExists(name string) bool {
	_, err := os.Stat(nsPath(name))
	return err == nil
}

// createNamedNS creates a network namespace and bind-mounts it under
// netnsDir. The unshare happens on a locked thread that switches back to
// its original namespace afterwards; if it cannot, the thread stays locked
// and the runtime discards it, so no goroutine runs in the wrong namespace.
func createNamedNS(name string) error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return fmt.Errorf("dataplane: create %s: %w", netnsDir, err)
	}
	path := nsPath(name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("dataplane: create netns file %s: %w", path, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		mountErr := unix.Mount(self, path, "", unix.MS_BIND, "")
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(mountErr, fmt.Errorf("restore netns: %w", err)) // thread stays locked
			return
		}
		runtime.UnlockOSThread()
		if mountErr != nil {
			mountErr = fmt.Errorf("bind mount: %w", mountErr)
		}
		errc <- mountErr
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return fmt.Errorf("dataplane: create netns %s: %w", name, err)
	}
	return nil
}

// deleteNamedNS unmounts and removes a named namespace; absent is success.
// The namespace itself lives on while sockets or processes still use it.
func deleteNamedNS(name string) error {
	path := nsPath(name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("dataplane: unmount netns %s: %w", name, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("dataplane: remove netns %s: %w", name, err)
	}
	return nil
}

// nsID identifies a network namespace: its nsfs device and inode.
type nsID struct{ dev, ino uint64 }

func nsIDOf(path string) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{dev: st.Dev, ino: st.Ino}, nil
}

// killResidents kills, with SIGKILL, every process that lives in one of the
// named namespaces, as terminating an instance ends what runs on it: a
// namespace privlink removes would otherwise live on, detached, as long as
// a process is in it. A process lives in a namespace when all of its
// threads are in it. One with only some threads there, like a Go program
// that entered it on one locked thread as privlink itself does, is a
// visitor and is left alone, and so is this process. It returns the PIDs
// it killed; namespaces that do not exist are skipped.
func killResidents(names ...string) ([]int, error) {
	targets := map[nsID]bool{}
	for _, n := range names {
		id, err := nsIDOf(nsPath(n))
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("dataplane: stat netns %s: %w", n, err)
		}
		targets[id] = true
	}
	if len(targets) == 0 {
		return nil, nil
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("dataplane: list processes: %w", err)
	}
	self := os.Getpid()
	var killed []int
	var errs []error
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == self {
			continue
		}
		if !residentOf(pid, targets) {
			continue
		}
		if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("dataplane: kill %d: %w", pid, err))
			continue
		}
		killed = append(killed, pid)
	}
	return killed, errors.Join(errs...)
}

// residentOf reports whether every thread of pid is in a namespace of
// targets. A process that exits meanwhile is not.
func residentOf(pid int, targets map[nsID]bool) bool {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, t := range tasks {
		id, err := nsIDOf(filepath.Join(dir, t.Name(), "ns", "net"))
		if err != nil || !targets[id] {
			return false
		}
	}
	return true
}

// listNamedNS lists namespace names starting with prefix.
func listNamedNS(prefix string) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dataplane: list %s: %w", netnsDir, err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func openNS(name string) (netns.NsHandle, error) {
	h, err := netns.GetFromPath(nsPath(name))
	if err != nil {
		return netns.None(), fmt.Errorf("dataplane: open netns %s: %w", name, err)
	}
	return h, nil
}

// RunInNamespace runs fn on an OS thread switched into the named network
// namespace. Sockets fn opens stay in that namespace after it returns. If
// the thread cannot be switched back it is discarded rather than reused.
func RunInNamespace(nsName string, fn func() error) error {
	target, err := openNS(nsName)
	if err != nil {
		return err
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("dataplane: get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("dataplane: enter netns %s: %w", nsName, err)
			return
		}
		fnErr := fn()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked so the runtime terminates it.
			errc <- errors.Join(fnErr, fmt.Errorf("dataplane: restore netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

// ListenTCP opens a TCP listener inside the named namespace.
func ListenTCP(ctx context.Context, nsName, addr string) (net.Listener, error) {
	var l net.Listener
	err := RunInNamespace(nsName, func() error {
		var err error
		l, err = (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dataplane: listen tcp %s in %s: %w", addr, nsName, err)
	}
	return l, nil
}

// ListenUDP opens a UDP socket inside the named namespace.
func ListenUDP(ctx context.Context, nsName, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := RunInNamespace(nsName, func() error {
		var err error
		pc, err = (&net.ListenConfig{}).ListenPacket(ctx, "udp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dataplane: listen udp %s in %s: %w", addr, nsName, err)
	}
	return pc, nil
}

// DialTCP connects from inside the named namespace. The whole connect runs
// on the namespaced thread, so ctx bounds how long that thread is held.
func DialTCP(ctx context.Context, nsName, addr string) (net.Conn, error) {
	var c net.Conn
	err := RunInNamespace(nsName, func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dataplane: dial tcp %s from %s: %w", addr, nsName, err)
	}
	return c, nil
}

// writeSysctls sets sysctls inside a namespace (one namespace switch for
// all of them), writing only those that differ; it returns the keys written.
// A missing key fails with an error wrapping os.ErrNotExist.
func writeSysctls(nsName string, kvs [][2]string) ([]string, error) {
	var changed []string
	err := RunInNamespace(nsName, func() error {
		for _, kv := range kvs {
			path := "/proc/sys/" + strings.ReplaceAll(kv[0], ".", "/")
			cur, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if strings.TrimSpace(string(cur)) == kv[1] {
				continue
			}
			if err := os.WriteFile(path, []byte(kv[1]), 0o644); err != nil {
				return err
			}
			changed = append(changed, kv[0])
		}
		return nil
	})
	if err != nil {
		return changed, fmt.Errorf("dataplane: sysctls in %s: %w", nsName, err)
	}
	return changed, nil
}
