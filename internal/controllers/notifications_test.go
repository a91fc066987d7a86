package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

const topicARN = "arn:aws:sns:us-east-1:111111111111:endpoint-events"

// putEvents stores a notification with the given topic and one event per
// name, a second apart, in the order given.
func putEvents(t *testing.T, db *store.DB, arn string, events ...string) []string {
	t.Helper()
	var ids []string
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	check(t, db.Update(context.Background(), func(tx *store.Tx) error {
		tx.Put(cloud.KindConnectionNotification, "vpce-nfn-1", &cloud.ConnectionNotification{
			Meta: cloud.Meta{ID: "vpce-nfn-1", OwnerID: providerAcct, Region: region}, ServiceID: "vpce-svc-1", ARN: arn,
			Events: []string{"Connect", "Accept"}, State: "Enabled", Type: "Topic",
		})
		for i, ev := range events {
			id := cloud.NewID("vpce-evt")
			ids = append(ids, id)
			tx.Put(cloud.KindEndpointEvent, id, &cloud.EndpointEvent{
				Meta:           cloud.Meta{ID: id, OwnerID: providerAcct, Region: region, CreatedAt: base.Add(time.Duration(i) * time.Second)},
				NotificationID: "vpce-nfn-1", Event: ev, ServiceID: "vpce-svc-1", VpcEndpointID: "vpce-1", EndpointOwner: consumerAcct, State: "pendingAcceptance",
			})
		}
		return nil
	}))
	return ids
}

func readLines(t *testing.T, path string) []NotificationMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	check(t, err)
	var out []NotificationMessage
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var m NotificationMessage
		check(t, json.Unmarshal([]byte(line), &m))
		out = append(out, m)
	}
	return out
}

func TestNotificationsDelivery(t *testing.T) {
	cases := []struct {
		name      string
		arn       string
		events    []string
		breakDir  bool // make the topic directory a file
		lines     int
		delivered bool
		lastError string
		requeue   bool
	}{
		{name: "in order, one line each", arn: topicARN, events: []string{"Connect", "Accept"}, lines: 2, delivered: true, requeue: true},
		{name: "topic name that is no file name", arn: "arn:aws:sns:us-east-1:111111111111:../../etc", events: []string{"Connect"}, lastError: "is not the ARN of an SNS topic"},
		{name: "unwritable topic", arn: topicARN, events: []string{"Connect"}, breakDir: true, lastError: "not a directory", requeue: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, db := newCP(t)
			dir := t.TempDir()
			if tc.breakDir {
				check(t, os.WriteFile(filepath.Join(dir, providerAcct), nil, 0o600))
			}
			ids := putEvents(t, db, tc.arn, tc.events...)
			r := &Notifications{DB: db, Dir: dir, Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC) }}
			// Reconciling the last event delivers the earlier ones first.
			res := must(r.Reconcile(context.Background(), ids[len(ids)-1]))(t)
			lines := readLines(t, filepath.Join(dir, providerAcct, "endpoint-events.jsonl"))
			if len(lines) != tc.lines || (res.RequeueAfter > 0) != tc.requeue {
				t.Fatalf("lines = %+v, result %+v", lines, res)
			}
			for i, l := range lines {
				if l.EventType != tc.events[i] || l.EventID != ids[i] || l.ServiceID != "vpce-svc-1" || l.VpceID != "vpce-1" || l.VpceOwner != consumerAcct ||
					l.VpceState != "pendingAcceptance" || l.ConnectionNotificationArn != tc.arn || l.Timestamp != "2026-01-01T00:00:0"+string(rune('0'+i))+".000Z" {
					t.Errorf("line %d = %+v", i, l)
				}
			}
			for _, id := range ids {
				ev := get[cloud.EndpointEvent](t, db, cloud.KindEndpointEvent, id)
				if ev.Delivered != tc.delivered || !strings.Contains(ev.LastError, tc.lastError) || ev.Attempts == 0 {
					t.Errorf("event %s = %+v", id, ev)
				}
			}
			// Delivered events are not delivered again.
			must(r.Reconcile(context.Background(), ids[0]))(t)
			if again := readLines(t, filepath.Join(dir, providerAcct, "endpoint-events.jsonl")); len(again) != tc.lines {
				t.Fatalf("redelivered: %d lines", len(again))
			}
		})
	}
}

func TestNotificationsBackoffAndExpiry(t *testing.T) {
	_, db := newCP(t)
	dir := t.TempDir()
	check(t, os.WriteFile(filepath.Join(dir, providerAcct), nil, 0o600))
	ids := putEvents(t, db, topicARN, "Connect")
	now := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	r := &Notifications{DB: db, Dir: dir, Now: func() time.Time { return now }}
	ctx := context.Background()
	if res := must(r.Reconcile(ctx, ids[0]))(t); res.RequeueAfter != 2*time.Second {
		t.Fatalf("first failure: %+v", res)
	}
	// The event's own write re-triggers it at once: the backoff holds.
	if res := must(r.Reconcile(ctx, ids[0]))(t); res.RequeueAfter <= 0 || get[cloud.EndpointEvent](t, db, cloud.KindEndpointEvent, ids[0]).Attempts != 1 {
		t.Fatalf("retried before its backoff: %+v", res)
	}
	check(t, os.Remove(filepath.Join(dir, providerAcct)))
	now = now.Add(2 * time.Second)
	must(r.Reconcile(ctx, ids[0]))(t)
	if ev := get[cloud.EndpointEvent](t, db, cloud.KindEndpointEvent, ids[0]); !ev.Delivered || ev.LastError != "" || ev.Attempts != 2 {
		t.Fatalf("after repair: %+v", ev)
	}
	now = now.Add(eventRetention)
	must(r.Reconcile(ctx, ids[0]))(t)
	check(t, db.View(func(tx *store.Tx) error {
		if tx.Get(cloud.KindEndpointEvent, ids[0]) != nil {
			t.Fatal("delivered event kept past its retention")
		}
		return nil
	}))
}

func TestNotificationsWebhookAndDeletedNotification(t *testing.T) {
	var mu sync.Mutex
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.URL.Path+" "+r.Header.Get("X-Privlink-Topic-Arn")+" "+string(body))
		mu.Unlock()
	}))
	defer hook.Close()
	_, db := newCP(t)
	dir := t.TempDir()
	ids := putEvents(t, db, topicARN, "Connect")
	r := &Notifications{DB: db, Dir: dir, Webhook: hook.URL + "/hooks/", Client: hook.Client()}
	must(r.Reconcile(context.Background(), ids[0]))(t)
	mu.Lock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "/hooks/endpoint-events "+topicARN+` {"EventType":"Connect"`) {
		t.Fatalf("webhook got %q", got)
	}
	mu.Unlock()

	// An event whose notification is gone is dropped, not delivered.
	more := putEvents(t, db, topicARN, "Accept")
	check(t, db.Update(context.Background(), func(tx *store.Tx) error {
		tx.Delete(cloud.KindConnectionNotification, "vpce-nfn-1")
		return nil
	}))
	must(r.Reconcile(context.Background(), more[0]))(t)
	if ev := get[cloud.EndpointEvent](t, db, cloud.KindEndpointEvent, more[0]); !ev.Delivered || !strings.Contains(ev.LastError, "deleted") {
		t.Fatalf("dropped event = %+v", ev)
	}
	if lines := readLines(t, filepath.Join(dir, providerAcct, "endpoint-events.jsonl")); len(lines) != 1 {
		t.Fatalf("lines = %+v", lines)
	}
}
