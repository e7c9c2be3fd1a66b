// Package web is ssu-fleetd's web side: server-rendered pages (Go templates, no JavaScript needed
// except for live refresh) for IT and estates (fleet health, alerts, a kiosk's history and commands)
// and for Registration Authorities (usage reports, CSV, a print-ready monthly report), the same data as
// JSON under /api/, and Prometheus metrics at /metrics.
//
// Every page but the login page needs a signed-in account: IT admins see and command the fleet,
// viewers see it, RAs see only their own sites' reports. /metrics is not on this handler unless
// Config.MetricsToken is set, and then only with that bearer token; MetricsHandler serves it on a
// listener of its own (ssu-fleetd --metrics-listen).
//
// Sign-in is limited per account (LoginLimits.PerAccount failures in the window lock that account, from
// anywhere) and per address (a much higher bound, so one person's typos behind a trust's NAT do not
// lock out everyone else there; an IPv6 client counts by its /64, which it may hold whole). The address is the connection's, or, when the connection comes from a
// configured trusted proxy (Config.TrustedProxies), the address that proxy put in X-Forwarded-For;
// that header is ignored from anyone else. After sign-in the browser goes only to a same-origin path.
//
// It must never show, log or return a password, a session token or anything personal about a kiosk's
// users (the store holds nothing of it).
package web

import (
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleetserver/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Store is what the web side reads and writes.
type Store interface {
	Kiosks(ctx context.Context, f store.KioskFilter) ([]store.Kiosk, error)
	Kiosk(ctx context.Context, id string) (store.Kiosk, bool, error)
	Places(ctx context.Context) ([]store.Place, error)
	HealthHistory(ctx context.Context, kiosk string, since time.Time, limit int) ([]store.HealthSample, error)
	OpenAlerts(ctx context.Context, sites []string) ([]store.Alert, error)
	KioskAlerts(ctx context.Context, kiosk string, limit int) ([]store.Alert, error)
	AddCommand(ctx context.Context, c store.Command) error
	MarkCommand(ctx context.Context, id, status, reason string) error
	PlaceKiosk(ctx context.Context, id, site, ward string) error
	Commands(ctx context.Context, kiosk string, limit int) ([]store.Command, error)
	Report(ctx context.Context, f store.ReportFilter) (*store.Report, error)
	User(ctx context.Context, name string) (store.User, bool, error)
	CreateSession(ctx context.Context, tokenHash, user, csrf string, expires time.Time) error
	Session(ctx context.Context, tokenHash string) (store.User, string, bool, error)
	DeleteSession(ctx context.Context, tokenHash string) error
	Location() *time.Location
}

// CommandSender sends a command to a kiosk; the fleet receiver (ingest.Receiver) is one.
type CommandSender interface {
	Send(ctx context.Context, kiosk string, cmd fleet.Command) error
}

// Config configures a Server. Store and Commands are required.
type Config struct {
	Store    Store
	Commands CommandSender
	// Secure marks cookies Secure: set it when the server is reached over TLS (it always should be,
	// except on loopback).
	Secure     bool
	SessionTTL time.Duration // default 8 h
	Metrics    *prometheus.Registry
	// MetricsToken, when set, serves Metrics at /metrics on this handler to requests carrying
	// "Authorization: Bearer <token>". Unset, /metrics is not served here (see MetricsHandler).
	MetricsToken []byte
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client (sign-in limits
	// and logs); a request from anywhere else is known by its connection's address only.
	TrustedProxies []netip.Prefix
	Login          LoginLimits
	Log            *slog.Logger
	Now            func() time.Time
	// Releases and Rollouts, when both set, add the releases and rollouts API (rollouts.go).
	Releases ReleaseAdmin
	Rollouts RolloutAdmin
}

// LoginLimits bound failed sign-ins within a window; zero fields take the defaults.
type LoginLimits struct {
	PerAccount int           // failures that lock one account; default 5
	PerAddress int           // failures from one address, whatever the accounts; default 100
	Window     time.Duration // default 15 min
}

// Server serves the web side.
type Server struct {
	cfg                 Config
	log                 *slog.Logger
	pages               map[string]*template.Template
	accounts, addresses *limiter
	mux                 *http.ServeMux
}

// sessionCookie names the cookie holding a session token.
const sessionCookie = "ssu_fleet_session"

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Login.PerAccount <= 0 {
		cfg.Login.PerAccount = 5
	}
	if cfg.Login.PerAddress <= 0 {
		cfg.Login.PerAddress = 100
	}
	if cfg.Login.Window <= 0 {
		cfg.Login.Window = 15 * time.Minute
	}
	s := &Server{cfg: cfg, log: cfg.Log, mux: http.NewServeMux(),
		accounts: newLimiter(cfg.Login.PerAccount, cfg.Login.Window), addresses: newLimiter(cfg.Login.PerAddress, cfg.Login.Window)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(assets, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.loginSubmit)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	if cfg.Metrics != nil && len(cfg.MetricsToken) > 0 {
		s.mux.Handle("GET /metrics", bearer(cfg.MetricsToken, MetricsHandler(cfg.Metrics)))
	}
	staff := []string{RoleITAdmin, RoleViewer}
	everyone := []string{RoleITAdmin, RoleViewer, RoleRA}
	s.route("POST /logout", everyone, s.logout)
	s.route("GET /{$}", everyone, s.fleetPage)
	s.route("GET /kiosks/{id}", staff, s.kioskPage)
	s.route("POST /kiosks/{id}/commands", []string{RoleITAdmin}, s.commandSubmit)
	s.route("POST /kiosks/{id}/place", []string{RoleITAdmin}, s.placeSubmit)
	s.route("GET /alerts", staff, s.alertsPage)
	s.route("GET /reports", everyone, s.reportPage)
	s.route("GET /reports/print", everyone, s.reportPrint)
	s.route("GET /reports/csv/{table}", everyone, s.reportCSV)
	s.route("GET /api/kiosks", staff, s.apiKiosks)
	s.route("GET /api/kiosks/{id}", staff, s.apiKiosk)
	s.route("POST /api/kiosks/{id}/commands", []string{RoleITAdmin}, s.apiCommand)
	s.route("GET /api/alerts", staff, s.apiAlerts)
	s.route("GET /api/reports", everyone, s.apiReport)
	s.route("GET /api/me", everyone, s.apiMe)
	if cfg.Releases != nil && cfg.Rollouts != nil {
		s.rolloutRoutes()
	}
	return s, nil
}

// ServeHTTP implements http.Handler, adding security headers to every answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if s.cfg.Secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.mux.ServeHTTP(w, r)
}

// viewer is the signed-in user of a request.
type viewer struct {
	store.User
	CSRF string
}

func (v viewer) Is(role string) bool { return v.Role == role }

// sites is nil for roles that see every site, and the user's own sites for an RA.
func (v viewer) sites() []string {
	if v.Role == RoleRA {
		if v.Sites == nil {
			return []string{}
		}
		return v.Sites
	}
	return nil
}

func (v viewer) maySee(site string) bool { return v.Role != RoleRA || slices.Contains(v.Sites, site) }

type handler func(w http.ResponseWriter, r *http.Request, v viewer)

// route registers a handler for the given roles: a request without a valid session is refused (pages
// redirect to the login page, the API answers 401), a role not listed gets 403, and every POST must
// carry the session's CSRF token (form field "csrf" or header X-CSRF-Token).
func (s *Server) route(pattern string, roles []string, h handler) {
	api := strings.Contains(pattern, " /api/")
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.viewer(r)
		if !ok {
			if api || r.Method != http.MethodGet {
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if !slices.Contains(roles, v.Role) {
			s.fail(w, r, v, http.StatusForbidden, "Your account cannot do this.")
			return
		}
		if r.Method == http.MethodPost {
			token := r.Header.Get("X-CSRF-Token")
			if token == "" {
				token = r.PostFormValue("csrf")
			}
			if token == "" || !constantEqual(token, v.CSRF) {
				s.fail(w, r, v, http.StatusForbidden, "The form expired: go back, reload the page and try again.")
				return
			}
		}
		h(w, r, v)
	})
}

func (s *Server) viewer(r *http.Request) (viewer, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return viewer{}, false
	}
	u, csrf, ok, err := s.cfg.Store.Session(r.Context(), tokenHash(c.Value))
	if err != nil {
		s.log.Error("web: session lookup failed", "err", err)
		return viewer{}, false
	}
	if !ok {
		return viewer{}, false
	}
	return viewer{User: u, CSRF: csrf}, true
}

// fail answers an error: a page for browsers, JSON for the API.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, v viewer, code int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	w.WriteHeader(code)
	s.render(w, r, "error", v, map[string]any{"Title": http.StatusText(code), "Message": msg})
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, v viewer, err error) {
	s.log.Error("web: request failed", "path", r.URL.Path, "err", err)
	s.fail(w, r, v, http.StatusInternalServerError, "Something went wrong; it has been logged.")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// clientIP is the address a request came from: its connection's, unless that is a trusted proxy, when
// it is the nearest address in X-Forwarded-For that is not itself a trusted proxy (the proxy appends
// the address it saw; anything to the left of that came from the client and is not believed).
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer) {
		return host
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := forwardedAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a hop we cannot read: stop at the last one we could
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a.String()
		}
		host = a.String()
	}
	return host
}

// forwardedAddr reads one X-Forwarded-For hop: an address, or an address and port as some proxies write
// it ("203.0.113.7:5678", "[2001:db8::7]:5678").
func forwardedAddr(hop string) (netip.Addr, error) {
	a, err := netip.ParseAddr(hop)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(hop)
		if err2 != nil {
			return netip.Addr{}, err
		}
		a = ap.Addr()
	}
	return a, nil
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
