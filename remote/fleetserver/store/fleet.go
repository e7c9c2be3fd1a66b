package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"ssu-kiosk/remote/fleet"
)

// Kiosk is what the dashboard shows of a kiosk: where it is, whether it is online and since when, and
// its latest health report.
type Kiosk struct {
	ID         string    `json:"id"`
	Site       string    `json:"site"`
	Ward       string    `json:"ward"`
	Registered time.Time `json:"registered"`
	// Unregistered: the kiosk has no site yet (its enrolment is unknown here, or registration is
	// manual). Its messages are stored; its sessions count in no site's report until it is placed.
	Unregistered bool `json:"unregistered"`

	Known  bool      `json:"known"`  // a status has been received
	Online bool      `json:"online"` // its latest status says online
	Since  time.Time `json:"since"`  // online or offline since
	Conn   uint64    `json:"conn"`

	LastHealth    time.Time `json:"last_health"` // zero: no health report yet
	Reader        string    `json:"reader"`
	PCSCD         string    `json:"pcscd"`
	IdentityOK    bool      `json:"identity_ok"`
	AppVersion    string    `json:"app_version"`
	ConfigVersion string    `json:"config_version"`
	OutboxDepth   int       `json:"outbox_depth"`
	OutboxDropped int64     `json:"outbox_dropped"` // events the kiosk's outbox discarded at its bound, ever
	OutboxLost    int64     `json:"outbox_lost"`    // events it could not write (disk full…) since the kiosk started
	OutboxFull    bool      `json:"outbox_full"`    // its latest write failed for lack of space
	Maintenance   bool      `json:"maintenance"`
	CertExpiry    time.Time `json:"cert_expiry"`
	DiskFree      int64     `json:"disk_free"`
	UptimeS       int64     `json:"uptime_s"`
	// FallbackFailed and FallbackRunning: its latest health says it fell back from FallbackFailed and
	// runs FallbackRunning again; "" otherwise.
	FallbackFailed  string `json:"fallback_failed,omitempty"`
	FallbackRunning string `json:"fallback_running,omitempty"`

	OpenAlerts int `json:"open_alerts"`
}

// KioskFilter selects kiosks. Empty fields select everything; Sites, when not nil, limits the answer
// to those sites (an RA's).
type KioskFilter struct {
	Site, Ward string
	Sites      []string
}

const kioskColumns = `k.id, k.site, k.ward, k.registered_at,
	COALESCE(st.online, 0), COALESCE(st.since, 0), COALESCE(st.conn, -1), COALESCE(st.app_version, ''),
	COALESCE(h.at, 0), COALESCE(h.reader, ''), COALESCE(h.pcscd, ''), COALESCE(h.identity_ok, 0), COALESCE(h.app_version, ''),
	COALESCE(h.config, ''), COALESCE(h.outbox_depth, 0), COALESCE(h.maintenance, 0), COALESCE(h.cert_expiry, 0),
	COALESCE(h.disk_free, 0), COALESCE(h.uptime_s, 0),
	COALESCE(h.outbox_dropped, 0), COALESCE(h.outbox_lost, 0), COALESCE(h.outbox_full, 0),
	COALESCE(h.fallback_failed, ''), COALESCE(h.fallback_running, ''),
	(SELECT COUNT(*) FROM alerts a WHERE a.kiosk = k.id AND a.cleared_at = 0)
	FROM kiosks k
	LEFT JOIN kiosk_status st ON st.kiosk = k.id
	LEFT JOIN health h ON h.kiosk = k.id AND h.at = (SELECT MAX(at) FROM health h2 WHERE h2.kiosk = k.id)`

func scanKiosk(sc interface{ Scan(...any) error }) (Kiosk, error) {
	var k Kiosk
	var reg, since, conn, hat, cert int64
	var online, idOK, maint, full int
	var statusVersion, healthVersion string
	err := sc.Scan(&k.ID, &k.Site, &k.Ward, &reg, &online, &since, &conn, &statusVersion, &hat, &k.Reader, &k.PCSCD, &idOK,
		&healthVersion, &k.ConfigVersion, &k.OutboxDepth, &maint, &cert, &k.DiskFree, &k.UptimeS,
		&k.OutboxDropped, &k.OutboxLost, &full, &k.FallbackFailed, &k.FallbackRunning, &k.OpenAlerts)
	if err != nil {
		return Kiosk{}, err
	}
	k.Registered, k.Since, k.LastHealth, k.CertExpiry = fromMS(reg), fromMS(since), fromMS(hat), fromMS(cert)
	k.Unregistered = k.Site == ""
	k.OutboxFull = full == 1
	k.Known, k.Online, k.IdentityOK, k.Maintenance = conn >= 0, online == 1, idOK == 1, maint == 1
	if conn >= 0 {
		k.Conn = uint64(conn)
	}
	k.AppVersion = healthVersion
	if k.AppVersion == "" {
		k.AppVersion = statusVersion
	}
	return k, nil
}

// placeholders returns "?, ?, …" for n values.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// Kiosks returns the kiosks f selects, by id.
func (s *Store) Kiosks(ctx context.Context, f KioskFilter) ([]Kiosk, error) {
	where, args := []string{"1 = 1"}, []any{}
	if f.Site != "" {
		where, args = append(where, "k.site = ?"), append(args, f.Site)
	}
	if f.Ward != "" {
		where, args = append(where, "k.ward = ?"), append(args, f.Ward)
	}
	if f.Sites != nil {
		if len(f.Sites) == 0 {
			return nil, nil
		}
		where = append(where, "k.site IN ("+placeholders(len(f.Sites))+")")
		for _, site := range f.Sites {
			args = append(args, site)
		}
	}
	rows, err := s.query(ctx, "SELECT "+kioskColumns+" WHERE "+strings.Join(where, " AND ")+" ORDER BY k.id", args...)
	if err != nil {
		return nil, fmt.Errorf("kiosks: %w", err)
	}
	defer rows.Close()
	var out []Kiosk
	for rows.Next() {
		k, err := scanKiosk(rows)
		if err != nil {
			return nil, fmt.Errorf("kiosks: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// Kiosk returns one kiosk; false when it is not registered.
func (s *Store) Kiosk(ctx context.Context, id string) (Kiosk, bool, error) {
	k, err := scanKiosk(s.queryRow(ctx, "SELECT "+kioskColumns+" WHERE k.id = ?", id))
	if err == sql.ErrNoRows {
		return Kiosk{}, false, nil
	}
	if err != nil {
		return Kiosk{}, false, fmt.Errorf("kiosk %s: %w", id, err)
	}
	return k, true, nil
}

// AddKiosk registers a kiosk (or moves a registered one).
func (s *Store) AddKiosk(ctx context.Context, id, site, ward string) error {
	if err := fleet.ValidKioskID(id); err != nil {
		return fmt.Errorf("add kiosk: %w", err)
	}
	_, err := s.exec(ctx, `INSERT INTO kiosks (id, site, ward, registered_at, placed_by) VALUES (?, ?, ?, ?, 'admin')
		ON CONFLICT (id) DO UPDATE SET site = excluded.site, ward = excluded.ward, placed_by = excluded.placed_by`, id, site, ward, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("add kiosk %s: %w", id, err)
	}
	s.mu.Lock()
	s.places[id] = cachedPlace{place{site, ward}, time.Now()}
	s.mu.Unlock()
	return nil
}

// PlaceKiosk is an IT admin's word on where a kiosk belongs: it registers the kiosk there (or moves
// it). Site and ward are fleet place tokens (fleet.PlaceToken). What the kiosk reported while it was
// unregistered (no site) moves with it into the place, so its sessions count in that site's reports;
// what it reported at an earlier place stays there.
func (s *Store) PlaceKiosk(ctx context.Context, id, site, ward string) error {
	if err := fleet.ValidKioskID(id); err != nil {
		return fmt.Errorf("place kiosk: %w", err)
	}
	for _, v := range []string{site, ward} {
		if t, err := fleet.PlaceToken(v); err != nil || t != v {
			return fmt.Errorf("place kiosk %s: %q is not a place token (a-z, 0-9 and dashes)", id, v)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("place kiosk %s: %w", id, err)
	}
	defer tx.Rollback()
	exec := func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, s.q(q), args...)
		return err
	}
	err = exec(`INSERT INTO kiosks (id, site, ward, registered_at, placed_by) VALUES (?, ?, ?, ?, 'admin')
		ON CONFLICT (id) DO UPDATE SET site = excluded.site, ward = excluded.ward, placed_by = excluded.placed_by`, id, site, ward, time.Now().UnixMilli())
	if err == nil {
		err = exec(`UPDATE events SET site = ?, ward = ? WHERE kiosk = ? AND site = ''`, site, ward, id)
	}
	if err == nil {
		err = exec(`UPDATE sessions SET site = ?, ward = ? WHERE kiosk = ? AND site = ''`, site, ward, id)
	}
	if err == nil {
		// Daily usage is keyed by place: add the unregistered rows to the place's, then drop them.
		cols := strings.Join(usageColumns[4:], ", ")
		err = exec(`INSERT INTO daily_usage (`+strings.Join(usageColumns, ", ")+`)
			SELECT day, kiosk, ?, ?, `+cols+` FROM daily_usage WHERE kiosk = ? AND site = '' `+usageConflict, site, ward, id)
	}
	if err == nil {
		err = exec(`DELETE FROM daily_usage WHERE kiosk = ? AND site = ''`, id)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("place kiosk %s: %w", id, err)
	}
	s.mu.Lock()
	s.places[id] = cachedPlace{place{site, ward}, time.Now()}
	s.mu.Unlock()
	return nil
}

// Place is a site and ward with kiosks.
type Place struct{ Site, Ward string }

// Places returns every site and ward that has registered kiosks, sorted (unregistered kiosks have none).
func (s *Store) Places(ctx context.Context) ([]Place, error) {
	rows, err := s.query(ctx, `SELECT DISTINCT site, ward FROM kiosks WHERE site <> '' ORDER BY site, ward`)
	if err != nil {
		return nil, fmt.Errorf("places: %w", err)
	}
	defer rows.Close()
	var out []Place
	for rows.Next() {
		var p Place
		if err := rows.Scan(&p.Site, &p.Ward); err != nil {
			return nil, fmt.Errorf("places: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// HealthSample is one health report, as kept in a kiosk's history.
type HealthSample struct {
	At          time.Time `json:"at"`
	Reader      string    `json:"reader"`
	PCSCD       string    `json:"pcscd"`
	IdentityOK  bool      `json:"identity_ok"`
	OutboxDepth int       `json:"outbox_depth"`
	Maintenance bool      `json:"maintenance"`
	AppVersion  string    `json:"app_version"`
	Config      string    `json:"config"`
}

// HealthHistory returns a kiosk's health reports since a time, newest first, at most limit.
func (s *Store) HealthHistory(ctx context.Context, kiosk string, since time.Time, limit int) ([]HealthSample, error) {
	rows, err := s.query(ctx, `SELECT at, reader, pcscd, identity_ok, outbox_depth, maintenance, app_version, config
		FROM health WHERE kiosk = ? AND at >= ? ORDER BY at DESC LIMIT ?`, kiosk, ms(since), limit)
	if err != nil {
		return nil, fmt.Errorf("health history of %s: %w", kiosk, err)
	}
	defer rows.Close()
	var out []HealthSample
	for rows.Next() {
		var h HealthSample
		var at int64
		var idOK, maint int
		if err := rows.Scan(&at, &h.Reader, &h.PCSCD, &idOK, &h.OutboxDepth, &maint, &h.AppVersion, &h.Config); err != nil {
			return nil, fmt.Errorf("health history of %s: %w", kiosk, err)
		}
		h.At, h.IdentityOK, h.Maintenance = fromMS(at), idOK == 1, maint == 1
		out = append(out, h)
	}
	return out, rows.Err()
}

// PruneHealth deletes health reports older than a time; it returns how many.
func (s *Store) PruneHealth(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM health WHERE at < ?`, ms(before))
	if err != nil {
		return 0, fmt.Errorf("prune health: %w", err)
	}
	return res.RowsAffected()
}

// ErrorCounts returns, per kiosk, how many error events happened since a time.
func (s *Store) ErrorCounts(ctx context.Context, since time.Time) (map[string]int, error) {
	rows, err := s.query(ctx, `SELECT kiosk, COUNT(*) FROM events WHERE kind = 'error' AND at >= ? GROUP BY kiosk`, ms(since))
	if err != nil {
		return nil, fmt.Errorf("error counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("error counts: %w", err)
		}
		out[k] = n
	}
	return out, rows.Err()
}

// OnlineCount returns how many registered kiosks are online.
func (s *Store) OnlineCount(ctx context.Context) (online, total int, err error) {
	err = s.queryRow(ctx, `SELECT COALESCE(SUM(COALESCE(st.online, 0)), 0), COUNT(*) FROM kiosks k LEFT JOIN kiosk_status st ON st.kiosk = k.id`).Scan(&online, &total)
	if err != nil {
		return 0, 0, fmt.Errorf("online count: %w", err)
	}
	return online, total, nil
}

// Command is a command sent to a kiosk and how it ended.
type Command struct {
	ID       string    `json:"id"`
	Kiosk    string    `json:"kiosk"`
	Name     string    `json:"name"`
	Args     string    `json:"args"`      // what else the command said, for people (e.g. "on: maintenance window")
	IssuedBy string    `json:"issued_by"` // the user who sent it
	IssuedAt time.Time `json:"issued_at"`
	Status   string    `json:"status"` // "sending", "sent", "send-failed", then the kiosk's answer: ok, deferred, refused, failed
	Reason   string    `json:"reason"`
	ResultAt time.Time `json:"result_at"`
}

// Command statuses before a kiosk answers.
const (
	CommandSending    = "sending"
	CommandSent       = "sent"
	CommandSendFailed = "send-failed"
)

// AddCommand records a command about to be sent.
func (s *Store) AddCommand(ctx context.Context, c Command) error {
	_, err := s.exec(ctx, `INSERT INTO commands (id, kiosk, name, args, issued_by, issued_at, status, reason, result_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`,
		c.ID, c.Kiosk, c.Name, c.Args, c.IssuedBy, ms(c.IssuedAt), c.Status, c.Reason)
	if err != nil {
		return fmt.Errorf("add command %s: %w", c.ID, err)
	}
	return nil
}

// MarkCommand sets a command's status before the kiosk has answered (sent, send-failed).
func (s *Store) MarkCommand(ctx context.Context, id, status, reason string) error {
	_, err := s.exec(ctx, `UPDATE commands SET status = ?, reason = ? WHERE id = ? AND result_at = 0`, status, reason, id)
	if err != nil {
		return fmt.Errorf("mark command %s: %w", id, err)
	}
	return nil
}

const commandColumns = `id, kiosk, name, args, issued_by, issued_at, status, reason, result_at`

func scanCommand(sc interface{ Scan(...any) error }) (Command, error) {
	var c Command
	var issued, result int64
	if err := sc.Scan(&c.ID, &c.Kiosk, &c.Name, &c.Args, &c.IssuedBy, &issued, &c.Status, &c.Reason, &result); err != nil {
		return Command{}, err
	}
	c.IssuedAt, c.ResultAt = fromMS(issued), fromMS(result)
	return c, nil
}

// Commands returns a kiosk's latest commands, newest first.
func (s *Store) Commands(ctx context.Context, kiosk string, limit int) ([]Command, error) {
	rows, err := s.query(ctx, `SELECT `+commandColumns+` FROM commands WHERE kiosk = ? ORDER BY issued_at DESC, id DESC LIMIT ?`, kiosk, limit)
	if err != nil {
		return nil, fmt.Errorf("commands of %s: %w", kiosk, err)
	}
	defer rows.Close()
	var out []Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, fmt.Errorf("commands of %s: %w", kiosk, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Command returns one command.
func (s *Store) Command(ctx context.Context, id string) (Command, bool, error) {
	c, err := scanCommand(s.queryRow(ctx, `SELECT `+commandColumns+` FROM commands WHERE id = ?`, id))
	if err == sql.ErrNoRows {
		return Command{}, false, nil
	}
	if err != nil {
		return Command{}, false, fmt.Errorf("command %s: %w", id, err)
	}
	return c, true, nil
}

// Alert is a condition on a kiosk that people should act on; it is open until ClearedAt is set.
type Alert struct {
	ID        int64     `json:"id"`
	Kiosk     string    `json:"kiosk"`
	Kind      string    `json:"kind"`
	Detail    string    `json:"detail"`
	OpenedAt  time.Time `json:"opened_at"`
	ClearedAt time.Time `json:"cleared_at"`
	Notified  bool      `json:"notified"`
}

const alertColumns = `id, kiosk, kind, detail, opened_at, cleared_at, notified`

func scanAlert(sc interface{ Scan(...any) error }) (Alert, error) {
	var a Alert
	var opened, cleared int64
	var notified int
	if err := sc.Scan(&a.ID, &a.Kiosk, &a.Kind, &a.Detail, &opened, &cleared, &notified); err != nil {
		return Alert{}, err
	}
	a.OpenedAt, a.ClearedAt, a.Notified = fromMS(opened), fromMS(cleared), notified == 1
	return a, nil
}

func (s *Store) alerts(ctx context.Context, query string, args ...any) ([]Alert, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// OpenAlerts returns every open alert, oldest first; sites, when not nil, limits them to those sites.
func (s *Store) OpenAlerts(ctx context.Context, sites []string) ([]Alert, error) {
	if sites != nil {
		if len(sites) == 0 {
			return nil, nil
		}
		args := []any{}
		for _, site := range sites {
			args = append(args, site)
		}
		return s.alerts(ctx, `SELECT `+alertColumns+` FROM alerts WHERE cleared_at = 0 AND kiosk IN (SELECT id FROM kiosks WHERE site IN (`+
			placeholders(len(sites))+`)) ORDER BY opened_at, id`, args...)
	}
	return s.alerts(ctx, `SELECT `+alertColumns+` FROM alerts WHERE cleared_at = 0 ORDER BY opened_at, id`)
}

// KioskAlerts returns a kiosk's latest alerts, open and cleared, newest first.
func (s *Store) KioskAlerts(ctx context.Context, kiosk string, limit int) ([]Alert, error) {
	return s.alerts(ctx, `SELECT `+alertColumns+` FROM alerts WHERE kiosk = ? ORDER BY opened_at DESC, id DESC LIMIT ?`, kiosk, limit)
}

// RaiseAlert opens an alert of a kind on a kiosk unless one is open already; it reports whether it
// opened one (and returns it).
func (s *Store) RaiseAlert(ctx context.Context, kiosk, kind, detail string, at time.Time) (Alert, bool, error) {
	open, err := s.alerts(ctx, `SELECT `+alertColumns+` FROM alerts WHERE cleared_at = 0 AND kiosk = ? AND kind = ?`, kiosk, kind)
	if err != nil || len(open) > 0 {
		return Alert{}, false, err
	}
	a := Alert{Kiosk: kiosk, Kind: kind, Detail: detail, OpenedAt: at}
	err = s.queryRow(ctx, `INSERT INTO alerts (kiosk, kind, detail, opened_at) VALUES (?, ?, ?, ?) RETURNING id`, kiosk, kind, detail, ms(at)).Scan(&a.ID)
	if err != nil {
		return Alert{}, false, fmt.Errorf("raise alert: %w", err)
	}
	return a, true, nil
}

// ClearAlert closes the open alert of a kind on a kiosk, if any, and returns it.
func (s *Store) ClearAlert(ctx context.Context, kiosk, kind string, at time.Time) (Alert, bool, error) {
	open, err := s.alerts(ctx, `SELECT `+alertColumns+` FROM alerts WHERE cleared_at = 0 AND kiosk = ? AND kind = ?`, kiosk, kind)
	if err != nil || len(open) == 0 {
		return Alert{}, false, err
	}
	a := open[0]
	if _, err := s.exec(ctx, `UPDATE alerts SET cleared_at = ? WHERE id = ?`, ms(at), a.ID); err != nil {
		return Alert{}, false, fmt.Errorf("clear alert: %w", err)
	}
	a.ClearedAt = at.UTC()
	return a, true, nil
}

// MarkNotified records that people have been told about an alert.
func (s *Store) MarkNotified(ctx context.Context, id int64) error {
	if _, err := s.exec(ctx, `UPDATE alerts SET notified = 1 WHERE id = ?`, id); err != nil {
		return fmt.Errorf("mark alert notified: %w", err)
	}
	return nil
}
