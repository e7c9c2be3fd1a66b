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

// heatmapChart draws sessions by weekday and hour.
func heatmapChart(r *store.Report) template.HTML {
	const cell, left, top = 22, 90, 22
	peak := 1
	for _, d := range r.Heatmap {
		for _, n := range d {
			peak = max(peak, n)
		}
	}
	var b strings.Builder
	w, h := left+24*cell+4, top+7*cell+4
	fmt.Fprintf(&b, `<svg class="chart heatmap" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="heat-title" xmlns="http://www.w3.org/2000/svg">`, w, h, w, h)
	b.WriteString(`<title id="heat-title">Sessions by weekday and hour: darker is busier (the table "Busiest hours" has the numbers)</title>`)
	for hr := 0; hr < 24; hr += 3 {
		fmt.Fprintf(&b, `<text x="%d" y="14" class="axis">%02d</text>`, left+hr*cell+2, hr)
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
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// trendChart draws sessions and unlocks per week.
func trendChart(r *store.Report) template.HTML {
	const bw, gap, hgt, left, bottom = 26, 10, 160, 40, 40
	n := len(r.Weekly)
	peak := 1
	for _, wk := range r.Weekly {
		peak = max(peak, wk.Sessions)
	}
	w := left + n*(bw+gap) + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart trend" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="trend-title" xmlns="http://www.w3.org/2000/svg">`, w, hgt+bottom, w, hgt+bottom)
	b.WriteString(`<title id="trend-title">Sessions (light) and unlocks (dark) per week (the table "Weekly trend" has the numbers)</title>`)
	fmt.Fprintf(&b, `<text x="0" y="12" class="axis">%d</text><line x1="%d" y1="%d" x2="%d" y2="%d" class="base"/>`, peak, left-4, hgt, w, hgt)
	for i, wk := range r.Weekly {
		x := left + i*(bw+gap)
		hs := hgt * wk.Sessions / peak
		hu := hgt * wk.Unlocks / peak
		label := wk.Start.Format("2 Jan")
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#aecbeb"><title>week from %s: %d sessions</title></rect>`, x, hgt-hs, bw, hs, esc(label), wk.Sessions)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#005eb8"><title>week from %s: %d unlocks</title></rect>`, x+4, hgt-hu, bw-8, hu, esc(label), wk.Unlocks)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis" transform="rotate(40 %d %d)">%s</text>`, x, hgt+14, x, hgt+14, esc(label))
	}
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
