package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

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
}

func (s *Server) apiStartRollout(w http.ResponseWriter, r *http.Request, v viewer) {
	var req startRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		s.fail(w, r, v, http.StatusBadRequest, "the body must be JSON: {\"version\": …, \"sites\": […], \"soak\": \"30m\", …}")
		return
	}
	plan := rollout.Plan{Canary: req.Canary, CanaryPercent: req.CanaryPercent, Growth: req.Growth, AllowOlder: req.AllowOlder}
	for _, d := range []struct {
		text string
		to   *time.Duration
	}{{req.Soak, &plan.Soak}, {req.OfflineBound, &plan.OfflineBound}} {
		if d.text == "" {
			continue
		}
		dur, err := time.ParseDuration(d.text)
		if err != nil || dur <= 0 {
			s.fail(w, r, v, http.StatusBadRequest, "soak and offline_bound are durations such as \"30m\"")
			return
		}
		*d.to = dur
	}
	if plan.CanaryPercent < 0 || plan.CanaryPercent > 100 || plan.Canary < 0 {
		s.fail(w, r, v, http.StatusBadRequest, "canary must be a number of kiosks or canary_percent 0-100")
		return
	}
	rel, ok, err := s.cfg.Releases.Release(r.Context(), req.Version)
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	if !ok {
		s.fail(w, r, v, http.StatusNotFound, "no published release has that version")
		return
	}
	ro, err := s.cfg.Rollouts.Start(r.Context(), v.Name, rel, rollout.Target{Sites: req.Sites, Wards: req.Wards, Kiosks: req.Kiosks}, plan)
	if errors.Is(err, rollout.ErrBusy) || errors.Is(err, rollout.ErrNoKiosks) {
		s.fail(w, r, v, http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	writeJSON(w, http.StatusCreated, summary(ro))
}

func (s *Server) apiRolloutAction(w http.ResponseWriter, r *http.Request, v viewer) {
	id, action := r.PathValue("id"), r.PathValue("action")
	var err error
	var started rollout.Rollout
	switch action {
	case "pause":
		err = s.cfg.Rollouts.Pause(r.Context(), v.Name, id)
	case "resume":
		err = s.cfg.Rollouts.Resume(r.Context(), v.Name, id)
	case "abort":
		err = s.cfg.Rollouts.Abort(r.Context(), v.Name, id)
	case "rollback":
		started, err = s.cfg.Rollouts.Rollback(r.Context(), v.Name, id)
	default:
		s.fail(w, r, v, http.StatusNotFound, "actions: pause, resume, abort, rollback")
		return
	}
	if errors.Is(err, rollout.ErrNotFound) {
		s.fail(w, r, v, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		s.fail(w, r, v, http.StatusConflict, err.Error())
		return
	}
	if action == "rollback" {
		writeJSON(w, http.StatusCreated, summary(started))
		return
	}
	ro, _ := s.cfg.Rollouts.Get(id)
	writeJSON(w, http.StatusOK, summary(ro))
}
