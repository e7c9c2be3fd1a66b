package alerts

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wneessen/go-mail"
)

// Webhook posts each Notice as JSON to a URL.
type Webhook struct {
	URL    string
	Client *http.Client // default: 10 s timeout
}

// WebhookBody is what a Webhook posts.
type WebhookBody struct {
	Event    string    `json:"event"` // "raised" or "cleared"
	ID       int64     `json:"id"`
	Kiosk    string    `json:"kiosk"`
	Site     string    `json:"site"`
	Ward     string    `json:"ward"`
	Kind     string    `json:"kind"`
	Detail   string    `json:"detail"`
	OpenedAt time.Time `json:"opened_at"`
	At       time.Time `json:"at"`
}

// Notify implements Notifier.
func (w Webhook) Notify(ctx context.Context, n Notice) error {
	body := WebhookBody{Event: "cleared", ID: n.Alert.ID, Kiosk: n.Alert.Kiosk, Site: n.Site, Ward: n.Ward, Kind: n.Alert.Kind,
		Detail: n.Alert.Detail, OpenedAt: n.Alert.OpenedAt, At: n.Alert.ClearedAt}
	if n.Raised {
		body.Event, body.At = "raised", n.Alert.OpenedAt
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: answered %s", resp.Status)
	}
	return nil
}

// Email sends each Notice to a list of addresses over SMTP (github.com/wneessen/go-mail).
type Email struct {
	host string
	from string
	to   []string
	opts []mail.Option
}

// NewEmail reads an SMTP URL: smtp://[user:password@]host[:587] (STARTTLS required), smtps://…[:465]
// (implicit TLS), or smtp+plain://host:port for a relay on loopback without TLS.
func NewEmail(rawURL, from string, to []string, tlsConfig *tls.Config) (*Email, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("alert email: cannot parse the SMTP URL") // it may hold a password: not echoed
	}
	if from == "" || len(to) == 0 {
		return nil, errors.New("alert email: a sender and at least one recipient are required")
	}
	e := &Email{host: u.Hostname(), from: from, to: to}
	if e.host == "" {
		return nil, errors.New("alert email: the SMTP URL has no host")
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: e.host}
	}
	e.opts = append(e.opts, mail.WithTLSConfig(tlsConfig), mail.WithTimeout(20*time.Second))
	port := 587
	switch u.Scheme {
	case "smtp":
		e.opts = append(e.opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "smtps":
		port = 465
		e.opts = append(e.opts, mail.WithSSL())
	case "smtp+plain":
		e.opts = append(e.opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		return nil, fmt.Errorf("alert email: scheme %q, want smtp, smtps or smtp+plain", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, errors.New("alert email: bad port")
		}
	}
	e.opts = append(e.opts, mail.WithPort(port))
	if u.User != nil && u.User.Username() != "" {
		pw, _ := u.User.Password()
		e.opts = append(e.opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(u.User.Username()), mail.WithPassword(pw))
	}
	return e, nil
}

// Notify implements Notifier.
func (e *Email) Notify(ctx context.Context, n Notice) error {
	msg := mail.NewMsg()
	if err := msg.From(e.from); err != nil {
		return errors.New("alert email: bad sender address")
	}
	if err := msg.To(e.to...); err != nil {
		return errors.New("alert email: bad recipient address")
	}
	verb, at := "cleared", n.Alert.ClearedAt
	if n.Raised {
		verb, at = "raised", n.Alert.OpenedAt
	}
	msg.Subject(fmt.Sprintf("[ssu-fleet] %s %s: %s", n.Alert.Kiosk, verb, n.Alert.Kind))
	msg.SetBodyString(mail.TypeTextPlain, fmt.Sprintf("Kiosk %s at %s / %s: alert %q %s at %s.\n\n%s\n",
		n.Alert.Kiosk, n.Site, n.Ward, n.Alert.Kind, verb, at.Format(time.RFC1123), n.Alert.Detail))
	c, err := mail.NewClient(e.host, e.opts...)
	if err != nil {
		return fmt.Errorf("alert email: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *mail.SendError
		if errors.As(err, &se) {
			return fmt.Errorf("alert email: delivery failed: %s (status %d)", se.Reason, se.ErrorCode())
		}
		return fmt.Errorf("alert email: delivery failed: %w", err)
	}
	return nil
}
