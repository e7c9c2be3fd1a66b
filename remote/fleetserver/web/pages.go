package web

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleetserver/store"
)

var pageNames = []string{"login", "error", "fleet", "kiosk", "alerts", "report", "releases"}

func (s *Server) parseTemplates() error {
	loc := s.cfg.Store.Location()
	funcs := template.FuncMap{
		"ts": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.In(loc).Format("2006-01-02 15:04")
		},
		"date": func(t time.Time) string { return t.In(loc).Format("2 January 2006") },
		"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return humanDuration(s.cfg.Now().Sub(t)) + " ago"
		},
		"until": func(t time.Time) string { return humanDuration(t.Sub(s.cfg.Now())) },
		"mib":   func(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) },
		"query": func(q url.Values) template.URL { return template.URL(q.Encode()) },
	}
	s.pages = map[string]*template.Template{}
	for _, p := range pageNames {
		t, err := template.New("").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return fmt.Errorf("web templates: %w", err)
		}
		s.pages[p] = t
	}
	t, err := template.New("").Funcs(funcs).ParseFS(assets, "templates/print.html")
	if err != nil {
		return fmt.Errorf("web templates: %w", err)
	}
	s.pages["print"] = t
	return nil
}

func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, page string, v viewer, data map[string]any) {
	data["V"] = v
	data["Path"] = r.URL.Path
	data["HasReleases"] = s.cfg.Releases != nil && s.cfg.Rollouts != nil
	var buf bytes.Buffer
	name := "layout"
	if page == "print" {
		name = "print"
	}
	if err := s.pages[page].ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("web: render failed", "page", page, "err", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func constantEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// safeNext keeps a post-login redirect on this site: it must be a path of this origin ("/reports?month=…"),
// checked as browsers read it. Anything else gives "/": a scheme or a host, a network-path reference
// ("//evil.example"), a backslash (browsers read "/\evil.example" as "//evil.example"), and any control
// character or space, which browsers strip before parsing ("/\t/evil.example" becomes "//evil.example").
func safeNext(next string) string {
	if next == "" || next[0] != '/' {
		return "/"
	}
	for _, r := range next {
		if r < 0x21 || r == 0x7f || r == '\\' || (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029' || r == '\ufeff' {
			return "/"
		}
	}
	if strings.HasPrefix(next, "//") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	// A percent-encoded slash or backslash at the start could be decoded by something on the way.
	if p := strings.ToLower(u.EscapedPath()); strings.HasPrefix(p, "/%2f") || strings.HasPrefix(p, "/%5c") {
		return "/"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "login", viewer{}, map[string]any{"Title": "Sign in", "Next": safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	name := strings.TrimSpace(r.PostFormValue("name"))
	password := []byte(r.PostFormValue("password"))
	defer clear(password)
	next := safeNext(r.PostFormValue("next"))
	now := s.cfg.Now()
	addr, account := s.clientIP(r), strings.ToLower(name)
	again := func(code int, msg string) {
		w.WriteHeader(code)
		s.render(w, r, "login", viewer{}, map[string]any{"Title": "Sign in", "Next": next, "Name": name, "Error": msg})
	}
	// Each attempt is counted against the account and the address before the password is checked (and
	// taken back when it is right), so parallel guesses cannot together pass the limits.
	if !s.accounts.take(now, account) {
		s.refuseSignIn(addr, again)
		return
	}
	if !s.addresses.take(now, addressKey(addr)) {
		s.accounts.forgive(now, account)
		s.refuseSignIn(addr, again)
		return
	}
	u, found, err := s.cfg.Store.User(r.Context(), name)
	if err != nil {
		s.accounts.forgive(now, account)
		s.addresses.forgive(now, addressKey(addr))
		s.internal(w, r, viewer{}, err)
		return
	}
	hash := dummyHash
	if found {
		hash = u.PasswordHash
	}
	if ok := CheckPassword(hash, password); !ok || !found {
		s.log.Warn("web: sign-in refused", "ip", addr)
		again(http.StatusUnauthorized, "That name and password do not match an account.")
		return
	}
	s.accounts.succeed(account)
	s.addresses.forgive(now, addressKey(addr))
	token, hashed := newToken()
	csrf, _ := newToken()
	if err := s.cfg.Store.CreateSession(r.Context(), hashed, u.Name, csrf, now.Add(s.cfg.SessionTTL)); err != nil {
		s.internal(w, r, viewer{}, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.cfg.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(s.cfg.SessionTTL.Seconds())})
	s.log.Info("web: signed in", "user", u.Name, "role", u.Role)
	if next == "/" && u.Role == RoleRA {
		next = "/reports"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// addressKey is what the per-address sign-in limit counts for a client address: the address itself for
// IPv4, its /64 for IPv6 (one client commonly holds a whole /64, and could give each guess an address of
// its own).
func addressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
}

// refuseSignIn answers a sign-in refused for too many failures.
func (s *Server) refuseSignIn(addr string, again func(int, string)) {
	s.log.Warn("web: sign-in refused: too many failures", "ip", addr)
	again(http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins. Wait %d minutes and try again.", int(s.cfg.Login.Window.Minutes())))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, v viewer) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.cfg.Store.DeleteSession(r.Context(), tokenHash(c.Value))
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.cfg.Secure})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func kioskFilter(r *http.Request) store.KioskFilter {
	return store.KioskFilter{Site: r.URL.Query().Get("site"), Ward: r.URL.Query().Get("ward")}
}

func (s *Server) fleetPage(w http.ResponseWriter, r *http.Request, v viewer) {
	if v.Role == RoleRA {
		http.Redirect(w, r, "/reports", http.StatusSeeOther)
		return
	}
	f := kioskFilter(r)
	kiosks, err := s.cfg.Store.Kiosks(r.Context(), f)
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	places, err := s.cfg.Store.Places(r.Context())
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	alerts, err := s.cfg.Store.OpenAlerts(r.Context(), nil)
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	online := 0
	for _, k := range kiosks {
		if k.Online {
			online++
		}
	}
	sites, wards := sitesAndWards(places, f.Site)
	s.render(w, r, "fleet", v, map[string]any{"Title": "Fleet", "Kiosks": kiosks, "Online": online, "Filter": f,
		"Sites": sites, "Wards": wards, "Alerts": alerts, "Refresh": true})
}

func sitesAndWards(places []store.Place, site string) (sites, wards []string) {
	for _, p := range places {
		if !slices.Contains(sites, p.Site) {
			sites = append(sites, p.Site)
		}
		if (site == "" || p.Site == site) && !slices.Contains(wards, p.Ward) {
			wards = append(wards, p.Ward)
		}
	}
	slices.Sort(wards)
	return sites, wards
}

func (s *Server) kioskPage(w http.ResponseWriter, r *http.Request, v viewer) {
	id := r.PathValue("id")
	d, ok := s.kioskDetail(w, r, v, "There is no kiosk "+id+".")
	if !ok {
		return
	}
	table := d.health
	if len(table) > 24 {
		table = table[:24]
	}
	s.render(w, r, "kiosk", v, map[string]any{"Title": "Kiosk " + id, "K": d.kiosk, "History": table, "HistoryCount": len(d.health),
		"Chart": healthChart(d.health, s.cfg.Now()), "Commands": d.commands, "Alerts": d.alerts, "Refresh": true,
		"Sent": r.URL.Query().Get("sent"), "CmdError": r.URL.Query().Get("error"), "PlaceError": r.URL.Query().Get("place-error")})
}

// placeSubmit is an IT admin registering (or moving) a kiosk: the only way a kiosk's site and ward
// change besides its enrolment. What the kiosk itself says never does.
func (s *Server) placeSubmit(w http.ResponseWriter, r *http.Request, v viewer) {
	id := r.PathValue("id")
	if _, ok, err := s.cfg.Store.Kiosk(r.Context(), id); err != nil {
		s.internal(w, r, v, err)
		return
	} else if !ok {
		s.fail(w, r, v, http.StatusNotFound, "There is no kiosk "+id+".")
		return
	}
	site, err1 := fleet.PlaceToken(r.PostFormValue("site"))
	ward, err2 := fleet.PlaceToken(r.PostFormValue("ward"))
	q := url.Values{}
	if err := errors.Join(err1, err2); err != nil {
		q.Set("place-error", "a site and a ward need letters or digits, and no six digits in a row")
		http.Redirect(w, r, "/kiosks/"+url.PathEscape(id)+"?"+q.Encode()+"#place", http.StatusSeeOther)
		return
	}
	if err := s.cfg.Store.PlaceKiosk(r.Context(), id, site, ward); err != nil {
		s.internal(w, r, v, err)
		return
	}
	s.log.Info("web: kiosk placed", "user", v.Name, "kiosk", id, "site", site, "ward", ward)
	http.Redirect(w, r, "/kiosks/"+url.PathEscape(id), http.StatusSeeOther)
}

// command turns a web request into a fleet command.
func command(name, message string, now time.Time) (fleet.Command, string, error) {
	c := fleet.Command{V: fleet.Version, ID: "c-" + uuid.Must(uuid.NewV7()).String(), IssuedAt: now.UTC(), ExpiresAt: now.Add(time.Hour).UTC()}
	args := ""
	switch name {
	case "maintenance-on", "maintenance-off":
		on := name == "maintenance-on"
		c.Name, c.On = fleet.CmdMaintenance, &on
		if on {
			c.Message = strings.TrimSpace(message)
			args = "on"
			if c.Message != "" {
				args += ": " + c.Message
			}
		} else {
			args = "off"
		}
	case "reboot":
		c.Name = fleet.CmdReboot
	case "identify":
		c.Name = fleet.CmdIdentify
	case "reload":
		c.Name = fleet.CmdReload
	default:
		return fleet.Command{}, "", fmt.Errorf("unknown command %q", name)
	}
	return c, args, c.Validate()
}

// send records a command, sends it and records whether it went; the kiosk's answer arrives later
// through ingest.
func (s *Server) send(r *http.Request, v viewer, kiosk, name, message string) (store.Command, int, error) {
	if _, ok, err := s.cfg.Store.Kiosk(r.Context(), kiosk); err != nil {
		return store.Command{}, http.StatusInternalServerError, err
	} else if !ok {
		return store.Command{}, http.StatusNotFound, fmt.Errorf("there is no kiosk %s", kiosk)
	}
	cmd, args, err := command(name, message, s.cfg.Now())
	if err != nil {
		return store.Command{}, http.StatusBadRequest, err
	}
	rec := store.Command{ID: cmd.ID, Kiosk: kiosk, Name: string(cmd.Name), Args: args, IssuedBy: v.Name, IssuedAt: cmd.IssuedAt,
		Status: store.CommandSending}
	if err := s.cfg.Store.AddCommand(r.Context(), rec); err != nil {
		return store.Command{}, http.StatusInternalServerError, err
	}
	rec.Status = store.CommandSent
	if err := s.cfg.Commands.Send(r.Context(), kiosk, cmd); err != nil {
		rec.Status, rec.Reason = store.CommandSendFailed, err.Error()
	}
	if err := s.cfg.Store.MarkCommand(r.Context(), rec.ID, rec.Status, rec.Reason); err != nil {
		return store.Command{}, http.StatusInternalServerError, err
	}
	s.log.Info("web: command sent", "user", v.Name, "kiosk", kiosk, "command", rec.Name, "id", rec.ID, "status", rec.Status)
	return rec, http.StatusAccepted, nil
}

func (s *Server) commandSubmit(w http.ResponseWriter, r *http.Request, v viewer) {
	id := r.PathValue("id")
	rec, code, err := s.send(r, v, id, r.PostFormValue("name"), r.PostFormValue("message"))
	if code == http.StatusInternalServerError {
		s.internal(w, r, v, err)
		return
	}
	if code == http.StatusNotFound {
		s.fail(w, r, v, code, err.Error())
		return
	}
	q := url.Values{}
	if err != nil {
		q.Set("error", err.Error())
	} else {
		q.Set("sent", rec.ID)
	}
	http.Redirect(w, r, "/kiosks/"+url.PathEscape(id)+"?"+q.Encode()+"#commands", http.StatusSeeOther)
}

func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request, v viewer) {
	alerts, err := s.cfg.Store.OpenAlerts(r.Context(), nil)
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	s.render(w, r, "alerts", v, map[string]any{"Title": "Alerts", "Alerts": alerts, "Refresh": true})
}
