package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleetserver/releases"
	"ssu-kiosk/remote/fleetserver/rollout"
	"ssu-kiosk/remote/fleetserver/store"
)

// ReleaseAdmin publishes and lists releases; *releases.Catalog implements it.
type ReleaseAdmin interface {
	Publish(ctx context.Context, who string, r io.Reader) (store.StoredRelease, error)
	List(ctx context.Context) ([]store.StoredRelease, error)
	Release(ctx context.Context, version string) (rollout.Release, bool, error)
}

// RolloutAdmin starts and steers rollouts; *rollout.Manager implements it.
type RolloutAdmin interface {
	Start(ctx context.Context, who string, rel rollout.Release, target rollout.Target, plan rollout.Plan) (rollout.Rollout, error)
	Pause(ctx context.Context, who, id string) error
	Resume(ctx context.Context, who, id string) error
	Abort(ctx context.Context, who, id string) error
	Rollback(ctx context.Context, who, id string) (rollout.Rollout, error)
	List() []rollout.Rollout
	Get(id string) (rollout.Rollout, bool)
}

// rolloutRoutes adds the releases and rollouts API, for IT admins only.
func (s *Server) rolloutRoutes() {
	admin := []string{RoleITAdmin}
	s.route("GET /api/releases", admin, s.apiReleases)
	s.route("POST /api/releases", admin, s.apiPublish)
	s.route("GET /api/rollouts", admin, s.apiRollouts)
	s.route("GET /api/rollouts/{id}", admin, s.apiRollout)
	s.route("POST /api/rollouts", admin, s.apiStartRollout)
	s.route("POST /api/rollouts/{id}/{action}", admin, s.apiRolloutAction)
	s.route("GET /releases", admin, s.releasesPage)
	s.route("POST /releases", admin, s.publishSubmit)
	s.route("POST /rollouts", admin, s.startSubmit)
	s.route("POST /rollouts/{id}/{action}", admin, s.rolloutActionSubmit)
}

// releasesPage lists releases (with how many kiosks run each) and rollouts, with the forms to
// publish, start and steer them.
func (s *Server) releasesPage(w http.ResponseWriter, r *http.Request, v viewer) {
	rels, err := s.cfg.Releases.List(r.Context())
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	kiosks, err := s.cfg.Store.Kiosks(r.Context(), store.KioskFilter{})
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	running := map[string]int{}
	for _, k := range kiosks {
		running[k.AppVersion]++
	}
	var ros []rolloutSummary
	for _, ro := range s.cfg.Rollouts.List() {
		ros = append(ros, summary(ro))
	}
	s.render(w, r, "releases", v, map[string]any{"Title": "Releases", "Releases": rels, "Running": running, "Rollouts": ros,
		"Actions": []string{"pause", "resume", "abort", "rollback"}})
}

func (s *Server) publishSubmit(w http.ResponseWriter, r *http.Request, v viewer) {
	f, _, err := r.FormFile("bundle")
	if err != nil {
		s.fail(w, r, v, http.StatusBadRequest, "Choose a bundle file to publish.")
		return
	}
	defer f.Close()
	_, err = s.cfg.Releases.Publish(r.Context(), v.Name, f)
	switch {
	case errors.Is(err, releases.ErrRefused), errors.Is(err, releases.ErrExists):
		s.fail(w, r, v, http.StatusUnprocessableEntity, err.Error())
	case err != nil:
		s.internal(w, r, v, err)
	default:
		http.Redirect(w, r, "/releases", http.StatusSeeOther)
	}
}

func (s *Server) startSubmit(w http.ResponseWriter, r *http.Request, v viewer) {
	req := startRequest{Version: r.PostFormValue("version"), Soak: r.PostFormValue("soak")}
	for _, site := range strings.Split(r.PostFormValue("sites"), ",") {
		if site = strings.TrimSpace(site); site != "" {
			req.Sites = append(req.Sites, site)
		}
	}
	if c := strings.TrimSpace(r.PostFormValue("canary")); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			s.fail(w, r, v, http.StatusBadRequest, "The canary is a number of kiosks.")
			return
		}
		req.Canary = n
	}
	if _, code, err := s.startRollout(r.Context(), v, req); err != nil {
		if code == http.StatusInternalServerError {
			s.internal(w, r, v, err)
		} else {
			s.fail(w, r, v, code, err.Error())
		}
		return
	}
	http.Redirect(w, r, "/releases", http.StatusSeeOther)
}

func (s *Server) rolloutActionSubmit(w http.ResponseWriter, r *http.Request, v viewer) {
	if _, code, err := s.rolloutAction(r.Context(), v, r.PathValue("id"), r.PathValue("action")); err != nil {
		s.fail(w, r, v, code, err.Error())
		return
	}
	http.Redirect(w, r, "/releases", http.StatusSeeOther)
}

func (s *Server) apiReleases(w http.ResponseWriter, r *http.Request, v viewer) {
	rels, err := s.cfg.Releases.List(r.Context())
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"releases": rels})
}

// apiPublish takes a bundle as the request body (application/octet-stream).
func (s *Server) apiPublish(w http.ResponseWriter, r *http.Request, v viewer) {
	rel, err := s.cfg.Releases.Publish(r.Context(), v.Name, r.Body)
	switch {
	case errors.Is(err, releases.ErrRefused):
		s.fail(w, r, v, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, releases.ErrExists):
		s.fail(w, r, v, http.StatusConflict, err.Error())
	case err != nil:
		s.internal(w, r, v, err)
	default:
		s.log.Info("web: release published", "user", v.Name, "version", rel.Version, "sha256", rel.SHA256)
		writeJSON(w, http.StatusCreated, rel)
	}
}

// rolloutSummary is a rollout without its per-kiosk detail.
type rolloutSummary struct {
	ID        string                `json:"id"`
	Version   string                `json:"version"`
	State     rollout.State         `json:"state"`
	Reason    string                `json:"reason,omitempty"`
	Wave      int                   `json:"wave"` // 1-based
	Waves     int                   `json:"waves"`
	Counts    map[rollout.Phase]int `json:"counts"`
	CreatedBy string                `json:"created_by"`
	CreatedAt time.Time             `json:"created_at"`
}

func summary(ro rollout.Rollout) rolloutSummary {
	return rolloutSummary{ID: ro.ID, Version: ro.Release.Version, State: ro.State, Reason: ro.Reason, Wave: ro.Wave + 1,
		Waves: len(ro.Waves), Counts: ro.Counts(), CreatedBy: ro.CreatedBy, CreatedAt: ro.CreatedAt}
}

func (s *Server) apiRollouts(w http.ResponseWriter, r *http.Request, v viewer) {
	var out []rolloutSummary
	for _, ro := range s.cfg.Rollouts.List() {
		out = append(out, summary(ro))
	}
	writeJSON(w, http.StatusOK, map[string]any{"rollouts": out})
}

func (s *Server) apiRollout(w http.ResponseWriter, r *http.Request, v viewer) {
	ro, ok := s.cfg.Rollouts.Get(r.PathValue("id"))
	if !ok {
		s.fail(w, r, v, http.StatusNotFound, "no such rollout")
		return
	}
	writeJSON(w, http.StatusOK, ro)
}

// startRequest is the body of POST /api/rollouts.
type startRequest struct {
	Version       string   `json:"version"`
	Sites         []string `json:"sites"`
	Wards         []string `json:"wards"` // "site/ward"
	Kiosks        []string `json:"kiosks"`
	Canary        int      `json:"canary"`
	CanaryPercent float64  `json:"canary_percent"`
	Growth        int      `json:"growth"`
	Soak          string   `json:"soak"`          // e.g. "30m"; default 30 min
	OfflineBound  string   `json:"offline_bound"` // e.g. "20m"
	AllowOlder    bool     `json:"allow_older"`
	// BusyHours: per site, "HH:MM-HH:MM" when its kiosks must not reboot into the release.
	BusyHours map[string]string `json:"busy_hours"`
}

func (s *Server) apiStartRollout(w http.ResponseWriter, r *http.Request, v viewer) {
	var req startRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		s.fail(w, r, v, http.StatusBadRequest, "the body must be JSON: {\"version\": …, \"sites\": […], \"soak\": \"30m\", …}")
		return
	}
	ro, code, err := s.startRollout(r.Context(), v, req)
	if code == http.StatusInternalServerError {
		s.internal(w, r, v, err)
		return
	}
	if err != nil {
		s.fail(w, r, v, code, err.Error())
		return
	}
	writeJSON(w, code, summary(ro))
}

// startRollout starts a rollout as v asked; the code is the HTTP status to answer with.
func (s *Server) startRollout(ctx context.Context, v viewer, req startRequest) (rollout.Rollout, int, error) {
	plan := rollout.Plan{Canary: req.Canary, CanaryPercent: req.CanaryPercent, Growth: req.Growth, AllowOlder: req.AllowOlder,
		BusyHours: req.BusyHours}
	for site, w := range req.BusyHours {
		if _, _, err := fleet.ParseBusyHours(w); err != nil {
			return rollout.Rollout{}, http.StatusBadRequest, fmt.Errorf("busy hours of %s: %w", site, err)
		}
	}
	for _, d := range []struct {
		text string
		to   *time.Duration
	}{{req.Soak, &plan.Soak}, {req.OfflineBound, &plan.OfflineBound}} {
		if d.text == "" {
			continue
		}
		dur, err := time.ParseDuration(d.text)
		if err != nil || dur <= 0 {
			return rollout.Rollout{}, http.StatusBadRequest, errors.New("soak and offline_bound are durations such as \"30m\"")
		}
		*d.to = dur
	}
	if plan.CanaryPercent < 0 || plan.CanaryPercent > 100 || plan.Canary < 0 {
		return rollout.Rollout{}, http.StatusBadRequest, errors.New("canary must be a number of kiosks or canary_percent 0-100")
	}
	rel, ok, err := s.cfg.Releases.Release(ctx, req.Version)
	if err != nil {
		return rollout.Rollout{}, http.StatusInternalServerError, err
	}
	if !ok {
		return rollout.Rollout{}, http.StatusNotFound, errors.New("no published release has that version")
	}
	ro, err := s.cfg.Rollouts.Start(ctx, v.Name, rel, rollout.Target{Sites: req.Sites, Wards: req.Wards, Kiosks: req.Kiosks}, plan)
	if errors.Is(err, rollout.ErrBusy) || errors.Is(err, rollout.ErrNoKiosks) {
		return ro, http.StatusConflict, err
	}
	if err != nil {
		return ro, http.StatusInternalServerError, err
	}
	return ro, http.StatusCreated, nil
}

func (s *Server) apiRolloutAction(w http.ResponseWriter, r *http.Request, v viewer) {
	ro, code, err := s.rolloutAction(r.Context(), v, r.PathValue("id"), r.PathValue("action"))
	if err != nil {
		s.fail(w, r, v, code, err.Error())
		return
	}
	writeJSON(w, code, summary(ro))
}

// rolloutAction pauses, resumes, aborts or rolls back a rollout as v asked; it returns the rollout
// (the new one for a roll back) and the HTTP status to answer with.
func (s *Server) rolloutAction(ctx context.Context, v viewer, id, action string) (rollout.Rollout, int, error) {
	var err error
	var started rollout.Rollout
	switch action {
	case "pause":
		err = s.cfg.Rollouts.Pause(ctx, v.Name, id)
	case "resume":
		err = s.cfg.Rollouts.Resume(ctx, v.Name, id)
	case "abort":
		err = s.cfg.Rollouts.Abort(ctx, v.Name, id)
	case "rollback":
		started, err = s.cfg.Rollouts.Rollback(ctx, v.Name, id)
	default:
		return rollout.Rollout{}, http.StatusNotFound, errors.New("actions: pause, resume, abort, rollback")
	}
	if errors.Is(err, rollout.ErrNotFound) {
		return rollout.Rollout{}, http.StatusNotFound, err
	}
	if err != nil {
		return rollout.Rollout{}, http.StatusConflict, err
	}
	if action == "rollback" {
		return started, http.StatusCreated, nil
	}
	ro, _ := s.cfg.Rollouts.Get(id)
	return ro, http.StatusOK, nil
}
