package dataplane

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// scratchNS creates the namespace named the test's prefix plus suffix,
// removed when the test ends.
func (e *testEnv) scratchNS(suffix string) string {
	e.t.Helper()
	name := e.prefix + suffix
	if err := createNamedNS(name); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { deleteNamedNS(name) })
	return name
}

// threadNSInode reads the namespace of the calling OS thread.
func threadNSInode(t *testing.T) uint64 { return nsInode(t, "/proc/thread-self/ns/net") }

func TestRunInNamespace(t *testing.T) {
	e := newTestEnv(t)
	name := e.scratchNS("-n-scratch")
	host := nsInode(t, "/proc/self/ns/net")
	target := nsInode(t, nsPath(name))
	if host == target {
		t.Fatalf("new namespace is the host namespace (%d)", host)
	}
	t.Run("runs inside and returns fn error", func(t *testing.T) {
		sentinel := errors.New("boom")
		err := RunInNamespace(name, func() error {
			if got := threadNSInode(t); got != target {
				t.Errorf("fn ran in namespace %d, want %d", got, target)
			}
			return sentinel
		})
		if !errors.Is(err, sentinel) {
			t.Errorf("err = %v, want the fn error", err)
		}
	})
	t.Run("missing namespace", func(t *testing.T) {
		if err := RunInNamespace(e.prefix+"-n-none", func() error { return nil }); err == nil {
			t.Error("no error for a missing namespace")
		}
	})
	t.Run("threads return to the host namespace", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() { RunInNamespace(name, func() error { return nil }) })
		}
		wg.Wait()
		// Threads are reused by the runtime: every one must be back home.
		leaks := make(chan uint64, 64)
		for range 64 {
			wg.Go(func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				if got := threadNSInode(t); got != host {
					leaks <- got
				}
			})
		}
		wg.Wait()
		close(leaks)
		for got := range leaks {
			t.Errorf("thread left in namespace %d", got)
		}
	})
	t.Run("listener keeps its namespace", func(t *testing.T) {
		// 127.0.0.1:0 in the namespace: lo is down in a fresh namespace, so
		// binding works but the socket must not be reachable from the host.
		ln, err := ListenTCP(t.Context(), name, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		c, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", ln.Addr().String())
		if err != nil {
			return
		}
		c.Close()
		// Only a failure if no host socket owns the same port by chance.
		if hostLn, err := net.Listen("tcp", ln.Addr().String()); err == nil {
			hostLn.Close()
			t.Error("host reached a listener opened in another namespace")
		}
	})
}

// TestVisitorsAreNotResidents: a process with one thread in a namespace, as
// this test process has inside RunInNamespace, does not live there.
func TestVisitorsAreNotResidents(t *testing.T) {
	e := newTestEnv(t)
	name := e.scratchNS("-n-visited")
	id, err := nsIDOf(nsPath(name))
	if err != nil {
		t.Fatal(err)
	}
	err = RunInNamespace(name, func() error {
		if residentOf(os.Getpid(), map[nsID]bool{id: true}) {
			t.Error("a process with one thread in the namespace counts as living there")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	host, err := nsIDOf("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if !residentOf(os.Getpid(), map[nsID]bool{host: true}) {
		t.Error("this process does not count as living in its own namespace")
	}
	if killed, err := killResidents(name, e.prefix+"-n-absent"); err != nil || len(killed) != 0 {
		t.Errorf("killResidents of an empty and an absent namespace = %v, %v", killed, err)
	}
}
