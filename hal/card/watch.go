package card

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ebfe/scard"
)

// State is the reader state the kiosk shows, over the readers it watches.
type State int

const (
	// StateServiceDown: pcscd is not running (the watcher keeps trying to reach it).
	StateServiceDown State = iota
	// StateNoReader: pcscd runs but no reader is connected.
	StateNoReader
	// StateNoCard: a reader is connected and empty.
	StateNoCard
	// StateCardPresent: a card is in a reader.
	StateCardPresent
	// StateCardUnreadable: a card is in a reader but does not answer (mute, or a bad ATR).
	StateCardUnreadable
)

var stateNames = [...]string{"service_down", "no_reader", "no_card", "card_present", "card_unreadable"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// EventKind says what changed.
type EventKind int

const (
	ServiceDown EventKind = iota
	ServiceUp
	ReaderAdded
	ReaderRemoved
	CardInserted
	CardRemoved
	CardUnreadable
)

var kindNames = [...]string{"service_down", "service_up", "reader_added", "reader_removed",
	"card_inserted", "card_removed", "card_unreadable"}

func (k EventKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Event is one change seen by the watcher.
type Event struct {
	Kind   EventKind
	Reader string
	// ATR is the card's answer to reset (CardInserted, CardUnreadable).
	ATR []byte
	// Time is when PC/SC reported the change.
	Time time.Time
	// State is the overall state once this event is taken into account.
	State State
}

// WatchOptions configure Watch. The zero value watches every reader.
type WatchOptions struct {
	// ReaderFilter keeps readers whose name contains it.
	ReaderFilter string
	// Log receives service outages; nil discards.
	Log *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between attempts to reach pcscd (defaults 100 ms, 5 s).
	MinBackoff, MaxBackoff time.Duration
	// Poll is the longest single wait inside PC/SC (default 2 s); changes are reported at once anyway.
	Poll time.Duration
}

// pnpReader is pcsc-lite's pseudo reader whose state changes when a reader is plugged or unplugged.
const pnpReader = `\\?PnP?\Notification`

// Watch reports reader and card changes on the returned channel until ctx is done, then closes it.
// It starts with the current picture (ServiceUp or ServiceDown, a ReaderAdded per reader, a CardInserted
// per card already present). When pcscd stops it reports ServiceDown (and the readers and cards gone) and
// re-establishes its context with exponential backoff, never in a busy loop.
func Watch(ctx context.Context, opts WatchOptions) <-chan Event {
	return watch(ctx, opts, establishPCSC)
}

// pcscContext is what the watcher needs of a PC/SC context: *scard.Context, or a test's fake.
type pcscContext interface {
	ListReaders() ([]string, error)
	GetStatusChange(states []scard.ReaderState, timeout time.Duration) error
	Cancel() error
	Release() error
}

func establishPCSC() (pcscContext, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// watch is Watch over the PC/SC contexts establish makes.
func watch(ctx context.Context, opts WatchOptions, establish func() (pcscContext, error)) <-chan Event {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(5*time.Second, opts.MinBackoff)
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	out := make(chan Event, 32)
	w := &watcher{opts: opts, out: out, readers: map[string]*readerSeen{}, establish: establish}
	go func() {
		defer close(out)
		w.run(ctx)
	}()
	return out
}

type readerSeen struct {
	flags scard.StateFlag
	card  bool
	mute  bool
}

type watcher struct {
	opts      WatchOptions
	establish func() (pcscContext, error)
	out       chan<- Event
	up        bool
	known     bool // whether up has been reported at least once
	readers   map[string]*readerSeen
}

func (w *watcher) run(ctx context.Context) {
	backoff := w.opts.MinBackoff
	for ctx.Err() == nil {
		sctx, err := w.establish()
		if err == nil {
			err = w.session(ctx, sctx)
			sctx.Release()
			if err == nil { // ctx done
				return
			}
			backoff = w.opts.MinBackoff
		}
		w.serviceDown(ctx, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, w.opts.MaxBackoff)
	}
}

// session watches through one PC/SC context until ctx is done (nil) or the service fails (its error).
func (w *watcher) session(ctx context.Context, sctx pcscContext) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			_ = sctx.Cancel()
		case <-done:
		}
	}()
	if !w.up || !w.known {
		w.up, w.known = true, true
		w.send(ctx, Event{Kind: ServiceUp, Time: time.Now()})
	}
	pnp := scard.ReaderState{Reader: pnpReader, CurrentState: scard.StateUnaware}
	for ctx.Err() == nil {
		names, err := sctx.ListReaders()
		if err != nil && !errors.Is(err, scard.ErrNoReadersAvailable) {
			return pcscErr(err)
		}
		w.syncReaders(ctx, names)
		states := make([]scard.ReaderState, 0, 1+len(w.readers))
		states = append(states, pnp)
		for _, name := range w.names() {
			states = append(states, scard.ReaderState{Reader: name, CurrentState: w.readers[name].flags})
		}
		err = sctx.GetStatusChange(states, w.opts.Poll)
		now := time.Now()
		switch {
		case err == nil:
		case errors.Is(err, scard.ErrTimeout), errors.Is(err, scard.ErrUnknownReader):
			continue
		case errors.Is(err, scard.ErrCancelled):
			return nil
		default:
			if ctx.Err() != nil {
				return nil
			}
			return pcscErr(err)
		}
		pnp.CurrentState = states[0].EventState &^ scard.StateChanged
		for _, st := range states[1:] {
			w.update(ctx, st, now)
		}
	}
	return nil
}

func (w *watcher) names() []string {
	names := make([]string, 0, len(w.readers))
	for n := range w.readers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (w *watcher) syncReaders(ctx context.Context, names []string) {
	now := time.Now()
	var keep []string
	for _, n := range names {
		if strings.Contains(n, w.opts.ReaderFilter) {
			keep = append(keep, n)
		}
	}
	for _, n := range w.names() {
		if !slices.Contains(keep, n) {
			w.removeReader(ctx, n, now)
		}
	}
	for _, n := range keep {
		if _, ok := w.readers[n]; !ok {
			w.readers[n] = &readerSeen{flags: scard.StateUnaware}
			w.send(ctx, Event{Kind: ReaderAdded, Reader: n, Time: now})
		}
	}
}

func (w *watcher) removeReader(ctx context.Context, name string, now time.Time) {
	r := w.readers[name]
	delete(w.readers, name)
	if r.card || r.mute {
		w.send(ctx, Event{Kind: CardRemoved, Reader: name, Time: now})
	}
	w.send(ctx, Event{Kind: ReaderRemoved, Reader: name, Time: now})
}

func (w *watcher) update(ctx context.Context, st scard.ReaderState, now time.Time) {
	r, ok := w.readers[st.Reader]
	if !ok {
		return
	}
	ev := st.EventState
	r.flags = ev &^ scard.StateChanged
	// An unknown (unplugged) or unavailable reader holds no card. It stays known until ListReaders stops
	// naming it: removing it here would add it back, unaware, on the next loop, and the next wait would
	// return at once with the same state, round and round.
	present := ev&scard.StatePresent != 0 && ev&(scard.StateUnknown|scard.StateUnavailable) == 0
	mute := present && ev&scard.StateMute != 0
	card := present && !mute
	switch {
	case card && !r.card:
		r.card, r.mute = true, false
		w.send(ctx, Event{Kind: CardInserted, Reader: st.Reader, ATR: append([]byte(nil), st.Atr...), Time: now})
	case mute && !r.mute:
		wasCard := r.card
		r.card, r.mute = false, true
		if wasCard {
			w.send(ctx, Event{Kind: CardRemoved, Reader: st.Reader, Time: now})
		}
		w.send(ctx, Event{Kind: CardUnreadable, Reader: st.Reader, ATR: append([]byte(nil), st.Atr...), Time: now})
	case !present && (r.card || r.mute):
		r.card, r.mute = false, false
		w.send(ctx, Event{Kind: CardRemoved, Reader: st.Reader, Time: now})
	}
}

func (w *watcher) serviceDown(ctx context.Context, err error) {
	now := time.Now()
	wasUp := w.up || !w.known
	w.up, w.known = false, true
	for _, n := range w.names() {
		w.removeReader(ctx, n, now)
	}
	if wasUp {
		w.opts.Log.Warn("smartcard service unavailable; retrying", "err", err)
		w.send(ctx, Event{Kind: ServiceDown, Time: now})
	}
}

// state is the overall state: a usable card beats an unreadable one beats an empty reader.
func (w *watcher) state() State {
	if !w.up {
		return StateServiceDown
	}
	if len(w.readers) == 0 {
		return StateNoReader
	}
	s := StateNoCard
	for _, r := range w.readers {
		switch {
		case r.card:
			return StateCardPresent
		case r.mute:
			s = StateCardUnreadable
		}
	}
	return s
}

func (w *watcher) send(ctx context.Context, ev Event) {
	ev.State = w.state()
	select {
	case w.out <- ev:
	case <-ctx.Done():
	}
}
