package alerts_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleetserver/alerts"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/store/storetest"
)

// inbox is a real SMTP server (emersion/go-smtp) on loopback that keeps what it is sent.
type inbox struct {
	mu   sync.Mutex
	msgs []string
}

func (b *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{b: b}, nil }

type mailSession struct{ b *inbox }

func (m *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (m *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (m *mailSession) Data(r io.Reader) error {
	body, _ := io.ReadAll(r)
	m.b.mu.Lock()
	m.b.msgs = append(m.b.msgs, string(body))
	m.b.mu.Unlock()
	return nil
}
func (m *mailSession) Reset()        {}
func (m *mailSession) Logout() error { return nil }

func (b *inbox) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

func startInbox(t *testing.T) (*inbox, string) {
	b := &inbox{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(b)
	srv.Domain = "localhost"
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return b, "smtp+plain://" + l.Addr().String()
}

func TestAlertsRaiseNotifyAndClear(t *testing.T) {
	ctx := context.Background()
	s := storetest.SQLite(t, store.Options{})
	now := time.Now().UTC()
	// kiosk-0001: offline for an hour; kiosk-0002: reader missing, certificate expiring, backlog growing.
	b := ingest.Batch{Statuses: []fleet.Status{
		{V: 1, Kiosk: "kiosk-0001", Online: true, Conn: 1, Site: "s1", Ward: "w", At: now.Add(-2 * time.Hour)},
		{V: 1, Kiosk: "kiosk-0001", Online: false, Conn: 1, At: now.Add(-time.Hour)},
		{V: 1, Kiosk: "kiosk-0002", Online: true, Conn: 1, Site: "s1", Ward: "w", At: now.Add(-time.Hour)},
	}}
	for i := 0; i < 4; i++ {
		b.Health = append(b.Health, fleet.Health{V: 1, Kiosk: "kiosk-0002", At: now.Add(time.Duration(i-4) * time.Minute),
			Reader: "missing", OutboxDepth: 30 + 10*i, CertExpiry: now.Add(5 * 24 * time.Hour)})
	}
	if _, err := s.Save(ctx, b); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var hooks []alerts.WebhookBody
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body alerts.WebhookBody
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		hooks = append(hooks, body)
		mu.Unlock()
	}))
	defer hook.Close()
	mail, smtpURL := startInbox(t)
	email, err := alerts.NewEmail(smtpURL, "fleet@example.org", []string{"it-desk@example.org"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := alerts.NewChecker(s, alerts.Rules{}, slog.New(slog.DiscardHandler), alerts.Webhook{URL: hook.URL}, email)
	if err := c.Check(ctx, now); err != nil {
		t.Fatal(err)
	}
	open, _ := s.OpenAlerts(ctx, nil)
	kinds := map[string]bool{}
	for _, a := range open {
		kinds[a.Kiosk+"/"+a.Kind] = true
		if !a.Notified {
			t.Errorf("alert %+v not marked notified", a)
		}
	}
	for _, want := range []string{"kiosk-0001/offline", "kiosk-0002/reader-missing", "kiosk-0002/cert-expiring", "kiosk-0002/outbox-backlog"} {
		if !kinds[want] {
			t.Errorf("alert %s not raised; open: %v", want, kinds)
		}
	}
	if len(open) != 4 || len(hooks) != 4 || mail.count() != 4 {
		t.Fatalf("%d open alerts, %d webhooks, %d emails; want 4 each", len(open), len(hooks), mail.count())
	}
	// Checking again changes nothing and notifies nobody.
	c.Check(ctx, now)
	if len(hooks) != 4 {
		t.Fatalf("a second check notified again: %d webhooks", len(hooks))
	}
	// The reader comes back: that alert clears, with a notice.
	s.Save(ctx, ingest.Batch{Health: []fleet.Health{{V: 1, Kiosk: "kiosk-0002", At: now, Reader: "ready", OutboxDepth: 0,
		CertExpiry: now.AddDate(1, 0, 0)}}})
	c.Check(ctx, now.Add(time.Second))
	open, _ = s.OpenAlerts(ctx, nil)
	if len(open) != 1 || open[0].Kind != alerts.Offline {
		t.Fatalf("open after recovery: %+v", open)
	}
	mu.Lock()
	last := hooks[len(hooks)-1]
	mu.Unlock()
	if last.Event != "cleared" || !strings.HasPrefix(last.Kiosk, "kiosk-0002") {
		t.Fatalf("last webhook = %+v", last)
	}
}

// TestErrorSpikeRaisesAndClears: five errors from one kiosk within the window raise an error spike (four
// do not); once they are older than the window the alert clears.
func TestErrorSpikeRaisesAndClears(t *testing.T) {
	ctx := context.Background()
	s := storetest.SQLite(t, store.Options{})
	now := time.Now().UTC().Truncate(time.Second)
	b := ingest.Batch{Statuses: []fleet.Status{
		{V: 1, Kiosk: "kiosk-0001", Online: true, Conn: 1, Site: "s1", Ward: "w", At: now.Add(-2 * time.Hour)},
		{V: 1, Kiosk: "kiosk-0002", Online: true, Conn: 1, Site: "s1", Ward: "w", At: now.Add(-2 * time.Hour)},
	}}
	errorsFrom := func(kiosk string, n int) {
		for i := range n {
			b.Events = append(b.Events, fleet.UsageEvent{V: 1, ID: fleet.NewEventID(), Kind: fleet.ErrorRaised,
				Kiosk: kiosk, Site: "s1", Ward: "w", At: now.Add(time.Duration(-10-i) * time.Minute), ErrorCode: "ERR1009"})
		}
	}
	errorsFrom("kiosk-0001", 5)
	errorsFrom("kiosk-0002", 4)
	if _, err := s.Save(ctx, b); err != nil {
		t.Fatal(err)
	}
	c := alerts.NewChecker(s, alerts.Rules{}, slog.New(slog.DiscardHandler))
	if err := c.Check(ctx, now); err != nil {
		t.Fatal(err)
	}
	open, _ := s.OpenAlerts(ctx, nil)
	if len(open) != 1 || open[0].Kiosk != "kiosk-0001" || open[0].Kind != alerts.ErrorSpike {
		t.Fatalf("open alerts = %+v, want one error spike on kiosk-0001", open)
	}
	if err := c.Check(ctx, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if open, _ = s.OpenAlerts(ctx, nil); len(open) != 0 {
		t.Fatalf("open alerts two hours later = %+v, want none", open)
	}
}

// TestOutboxFullRaisesAndClears: a kiosk whose outbox cannot write for lack of space (health says
// outbox_full) gets an alert naming how many events were lost; it clears when writes succeed again.
func TestOutboxFullRaisesAndClears(t *testing.T) {
	ctx := context.Background()
	s := storetest.SQLite(t, store.Options{})
	now := time.Now().UTC().Truncate(time.Second)
	b := ingest.Batch{
		Statuses: []fleet.Status{{V: 1, Kiosk: "kiosk-0001", Online: true, Conn: 1, At: now.Add(-time.Hour)}},
		Health: []fleet.Health{{V: 1, Kiosk: "kiosk-0001", At: now.Add(-time.Minute), Reader: "ready", OutboxDepth: 3,
			OutboxFull: true, OutboxLost: 7, DiskFreeBytes: 0}},
	}
	if _, err := s.Save(ctx, b); err != nil {
		t.Fatal(err)
	}
	if k, _, _ := s.Kiosk(ctx, "kiosk-0001"); !k.OutboxFull || k.OutboxLost != 7 {
		t.Fatalf("kiosk = %+v; want its outbox full with 7 lost", k)
	}
	c := alerts.NewChecker(s, alerts.Rules{}, slog.New(slog.DiscardHandler))
	if err := c.Check(ctx, now); err != nil {
		t.Fatal(err)
	}
	open, _ := s.OpenAlerts(ctx, nil)
	if len(open) != 1 || open[0].Kind != alerts.OutboxFull || !strings.Contains(open[0].Detail, "7 lost") {
		t.Fatalf("open alerts = %+v; want one outbox-full naming 7 lost", open)
	}
	s.Save(ctx, ingest.Batch{Health: []fleet.Health{{V: 1, Kiosk: "kiosk-0001", At: now, Reader: "ready", OutboxLost: 7}}})
	c.Check(ctx, now.Add(time.Second))
	if open, _ := s.OpenAlerts(ctx, nil); len(open) != 0 {
		t.Fatalf("open after space came back: %+v", open)
	}
}
