package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"ssu-kiosk/remote/fleetserver/store"
)

// Charts are SVG drawn on the server: they need no JavaScript, print well and carry a text
// alternative (a title, and the same numbers in a table next to them).

func esc(s string) string { return template.HTMLEscapeString(s) }

// heatmapChart draws sessions by weekday and hour, with a key from fewest to most.
func heatmapChart(r *store.Report) template.HTML {
	const cell, left, top = 22, 100, 36
	peak := 1
	for _, d := range r.Heatmap {
		for _, n := range d {
			peak = max(peak, n)
		}
	}
	var b strings.Builder
	w, h := left+24*cell+4, top+7*cell+44
	fmt.Fprintf(&b, `<svg class="chart heatmap" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="heat-title" xmlns="http://www.w3.org/2000/svg">`, w, h, w, h)
	b.WriteString(`<title id="heat-title">Sessions by weekday and hour: darker is busier (the table "Busiest hours" has the numbers)</title>`)
	fmt.Fprintf(&b, `<text x="%d" y="12" class="axis label">Hour of the day (local time)</text>`, left)
	for hr := 0; hr < 24; hr += 3 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis">%02d:00</text>`, left+hr*cell, top-6, hr)
	}
	for d, name := range store.Weekdays {
		fmt.Fprintf(&b, `<text x="0" y="%d" class="axis">%s</text>`, top+d*cell+15, name)
		for hr := 0; hr < 24; hr++ {
			n := r.Heatmap[d][hr]
			a := 0.04 + 0.96*float64(n)/float64(peak)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#005eb8" fill-opacity="%.2f"><title>%s %02d:00: %d sessions</title></rect>`,
				left+hr*cell, top+d*cell, cell-2, cell-2, a, name, hr, n)
		}
	}
	// Key: five shades from none to the busiest hour.
	ky := top + 7*cell + 14
	fmt.Fprintf(&b, `<text x="0" y="%d" class="axis">Key</text>`, ky+13)
	shown := -1
	for i := 0; i < 5; i++ {
		n := peak * i / 4
		if n == shown {
			continue // a quiet period has fewer distinct shades
		}
		shown = n
		a := 0.04 + 0.96*float64(n)/float64(peak)
		x := left + i*70
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="18" height="18" fill="#005eb8" fill-opacity="%.2f"/><text x="%d" y="%d" class="axis">%d</text>`,
			x, ky, a, x+22, ky+13, n)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis">sessions in the hour</text>`, left+5*70, ky+13)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// legend draws a chart's key: the colours of sessions and unlocks.
func legend(b *strings.Builder, x, y int) {
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="14" height="14" fill="#aecbeb"/><text x="%d" y="%d" class="axis">Sessions</text>`, x, y, x+18, y+11)
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="14" height="14" fill="#005eb8"/><text x="%d" y="%d" class="axis">Unlocks</text>`, x+110, y, x+128, y+11)
}

// yAxis draws a bar chart's scale: 0, half and the peak, with its label.
func yAxis(b *strings.Builder, left, top, hgt, width, peak int, label string) {
	for _, v := range []int{0, peak / 2, peak} {
		y := top + hgt - hgt*v/peak
		fmt.Fprintf(b, `<text x="%d" y="%d" class="axis" text-anchor="end">%d</text><line x1="%d" y1="%d" x2="%d" y2="%d" class="grid"/>`,
			left-6, y+4, v, left, y, width, y)
	}
	fmt.Fprintf(b, `<text x="12" y="%d" class="axis label" transform="rotate(-90 12 %d)" text-anchor="middle">%s</text>`, top+hgt/2, top+hgt/2, esc(label))
}

// trendChart draws sessions and unlocks per week.
func trendChart(r *store.Report) template.HTML {
	const bw, gap, hgt, left, top, bottom = 26, 10, 140, 56, 30, 56
	n := len(r.Weekly)
	peak := 1
	for _, wk := range r.Weekly {
		peak = max(peak, wk.Sessions)
	}
	w := max(left+n*(bw+gap)+20, 260)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart trend" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="trend-title" xmlns="http://www.w3.org/2000/svg">`, w, top+hgt+bottom, w, top+hgt+bottom)
	b.WriteString(`<title id="trend-title">Sessions (light) and unlocks (dark) per week (the table "Weekly trend" has the numbers)</title>`)
	legend(&b, left, 4)
	yAxis(&b, left, top, hgt, w, peak, "Sessions")
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="base"/>`, left, top+hgt, w, top+hgt)
	for i, wk := range r.Weekly {
		x := left + i*(bw+gap)
		hs := hgt * wk.Sessions / peak
		hu := hgt * wk.Unlocks / peak
		label := wk.Start.Format("2 Jan")
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#aecbeb"><title>week from %s: %d sessions</title></rect>`, x, top+hgt-hs, bw, hs, esc(label), wk.Sessions)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#005eb8"><title>week from %s: %d unlocks</title></rect>`, x+4, top+hgt-hu, bw-8, hu, esc(label), wk.Unlocks)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis" transform="rotate(40 %d %d)">%s</text>`, x, top+hgt+14, x, top+hgt+14, esc(label))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis label">Week starting (Monday)</text>`, left, top+hgt+bottom-4)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// dailyChart draws sessions and unlocks for each day of the report's period (up to 62 days; longer
// periods have the weekly trend).
func dailyChart(r *store.Report, loc *time.Location) template.HTML {
	const bw, gap, hgt, left, top, bottom = 16, 4, 140, 56, 30, 40
	from, to := r.Filter.From.In(loc), r.Filter.To.In(loc)
	var days []time.Time
	for d := from; d.Before(to) && len(days) <= 62; d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	if len(days) == 0 || len(days) > 62 {
		return ""
	}
	byDate := map[string]store.Day{}
	peak := 1
	for _, d := range r.Daily {
		byDate[d.Date.Format("2006-01-02")] = d
		peak = max(peak, d.Sessions)
	}
	w := left + len(days)*(bw+gap) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart daily" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="daily-title" xmlns="http://www.w3.org/2000/svg">`, w, top+hgt+bottom, w, top+hgt+bottom)
	b.WriteString(`<title id="daily-title">Sessions (light) and unlocks (dark) on each day; hover a bar for its numbers</title>`)
	legend(&b, left, 4)
	yAxis(&b, left, top, hgt, w, peak, "Sessions")
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="base"/>`, left, top+hgt, w, top+hgt)
	for i, day := range days {
		d := byDate[day.Format("2006-01-02")]
		x := left + i*(bw+gap)
		hs, hu := hgt*d.Sessions/peak, hgt*d.Unlocks/peak
		label := day.Format("Mon 2 Jan")
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#aecbeb"><title>%s: %d sessions</title></rect>`, x, top+hgt-hs, bw, hs, label, d.Sessions)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#005eb8"><title>%s: %d unlocks</title></rect>`, x+3, top+hgt-hu, bw-6, hu, label, d.Unlocks)
		if day.Day() == 1 || day.Day()%5 == 0 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis" text-anchor="middle">%d</text>`, x+bw/2, top+hgt+14, day.Day())
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis label">Day of the month</text>`, left, top+hgt+bottom-6)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// healthChart draws a kiosk's outbox backlog over its health history, with offline gaps visible as
// missing points.
func healthChart(hist []store.HealthSample, now time.Time) template.HTML {
	const w, h, left = 720, 120, 40
	if len(hist) == 0 {
		return ""
	}
	start := now.Add(-24 * time.Hour)
	peak := 10
	for _, s := range hist {
		peak = max(peak, s.OutboxDepth)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart health" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="health-title" xmlns="http://www.w3.org/2000/svg">`, w, h+20, w, h+20)
	b.WriteString(`<title id="health-title">Events waiting in the kiosk's outbox over the last 24 hours; red marks a report with the card reader not ready</title>`)
	fmt.Fprintf(&b, `<text x="0" y="12" class="axis">%d</text><text x="0" y="%d" class="axis">0</text>`, peak, h)
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis">24 h ago</text><text x="%d" y="%d" class="axis">now</text>`, left, h+16, w-30, h+16)
	var pts []string
	for i := len(hist) - 1; i >= 0; i-- {
		s := hist[i]
		x := left + int(float64(w-left-10)*s.At.Sub(start).Seconds()/(24*3600))
		y := h - (h-10)*s.OutboxDepth/peak
		pts = append(pts, fmt.Sprintf("%d,%d", x, y))
		if s.Reader != "ready" {
			fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="3" fill="#d5281b"><title>%s: reader %s</title></circle>`, x, y, s.At.Format("15:04"), esc(s.Reader))
		}
	}
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#005eb8" stroke-width="2" points="%s"/>`, strings.Join(pts, " "))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
