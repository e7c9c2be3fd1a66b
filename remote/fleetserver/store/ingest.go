package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/ingest"
)

var _ ingest.Store = (*Store)(nil)

// IngestStats are what Save has done since the store was opened.
type IngestStats struct {
	NewEvents     int64         // events stored for the first time
	Batches       int64         // batches committed
	Unregistered  int64         // messages stored from kiosks that are not placed at a site yet
	LastBatchLag  time.Duration // commit time minus the time of the newest event of the last batch with events
	LastBatchSize int
}

// IngestStats returns what Save has done since the store was opened.
func (s *Store) IngestStats() IngestStats {
	return IngestStats{NewEvents: s.newEvents.Load(), Batches: s.savedBatch.Load(), Unregistered: s.unregistered.Load(),
		LastBatchLag: time.Duration(s.lastLagMS.Load()) * time.Millisecond}
}

type place struct{ site, ward string }

// Save commits a batch from the fleet receiver, all or nothing (ingest.Store). Events are de-duplicated
// by id; each new event also updates its session's row, which the usage reports read.
//
// Every message of the batch is stored, so the receiver may acknowledge every event once Save returns:
// a kiosk first heard of is registered in the same transaction, at the place its enrolment names
// (Options.Enrolment) or, failing that, unregistered (no site). A kiosk's site and ward are always the
// registered ones: what a message says of them is ignored.
func (s *Store) Save(ctx context.Context, b ingest.Batch) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("save: %w", err)
	}
	defer tx.Rollback()
	now := time.Now()
	known := map[string]place{} // what this batch learnt; the store's cache takes it after the commit
	lookup := func(kiosk string) (place, error) {
		if p, ok := known[kiosk]; ok {
			return p, nil
		}
		s.mu.Lock()
		c, ok := s.places[kiosk]
		s.mu.Unlock()
		// An unregistered kiosk's place is read every time: an IT admin may place it from another
		// process (ssu-fleetd kiosk place), and what arrives after that must go to the new place.
		if ok && c.site != "" && now.Sub(c.read) < placeTTL {
			return c.place, nil
		}
		var p place
		var by string
		err := tx.QueryRowContext(ctx, s.q(`SELECT site, ward, placed_by FROM kiosks WHERE id = ?`), kiosk).Scan(&p.site, &p.ward, &by)
		switch {
		case err == sql.ErrNoRows:
			if p, err = s.register(ctx, tx, kiosk, now); err != nil {
				return place{}, err
			}
		case err != nil:
			return place{}, fmt.Errorf("look up kiosk %s: %w", kiosk, err)
		case by == "legacy":
			// Placed by its own word before this version: its enrolment, when known, says otherwise.
			if p, err = s.replaceLegacy(ctx, tx, kiosk, p); err != nil {
				return place{}, err
			}
		}
		known[kiosk] = p
		return p, nil
	}
	count := func(p place) {
		if p.site == "" {
			s.unregistered.Add(1)
		}
	}

	for _, st := range b.Statuses {
		// The site and ward a kiosk announces are its configuration's, shown to nobody: where it
		// belongs is its enrolment's or an IT admin's word (PlaceKiosk), never its own.
		p, err := lookup(st.Kiosk)
		if err != nil {
			return 0, err
		}
		count(p)
		at := st.At
		if at.IsZero() || at.After(now) {
			at = now
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO kiosk_status (kiosk, online, conn, since, app_version, started_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (kiosk) DO UPDATE SET
				online = excluded.online, conn = excluded.conn,
				since = CASE WHEN kiosk_status.online <> excluded.online THEN excluded.since ELSE kiosk_status.since END,
				app_version = CASE WHEN excluded.app_version <> '' THEN excluded.app_version ELSE kiosk_status.app_version END,
				started_at = CASE WHEN excluded.started_at <> 0 THEN excluded.started_at ELSE kiosk_status.started_at END
			WHERE excluded.conn > kiosk_status.conn OR (excluded.conn = kiosk_status.conn AND excluded.online = 0)`),
			st.Kiosk, b2i(st.Online), int64(st.Conn), ms(at), st.AppVersion, ms(st.StartedAt))
		if err != nil {
			return 0, fmt.Errorf("save status of %s: %w", st.Kiosk, err)
		}
	}

	if len(b.Health) > 0 {
		hs, err := tx.PrepareContext(ctx, s.q(`INSERT INTO health (kiosk, at, reader, pcscd, identity_ok, outbox_depth, maintenance,
			app_version, config, cert_expiry, disk_free, uptime_s, outbox_dropped, outbox_lost, outbox_full,
			fallback_failed, fallback_running)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kiosk, at) DO NOTHING`))
		if err != nil {
			return 0, fmt.Errorf("save health: %w", err)
		}
		defer hs.Close()
		for _, h := range b.Health {
			p, err := lookup(h.Kiosk)
			if err != nil {
				return 0, err
			}
			count(p)
			if _, err := hs.ExecContext(ctx, h.Kiosk, ms(h.At), h.Reader, h.PCSCD, b2i(h.IdentityReachable), h.OutboxDepth,
				b2i(h.Maintenance), h.AppVersion, h.ConfigVersion, ms(h.CertExpiry), int64(min(h.DiskFreeBytes, 1<<62)), h.UptimeS,
				h.OutboxDropped, h.OutboxLost, b2i(h.OutboxFull), h.FallbackFailedVersion, h.FallbackRunningVersion); err != nil {
				return 0, fmt.Errorf("save health of %s: %w", h.Kiosk, err)
			}
		}
	}

	added := 0
	var newest time.Time
	daily := usage{}
	if len(b.Events) > 0 {
		var fresh []fleet.UsageEvent
		for _, e := range b.Events {
			p, err := lookup(e.Kiosk)
			if err != nil {
				return 0, err
			}
			count(p)
			e.Site, e.Ward = p.site, p.ward // never the kiosk's own say
			fresh = append(fresh, e)
		}
		rows := make([][]any, len(fresh))
		for i, e := range fresh {
			rows[i] = eventRow(e, now)
		}
		ids, err := s.writeMany(ctx, tx, "events", eventColumns, eventTypes, rows, "ON CONFLICT (id) DO NOTHING", "id")
		if err != nil {
			return 0, fmt.Errorf("save events: %w", err)
		}
		isNew := map[string]bool{}
		for _, id := range ids {
			isNew[id] = true
		}
		var newEvents []fleet.UsageEvent
		for _, e := range fresh {
			if isNew[e.ID] { // an event already stored was counted in its session then
				newEvents = append(newEvents, e)
				isNew[e.ID] = false // the same id twice in one batch counts once
				if e.At.After(newest) {
					newest = e.At
				}
			}
		}
		added = len(newEvents)
		if err := s.applyToSessions(ctx, tx, daily, newEvents); err != nil {
			return 0, err
		}
		if _, err := s.writeMany(ctx, tx, "daily_usage", usageColumns, usageTypes, daily.rows(), usageConflict, ""); err != nil {
			return 0, fmt.Errorf("save daily usage: %w", err)
		}
	}

	for _, r := range b.Results {
		if r.ID == "" {
			continue // the kiosk could not read a command: nothing of ours to update
		}
		// A later answer (ok after deferred) replaces an earlier one; an older one arriving late does not.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE commands SET status = ?, reason = ?, result_at = ? WHERE id = ? AND kiosk = ? AND result_at <= ?`),
			string(r.Status), r.Reason, ms(r.At), r.ID, r.Kiosk, ms(r.At)); err != nil {
			return 0, fmt.Errorf("save result of %s: %w", r.Kiosk, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("save: commit: %w", err)
	}
	s.mu.Lock()
	for k, p := range known {
		if c, ok := s.places[k]; !ok || !c.read.After(now) { // an IT admin's PlaceKiosk meanwhile wins
			s.places[k] = cachedPlace{p, now}
		}
	}
	s.mu.Unlock()
	s.savedBatch.Add(1)
	s.newEvents.Add(int64(added))
	if !newest.IsZero() {
		s.lastLagMS.Store(time.Since(newest).Milliseconds())
	}
	return added, nil
}

// replaceLegacy moves a kiosk that placed itself (before version 2) to its enrolment's place, when the
// enrolment is known; else it keeps the place, and asks again at the next look-up.
func (s *Store) replaceLegacy(ctx context.Context, tx *sql.Tx, kiosk string, p place) (place, error) {
	if s.enrolment == nil {
		return p, nil
	}
	e, ok, err := s.enrolment.EnrolledPlace(ctx, kiosk)
	if err != nil {
		return place{}, fmt.Errorf("kiosk %s: enrolment: %w", kiosk, err)
	}
	if !ok {
		return p, nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE kiosks SET site = ?, ward = ?, placed_by = 'enrolment' WHERE id = ?`), e.Site, e.Ward, kiosk); err != nil {
		return place{}, fmt.Errorf("kiosk %s: %w", kiosk, err)
	}
	return place{e.Site, e.Ward}, nil
}

// register records a kiosk first heard of, inside the batch's transaction: at its enrolment's place,
// or unregistered (no site) when its enrolment is unknown or registration is manual.
func (s *Store) register(ctx context.Context, tx *sql.Tx, kiosk string, now time.Time) (place, error) {
	var p place
	by := ""
	if s.autoRegister && s.enrolment != nil {
		e, ok, err := s.enrolment.EnrolledPlace(ctx, kiosk)
		if err != nil {
			return place{}, fmt.Errorf("register kiosk %s: enrolment: %w", kiosk, err)
		}
		if ok {
			p, by = place{e.Site, e.Ward}, "enrolment"
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO kiosks (id, site, ward, registered_at, placed_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		kiosk, p.site, p.ward, now.UnixMilli(), by); err != nil {
		return place{}, fmt.Errorf("register kiosk %s: %w", kiosk, err)
	}
	// Another server sharing the database may have registered it first: its row is the truth.
	if err := tx.QueryRowContext(ctx, s.q(`SELECT site, ward FROM kiosks WHERE id = ?`), kiosk).Scan(&p.site, &p.ward); err != nil {
		return place{}, fmt.Errorf("register kiosk %s: %w", kiosk, err)
	}
	return p, nil
}

const insertEvent = `INSERT INTO events (id, kiosk, kind, at, session_at, site, ward, method, step, reason, error_code, card_key,
	duration_ms, step_ms, app_version, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

var eventTypes = []string{"text", "text", "text", "bigint", "bigint", "text", "text", "text", "text", "text", "text", "text",
	"bigint", "bigint", "text", "bigint"}

func eventRow(e fleet.UsageEvent, received time.Time) []any {
	return []any{e.ID, e.Kiosk, string(e.Kind), ms(e.At), ms(e.SessionAt), e.Site, e.Ward, e.Method, e.Step, e.Reason,
		e.ErrorCode, e.CardKey, e.DurationMS, e.StepMS, e.AppVersion, ms(received)}
}

// sessionOf returns the session an event belongs to and the event's part of it; false when the event
// belongs to no session (no session time, and not a session's start).
func sessionOf(e fleet.UsageEvent) (Session, bool) {
	start := e.SessionAt
	if start.IsZero() {
		if e.Kind != fleet.SessionStarted {
			return Session{}, false
		}
		start = e.At
	}
	x := Session{Kiosk: e.Kiosk, Site: e.Site, Ward: e.Ward, StartedAt: start.UTC().Truncate(time.Millisecond), CardKey: e.CardKey}
	switch e.Kind {
	case fleet.SessionStarted:
		x.Started = true
	case fleet.Ineligible:
		x.Reason = e.Reason
		if x.Reason == "" {
			x.Reason = "unspecified"
		}
	case fleet.MethodChosen, fleet.CodeSent:
		x.Method = e.Method
	case fleet.CodeRefused:
		x.CodeFailures = 1
	case fleet.Unlocked:
		x.Unlocked, x.UnlockMS = true, e.DurationMS
	case fleet.PasscodeChanged:
		x.PasscodeChanged = true
	case fleet.Abandoned, fleet.TimedOut, fleet.CardRemoved:
		x.EndKind, x.EndStep = string(e.Kind), e.Step
	case fleet.ErrorRaised:
		x.ErrorCode = e.ErrorCode
		if x.ErrorCode == "" {
			x.ErrorCode = "unspecified"
		}
	}
	return x, true
}

// merge folds one event's part of a session into what is known of it: text keeps the latest non-empty
// value, flags only go up, code failures add up (every event is applied once: only when new).
func (x Session) merge(d Session) Session {
	text := func(old *string, v string) {
		if v != "" {
			*old = v
		}
	}
	text(&x.Site, d.Site)
	text(&x.Ward, d.Ward)
	text(&x.Reason, d.Reason)
	text(&x.Method, d.Method)
	text(&x.EndKind, d.EndKind)
	text(&x.EndStep, d.EndStep)
	text(&x.ErrorCode, d.ErrorCode)
	text(&x.CardKey, d.CardKey)
	x.Started = x.Started || d.Started
	x.Unlocked = x.Unlocked || d.Unlocked
	x.PasscodeChanged = x.PasscodeChanged || d.PasscodeChanged
	x.UnlockMS = max(x.UnlockMS, d.UnlockMS)
	x.CodeFailures += d.CodeFailures
	return x
}

// counts is what one session adds to the report's totals.
func (x Session) counts() Counts {
	ended := func(kind fleet.EventKind) int { return b2i(x.EndKind == string(kind) && !x.Unlocked) }
	return Counts{Sessions: 1, Unlocks: b2i(x.Unlocked), PasscodeChanges: b2i(x.PasscodeChanged),
		Abandoned: ended(fleet.Abandoned), TimedOut: ended(fleet.TimedOut), CardRemoved: ended(fleet.CardRemoved),
		Ineligible: b2i(x.Reason != ""), CodeFailures: x.CodeFailures, ServiceErrors: b2i(x.ErrorCode != ""),
		Email: b2i(x.Method == "email"), SMS: b2i(x.Method == "sms")}
}

type usageKey struct {
	day               int
	kiosk, site, ward string
}

// dayUsage is a change of one row of daily_usage: counts, and sessions by local hour of the day.
type dayUsage struct {
	Counts
	hours [24]int
}

// usage is the daily_usage change of some sessions.
type usage map[usageKey]*dayUsage

func (u usage) add(s *Store, x Session, sign int) {
	day, how := s.dayAndHour(x.StartedAt)
	k := usageKey{day, x.Kiosk, x.Site, x.Ward}
	c := u[k]
	if c == nil {
		c = &dayUsage{}
		u[k] = c
	}
	c.add(x.counts().times(sign))
	c.hours[how%24] += sign
}

var usageCounts = []string{"sessions", "unlocks", "passcode_changes", "abandoned", "timed_out", "card_removed", "ineligible",
	"code_failures", "service_errors", "email", "sms"}

// hourColumns are daily_usage's sessions by local hour: h0 … h23.
var hourColumns = func() []string {
	var out []string
	for h := 0; h < 24; h++ {
		out = append(out, fmt.Sprintf("h%d", h))
	}
	return out
}()

// usageColumns are daily_usage's columns in the order of usage.rows.
var usageColumns = append(append([]string{"day", "kiosk", "site", "ward"}, usageCounts...), hourColumns...)

var usageTypes = func() []string {
	t := []string{"bigint", "text", "text", "text"}
	for range len(usageColumns) - 4 {
		t = append(t, "bigint")
	}
	return t
}()

// usageConflict adds a change to an existing row of daily_usage.
var usageConflict = func() string {
	var set []string
	for _, c := range usageColumns[4:] {
		set = append(set, c+" = daily_usage."+c+" + excluded."+c)
	}
	return "ON CONFLICT (day, kiosk, site, ward) DO UPDATE SET " + strings.Join(set, ", ")
}()

func (u usage) rows() [][]any {
	var out [][]any
	for k, c := range u {
		if *c == (dayUsage{}) {
			continue
		}
		row := []any{k.day, k.kiosk, k.site, k.ward, c.Sessions, c.Unlocks, c.PasscodeChanges, c.Abandoned, c.TimedOut,
			c.CardRemoved, c.Ineligible, c.CodeFailures, c.ServiceErrors, c.Email, c.SMS}
		for _, n := range c.hours {
			row = append(row, n)
		}
		out = append(out, row)
	}
	return out
}

// sessionConflict replaces a stored session with its merged row.
const sessionConflict = `ON CONFLICT (started_at, kiosk) DO UPDATE SET
	site = excluded.site, ward = excluded.ward, started = excluded.started, unlocked = excluded.unlocked,
	unlock_ms = excluded.unlock_ms, passcode_changed = excluded.passcode_changed, code_failures = excluded.code_failures,
	reason = excluded.reason, method = excluded.method, end_kind = excluded.end_kind, end_step = excluded.end_step,
	error_code = excluded.error_code, card_key = excluded.card_key`

type sessionKey struct {
	startedAt int64
	kiosk     string
}

// applyToSessions folds new events into their sessions' rows and the daily usage: it reads the
// sessions they belong to, merges, and writes each session once.
func (s *Store) applyToSessions(ctx context.Context, tx *sql.Tx, u usage, events []fleet.UsageEvent) error {
	merged := map[sessionKey]*Session{}
	var order []sessionKey
	var parts []Session
	for _, e := range events {
		d, ok := sessionOf(e)
		if !ok {
			continue
		}
		k := sessionKey{ms(d.StartedAt), d.Kiosk}
		if merged[k] == nil {
			merged[k] = &Session{Kiosk: d.Kiosk, StartedAt: d.StartedAt}
			order = append(order, k)
		}
		parts = append(parts, d)
	}
	if len(order) == 0 {
		return nil
	}
	old, err := s.readSessions(ctx, tx, order)
	if err != nil {
		return fmt.Errorf("read sessions: %w", err)
	}
	for k, x := range old {
		*merged[k] = x
	}
	for _, d := range parts {
		k := sessionKey{ms(d.StartedAt), d.Kiosk}
		*merged[k] = merged[k].merge(d)
	}
	rows := make([][]any, 0, len(order))
	for _, k := range order {
		if x, ok := old[k]; ok {
			u.add(s, x, -1)
		}
		u.add(s, *merged[k], +1)
		rows = append(rows, s.sessionValues(*merged[k]))
	}
	if _, err := s.writeMany(ctx, tx, "sessions", sessionColumns, sessionTypes, rows, sessionConflict, ""); err != nil {
		return fmt.Errorf("save sessions: %w", err)
	}
	return nil
}

// readSessions returns the stored sessions among keys.
func (s *Store) readSessions(ctx context.Context, tx *sql.Tx, keys []sessionKey) (map[sessionKey]Session, error) {
	out := map[sessionKey]Session{}
	scan := func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var x Session
			var at int64
			var started, unlocked, changed int
			if err := rows.Scan(&at, &x.Kiosk, &x.Site, &x.Ward, &started, &unlocked, &x.UnlockMS, &changed, &x.CodeFailures,
				&x.Reason, &x.Method, &x.EndKind, &x.EndStep, &x.ErrorCode, &x.CardKey); err != nil {
				return err
			}
			x.StartedAt, x.Started, x.Unlocked, x.PasscodeChanged = fromMS(at), started == 1, unlocked == 1, changed == 1
			out[sessionKey{at, x.Kiosk}] = x
		}
		return rows.Err()
	}
	const cols = `started_at, kiosk, site, ward, started, unlocked, unlock_ms, passcode_changed, code_failures, reason, method,
		end_kind, end_step, error_code, card_key`
	if s.dialect == Postgres {
		ats, kiosks := make([]int64, len(keys)), make([]string, len(keys))
		for i, k := range keys {
			ats[i], kiosks[i] = k.startedAt, k.kiosk
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+cols+` FROM sessions WHERE (started_at, kiosk) IN
			(SELECT * FROM unnest($1::bigint[], $2::text[]))`, ats, kiosks)
		if err != nil {
			return nil, err
		}
		return out, scan(rows)
	}
	st, err := tx.PrepareContext(ctx, `SELECT `+cols+` FROM sessions WHERE started_at = ? AND kiosk = ?`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	for _, k := range keys {
		rows, err := st.QueryContext(ctx, k.startedAt, k.kiosk)
		if err != nil {
			return nil, err
		}
		if err := scan(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeMany inserts rows into a table with an ON CONFLICT clause: on SQLite one prepared statement
// per row (in-process, cheap); on PostgreSQL one statement for all of them (unnest of one array per
// column), to spare the round trips. types are "bigint" or "text" per column; rows hold int, int64
// or string. With returning set, it returns that column of the rows written.
func (s *Store) writeMany(ctx context.Context, tx *sql.Tx, table string, cols, types []string, rows [][]any, conflict, returning string) ([]string, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ret := ""
	if returning != "" {
		ret = " RETURNING " + returning
	}
	var out []string
	collect := func(r *sql.Rows) error {
		defer r.Close()
		for r.Next() {
			var v string
			if err := r.Scan(&v); err != nil {
				return err
			}
			out = append(out, v)
		}
		return r.Err()
	}
	if s.dialect == Postgres {
		args := make([]any, len(cols))
		casts := make([]string, len(cols))
		for c, typ := range types {
			casts[c] = fmt.Sprintf("$%d::%s[]", c+1, typ)
			if typ == "text" {
				a := make([]string, len(rows))
				for i, row := range rows {
					a[i] = row[c].(string)
				}
				args[c] = a
			} else {
				a := make([]int64, len(rows))
				for i, row := range rows {
					switch v := row[c].(type) {
					case int:
						a[i] = int64(v)
					case int64:
						a[i] = v
					default:
						return nil, fmt.Errorf("write %s: column %s: %T is not an integer", table, cols[c], v)
					}
				}
				args[c] = a
			}
		}
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") SELECT * FROM unnest(" + strings.Join(casts, ", ") + ") " + conflict + ret
		if returning == "" {
			_, err := tx.ExecContext(ctx, q, args...)
			return nil, err
		}
		r, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		return out, collect(r)
	}
	st, err := tx.PrepareContext(ctx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES ("+placeholders(len(cols))+") "+conflict+ret)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	for _, row := range rows {
		if returning == "" {
			if _, err := st.ExecContext(ctx, row...); err != nil {
				return nil, err
			}
			continue
		}
		r, err := st.QueryContext(ctx, row...)
		if err != nil {
			return nil, err
		}
		if err := collect(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dayAndHour returns t's local calendar day (days since 1970-01-01) and its hour of the week (Monday
// 00:00-00:59 is 0, Sunday 23:00 is 167).
func (s *Store) dayAndHour(t time.Time) (day, hourOfWeek int) {
	l := t.In(s.loc)
	y, m, d := l.Date()
	day = int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	return day, (int(l.Weekday())+6)%7*24 + l.Hour()
}

// dayDate is a day of dayAndHour as a date (midnight UTC of that calendar day).
func dayDate(day int) time.Time { return time.Unix(int64(day)*86400, 0).UTC() }
