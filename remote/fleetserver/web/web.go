// Package web is ssu-fleetd's web side: server-rendered pages (Go templates, no JavaScript needed
// except for live refresh) for IT and estates (fleet health, alerts, a kiosk's history and commands)
// and for Registration Authorities (usage reports, CSV, a print-ready monthly report), the same data as
// JSON under /api/, and Prometheus metrics at /metrics.
//
// Every page but the login page and /metrics needs a signed-in account: IT admins see and command the
// fleet, viewers see it, RAs see only their own sites' reports. It must never show, log or return a
// password, a session token or anything personal about a kiosk's users (the store holds nothing of it).
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
	Log        *slog.Logger
	Now        func() time.Time
}

// Server serves the web side.
type Server struct {
	cfg   Config
	log   *slog.Logger
	pages map[string]*template.Template
	login *limiter
	mux   *http.ServeMux
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
	s := &Server{cfg: cfg, log: cfg.Log, login: newLimiter(5, 15*time.Minute), mux: http.NewServeMux()}
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
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", metricsHandler(cfg.Metrics))
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

// clientIP is the address a request came from (the server is not meant to sit behind a proxy that
// would make this meaningless; if it does, the limit applies to the proxy, which is still safe).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
