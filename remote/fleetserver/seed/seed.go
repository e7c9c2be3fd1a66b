// Package seed makes synthetic but realistic fleet data: kiosks across several sites and wards, a
// year (or any period) of usage sessions with their step events, and current status and health with a
// few things wrong, so a newcomer sees real-looking dashboards and reports, and benchmarks have a
// realistic volume to work on.
//
// It is deterministic for a given seed, and it never makes anything that looks like personal data:
// card keys are random hex, as pseudonymous as the real ones.
package seed

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleetserver/store"
)

// Place is a kiosk's site and ward.
type Place struct {
	Kiosk, Site, Ward string
}

// DemoSites are the sites and wards of the demonstration fleet.
var DemoSites = []struct {
	Site  string
	Wards []string
}{
	{"st-james", []string{"a-and-e", "ward-12", "theatres", "pharmacy", "outpatients"}},
	{"leeds-gi", []string{"a-and-e", "ward-4", "maternity", "radiology"}},
	{"chapel-allerton", []string{"outpatients", "rehab"}},
	{"wharfedale", []string{"main-entrance", "ward-2"}},
	{"seacroft", []string{"main-entrance"}},
}

// Places spreads n kiosks over DemoSites (kiosk-1001, kiosk-1002, …), more at the bigger sites.
func Places(n int) []Place {
	var slots []Place
	for _, s := range DemoSites {
		for _, w := range s.Wards {
			slots = append(slots, Place{Site: s.Site, Ward: w})
		}
	}
	out := make([]Place, n)
	for i := range out {
		p := slots[i%len(slots)]
		p.Kiosk = fmt.Sprintf("kiosk-%04d", 1001+i)
		out[i] = p
	}
	return out
}

// Usage configures Generate.
type Usage struct {
	Places           []Place
	From, To         time.Time
	SessionsPerMonth int // across all kiosks, on average
	Seed             uint64
	Location         *time.Location // local time for the daily and weekly rhythm; default UTC
	BatchSessions    int            // sessions per call of the sink; default 5000
	NoEvents         bool           // sessions only (faster), no step events
}

// hourWeight is the relative number of sessions started in each local hour: shift changes at 07-08
// and 19-20, a lunchtime bump, a quiet night.
var hourWeight = [24]float64{0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.6, 2.6, 3.2, 2.4, 1.8, 1.6, 2.2, 2.4, 1.7, 1.5, 1.4, 1.3, 1.1, 1.9, 1.2, 0.6, 0.4, 0.3}

// dayWeight is by weekday (Sunday first).
var dayWeight = [7]float64{0.45, 1.15, 1.1, 1.05, 1.05, 1.0, 0.5}

var (
	reasons    = []string{"no-email", "no-email", "email-domain-not-allowed", "email-domain-not-allowed", "certificates-expired", "not-registered"}
	errorCodes = []string{"ERR1009", "ERR1009", "ERR1009", "ERR2008", "ERR2005", "ERR2006", "ERR1008"}
)

// Generate produces sessions and their events over the period and hands them to sink in batches.
func Generate(ctx context.Context, u Usage, sink func(sessions []store.Session, events []fleet.UsageEvent) error) error {
	if len(u.Places) == 0 || !u.From.Before(u.To) || u.SessionsPerMonth <= 0 {
		return fmt.Errorf("seed: places, a period and a monthly volume are required")
	}
	loc := u.Location
	if loc == nil {
		loc = time.UTC
	}
	batch := u.BatchSessions
	if batch <= 0 {
		batch = 5000
	}
	rng := rand.New(rand.NewPCG(u.Seed, u.Seed^0x5eed))
	// Popularity of each kiosk: some are by a busy entrance, some in a quiet corridor.
	pop := make([]float64, len(u.Places))
	var popSum float64
	for i := range pop {
		pop[i] = 0.4 + rng.Float64()*1.6
		popSum += pop[i]
	}
	var hourSum float64
	for _, w := range hourWeight {
		hourSum += w
	}
	var daySum float64
	for _, w := range dayWeight {
		daySum += w
	}
	perDay := float64(u.SessionsPerMonth) * 12 / 365.25 // on an average day
	// People: most lock their card once in a while; a few forget often.
	people := uint64(u.SessionsPerMonth) * 8
	card := func(i uint64) string {
		return fmt.Sprintf("%016x%016x%016x%016x", mix(u.Seed, i, 1), mix(u.Seed, i, 2), mix(u.Seed, i, 3), mix(u.Seed, i, 4))
	}

	var sessions []store.Session
	var events []fleet.UsageEvent
	flush := func() error {
		if len(sessions) == 0 {
			return nil
		}
		if err := sink(sessions, events); err != nil {
			return err
		}
		sessions, events = sessions[:0], events[:0]
		return ctx.Err()
	}
	for day := u.From.In(loc); day.Before(u.To); day = day.AddDate(0, 0, 1) {
		y, m, d := day.Date()
		midnight := time.Date(y, m, d, 0, 0, 0, 0, loc)
		season := 1 + 0.12*math.Cos(2*math.Pi*float64(day.YearDay()-15)/365) // busier in winter
		dayMean := perDay * season * dayWeight[midnight.Weekday()] * 7 / daySum
		used := map[time.Time]bool{} // one session per kiosk per millisecond: (kiosk, start) is a key
		for i, p := range u.Places {
			clear(used)
			n := poisson(rng, dayMean*pop[i]/popSum)
			for j := 0; j < n; j++ {
				hour := pick(rng, hourWeight[:], hourSum)
				start := midnight.Add(time.Duration(hour)*time.Hour + time.Duration(rng.Int64N(int64(time.Hour)))).Truncate(time.Millisecond)
				if !start.Before(u.To) || start.Before(u.From) || used[start] {
					continue
				}
				used[start] = true
				who := 150 + rng.Uint64N(people)
				if rng.Float64() < 0.04 {
					who = rng.Uint64N(150) // the frequent forgetters
				}
				s, evs := oneSession(rng, p, start, card(who), !u.NoEvents)
				sessions = append(sessions, s)
				events = append(events, evs...)
				if len(sessions) >= batch {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
	}
	return flush()
}

// oneSession plays one person's visit to a kiosk.
func oneSession(rng *rand.Rand, p Place, start time.Time, card string, withEvents bool) (store.Session, []fleet.UsageEvent) {
	s := store.Session{Kiosk: p.Kiosk, Site: p.Site, Ward: p.Ward, StartedAt: start.UTC(), Started: true, CardKey: card}
	var evs []fleet.UsageEvent
	at := start
	add := func(kind fleet.EventKind, after time.Duration, set func(*fleet.UsageEvent)) {
		if !withEvents {
			return
		}
		at = at.Add(after)
		e := fleet.UsageEvent{V: fleet.Version, ID: fleet.NewEventID(), Kind: kind, Kiosk: p.Kiosk, Site: p.Site, Ward: p.Ward,
			At: at.UTC(), SessionAt: start.UTC(), DurationMS: at.Sub(start).Milliseconds(), StepMS: after.Milliseconds(),
			AppVersion: "1.4.2", CardKey: card}
		if set != nil {
			set(&e)
		}
		evs = append(evs, e)
	}
	sec := func(lo, hi int) time.Duration { return time.Duration(lo+rng.IntN(hi-lo+1)) * time.Second }
	add(fleet.SessionStarted, 0, nil)
	r := rng.Float64()
	end := func(kind fleet.EventKind, step string) {
		s.EndKind, s.EndStep = string(kind), step
		add(kind, sec(20, 120), func(e *fleet.UsageEvent) { e.Step = step })
	}
	switch {
	case r < 0.075:
		s.Reason = reasons[rng.IntN(len(reasons))]
		add(fleet.Ineligible, sec(4, 10), func(e *fleet.UsageEvent) { e.Reason = s.Reason })
		return s, evs
	case r < 0.09:
		end(fleet.Abandoned, []string{"start-now", "choose-method", "choose-method"}[rng.IntN(3)])
		return s, evs
	case r < 0.105:
		s.ErrorCode = errorCodes[rng.IntN(len(errorCodes))]
		add(fleet.ErrorRaised, sec(5, 40), func(e *fleet.UsageEvent) { e.ErrorCode = s.ErrorCode })
		return s, evs
	}
	s.Method = "email"
	if rng.Float64() < 0.31 {
		s.Method = "sms"
	}
	add(fleet.MethodChosen, sec(5, 25), func(e *fleet.UsageEvent) { e.Method = s.Method })
	add(fleet.CodeSent, sec(1, 4), func(e *fleet.UsageEvent) { e.Method = s.Method })
	for f := rng.Float64(); f < 0.18 && s.CodeFailures < 3; f = rng.Float64() * 1.6 {
		s.CodeFailures++
		add(fleet.CodeRefused, sec(20, 90), nil)
	}
	r = rng.Float64()
	switch {
	case s.CodeFailures == 3 || r < 0.03:
		end(fleet.TimedOut, "enter-code")
		return s, evs
	case r < 0.055:
		end(fleet.Abandoned, "enter-code")
		return s, evs
	case r < 0.075:
		end(fleet.CardRemoved, []string{"enter-code", "choose-passcode", "unlocking"}[rng.IntN(3)])
		return s, evs
	case r < 0.09:
		s.ErrorCode = errorCodes[rng.IntN(len(errorCodes))]
		add(fleet.ErrorRaised, sec(5, 40), func(e *fleet.UsageEvent) { e.ErrorCode = s.ErrorCode })
		return s, evs
	case r < 0.19:
		s.PasscodeChanged = true // a person who came to change their passcode, not to unlock
		add(fleet.PasscodeChanged, sec(40, 150), nil)
		return s, evs
	}
	// An unlock: a log-normal time around two and a half minutes.
	total := time.Duration(math.Exp(math.Log(150)+0.35*rng.NormFloat64()) * float64(time.Second))
	if elapsed := at.Sub(start); total < elapsed+20*time.Second {
		total = elapsed + 20*time.Second
	}
	add(fleet.Unlocked, total-at.Sub(start), nil)
	s.Unlocked, s.UnlockMS = true, total.Milliseconds()
	return s, evs
}

// mix is splitmix64 of (seed, i, salt): a card key that is the same for the same person.
func mix(seed, i, salt uint64) uint64 {
	z := seed*0x9e3779b97f4a7c15 + i*0xbf58476d1ce4e5b9 + salt*0x94d049bb133111eb
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func poisson(rng *rand.Rand, mean float64) int {
	if mean > 30 { // normal approximation
		return max(0, int(math.Round(mean+math.Sqrt(mean)*rng.NormFloat64())))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func pick(rng *rand.Rand, w []float64, sum float64) int {
	x := rng.Float64() * sum
	for i, v := range w {
		if x < v {
			return i
		}
		x -= v
	}
	return len(w) - 1
}

// Demo fills a store for demonstration: n kiosks across DemoSites, a year of usage up to now at about
// perMonth sessions a month, their current status (a few offline, one in maintenance) and a day of
// health history (one with its reader missing, one with a growing backlog, one whose certificate
// expires soon). It does nothing when the store already has sessions.
func Demo(ctx context.Context, st *store.Store, n, perMonth int, now time.Time) error {
	if have, err := st.CountSessions(ctx); err != nil || have > 0 {
		return err
	}
	places := Places(n)
	for _, p := range places {
		if err := st.AddKiosk(ctx, p.Kiosk, p.Site, p.Ward); err != nil {
			return err
		}
	}
	err := Generate(ctx, Usage{Places: places, From: now.AddDate(-1, 0, 0), To: now, SessionsPerMonth: perMonth, Seed: 2026,
		Location: st.Location()}, func(s []store.Session, e []fleet.UsageEvent) error { return st.BulkLoad(ctx, s, e) })
	if err != nil {
		return fmt.Errorf("seed demo usage: %w", err)
	}
	var b ingest.Batch
	for i, p := range places {
		online := i%17 != 5 // kiosk-1006, kiosk-1023, kiosk-1040 are offline
		conn := uint64(3 + i%4)
		b.Statuses = append(b.Statuses, fleet.Status{V: 1, Kiosk: p.Kiosk, Online: true, Conn: conn, Site: p.Site, Ward: p.Ward,
			AppVersion: "1.4.2", At: now.Add(-time.Duration(2+i%9) * 24 * time.Hour), StartedAt: now.Add(-time.Duration(2+i%9) * 24 * time.Hour)})
		if !online {
			b.Statuses = append(b.Statuses, fleet.Status{V: 1, Kiosk: p.Kiosk, Online: false, Conn: conn, At: now.Add(-time.Duration(30+i) * time.Minute)})
		}
		for k := 24 * 12; k >= 0; k-- { // every 5 minutes for a day
			at := now.Add(-time.Duration(k) * 5 * time.Minute)
			if !online && at.After(now.Add(-time.Duration(30+i)*time.Minute)) {
				break
			}
			h := fleet.Health{V: 1, Kiosk: p.Kiosk, At: at, AppVersion: "1.4.2", Reader: "ready", LED: "idle", PCSCD: "running",
				IdentityReachable: true, OutboxBound: 10000, ConfigVersion: "cfg-7", UptimeS: int64(now.Sub(at).Seconds()) + 3600,
				CertExpiry: now.AddDate(0, 8, i), DiskFreeBytes: 12 << 30}
			switch i {
			case 7: // reader unplugged an hour ago
				if k < 12 {
					h.Reader = "missing"
				}
			case 12: // cannot reach the fleet's broker reliably: backlog growing
				if k < 12 {
					h.OutboxDepth = (12 - k) * 9
				}
			case 20:
				h.CertExpiry = now.AddDate(0, 0, 9)
			case 30:
				h.Maintenance = true
			}
			b.Health = append(b.Health, h)
		}
	}
	if _, err := st.Save(ctx, b); err != nil {
		return fmt.Errorf("seed demo status: %w", err)
	}
	return st.Analyze(ctx)
}
