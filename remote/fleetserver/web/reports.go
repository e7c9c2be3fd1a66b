package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"ssu-kiosk/remote/fleetserver/store"
)

// The usage report pages for Registration Authorities: the report (a month, or a range of dates), its
// print view, one CSV per table and a ZIP of them all. A report only ever holds the sites the viewer may
// see; it never shows who used a kiosk (card keys are pseudonymous and cut short).

// reportPeriod is what a report covers, for its heading and its links to other months.
type reportPeriod struct {
	Label string    // "October 2026", "December 2026 so far (1 to 8 December)", "2 Oct 2026 to 9 Oct 2026"
	Month time.Time // the first day of the month shown; zero for a range of dates
	SoFar bool      // the month shown is the current one, not yet over
	// Prev and Next are the neighbouring months ("2006-01"); Next is "" when it has not started.
	Prev, Next           string
	PrevLabel, NextLabel string
	LastMonth, ThisMonth string // "2006-01" of the last complete month and of the current one
	LastLabel            string
	FileTag              string // the period in file names: "2026-10" or "2026-10-02_to_2026-10-09"
	Made                 time.Time
}

// reportRequest reads a report's filter from a request and checks it against the viewer's sites.
// Without a month or dates it shows the last complete month: what an RA reports on.
func (s *Server) reportRequest(r *http.Request, v viewer) (store.ReportFilter, reportPeriod, int, error) {
	q := r.URL.Query()
	loc := s.cfg.Store.Location()
	f := store.ReportFilter{Site: q.Get("site"), Ward: q.Get("ward"), Kiosk: q.Get("kiosk"), Sites: v.sites()}
	now := s.cfg.Now().In(loc)
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	lastMonth := thisMonth.AddDate(0, -1, 0)
	p := reportPeriod{LastMonth: lastMonth.Format("2006-01"), ThisMonth: thisMonth.Format("2006-01"),
		LastLabel: lastMonth.Format("January 2006"), Made: now}
	if f.Site != "" && !v.maySee(f.Site) {
		return f, p, http.StatusForbidden, fmt.Errorf("your account cannot see the reports of %s", f.Site)
	}
	switch {
	case q.Get("from") != "" || q.Get("to") != "":
		from, err1 := time.ParseInLocation("2006-01-02", q.Get("from"), loc)
		to, err2 := time.ParseInLocation("2006-01-02", q.Get("to"), loc)
		if err1 != nil || err2 != nil || to.Before(from) {
			return f, p, http.StatusBadRequest, fmt.Errorf("the period needs a start and an end date (YYYY-MM-DD), the end not before the start")
		}
		f.From, f.To = from, to.AddDate(0, 0, 1)
		p.Label = from.Format("2 Jan 2006") + " to " + to.Format("2 Jan 2006")
		p.FileTag = from.Format("2006-01-02") + "_to_" + to.Format("2006-01-02")
	default:
		m := lastMonth
		if month := q.Get("month"); month != "" {
			var err error
			if m, err = time.ParseInLocation("2006-01", month, loc); err != nil {
				return f, p, http.StatusBadRequest, fmt.Errorf("month must be YYYY-MM")
			}
		}
		if m.After(thisMonth) {
			return f, p, http.StatusBadRequest, fmt.Errorf("%s has not started yet: the latest report is %s so far", m.Format("January 2006"), now.Format("January"))
		}
		f.From, f.To = store.MonthPeriod(m.Year(), m.Month(), loc)
		p.Month, p.FileTag = m, m.Format("2006-01")
		p.Label = m.Format("January 2006")
		prev := m.AddDate(0, -1, 0)
		p.Prev, p.PrevLabel = prev.Format("2006-01"), prev.Format("January 2006")
		if next := m.AddDate(0, 1, 0); !next.After(thisMonth) {
			p.Next, p.NextLabel = next.Format("2006-01"), next.Format("January 2006")
		}
		if m.Equal(thisMonth) {
			p.SoFar = true
			p.Label += fmt.Sprintf(" so far (1 to %d %s)", now.Day(), now.Format("January"))
			p.FileTag += "-so-far"
		}
	}
	if f.To.Sub(f.From) > 400*24*time.Hour {
		return f, p, http.StatusBadRequest, fmt.Errorf("a report covers at most about a year")
	}
	return f, p, http.StatusOK, nil
}

func (s *Server) report(w http.ResponseWriter, r *http.Request, v viewer) (*store.Report, reportPeriod, bool) {
	f, p, code, err := s.reportRequest(r, v)
	if err != nil {
		s.fail(w, r, v, code, err.Error())
		return nil, p, false
	}
	rep, err := s.cfg.Store.Report(r.Context(), f)
	if err != nil {
		s.internal(w, r, v, err)
		return nil, p, false
	}
	return rep, p, true
}

// change is one figure against the same figure for the period before.
type change struct {
	Measure     string
	Now, Before string
	Delta       string // "+12 (+8%)", "−3 (−5%)", "no change"
	Sense       string // "better", "worse" or "" for no change
}

// changeOf compares a figure with its value before; more is better for unlocks, worse for errors.
func changeOf(measure string, now, before float64, decimals int, moreIsBetter bool) change {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', decimals, 64) }
	c := change{Measure: measure, Now: f(now), Before: f(before)}
	d := now - before
	switch {
	case d == 0:
		c.Delta = "no change"
		return c
	case d > 0:
		c.Delta = "+" + f(d)
	default:
		c.Delta = "−" + f(-d)
	}
	if (d > 0) == moreIsBetter {
		c.Sense = "better"
	} else {
		c.Sense = "worse"
	}
	if before != 0 {
		c.Delta += fmt.Sprintf(" (%+.0f%%)", 100*d/before)
	}
	c.Delta = strings.Replace(c.Delta, "(-", "(−", 1)
	return c
}

// totalsReporter gives the counts of a report without its costlier parts (store.Store does); a
// comparison needs no more.
type totalsReporter interface {
	ReportTotals(ctx context.Context, f store.ReportFilter) (*store.Report, error)
}

// comparison reports a month against the month before: for a month not yet over, against the same
// days of the month before, so that a part month is not held against a whole one.
func (s *Server) comparison(r *http.Request, rep *store.Report, p reportPeriod) (string, []change, error) {
	if p.Month.IsZero() {
		return "", nil, nil
	}
	f := rep.Filter
	prev := p.Month.AddDate(0, -1, 0)
	f.From, f.To = store.MonthPeriod(prev.Year(), prev.Month(), s.cfg.Store.Location())
	label := prev.Format("January 2006")
	if p.SoFar {
		days := p.Made.Day()
		if end := f.From.AddDate(0, 0, days); end.Before(f.To) {
			f.To = end
		}
		label = fmt.Sprintf("1 to %d %s", f.To.AddDate(0, 0, -1).Day(), prev.Format("January 2006"))
	}
	totals := s.cfg.Store.Report
	if t, ok := s.cfg.Store.(totalsReporter); ok {
		totals = t.ReportTotals
	}
	before, err := totals(r.Context(), f)
	if err != nil {
		return "", nil, err
	}
	return label, []change{
		changeOf("Unlocks", float64(rep.Total.Unlocks), float64(before.Total.Unlocks), 0, true),
		changeOf("Sessions", float64(rep.Total.Sessions), float64(before.Total.Sessions), 0, true),
		changeOf("RA hours saved", rep.RAHoursSaved, before.RAHoursSaved, 1, true),
		changeOf("Turned away (ineligible)", float64(rep.Total.Ineligible), float64(before.Total.Ineligible), 0, false),
		changeOf("Error codes shown", float64(rep.Total.ServiceErrors), float64(before.Total.ServiceErrors), 0, false),
	}, nil
}

// cell is one table cell as a page shows it; numbers are right-aligned.
type cell struct {
	Text string
	Num  bool
}

// tableView is a report table ready for a page: numeric columns marked, and for print the columns
// that fit across A4.
type tableView struct {
	Name, Title string
	Header      []cell
	Rows        [][]cell
	Total       []cell
	Note        string // says what the print view left out
}

// printColumns are the columns the print view keeps of the wide tables (by site, ward and kiosk);
// the CSV has them all.
var printColumns = []string{"Site", "Ward", "Kiosk", "Sessions", "Unlocks", "Abandoned", "Timed out", "Ineligible",
	"Service errors", "RA hours saved"}

func viewTable(t store.Table, forPrint bool) tableView {
	keep := make([]int, 0, len(t.Header))
	for i, h := range t.Header {
		if !forPrint || len(t.Header) <= 8 || contains(printColumns, h) {
			keep = append(keep, i)
		}
	}
	num := make([]bool, len(t.Header))
	for i := range t.Header {
		num[i] = len(t.Rows) > 0
		for _, row := range t.Rows {
			if _, err := strconv.ParseFloat(row[i], 64); err != nil {
				num[i] = false
				break
			}
		}
	}
	pick := func(row []string) []cell {
		if row == nil {
			return nil
		}
		out := make([]cell, 0, len(keep))
		for _, i := range keep {
			out = append(out, cell{Text: row[i], Num: num[i]})
		}
		return out
	}
	v := tableView{Name: t.Name, Title: t.Title, Header: pick(t.Header), Total: pick(t.Total)}
	for _, row := range t.Rows {
		v.Rows = append(v.Rows, pick(row))
	}
	if len(keep) < len(t.Header) {
		v.Note = fmt.Sprintf("%d of %d columns shown to fit the page; the CSV has them all.", len(keep), len(t.Header))
	}
	return v
}

func viewTables(ts []store.Table, forPrint bool) []tableView {
	out := make([]tableView, 0, len(ts))
	for _, t := range ts {
		if forPrint && t.Name == "busiest-hours" { // the heat map shows it; 25 columns do not fit A4
			continue
		}
		out = append(out, viewTable(t, forPrint))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// scope says whose kiosks a report covers, in words.
func scope(rep *store.Report, v viewer) string {
	if parts := nonEmpty(rep.Filter.Site, rep.Filter.Ward, rep.Filter.Kiosk); len(parts) > 0 {
		return strings.Join(parts, " / ")
	}
	if v.Role == RoleRA {
		if len(v.Sites) == 1 {
			return v.Sites[0]
		}
		return "your sites (" + strings.Join(v.Sites, ", ") + ")"
	}
	return "all sites"
}

func (s *Server) reportPage(w http.ResponseWriter, r *http.Request, v viewer) {
	rep, p, ok := s.report(w, r, v)
	if !ok {
		return
	}
	places, err := s.cfg.Store.Places(r.Context())
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	var mine []store.Place
	for _, pl := range places {
		if v.maySee(pl.Site) {
			mine = append(mine, pl)
		}
	}
	before, changes, err := s.comparison(r, rep, p)
	if err != nil {
		s.internal(w, r, v, err)
		return
	}
	q := r.URL.Query()
	sites, wards := sitesAndWards(mine, q.Get("site"))
	month := q.Get("month")
	if month == "" && q.Get("from") == "" {
		month = p.FileTag[:7]
	}
	// The links to other months keep the site, ward and kiosk chosen.
	keep := url.Values{}
	for _, k := range []string{"site", "ward", "kiosk"} {
		if q.Get(k) != "" {
			keep.Set(k, q.Get(k))
		}
	}
	monthLink := func(m string) string {
		if m == "" {
			return ""
		}
		l := url.Values{"month": {m}}
		for k, vs := range keep {
			l[k] = vs
		}
		return "/reports?" + l.Encode()
	}
	self := url.Values{}
	for k, vs := range keep {
		self[k] = vs
	}
	if q.Get("from") != "" {
		self.Set("from", q.Get("from"))
		self.Set("to", q.Get("to"))
	} else {
		self.Set("month", month)
	}
	s.render(w, r, "report", v, map[string]any{"Title": "Usage report", "R": rep, "P": p, "Label": p.Label,
		"Tables": viewTables(rep.Tables(), false), "Self": self, "Month": month, "From": q.Get("from"), "To": q.Get("to"),
		"Sites": sites, "Wards": wards, "Site": q.Get("site"), "Ward": q.Get("ward"), "Kiosk": q.Get("kiosk"),
		"Scope": scope(rep, v), "Before": before, "Changes": changes, "BeforeUsed": len(changes) > 1 && changes[1].Before != "0",
		"PrevLink": monthLink(p.Prev), "NextLink": monthLink(p.Next), "LastLink": monthLink(p.LastMonth),
		"ThisLink": monthLink(p.ThisMonth), "Daily": dailyChart(rep, s.cfg.Store.Location()),
		"Heatmap": heatmapChart(rep), "Trend": trendChart(rep), "Hours": fmt.Sprintf("%.1f", rep.RAHoursSaved),
		"Median": minutes(rep.MedianUnlock)})
}

func (s *Server) reportPrint(w http.ResponseWriter, r *http.Request, v viewer) {
	rep, p, ok := s.report(w, r, v)
	if !ok {
		return
	}
	back := url.Values{}
	for k, vs := range r.URL.Query() {
		back[k] = vs
	}
	if back.Get("month") == "" && back.Get("from") == "" {
		back.Set("month", p.FileTag[:7])
	}
	// On paper an empty table is a waste of space: name them in one line instead.
	var tables []tableView
	var empty []string
	for _, t := range viewTables(rep.Tables(), true) {
		if len(t.Rows) == 0 {
			empty = append(empty, t.Title)
		} else {
			tables = append(tables, t)
		}
	}
	s.render(w, r, "print", v, map[string]any{"Title": "Smartcard unlock kiosks: usage, " + p.Label, "R": rep, "Label": p.Label,
		"Scope": scope(rep, v), "Tables": tables, "Empty": strings.Join(empty, "; "), "Heatmap": heatmapChart(rep), "Trend": trendChart(rep),
		"Daily": dailyChart(rep, s.cfg.Store.Location()), "Back": "/reports?" + back.Encode(),
		"Hours": fmt.Sprintf("%.1f", rep.RAHoursSaved), "Median": minutes(rep.MedianUnlock), "Made": s.cfg.Now()})
}

// minutes writes a duration as people say it: "2 min 5 s", "45 s"; "—" for none.
func minutes(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	}
	if sec := int(d.Seconds()) % 60; sec != 0 {
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), sec)
	}
	return fmt.Sprintf("%d min", int(d.Minutes()))
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// fileName makes a file name part of letters, digits, dots, hyphens and underscores.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, s)
}

// filePrefix names a report's downloads by what they cover: "ssu-usage_site-a_2026-10".
func filePrefix(rep *store.Report, p reportPeriod, v viewer) string {
	who := "all-sites"
	if parts := nonEmpty(rep.Filter.Site, rep.Filter.Ward, rep.Filter.Kiosk); len(parts) > 0 {
		who = strings.Join(parts, "_")
	} else if v.Role == RoleRA {
		who = strings.Join(v.Sites, "+")
	}
	return "ssu-usage_" + fileName(who) + "_" + p.FileTag
}

func writeCSV(w io.Writer, t store.Table) error {
	cw := csv.NewWriter(w)
	cw.Write(t.Header)
	for _, row := range t.Rows {
		cw.Write(csvSafe(row))
	}
	if t.Total != nil {
		cw.Write(csvSafe(t.Total))
	}
	cw.Flush()
	return cw.Error()
}

// reportCSV sends one table of a report as CSV, or every table in one ZIP for the name "all.zip".
func (s *Server) reportCSV(w http.ResponseWriter, r *http.Request, v viewer) {
	rep, p, ok := s.report(w, r, v)
	if !ok {
		return
	}
	prefix := filePrefix(rep, p, v)
	name := r.PathValue("table")
	if name == "all.zip" {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, t := range rep.Tables() {
			fw, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + "_" + t.Name + ".csv", Method: zip.Deflate, Modified: s.cfg.Now()})
			if err == nil {
				err = writeCSV(fw, t)
			}
			if err != nil {
				s.internal(w, r, v, fmt.Errorf("report zip: %w", err))
				return
			}
		}
		if err := zw.Close(); err != nil {
			s.internal(w, r, v, fmt.Errorf("report zip: %w", err))
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.zip"`, prefix))
		w.Write(buf.Bytes())
		return
	}
	for _, t := range rep.Tables() {
		if t.Name != name {
			continue
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s_%s.csv"`, prefix, t.Name))
		writeCSV(w, t)
		return
	}
	s.fail(w, r, v, http.StatusNotFound, "There is no table "+strconv.Quote(name)+".")
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(row []string) []string {
	out := make([]string, len(row))
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			if _, err := strconv.ParseFloat(c, 64); err != nil {
				c = "'" + c
			}
		}
		out[i] = c
	}
	return out
}
