package web

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleetserver/store"
)

// MetricsSource is what /metrics reports on.
type MetricsSource interface {
	OnlineCount(ctx context.Context) (online, total int, err error)
	IngestStats() store.IngestStats
	OpenAlerts(ctx context.Context, sites []string) ([]store.Alert, error)
}

// NewMetrics returns a registry with the fleet's metrics (official Prometheus client): kiosks online,
// events ingested, ingest lag, messages dropped, open alerts, and the process's own. receiver may be nil.
func NewMetrics(src MetricsSource, receiver func() ingest.Counters) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	query := func(f func(ctx context.Context) float64) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return f(ctx)
		}
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ssu_fleet_kiosks_online", Help: "Registered kiosks whose latest status is online."},
			query(func(ctx context.Context) float64 { n, _, _ := src.OnlineCount(ctx); return float64(n) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ssu_fleet_kiosks", Help: "Registered kiosks."},
			query(func(ctx context.Context) float64 { _, n, _ := src.OnlineCount(ctx); return float64(n) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ssu_fleet_alerts_open", Help: "Open alerts."},
			query(func(ctx context.Context) float64 { a, _ := src.OpenAlerts(ctx, nil); return float64(len(a)) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ssu_fleet_events_ingested_total", Help: "Usage events stored for the first time."},
			func() float64 { return float64(src.IngestStats().NewEvents) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ssu_fleet_ingest_batches_total", Help: "Batches committed by ingest."},
			func() float64 { return float64(src.IngestStats().Batches) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ssu_fleet_ingest_lag_seconds",
			Help: "For the latest batch with events: commit time minus the time of its newest event."},
			func() float64 { return src.IngestStats().LastBatchLag.Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ssu_fleet_ingest_unregistered_total",
			Help: "Messages stored from kiosks that are not placed at a site yet."},
			func() float64 { return float64(src.IngestStats().Unregistered) }),
	)
	if receiver != nil {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ssu_fleet_ingest_dropped_total", Help: "Messages dropped by ingest.",
				ConstLabels: prometheus.Labels{"reason": "invalid"}}, func() float64 { return float64(receiver().Invalid) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ssu_fleet_ingest_dropped_total", Help: "Messages dropped by ingest.",
				ConstLabels: prometheus.Labels{"reason": "oversized"}}, func() float64 { return float64(receiver().Oversized) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ssu_fleet_events_received_total", Help: "Usage event messages received, resends included."},
				func() float64 { return float64(receiver().Events) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ssu_fleet_events_duplicate_total", Help: "Usage events received again after being stored."},
				func() float64 { return float64(receiver().Duplicates) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ssu_fleet_events_acked_total", Help: "Usage event ids acknowledged to kiosks."},
				func() float64 { return float64(receiver().Acked) }),
		)
	}
	return reg
}

// MetricsHandler serves a registry's metrics to Prometheus, with no sign-in: serve it on a listener
// only the monitoring system reaches (ssu-fleetd --metrics-listen), or behind a bearer token
// (Config.MetricsToken).
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// bearer lets through only requests carrying "Authorization: Bearer <token>".
func bearer(token []byte, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "a bearer token is required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
