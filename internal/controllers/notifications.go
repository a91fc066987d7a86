package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// Notification delivery. privlink has no SNS: a connection notification's
// topic (arn:aws:sns:<region>:<account>:<topic>) is a JSON-lines file,
// <Dir>/<account>/<topic>.jsonl, that the user reads (tail -f). Each event
// is appended as one line and fsynced before it is marked delivered, so
// delivery is at least once, in event order per topic (a crash between the
// append and the mark repeats a line; EventId tells repeats apart). When a
// webhook is configured, each line is also POSTed to <Webhook>/<topic>, best
// effort: a failed POST is logged and kept in the event's LastError, and
// does not hold back the file.

// topicName is an SNS topic name: also safe as a file name and URL path.
var topicName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}(\.fifo)?$`)

// Delivery limits.
const (
	eventRetention     = time.Hour // delivered events are then deleted
	maxDeliveryAttempt = 12        // about an hour of backoff, then give up
	maxDeliveryBackoff = 10 * time.Minute
	webhookTimeout     = 5 * time.Second
)

// NotificationMessage is the JSON body of one connection event, with the
// fields of the SNS message AWS publishes for VPC endpoint notifications
// and privlink's IDs of the event and its notification.
type NotificationMessage struct {
	EventType                 string `json:"EventType"` // Connect, Accept, Reject, Delete
	ServiceID                 string `json:"ServiceId"`
	VpceID                    string `json:"VpceId"`
	VpceOwner                 string `json:"VpceOwner"`
	VpceState                 string `json:"VpceState"`
	Timestamp                 string `json:"Timestamp"`
	Region                    string `json:"Region"`
	ConnectionNotificationID  string `json:"ConnectionNotificationId"`
	ConnectionNotificationArn string `json:"ConnectionNotificationArn"`
	EventID                   string `json:"EventId"`
}

// Notifications delivers recorded endpoint events (cloud.EndpointEvent with
// Delivered=false) to their notification's topic.
type Notifications struct {
	DB *store.DB
	// Dir is where topics live (<data-dir>/notifications).
	Dir string
	// Webhook, when set, also receives every line as a POST to <Webhook>/<topic>.
	Webhook string
	Client  *http.Client
	Log     *slog.Logger
	Now     func() time.Time

	mu sync.Mutex // one delivery at a time keeps each topic in order
}

// Kinds implements Reconciler.
func (r *Notifications) Kinds() []string { return []string{cloud.KindEndpointEvent} }

func (r *Notifications) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Notifications) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

// TopicPath is the file of an SNS topic ARN under dir, or an error for an
// ARN that is not a topic privlink can deliver to.
func TopicPath(dir, arn string) (string, string, error) {
	a, err := cloud.ParseARN(arn)
	if err != nil || a.Service != "sns" || !cloud.IsAccountID(a.Account) || !topicName.MatchString(a.Resource) {
		return "", "", fmt.Errorf("controllers: %q is not the ARN of an SNS topic (names are 1-256 letters, digits, - and _)", arn)
	}
	return filepath.Join(dir, a.Account, a.Resource+".jsonl"), a.Resource, nil
}

// Reconcile implements Reconciler. It delivers, oldest first, every pending
// event of the same topic as event id.
func (r *Notifications) Reconcile(ctx context.Context, id string) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ev *cloud.EndpointEvent
	var arn string
	var batch []*cloud.EndpointEvent
	r.DB.View(func(tx *store.Tx) error {
		ev, _ = store.Get[cloud.EndpointEvent](tx, cloud.KindEndpointEvent, id)
		if ev == nil || ev.Delivered {
			return nil
		}
		arns := map[string]string{} // notification ID → topic ARN
		tx.Each(cloud.KindConnectionNotification, func(nid string, v any) bool {
			arns[nid] = v.(*cloud.ConnectionNotification).ARN
			return true
		})
		arn = arns[ev.NotificationID]
		if arn == "" {
			return nil
		}
		batch = store.List[cloud.EndpointEvent](tx, cloud.KindEndpointEvent, func(e *cloud.EndpointEvent) bool {
			return !e.Delivered && e.Attempts < maxDeliveryAttempt && arns[e.NotificationID] == arn
		})
		return nil
	})
	switch {
	case ev == nil:
		return Result{}, nil
	case ev.Delivered:
		return r.expire(ctx, ev)
	case ev.Attempts >= maxDeliveryAttempt:
		return Result{}, nil // given up; LastError says why
	case arn == "":
		// The notification was deleted before delivery: there is no topic.
		return Result{}, r.mark(ctx, ev.ID, true, "not delivered: the connection notification was deleted")
	}
	if due := retryDue(ev); ev.Attempts > 0 && r.now().Before(due) {
		return Result{RequeueAfter: due.Sub(r.now())}, nil
	}
	sort.Slice(batch, func(i, j int) bool {
		if !batch[i].CreatedAt.Equal(batch[j].CreatedAt) {
			return batch[i].CreatedAt.Before(batch[j].CreatedAt)
		}
		return batch[i].ID < batch[j].ID
	})
	path, topic, err := TopicPath(r.Dir, arn)
	if err != nil {
		for _, e := range batch {
			if merr := r.markAttempt(ctx, e, maxDeliveryAttempt, err.Error()); merr != nil {
				return Result{}, merr
			}
		}
		return Result{}, nil
	}
	for _, e := range batch {
		line, err := json.Marshal(r.message(e, arn))
		if err != nil {
			return Result{}, err
		}
		line = append(line, '\n')
		if err := appendLine(path, line); err != nil {
			attempts := e.Attempts + 1
			if merr := r.markAttempt(ctx, e, attempts, err.Error()); merr != nil {
				return Result{}, merr
			}
			r.log().Warn("cannot deliver connection notification", "event", e.ID, "topic", arn, "attempt", attempts, "err", err)
			return Result{RequeueAfter: backoff(attempts)}, nil
		}
		note := ""
		if r.Webhook != "" {
			if err := r.post(ctx, topic, arn, line); err != nil {
				note = "webhook: " + err.Error()
				r.log().Warn("connection notification webhook failed", "event", e.ID, "topic", arn, "err", err)
			}
		}
		if err := r.mark(ctx, e.ID, true, note); err != nil {
			return Result{}, err
		}
	}
	return Result{RequeueAfter: eventRetention}, nil
}

// backoff is the wait after a failed attempt: 2 s, 4 s, … up to 10 minutes.
func backoff(attempts int) time.Duration {
	return min(time.Duration(1<<min(attempts, 16))*time.Second, maxDeliveryBackoff)
}

// retryDue is when a failed event may be tried again: the backoffs of its
// attempts so far, counted from its creation (an event keeps no attempt
// time, and its own store writes must not cut the backoff short).
func retryDue(e *cloud.EndpointEvent) time.Time {
	var wait time.Duration
	for i := 1; i <= e.Attempts; i++ {
		wait += backoff(i)
	}
	return e.CreatedAt.Add(wait)
}

func (r *Notifications) message(e *cloud.EndpointEvent, arn string) NotificationMessage {
	return NotificationMessage{
		EventType: e.Event, ServiceID: e.ServiceID, VpceID: e.VpcEndpointID, VpceOwner: e.EndpointOwner, VpceState: e.State,
		Timestamp: e.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"), Region: e.Region,
		ConnectionNotificationID: e.NotificationID, ConnectionNotificationArn: arn, EventID: e.ID,
	}
}

// expire deletes a delivered event once it is older than eventRetention.
func (r *Notifications) expire(ctx context.Context, ev *cloud.EndpointEvent) (Result, error) {
	age := r.now().Sub(ev.CreatedAt)
	if age < eventRetention {
		return Result{RequeueAfter: eventRetention - age}, nil
	}
	return Result{}, r.DB.Update(ctx, func(tx *store.Tx) error {
		if cur, ok := store.Get[cloud.EndpointEvent](tx, cloud.KindEndpointEvent, ev.ID); ok && cur.Delivered {
			tx.Delete(cloud.KindEndpointEvent, ev.ID)
		}
		return nil
	})
}

// mark records an event as delivered (or dropped), with a note.
func (r *Notifications) mark(ctx context.Context, id string, delivered bool, note string) error {
	return r.DB.Update(ctx, func(tx *store.Tx) error {
		cur, ok := store.Get[cloud.EndpointEvent](tx, cloud.KindEndpointEvent, id)
		if !ok {
			return nil
		}
		e := store.Clone(cur)
		e.Delivered, e.Attempts, e.LastError = delivered, e.Attempts+1, note
		tx.Put(cloud.KindEndpointEvent, id, e)
		return nil
	})
}

// markAttempt records a failed attempt.
func (r *Notifications) markAttempt(ctx context.Context, ev *cloud.EndpointEvent, attempts int, why string) error {
	return r.DB.Update(ctx, func(tx *store.Tx) error {
		cur, ok := store.Get[cloud.EndpointEvent](tx, cloud.KindEndpointEvent, ev.ID)
		if !ok || cur.Delivered {
			return nil
		}
		e := store.Clone(cur)
		e.Attempts, e.LastError = attempts, why
		tx.Put(cloud.KindEndpointEvent, ev.ID, e)
		return nil
	})
}

// appendLine appends line to path in one write and fsyncs it; a new file's
// directory is fsynced too so the file survives a crash.
func appendLine(path string, line []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if os.IsNotExist(statErr) {
		if d, err := os.Open(dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}

// post sends one line to the webhook.
func (r *Notifications) post(ctx context.Context, topic, arn string, line []byte) error {
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: webhookTimeout}
	}
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(r.Webhook, "/")+"/"+topic, bytes.NewReader(line))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Privlink-Topic-Arn", arn)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST returned %s", resp.Status)
	}
	return nil
}
