package fleetserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleetserver/alerts"
	"ssu-kiosk/remote/fleetserver/releases"
	"ssu-kiosk/remote/fleetserver/rollout"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/web"
)

// Options configure a Server. Store, Broker, Identity and TLS are required.
type Options struct {
	Store    *store.Store
	Broker   string      // the fleet's broker, e.g. ssl://127.0.0.1:8883
	Identity string      // the fleet server's identity: its certificate's CN and MQTT client id
	TLS      *tls.Config // root CAs of the broker and the fleet identity's client certificate

	SecureCookies bool // the web side is served over TLS
	// MetricsToken puts /metrics on the dashboard's handler behind this bearer token; without it
	// /metrics is only on Server.Metrics, for a listener of its own.
	MetricsToken   []byte
	TrustedProxies []netip.Prefix // reverse proxies whose X-Forwarded-For is believed (web.Config)
	Rules          alerts.Rules
	Notifiers      []alerts.Notifier
	CheckEvery     time.Duration // alert checks; default 30 s
	KeepHealth     time.Duration // health history kept; default 30 days
	Log            *slog.Logger

	// Releases, when set, publishes release bundles and runs rollouts (rollouts.go).
	Releases *ReleaseOptions
}

// Server is ssu-fleetd without its listeners: ingest, alerts and the web handler.
type Server struct {
	Receiver *ingest.Receiver
	Web      *web.Server
	Metrics  http.Handler // Prometheus metrics, no sign-in: serve only where monitoring alone reaches
	Alerts   *alerts.Checker
	// Rollouts and Catalog are nil unless Options.Releases is set; Catalog.Downloads is served to
	// kiosks on a listener of its own (client certificates of the fleet CA).
	Rollouts *rollout.Manager
	Catalog  *releases.Catalog
	opt      Options
}

// New wires a Server.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("fleet server: a store is required")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = 30 * time.Second
	}
	if o.KeepHealth <= 0 {
		o.KeepHealth = 30 * 24 * time.Hour
	}
	var rec *ingest.Receiver
	ro, err := newRollouts(o, func() *ingest.Receiver { return rec })
	if err != nil {
		return nil, err
	}
	var saver ingest.Store = o.Store
	if ro.manager != nil {
		saver = rollout.Tap{Store: o.Store, Manager: ro.manager}
	}
	rec, err = ingest.NewReceiver(ingest.Config{Identity: o.Identity, Broker: o.Broker, TLS: o.TLS, Store: saver, Log: o.Log,
		// Large batches: a batch's acknowledgements go out as one message per kiosk, and the next batch
		// waits for the broker to take them, so under load fewer, fuller batches keep up best.
		BatchSize: 4000, BatchWait: 100 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	reg := web.NewMetrics(o.Store, rec.Counters)
	wc := web.Config{Store: o.Store, Commands: rec, Secure: o.SecureCookies, Log: o.Log,
		Metrics: reg, MetricsToken: o.MetricsToken, TrustedProxies: o.TrustedProxies}
	if ro.manager != nil {
		wc.Releases, wc.Rollouts = ro.catalog, ro.manager
	}
	w, err := web.New(wc)
	if err != nil {
		return nil, err
	}
	return &Server{Receiver: rec, Web: w, Metrics: web.MetricsHandler(reg), Alerts: alerts.NewChecker(o.Store, o.Rules, o.Log, o.Notifiers...),
		Rollouts: ro.manager, Catalog: ro.catalog, opt: o}, nil
}

// Run receives from the broker, checks alerts and prunes old health reports until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.Alerts.Run(ctx, s.opt.CheckEvery) }()
	if s.Rollouts != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.Rollouts.Run(ctx, time.Second) }()
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			if _, err := s.opt.Store.PruneHealth(ctx, time.Now().Add(-s.opt.KeepHealth)); err != nil && ctx.Err() == nil {
				s.opt.Log.Warn("fleet server: pruning health history failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	err := s.Receiver.Run(ctx)
	wg.Wait()
	return err
}
