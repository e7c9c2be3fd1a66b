package idservice

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"ssu-kiosk/remote/identity"
)

// Message is one security code on its way to a person. To and Code are personal data and a secret:
// LogValue shows neither. Body holds the code too: it is a byte slice, cleared with Code once the message
// is delivered, and a Courier must not keep either after Deliver returns.
type Message struct {
	Method    identity.Method
	SessionID string
	// Language is the language Subject and Body are written in (never empty), for a courier whose
	// provider holds the wording itself (NotifySMS's templates).
	Language identity.Language
	To       string
	Code     identity.Secret
	Subject  string
	Body     []byte
}

// LogValue shows only the method, session and language.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(slog.String("method", string(m.Method)), slog.String("session", m.SessionID),
		slog.String("language", string(m.Language)))
}

// Courier delivers a message by one method. Errors never contain the address or the code.
type Courier interface {
	Deliver(ctx context.Context, m Message) error
}

// SMTPCourier sends email through an SMTP server with STARTTLS (or implicit TLS) and, when the URL names a
// user, authentication. It uses github.com/wneessen/go-mail.
type SMTPCourier struct {
	host     string
	from     string
	opts     []mail.Option
	password string
}

// NewSMTPCourier reads a URL such as smtp://user:password@mail.example:587 (STARTTLS, required) or
// smtps://user:password@mail.example:465 (implicit TLS). tlsConfig may be nil (system roots).
func NewSMTPCourier(rawURL, from string, tlsConfig *tls.Config) (*SMTPCourier, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("smtp URL: cannot parse") // the URL may hold a password: do not echo it
	}
	if from == "" {
		return nil, errors.New("smtp: no sender address")
	}
	c := &SMTPCourier{host: u.Hostname(), from: from}
	if c.host == "" {
		return nil, errors.New("smtp URL: no host")
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsConfig = tlsConfig.Clone()
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = c.host
	}
	c.opts = append(c.opts, mail.WithTLSConfig(tlsConfig), mail.WithTimeout(20*time.Second))
	port := 587
	switch u.Scheme {
	case "smtp":
		c.opts = append(c.opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "smtps":
		port = 465
		c.opts = append(c.opts, mail.WithSSL())
	default:
		return nil, fmt.Errorf("smtp URL: scheme %q, want smtp or smtps", u.Scheme)
	}
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil {
			return nil, errors.New("smtp URL: bad port")
		}
	}
	c.opts = append(c.opts, mail.WithPort(port))
	if u.User != nil && u.User.Username() != "" {
		pw, _ := u.User.Password()
		c.opts = append(c.opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(u.User.Username()), mail.WithPassword(pw))
	}
	return c, nil
}

// Deliver sends one message over a fresh connection.
func (c *SMTPCourier) Deliver(ctx context.Context, m Message) error {
	msg := mail.NewMsg()
	if err := msg.From(c.from); err != nil {
		return errors.New("smtp: bad sender address")
	}
	if err := msg.To(m.To); err != nil {
		return errors.New("smtp: bad recipient address")
	}
	msg.Subject(m.Subject)
	// The body is written from the message's bytes when the mail is sent, not copied into a string first.
	msg.SetBodyWriter(mail.TypeTextPlain, func(w io.Writer) (int64, error) {
		n, err := w.Write(m.Body)
		return int64(n), err
	})
	client, err := mail.NewClient(c.host, c.opts...)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return smtpError(err)
	}
	return nil
}

// smtpError keeps the failure's kind and SMTP status but drops the text, which can quote the recipient.
func smtpError(err error) error {
	var se *mail.SendError
	if errors.As(err, &se) {
		return fmt.Errorf("smtp: delivery failed: %s (status %d %s, temporary %v)", se.Reason, se.ErrorCode(), se.EnhancedStatusCode(), se.IsTemp())
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return fmt.Errorf("smtp: delivery failed: server answered %d", te.Code)
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("smtp: delivery failed: timeout")
	}
	return errors.New("smtp: delivery failed")
}

// NotifySMS sends text messages through a GOV.UK Notify-style HTTP API: POST {BaseURL}/v2/notifications/sms
// with a JSON body {phone_number, template_id, personalisation{code}, reference} and a bearer JWT (HS256,
// iss = ServiceID, iat = now) signed with the API secret. The wording is the provider's template, one per
// language: WelshTemplateID for a message in Welsh, TemplateID otherwise.
type NotifySMS struct {
	BaseURL    string
	ServiceID  string
	Secret     []byte
	TemplateID string
	// WelshTemplateID is the Welsh template; when empty, Welsh messages use TemplateID (English).
	WelshTemplateID string
	HTTP            *http.Client
	Now             func() time.Time
}

// template is the template for the message's language.
func (n *NotifySMS) template(l identity.Language) string {
	if l == identity.LanguageWelsh && n.WelshTemplateID != "" {
		return n.WelshTemplateID
	}
	return n.TemplateID
}

// Deliver posts one text message.
func (n *NotifySMS) Deliver(ctx context.Context, m Message) error {
	// Built in a byte slice, cleared when done: the code and number never pass through a Go string.
	body := make([]byte, 0, 256)
	body = append(body, `{"phone_number":`...)
	body = identity.Secret(m.To).AppendJSON(body)
	body = append(body, `,"template_id":`...)
	body = identity.Secret(n.template(m.Language)).AppendJSON(body)
	body = append(body, `,"personalisation":{"code":`...)
	body = m.Code.AppendJSON(body)
	body = append(body, `},"reference":`...)
	body = identity.Secret(m.SessionID).AppendJSON(body)
	body = append(body, '}')
	defer clear(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(n.BaseURL, "/")+"/v2/notifications/sms", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+notifyToken(n.ServiceID, n.Secret, now()))
	hc := n.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 20 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notify: answered %d", resp.StatusCode)
	}
	return nil
}

// notifyToken is the HS256 JWT Notify expects: {"alg":"HS256","typ":"JWT"}.{"iss":…,"iat":…}.
func notifyToken(iss string, secret []byte, now time.Time) string {
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{"iss": iss, "iat": now.Unix()})
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// Outbox writes each message to a file in a folder instead of sending it: for development and the demo only.
// File names are <time>-<session>-<method>.txt; a file holds the address, subject and body.
type Outbox struct {
	Dir string
	Now func() time.Time
}

// Deliver writes the message atomically (temporary file, then rename), readable only by the owner.
func (o *Outbox) Deliver(_ context.Context, m Message) error {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	name := fmt.Sprintf("%s-%s-%s.txt", now().UTC().Format("20060102T150405.000000000Z"), m.SessionID, m.Method)
	// One slice of the right size, so no copy is left behind by growing; cleared when done.
	b := make([]byte, 0, len("To: \nSubject: \n\n\n")+len(m.To)+len(m.Subject)+len(m.Body))
	b = append(append(append(b, "To: "...), m.To...), "\nSubject: "...)
	b = append(append(append(b, m.Subject...), "\n\n"...), m.Body...)
	b = append(b, '\n')
	defer clear(b)
	tmp, err := os.CreateTemp(o.Dir, ".msg-*")
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("outbox: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("outbox: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(o.Dir, name)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}
