// Package rollout puts a release on a fleet's kiosks in waves and halts itself on the first sign of
// trouble. A Rollout is a plain state machine: it is told what kiosks report (Report, Seen) and what
// time it is (Tick), and it answers with Effects (the kiosks to send the update to, a halt to alert
// about). Manager drives rollouts: it keeps them in a Store, sends commands through a Sender, raises
// alerts through an Alerter and writes every admin action to the audit log with who did it.
//
// Waves: a canary (Plan.Canary kiosks, or Plan.CanaryPercent of the target; by default one kiosk per
// site), then waves growing by Plan.Growth. A wave starts only when every kiosk of the one before that
// was sent the update has run the new version for Plan.Soak. A kiosk offline when its wave starts is
// sent the update when it is next seen.
//
// It must never send an update to a kiosk that runs a newer version than the release unless the
// rollout says so (Plan.AllowOlder), never start a wave while paused, halted or aborted, and never
// send anything to a kiosk outside its target.
package rollout

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"ssu-kiosk/provisioning/version"
)

// Release is a published, verified update bundle.
type Release struct {
	Version string `json:"version"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"` // lowercase hex of the bundle
	Signer  string `json:"signer"` // the signing certificate's subject
	URL     string `json:"url"`    // where kiosks download it (HTTPS, client certificates)
}

// Target selects kiosks: the whole fleet when every list is empty; otherwise a kiosk is in it when its
// site, its ward ("site/ward") or its id is listed.
type Target struct {
	Sites  []string `json:"sites,omitempty"`
	Wards  []string `json:"wards,omitempty"` // "site/ward"
	Kiosks []string `json:"kiosks,omitempty"`
}

// Has reports whether k is in the target.
func (t Target) Has(k Kiosk) bool {
	if len(t.Sites)+len(t.Wards)+len(t.Kiosks) == 0 {
		return true
	}
	return slices.Contains(t.Sites, k.Site) || slices.Contains(t.Wards, k.Site+"/"+k.Ward) || slices.Contains(t.Kiosks, k.ID)
}

// Plan says how a rollout proceeds; zero fields take the defaults.
type Plan struct {
	Canary        int           `json:"canary,omitempty"`         // kiosks in the canary wave; 0: one per site
	CanaryPercent float64       `json:"canary_percent,omitempty"` // or this share of the target (0-100)
	Growth        int           `json:"growth,omitempty"`         // each wave is this many times the one before; default 4
	Soak          time.Duration `json:"soak,omitempty"`           // healthy time before the next wave; default 30 min
	// OfflineBound: a kiosk that has not reported the new version running this long after it said it
	// was rebooting halts the rollout; default 20 min.
	OfflineBound time.Duration `json:"offline_bound,omitempty"`
	AllowOlder   bool          `json:"allow_older,omitempty"` // install even where the kiosk runs a newer version
	// ResendAfter: an online kiosk that has not started its download this long after it was sent the
	// update (the command was lost: a broker restart) is sent it again; default 15 min.
	ResendAfter time.Duration `json:"resend_after,omitempty"`
	// BusyHours: per site, "HH:MM-HH:MM" local to the kiosk, when its kiosks must not reboot into the
	// release (they install, then wait).
	BusyHours map[string]string `json:"busy_hours,omitempty"`
}

// Defaults.
const (
	DefaultGrowth       = 4
	DefaultSoak         = 30 * time.Minute
	DefaultOfflineBound = 20 * time.Minute
	DefaultResendAfter  = 15 * time.Minute
	MaxFailures         = 2 // install failures of one kiosk that halt a rollout
)

func (p Plan) withDefaults() Plan {
	if p.Growth < 2 {
		p.Growth = DefaultGrowth
	}
	if p.Soak <= 0 {
		p.Soak = DefaultSoak
	}
	if p.OfflineBound <= 0 {
		p.OfflineBound = DefaultOfflineBound
	}
	if p.ResendAfter <= 0 {
		p.ResendAfter = DefaultResendAfter
	}
	return p
}

// Kiosk is what the fleet server knows of a kiosk when a rollout is planned.
type Kiosk struct {
	ID, Site, Ward string
	Version        string // the version it runs
	Online         bool
}

// State is where a rollout is.
type State string

// Rollout states.
const (
	Running State = "running"
	Paused  State = "paused"  // by an admin
	Halted  State = "halted"  // by itself: a kiosk fell back, failed twice or stayed away after its reboot
	Aborted State = "aborted" // for good: kiosks not yet updated stay as they are
	Done    State = "done"
)

// Phase is where one kiosk is in a rollout.
type Phase string

// Kiosk phases.
const (
	Waiting     Phase = "waiting" // its wave has not started, or it was offline when it did
	Sent        Phase = "sent"
	Downloading Phase = "downloading"
	Installed   Phase = "installed"
	Rebooting   Phase = "rebooting"
	Updated     Phase = "running" // runs the release
	Failed      Phase = "failed"  // its latest attempt failed; it is sent again once
	FellBack    Phase = "fell-back"
	Skipped     Phase = "skipped" // already on the release, or on a newer one
)

// Progress is one kiosk's part of a rollout.
type Progress struct {
	ID       string    `json:"id"`
	Site     string    `json:"site"`
	Ward     string    `json:"ward"`
	Wave     int       `json:"wave"`
	Phase    Phase     `json:"phase"`
	From     string    `json:"from"` // the version it ran when planned
	Online   bool      `json:"online"`
	Attempts int       `json:"attempts"` // update commands sent
	Failures int       `json:"failures"`
	Reason   string    `json:"reason,omitempty"`
	Since    time.Time `json:"since"` // when it entered its phase
	// Conn is the highest connection counter seen in its status; RebootConn was Conn when it said it
	// was rebooting: only a birth on a later connection shows what it booted.
	Conn       uint64 `json:"conn,omitempty"`
	RebootConn uint64 `json:"reboot_conn,omitempty"`
}

// Rollout is a release going out to a target.
type Rollout struct {
	ID        string    `json:"id"`
	Release   Release   `json:"release"`
	Target    Target    `json:"target"`
	Plan      Plan      `json:"plan"`
	State     State     `json:"state"`
	Reason    string    `json:"reason,omitempty"` // why it halted
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// Previous is the version most of the target ran when planned: what a roll back goes back to.
	Previous    string               `json:"previous"`
	Wave        int                  `json:"wave"` // the wave under way (index into Waves)
	WaveStarted time.Time            `json:"wave_started"`
	Waves       [][]string           `json:"waves"`
	Kiosks      map[string]*Progress `json:"kiosks"`
	Halts       int                  `json:"halts,omitempty"` // times it halted itself
	HaltedAt    time.Time            `json:"halted_at,omitzero"`
	FinishedAt  time.Time            `json:"finished_at,omitzero"`
}

// Effects is what a rollout asks of its driver after a change.
type Effects struct {
	Send  []string // kiosks to send the update command to (their Attempts already counted)
	Halt  string   // non-empty: the rollout halted itself, for this reason (alert people)
	Kiosk string   // the kiosk that halted it
	Done  bool     // the rollout finished
}

func (e *Effects) merge(o Effects) {
	e.Send = append(e.Send, o.Send...)
	if o.Halt != "" {
		e.Halt, e.Kiosk = o.Halt, o.Kiosk
	}
	e.Done = e.Done || o.Done
}

// ErrNoKiosks: the target holds no kiosk that needs the release.
var ErrNoKiosks = errors.New("rollout: no kiosk in the target needs this release")

// New plans a rollout of rel to the kiosks of fleet in target, and starts its first wave at now.
func New(id string, rel Release, target Target, plan Plan, fleet []Kiosk, by string, now time.Time) (*Rollout, Effects, error) {
	if rel.Version == "" || rel.SHA256 == "" || rel.URL == "" {
		return nil, Effects{}, errors.New("rollout: release needs a version, a sha256 and a URL")
	}
	plan = plan.withDefaults()
	r := &Rollout{ID: id, Release: rel, Target: target, Plan: plan, State: Running, CreatedBy: by, CreatedAt: now,
		Kiosks: map[string]*Progress{}}
	var todo []Kiosk
	from := map[string]int{}
	for _, k := range fleet {
		if !target.Has(k) {
			continue
		}
		p := &Progress{ID: k.ID, Site: k.Site, Ward: k.Ward, Phase: Waiting, From: k.Version, Online: k.Online, Since: now, Wave: -1}
		r.Kiosks[k.ID] = p
		from[k.Version]++
		c := version.Compare(k.Version, rel.Version)
		if k.Version == rel.Version || c == 0 || (c > 0 && !plan.AllowOlder) {
			p.Phase, p.Reason = Skipped, "runs "+k.Version
			continue
		}
		todo = append(todo, k)
	}
	if len(todo) == 0 {
		return nil, Effects{}, ErrNoKiosks
	}
	for v, n := range from {
		if v != rel.Version && (n > from[r.Previous] || n == from[r.Previous] && version.Compare(v, r.Previous) > 0) {
			r.Previous = v
		}
	}
	r.Waves = plan.waves(todo)
	for i, w := range r.Waves {
		for _, id := range w {
			r.Kiosks[id].Wave = i
		}
	}
	return r, r.startWave(0, now), nil
}

// waves splits kiosks (sorted by id within each site) into a canary and growing waves.
func (p Plan) waves(ks []Kiosk) [][]string {
	slices.SortFunc(ks, func(a, b Kiosk) int { return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.ID, b.ID)) })
	// Canary first: spread over sites, one from each in turn.
	bySite := map[string][]string{}
	var sites []string
	for _, k := range ks {
		if _, ok := bySite[k.Site]; !ok {
			sites = append(sites, k.Site)
		}
		bySite[k.Site] = append(bySite[k.Site], k.ID)
	}
	var order []string // round robin over sites
	for i := 0; len(order) < len(ks); i++ {
		for _, s := range sites {
			if i < len(bySite[s]) {
				order = append(order, bySite[s][i])
			}
		}
	}
	canary := len(sites)
	switch {
	case p.Canary > 0:
		canary = p.Canary
	case p.CanaryPercent > 0:
		canary = int(math.Ceil(float64(len(ks)) * p.CanaryPercent / 100))
	}
	canary = max(1, min(canary, len(order)))
	waves := [][]string{order[:canary]}
	rest, size := order[canary:], canary
	for len(rest) > 0 {
		size *= p.Growth
		n := min(size, len(rest))
		waves = append(waves, rest[:n])
		rest = rest[n:]
	}
	return waves
}

func (r *Rollout) startWave(i int, now time.Time) Effects {
	r.Wave, r.WaveStarted = i, now
	var e Effects
	for _, id := range r.Waves[i] {
		p := r.Kiosks[id]
		if p.Phase == Waiting && p.Online {
			e.Send = append(e.Send, r.send(p, now))
		}
	}
	return e
}

func (r *Rollout) send(p *Progress, now time.Time) string {
	p.Attempts++
	p.Phase, p.Since, p.Reason = Sent, now, ""
	return p.ID
}

// CommandID is the id of the update command a kiosk is sent on its attempt'th try: unique, so the
// kiosk's replay protection never refuses a retry.
func (r *Rollout) CommandID(kiosk string) string {
	return fmt.Sprintf("ro-%s-%s-%d", r.ID, kiosk, r.Kiosks[kiosk].Attempts)
}

// active reports whether the rollout may send updates.
func (r *Rollout) active() bool { return r.State == Running }

// Step is what a kiosk reports about an update.
type Step string

// Update steps a kiosk reports.
const (
	StepDownloading Step = "downloading"
	StepInstalled   Step = "installed"
	StepRebooting   Step = "rebooting"
	StepRunning     Step = "running"   // Version says which
	StepFailed      Step = "failed"    // Reason says why
	StepFellBack    Step = "fell-back" // it booted the new slot and came back to the old one
)

// Report applies a kiosk's report about the update to release. Reports about another release are
// ignored, except a kiosk running a version that is not the release after it said it was rebooting,
// which fell back.
func (r *Rollout) Report(kiosk string, step Step, ver, reason string, now time.Time) Effects {
	p, ok := r.Kiosks[kiosk]
	if !ok || p.Phase == Skipped || p.Phase == Waiting && step != StepRunning {
		return Effects{}
	}
	p.Online = true
	switch step {
	case StepDownloading, StepInstalled, StepRebooting:
		if p.Phase == Updated || p.Phase == FellBack {
			return Effects{}
		}
		p.Phase, p.Since = Phase(step), now
		if step == StepRebooting {
			p.Phase, p.RebootConn = Rebooting, p.Conn
		}
	case StepRunning:
		switch {
		case ver == r.Release.Version:
			if p.Phase != Updated {
				p.Phase, p.Since, p.Reason = Updated, now, ""
			}
		case p.Phase == Rebooting:
			return r.fellBack(p, "came back on "+ver, now)
		}
	case StepFellBack:
		return r.fellBack(p, reason, now)
	case StepFailed:
		if p.Phase == Updated || p.Phase == FellBack {
			return Effects{}
		}
		p.Failures++
		p.Phase, p.Since, p.Reason = Failed, now, reason
		if p.Failures >= MaxFailures {
			return r.halt(p.ID, fmt.Sprintf("%s failed to install %d times: %s", p.ID, p.Failures, reason), now)
		}
		if r.active() {
			return Effects{Send: []string{r.send(p, now)}}
		}
	}
	return r.Tick(now)
}

func (r *Rollout) fellBack(p *Progress, reason string, now time.Time) Effects {
	if p.Phase == FellBack {
		return Effects{}
	}
	p.Phase, p.Since, p.Reason = FellBack, now, reason
	return r.halt(p.ID, p.ID+" fell back to the old slot: "+reason, now)
}

func (r *Rollout) halt(kiosk, reason string, now time.Time) Effects {
	if r.State != Running && r.State != Paused {
		return Effects{}
	}
	r.State, r.Reason, r.HaltedAt = Halted, reason, now
	r.Halts++
	return Effects{Halt: reason, Kiosk: kiosk}
}

// Seen applies a kiosk's status: online or not, the version it runs and its connection counter (0
// for a health report, which may have been sent before a reboot). A kiosk of a started wave that was
// offline is sent the update now. A kiosk that said it was rebooting and is born on a later connection
// with another version than the release fell back.
func (r *Rollout) Seen(kiosk string, online bool, ver string, conn uint64, now time.Time) Effects {
	p, ok := r.Kiosks[kiosk]
	if !ok {
		return Effects{}
	}
	if conn > 0 && conn < p.Conn {
		return Effects{} // a stale status, delivered late
	}
	p.Conn = max(p.Conn, conn)
	p.Online = online
	if !online {
		return Effects{}
	}
	if ver != "" && ver == r.Release.Version && p.Phase != Skipped {
		return r.Report(kiosk, StepRunning, ver, "", now)
	}
	if ver != "" && p.Phase == Rebooting && conn > p.RebootConn {
		return r.fellBack(p, "came back on "+ver, now)
	}
	if p.Phase == Waiting && p.Wave >= 0 && p.Wave <= r.Wave && r.active() {
		return Effects{Send: []string{r.send(p, now)}}
	}
	return Effects{}
}

// Tick checks the time: a kiosk silent too long after its reboot halts the rollout, and a wave whose
// kiosks have all run the release for the soak time starts the next.
func (r *Rollout) Tick(now time.Time) Effects {
	if r.State != Running {
		return Effects{}
	}
	var resend Effects
	for w := 0; w <= r.Wave; w++ {
		for _, id := range r.Waves[w] {
			p := r.Kiosks[id]
			if p.Phase == Rebooting && now.Sub(p.Since) > r.Plan.OfflineBound {
				return r.halt(id, fmt.Sprintf("%s has not come back on %s %v after its reboot", id, r.Release.Version, r.Plan.OfflineBound), now)
			}
			if p.Phase == Sent && p.Online && now.Sub(p.Since) > r.Plan.ResendAfter {
				resend.Send = append(resend.Send, r.send(p, now))
			}
		}
	}
	if len(resend.Send) > 0 || !r.waveSoaked(now) {
		return resend
	}
	if r.Wave+1 < len(r.Waves) {
		return r.startWave(r.Wave+1, now)
	}
	if r.allSettled() {
		r.State, r.FinishedAt = Done, now
		return Effects{Done: true}
	}
	return Effects{}
}

// waveSoaked: every kiosk of the wave that was sent the update has run the release for the soak time,
// and at least one has (a wave whose kiosks are all offline does not count as healthy). Kiosks still
// waiting (offline when the wave started) do not hold it up: they are sent the update when seen.
func (r *Rollout) waveSoaked(now time.Time) bool {
	healthy := 0
	for _, id := range r.Waves[r.Wave] {
		p := r.Kiosks[id]
		switch {
		case p.Phase == Waiting:
		case p.Phase == Updated && now.Sub(p.Since) >= r.Plan.Soak:
			healthy++
		default:
			return false
		}
	}
	return healthy > 0
}

// allSettled: every kiosk of the rollout runs the release or was skipped.
func (r *Rollout) allSettled() bool {
	for _, p := range r.Kiosks {
		if p.Phase != Updated && p.Phase != Skipped {
			return false
		}
	}
	return true
}

// Pause stops the rollout from sending anything until resumed.
func (r *Rollout) Pause(now time.Time) error {
	if r.State != Running {
		return fmt.Errorf("rollout %s is %s: only a running rollout can be paused", r.ID, r.State)
	}
	r.State = Paused
	return nil
}

// Resume restarts a paused or halted rollout: kiosks of the current wave that are waiting or whose
// attempt failed (once) are sent the update again.
func (r *Rollout) Resume(now time.Time) (Effects, error) {
	if r.State != Paused && r.State != Halted {
		return Effects{}, fmt.Errorf("rollout %s is %s: only a paused or halted rollout can be resumed", r.ID, r.State)
	}
	r.State, r.Reason = Running, ""
	var e Effects
	for w := 0; w <= r.Wave; w++ {
		for _, id := range r.Waves[w] {
			p := r.Kiosks[id]
			if p.Online && (p.Phase == Waiting || p.Phase == Failed && p.Failures < MaxFailures) {
				e.Send = append(e.Send, r.send(p, now))
			}
		}
	}
	e.merge(r.Tick(now))
	return e, nil
}

// Abort ends the rollout for good: nothing more is sent; kiosks not yet updated stay as they are.
func (r *Rollout) Abort(now time.Time) error {
	if r.State == Aborted || r.State == Done {
		return fmt.Errorf("rollout %s is already %s", r.ID, r.State)
	}
	r.State, r.FinishedAt = Aborted, now
	return nil
}

// Counts is how many kiosks of a rollout are in each phase.
func (r *Rollout) Counts() map[Phase]int {
	c := map[Phase]int{}
	for _, p := range r.Kiosks {
		c[p.Phase]++
	}
	return c
}

// Reached lists the kiosks that were sent the update (whatever became of it).
func (r *Rollout) Reached() []string {
	var ids []string
	for _, p := range r.Kiosks {
		if p.Attempts > 0 {
			ids = append(ids, p.ID)
		}
	}
	slices.Sort(ids)
	return ids
}
