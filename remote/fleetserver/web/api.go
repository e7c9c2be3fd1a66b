package web

import (
	"encoding/json"
	"net/http"
	"ssu-kiosk/remote/fleetserver/store"
	"time"
)

// The JSON API serves the same data as the pages, to the same accounts (the session cookie, and for
// POST the X-CSRF-Token header from GET /api/me).

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request, v viewer) {
	writeJSON(w, http.StatusOK, map[string]any{"name": v.Name, "role": v.Role, "sites": v.Sites, "csrf_token": v.CSRF})
}

func (s *Server) apiKiosks(w http.ResponseWriter, r *http.Request, v viewer) {
	kiosks, err := s.cfg.Store.Kiosks(r.Context(), kioskFilter(r))
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kiosks": kiosks})
}

func (s *Server) apiKiosk(w http.ResponseWriter, r *http.Request, v viewer) {
	d, ok := s.kioskDetail(w, r, v, "no such kiosk")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kiosk": d.kiosk, "health": d.health, "commands": d.commands, "alerts": d.alerts})
}

// kioskDetail is what a kiosk's page and its API answer show: the kiosk, its last day of health
// reports, its recent commands and its alerts.
type kioskDetail struct {
	kiosk    store.Kiosk
	health   []store.HealthSample
	commands []store.Command
	alerts   []store.Alert
}

// kioskDetail loads the kiosk named in the path. When it cannot (no such kiosk, a store error) it has
// answered the request already and ok is false.
func (s *Server) kioskDetail(w http.ResponseWriter, r *http.Request, v viewer, notFound string) (d kioskDetail, ok bool) {
	id := r.PathValue("id")
	var err error
	d.kiosk, ok, err = s.cfg.Store.Kiosk(r.Context(), id)
	if err == nil && !ok {
		s.fail(w, r, v, http.StatusNotFound, notFound)
		return d, false
	}
	if err == nil {
		d.health, err = s.cfg.Store.HealthHistory(r.Context(), id, s.cfg.Now().Add(-24*time.Hour), 400)
	}
	if err == nil {
		d.commands, err = s.cfg.Store.Commands(r.Context(), id, 30)
	}
	if err == nil {
		d.alerts, err = s.cfg.Store.KioskAlerts(r.Context(), id, 20)
	}
	if err != nil {
		s.internal(w, r, v, err)
		return d, false
	}
	return d, true
}

func (s *Server) apiCommand(w http.ResponseWriter, r *http.Request, v viewer) {
	var body struct {
		Name    string `json:"name"` // maintenance-on, maintenance-off, reboot, identify, reload
		Message string `json:"message"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		s.fail(w, r, v, http.StatusBadRequest, "the body must be JSON: {\"name\": …, \"message\": …}")
		return
	}
	rec, code, err := s.send(r, v, r.PathValue("id"), body.Name, body.Message)
	if code == http.StatusInternalServerError {
		s.internal(w, r, v, err)
		return
	}
	if err != nil {
		s.fail(w, r, v, code, err.Error())
		return
	}
	writeJSON(w, code, rec)
}

func (s *Server) apiAlerts(w http.ResponseWriter, r *http.Request, v viewer) {
	alerts, err := s.cfg.Store.OpenAlerts(r.Context(), nil)
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": alerts})
}

func (s *Server) apiReport(w http.ResponseWriter, r *http.Request, v viewer) {
	rep, _, ok := s.report(w, r, v)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"report": rep, "tables": rep.Tables()})
}
