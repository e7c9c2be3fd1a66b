package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"ssu-kiosk/remote/identity/errcat"
)

// MinutesPerInPersonUnlock is what a Registration Authority spends on one in-person unlock.
const MinutesPerInPersonUnlock = 20

// ReportFilter selects the sessions of a usage report: those started in [From, To), optionally at one
// site, ward or kiosk. Sites, when not nil, limits the report to those sites (an RA's own).
type ReportFilter struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Site  string    `json:"site"`
	Ward  string    `json:"ward"`
	Kiosk string    `json:"kiosk"`
	Sites []string  `json:"sites"`
}

// Counts are the totals of a set of sessions.
type Counts struct {
	Sessions        int `json:"sessions"`
	Unlocks         int `json:"unlocks"`
	PasscodeChanges int `json:"passcode_changes"`
	Abandoned       int `json:"abandoned"`    // ended by the person (not unlocked)
	TimedOut        int `json:"timed_out"`    // ended by a timeout (not unlocked)
	CardRemoved     int `json:"card_removed"` // ended by the card being pulled (not unlocked)
	Ineligible      int `json:"ineligible"`
	CodeFailures    int `json:"code_failures"`  // wrong or expired security codes entered
	ServiceErrors   int `json:"service_errors"` // sessions that showed an error code
	Email           int `json:"email"`
	SMS             int `json:"sms"` // sessions whose security code went by email or SMS
}

// Group is the counts of one site, ward or kiosk.
type Group struct {
	Site  string `json:"site"`
	Ward  string `json:"ward"`
	Kiosk string `json:"kiosk"`
	Counts
}

// KeyCount is a count under a name (a step, a reason, an error code).
type KeyCount struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// Week is one week (from Monday) of the trend.
type Week struct {
	Start    time.Time `json:"start"` // Monday, as a date
	Sessions int       `json:"sessions"`
	Unlocks  int       `json:"unlocks"`
}

// Day is one local calendar day of a report's period that had sessions.
type Day struct {
	Date     time.Time `json:"date"` // midnight UTC of the local calendar day
	Sessions int       `json:"sessions"`
	Unlocks  int       `json:"unlocks"`
}

// Report is a usage report for Registration Authorities.
type Report struct {
	Filter ReportFilter `json:"filter"`
	Total  Counts       `json:"total"`

	BySite  []Group `json:"by_site"`
	ByWard  []Group `json:"by_ward"`
	ByKiosk []Group `json:"by_kiosk"`

	AbandonedByStep    []KeyCount `json:"abandoned_by_step"` // "step" for abandoned sessions
	TimedOutByStep     []KeyCount `json:"timed_out_by_step"`
	CardRemovedByStep  []KeyCount `json:"card_removed_by_step"`
	IneligibleByReason []KeyCount `json:"ineligible_by_reason"`
	ErrorsByCode       []KeyCount `json:"errors_by_code"`

	MedianUnlock time.Duration `json:"median_unlock_ns"` // from the start of a session to its unlock; 1 s resolution
	Heatmap      [7][24]int    `json:"heatmap"`          // sessions by local weekday (Monday first) and hour
	Weekly       []Week        `json:"weekly"`
	Daily        []Day         `json:"daily"` // days with sessions, oldest first

	RepeatCards    int        `json:"repeat_cards"`   // cards unlocked more than once in the period (by pseudonymous key)
	RepeatUnlocks  int        `json:"repeat_unlocks"` // unlocks of those cards beyond their first
	TopRepeatCards []KeyCount `json:"top_repeat_cards"`

	RAHoursSaved float64 `json:"ra_hours_saved"` // Total.Unlocks at MinutesPerInPersonUnlock each
}

// MonthPeriod returns the first instant of a month and of the next one, in loc.
func MonthPeriod(year int, month time.Month, loc *time.Location) (from, to time.Time) {
	from = time.Date(year, month, 1, 0, 0, 0, 0, loc)
	return from, from.AddDate(0, 1, 0)
}

// where returns the condition selecting f's rows of a table whose time column is col, holding
// from and to.
func (f ReportFilter) where(col string, from, to any) (string, []any) {
	w, args := []string{col + " >= ?", col + " < ?"}, []any{from, to}
	if f.Sites != nil {
		if len(f.Sites) == 0 {
			w = append(w, "1 = 0")
		} else {
			w = append(w, "site IN ("+placeholders(len(f.Sites))+")")
			for _, s := range f.Sites {
				args = append(args, s)
			}
		}
	}
	for col, v := range map[string]string{"site": f.Site, "ward": f.Ward, "kiosk": f.Kiosk} {
		if v != "" {
			w, args = append(w, col+" = ?"), append(args, v)
		}
	}
	return strings.Join(w, " AND "), args
}

// Report computes a usage report: the counts from the daily totals, the rest with a few grouped
// queries over the period's sessions, run at the same time on separate connections.
func (s *Store) Report(ctx context.Context, f ReportFilter) (*Report, error) {
	return s.report(ctx, f, false)
}

// ReportTotals is the part of a report that comes from the daily totals alone (the counts, by site,
// ward and kiosk, by day and week, and the heat map), at a fraction of the cost: enough to compare a
// period with another.
func (s *Store) ReportTotals(ctx context.Context, f ReportFilter) (*Report, error) {
	return s.report(ctx, f, true)
}

func (s *Store) report(ctx context.Context, f ReportFilter, totalsOnly bool) (*Report, error) {
	if f.From.IsZero() || f.To.IsZero() || !f.From.Before(f.To) {
		return nil, fmt.Errorf("report: the period must have a start before its end")
	}
	// Reports are by whole local days: the daily totals are kept per day.
	fromDay, _ := s.dayAndHour(f.From)
	toDay, _ := s.dayAndHour(f.To.Add(-time.Millisecond))
	toDay++
	f.From = s.localMidnight(fromDay)
	f.To = s.localMidnight(toDay)
	r := &Report{Filter: f}
	where, args := f.where("started_at", ms(f.From), ms(f.To))
	dwhere, dargs := f.where("day", fromDay, toDay)
	var mu sync.Mutex // guards r while the parts run
	parts := []func() error{
		func() error { return s.reportCounts(ctx, r, &mu, dwhere, dargs) },
	}
	if totalsOnly {
		if err := parts[0](); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		return r, nil
	}
	parts = append(parts,
		func() error { return s.reportEndings(ctx, r, &mu, where, args) },
		func() error { return s.reportMedian(ctx, r, &mu, where, args) },
		func() error { return s.reportRepeats(ctx, r, &mu, where, args) },
	)
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = part() }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return r, nil
}

// each runs a read query and calls scan for each row.
func (s *Store) each(ctx context.Context, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := s.read.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// reportCounts fills the totals, by site, ward and kiosk, and the weekly trend from the daily totals.
func (s *Store) reportCounts(ctx context.Context, r *Report, mu *sync.Mutex, where string, args []any) error {
	var byKiosk []Group
	weeks := map[int]*Week{}
	days := map[int]*Day{}
	var heat [7][24]int
	err := s.each(ctx, `SELECT site, ward, kiosk, day, `+strings.Join(usageCounts, ", ")+", "+strings.Join(hourColumns, ", ")+
		` FROM daily_usage WHERE `+where+` ORDER BY site, ward, kiosk`, args,
		func(rows *sql.Rows) error {
			var g Group
			var day int
			var hours [24]int
			c := &g.Counts
			dest := []any{&g.Site, &g.Ward, &g.Kiosk, &day, &c.Sessions, &c.Unlocks, &c.PasscodeChanges, &c.Abandoned, &c.TimedOut,
				&c.CardRemoved, &c.Ineligible, &c.CodeFailures, &c.ServiceErrors, &c.Email, &c.SMS}
			for h := range hours {
				dest = append(dest, &hours[h])
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			weekday := (day + 3) % 7 // Monday is 0; 1970-01-01 was a Thursday
			for h, n := range hours {
				heat[weekday][h] += n
			}
			if n := len(byKiosk); n > 0 && byKiosk[n-1].Kiosk == g.Kiosk && byKiosk[n-1].Site == g.Site && byKiosk[n-1].Ward == g.Ward {
				byKiosk[n-1].add(g.Counts)
			} else {
				byKiosk = append(byKiosk, g)
			}
			monday := day - (day+3)%7 // 1970-01-01 was a Thursday
			w := weeks[monday]
			if w == nil {
				w = &Week{Start: dayDate(monday)}
				weeks[monday] = w
			}
			w.Sessions += c.Sessions
			w.Unlocks += c.Unlocks
			d := days[day]
			if d == nil {
				d = &Day{Date: dayDate(day)}
				days[day] = d
			}
			d.Sessions += c.Sessions
			d.Unlocks += c.Unlocks
			return nil
		})
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	r.Heatmap = heat
	sites, wards := map[string]*Group{}, map[[2]string]*Group{}
	for _, g := range byKiosk {
		if g.Sessions == 0 {
			continue
		}
		r.ByKiosk = append(r.ByKiosk, g)
		if sites[g.Site] == nil {
			sites[g.Site] = &Group{Site: g.Site}
		}
		if wards[[2]string{g.Site, g.Ward}] == nil {
			wards[[2]string{g.Site, g.Ward}] = &Group{Site: g.Site, Ward: g.Ward}
		}
		sites[g.Site].add(g.Counts)
		wards[[2]string{g.Site, g.Ward}].add(g.Counts)
		r.Total.add(g.Counts)
	}
	for _, g := range sites {
		r.BySite = append(r.BySite, *g)
	}
	for _, g := range wards {
		r.ByWard = append(r.ByWard, *g)
	}
	sort.Slice(r.BySite, func(i, j int) bool { return r.BySite[i].Site < r.BySite[j].Site })
	sort.Slice(r.ByWard, func(i, j int) bool {
		return r.ByWard[i].Site < r.ByWard[j].Site || r.ByWard[i].Site == r.ByWard[j].Site && r.ByWard[i].Ward < r.ByWard[j].Ward
	})
	for _, w := range weeks {
		if w.Sessions != 0 {
			r.Weekly = append(r.Weekly, *w)
		}
	}
	sort.Slice(r.Weekly, func(i, j int) bool { return r.Weekly[i].Start.Before(r.Weekly[j].Start) })
	for _, d := range days {
		if d.Sessions != 0 {
			r.Daily = append(r.Daily, *d)
		}
	}
	sort.Slice(r.Daily, func(i, j int) bool { return r.Daily[i].Date.Before(r.Daily[j].Date) })
	r.RAHoursSaved = float64(r.Total.Unlocks) * MinutesPerInPersonUnlock / 60
	return nil
}

// reportEndings fills why sessions ended without an unlock.
func (s *Store) reportEndings(ctx context.Context, r *Report, mu *sync.Mutex, where string, args []any) error {
	byStep := map[string]map[string]int{"abandoned": {}, "timed_out": {}, "card_removed": {}}
	reasons, codes := map[string]int{}, map[string]int{}
	err := s.each(ctx, `SELECT end_kind, end_step, reason, error_code, unlocked, COUNT(*) FROM sessions WHERE `+where+
		` AND (end_kind <> '' OR reason <> '' OR error_code <> '') GROUP BY end_kind, end_step, reason, error_code, unlocked`, args,
		func(rows *sql.Rows) error {
			var kind, step, reason, code string
			var unlocked, n int
			if err := rows.Scan(&kind, &step, &reason, &code, &unlocked, &n); err != nil {
				return err
			}
			if m := byStep[kind]; m != nil && unlocked == 0 {
				if step == "" {
					step = "unknown"
				}
				m[step] += n
			}
			if reason != "" {
				reasons[reason] += n
			}
			if code != "" {
				codes[code] += n
			}
			return nil
		})
	mu.Lock()
	defer mu.Unlock()
	r.AbandonedByStep, r.TimedOutByStep, r.CardRemovedByStep = sorted(byStep["abandoned"]), sorted(byStep["timed_out"]), sorted(byStep["card_removed"])
	r.IneligibleByReason, r.ErrorsByCode = sorted(reasons), sorted(codes)
	return err
}

// reportMedian fills the median time to unlock, to the second.
func (s *Store) reportMedian(ctx context.Context, r *Report, mu *sync.Mutex, where string, args []any) error {
	var hist [][2]int64
	var total int64
	err := s.each(ctx, `SELECT unlock_ms / 1000, COUNT(*) FROM sessions WHERE `+where+` AND unlocked = 1 GROUP BY unlock_ms / 1000 ORDER BY 1`, args,
		func(rows *sql.Rows) error {
			var sec, n int64
			if err := rows.Scan(&sec, &n); err != nil {
				return err
			}
			hist = append(hist, [2]int64{sec, n})
			total += n
			return nil
		})
	var seen int64
	mu.Lock()
	defer mu.Unlock()
	for _, h := range hist {
		seen += h[1]
		if 2*seen >= total {
			r.MedianUnlock = time.Duration(h[0]) * time.Second
			break
		}
	}
	return err
}

// reportRepeats fills the repeat lock-outs: cards unlocked more than once.
func (s *Store) reportRepeats(ctx context.Context, r *Report, mu *sync.Mutex, where string, args []any) error {
	var cards, extra int
	var top []KeyCount
	err := s.each(ctx, `SELECT card_key, COUNT(*) FROM sessions WHERE `+where+
		` AND unlocked = 1 AND card_key <> '' GROUP BY card_key HAVING COUNT(*) > 1 ORDER BY 2 DESC, 1`, args,
		func(rows *sql.Rows) error {
			var key string
			var n int
			if err := rows.Scan(&key, &n); err != nil {
				return err
			}
			cards++
			extra += n - 1
			if len(top) < 20 {
				top = append(top, KeyCount{Key: key[:min(12, len(key))], Count: n})
			}
			return nil
		})
	mu.Lock()
	defer mu.Unlock()
	r.RepeatCards, r.RepeatUnlocks, r.TopRepeatCards = cards, extra, top
	return err
}

// localMidnight is the instant a local calendar day (see dayAndHour) starts.
func (s *Store) localMidnight(day int) time.Time {
	y, m, d := dayDate(day).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, s.loc)
}

func (c *Counts) add(o Counts) {
	c.Sessions += o.Sessions
	c.Unlocks += o.Unlocks
	c.PasscodeChanges += o.PasscodeChanges
	c.Abandoned += o.Abandoned
	c.TimedOut += o.TimedOut
	c.CardRemoved += o.CardRemoved
	c.Ineligible += o.Ineligible
	c.CodeFailures += o.CodeFailures
	c.ServiceErrors += o.ServiceErrors
	c.Email += o.Email
	c.SMS += o.SMS
}

func (c Counts) times(sign int) Counts {
	return Counts{c.Sessions * sign, c.Unlocks * sign, c.PasscodeChanges * sign, c.Abandoned * sign, c.TimedOut * sign,
		c.CardRemoved * sign, c.Ineligible * sign, c.CodeFailures * sign, c.ServiceErrors * sign, c.Email * sign, c.SMS * sign}
}

func sorted(m map[string]int) []KeyCount {
	out := make([]KeyCount, 0, len(m))
	for k, n := range m {
		out = append(out, KeyCount{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Count > out[j].Count || out[i].Count == out[j].Count && out[i].Key < out[j].Key
	})
	return out
}

// Table is one table of a report, as text: the web page, the print view and the CSV export all
// render these.
type Table struct {
	Name   string     `json:"name"` // for URLs and file names, e.g. "by-site"
	Title  string     `json:"title"`
	Header []string   `json:"header"`
	Rows   [][]string `json:"rows"`
	Total  []string   `json:"total,omitempty"` // the totals row, when adding the rows up means something
}

var countsHeader = []string{"Sessions", "Unlocks", "Passcode changes", "Abandoned", "Timed out", "Card removed",
	"Ineligible", "Code failures", "Service errors", "Email", "SMS", "RA hours saved"}

func (c Counts) cells() []string {
	it := strconv.Itoa
	return []string{it(c.Sessions), it(c.Unlocks), it(c.PasscodeChanges), it(c.Abandoned), it(c.TimedOut), it(c.CardRemoved),
		it(c.Ineligible), it(c.CodeFailures), it(c.ServiceErrors), it(c.Email), it(c.SMS),
		strconv.FormatFloat(float64(c.Unlocks)*MinutesPerInPersonUnlock/60, 'f', 1, 64)}
}

func keyTable(name, title, key string, kc []KeyCount) Table {
	t := Table{Name: name, Title: title, Header: []string{key, "Sessions"}}
	sum := 0
	for _, k := range kc {
		t.Rows = append(t.Rows, []string{k.Key, strconv.Itoa(k.Count)})
		sum += k.Count
	}
	if len(kc) > 0 {
		t.Total = []string{"Total", strconv.Itoa(sum)}
	}
	return t
}

// explained adds a column saying in plain words what each key of a keyTable means.
func explained(t Table, meaning func(string) string) Table {
	t.Header = append(t.Header, "What it means")
	for i, row := range t.Rows {
		t.Rows[i] = append(row, meaning(row[0]))
	}
	if t.Total != nil {
		t.Total = append(t.Total, "")
	}
	return t
}

// ineligibleCodes are the catalogue codes a kiosk shows for each reason the identity service gives for
// turning a card away (the kiosk's flow makes the same choice).
var ineligibleCodes = map[string]errcat.Code{
	"not-registered":           errcat.ERR1001,
	"no-email":                 errcat.ERR1002,
	"email-domain-not-allowed": errcat.ERR1003,
	"certificates-expired":     errcat.ERR1004,
	"card-not-genuine":         errcat.ERR1005,
}

// ReasonMeaning says in plain words what an ineligibility reason means, with the words the kiosk
// showed the person (from the error catalogue).
func ReasonMeaning(reason string) string {
	norm := strings.ReplaceAll(strings.ToLower(reason), "_", "-")
	if norm == "unspecified" {
		return "The kiosk did not record why the card was turned away."
	}
	if code, ok := ineligibleCodes[norm]; ok {
		e := errcat.MustLookup(code)
		return fmt.Sprintf("The kiosk showed %s: %q", e.Code, e.Title)
	}
	return "A reason this server does not know; the kiosk may be newer than the server."
}

// CodeMeaning says in plain words what an error code means, in the error catalogue's words.
func CodeMeaning(code string) string {
	e, ok := errcat.Lookup(errcat.Code(strings.ToUpper(code)))
	if !ok {
		return "A code not in the error catalogue."
	}
	return fmt.Sprintf("The kiosk showed %s: %q", e.Code, e.Title)
}

// groupTable is a table of groups with a totals row.
func groupTable(name, title string, keys []string, groups []Group, key func(Group) []string, total Counts) Table {
	t := Table{Name: name, Title: title, Header: append(append([]string{}, keys...), countsHeader...)}
	for _, g := range groups {
		t.Rows = append(t.Rows, append(key(g), g.cells()...))
	}
	if len(groups) > 0 {
		t.Total = append(append([]string{"Total"}, make([]string, len(keys)-1)...), total.cells()...)
	}
	return t
}

// Weekdays are the heat map's rows.
var Weekdays = [7]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// Tables returns every table of the report, in the order a page shows them.
func (r *Report) Tables() []Table {
	summary := Table{Name: "summary", Title: "Summary", Header: []string{"Measure", "Value"}}
	for i, h := range countsHeader {
		summary.Rows = append(summary.Rows, []string{h, r.Total.cells()[i]})
	}
	summary.Rows = append(summary.Rows,
		[]string{"Median time to unlock (s)", strconv.Itoa(int(r.MedianUnlock / time.Second))},
		[]string{"Cards unlocked more than once", strconv.Itoa(r.RepeatCards)},
		[]string{"Repeat unlocks", strconv.Itoa(r.RepeatUnlocks)})
	site := groupTable("by-site", "By site", []string{"Site"}, r.BySite, func(g Group) []string { return []string{g.Site} }, r.Total)
	ward := groupTable("by-ward", "By ward", []string{"Site", "Ward"}, r.ByWard, func(g Group) []string { return []string{g.Site, g.Ward} }, r.Total)
	kiosk := groupTable("by-kiosk", "By kiosk", []string{"Site", "Ward", "Kiosk"}, r.ByKiosk,
		func(g Group) []string { return []string{g.Site, g.Ward, g.Kiosk} }, r.Total)
	heat := Table{Name: "busiest-hours", Title: "Busiest hours (sessions)", Header: []string{"Day"}}
	for h := 0; h < 24; h++ {
		heat.Header = append(heat.Header, fmt.Sprintf("%02d", h))
	}
	for d, name := range Weekdays {
		row := []string{name}
		for h := 0; h < 24; h++ {
			row = append(row, strconv.Itoa(r.Heatmap[d][h]))
		}
		heat.Rows = append(heat.Rows, row)
	}
	weekly := Table{Name: "weekly-trend", Title: "Weekly trend", Header: []string{"Week from", "Sessions", "Unlocks"}}
	var weekTotal Week
	for _, w := range r.Weekly {
		weekly.Rows = append(weekly.Rows, []string{w.Start.Format("2006-01-02"), strconv.Itoa(w.Sessions), strconv.Itoa(w.Unlocks)})
		weekTotal.Sessions += w.Sessions
		weekTotal.Unlocks += w.Unlocks
	}
	if len(r.Weekly) > 0 {
		weekly.Total = []string{"Total", strconv.Itoa(weekTotal.Sessions), strconv.Itoa(weekTotal.Unlocks)}
	}
	daily := Table{Name: "daily", Title: "Each day (days with sessions)", Header: []string{"Date", "Sessions", "Unlocks"}}
	var dayTotal Day
	for _, d := range r.Daily {
		daily.Rows = append(daily.Rows, []string{d.Date.Format("2006-01-02"), strconv.Itoa(d.Sessions), strconv.Itoa(d.Unlocks)})
		dayTotal.Sessions += d.Sessions
		dayTotal.Unlocks += d.Unlocks
	}
	if len(r.Daily) > 0 {
		daily.Total = []string{"Total", strconv.Itoa(dayTotal.Sessions), strconv.Itoa(dayTotal.Unlocks)}
	}
	repeats := keyTable("repeat-lockouts", "Cards unlocked more than once (first 12 characters of the pseudonymous key)", "Card key", r.TopRepeatCards)
	repeats.Total = nil // the first 20 cards only: their sum is no total
	return []Table{summary, site, ward, kiosk,
		keyTable("abandoned-by-step", "Abandoned, by step", "Step", r.AbandonedByStep),
		keyTable("timed-out-by-step", "Timed out, by step", "Step", r.TimedOutByStep),
		keyTable("card-removed-by-step", "Card removed, by step", "Step", r.CardRemovedByStep),
		explained(keyTable("ineligible-by-reason", "Ineligible, by reason", "Reason", r.IneligibleByReason), ReasonMeaning),
		explained(keyTable("errors-by-code", "Service errors, by code", "Error code", r.ErrorsByCode), CodeMeaning),
		heat, weekly, daily,
		repeats,
	}
}
