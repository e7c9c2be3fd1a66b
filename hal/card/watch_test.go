package card

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ebfe/scard"
)

// fakePCSC is a PC/SC context over readers a test plugs, unplugs and fills, answering GetStatusChange
// the way pcsc-lite does: at once when something differs from what the caller knows, else when the
// test changes something, else at the timeout.
type fakePCSC struct {
	mu      sync.Mutex
	readers map[string]scard.StateFlag
	order   []string
	gen     int // bumped on every plug or unplug: the PnP pseudo reader's state
	changed chan struct{}
	waits   int // GetStatusChange calls
}

func newFakePCSC() *fakePCSC {
	return &fakePCSC{readers: map[string]scard.StateFlag{}, changed: make(chan struct{})}
}

func (f *fakePCSC) kick() { close(f.changed); f.changed = make(chan struct{}) }

func (f *fakePCSC) plug(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readers[name] = scard.StateEmpty
	f.order = append(f.order, name)
	f.gen++
	f.kick()
}

func (f *fakePCSC) unplug(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.readers, name)
	for i, n := range f.order {
		if n == name {
			f.order = append(f.order[:i], f.order[i+1:]...)
			break
		}
	}
	f.gen++
	f.kick()
}

func (f *fakePCSC) set(name string, st scard.StateFlag) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readers[name] = st
	f.kick()
}

func (f *fakePCSC) ListReaders() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.order) == 0 {
		return nil, scard.ErrNoReadersAvailable
	}
	return append([]string(nil), f.order...), nil
}

func (f *fakePCSC) GetStatusChange(states []scard.ReaderState, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		f.mu.Lock()
		f.waits++
		changed := false
		for i := range states {
			var now scard.StateFlag
			switch st, ok := f.readers[states[i].Reader]; {
			case states[i].Reader == pnpReader:
				now = scard.StateFlag(f.gen << 16)
			case ok:
				now = st
			default:
				now = scard.StateUnknown
			}
			states[i].EventState = now
			if now != states[i].CurrentState {
				states[i].EventState |= scard.StateChanged
				changed = true
			}
		}
		wake := f.changed
		f.mu.Unlock()
		if changed {
			return nil
		}
		select {
		case <-wake:
		case <-deadline:
			return scard.ErrTimeout
		}
	}
}

func (f *fakePCSC) Cancel() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kick()
	return nil
}

func (f *fakePCSC) Release() error { return nil }

func (f *fakePCSC) waitCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waits
}

func next(t *testing.T, events <-chan Event, kind EventKind, reader string, state State) {
	t.Helper()
	select {
	case ev := <-events:
		if ev.Kind != kind || ev.Reader != reader || ev.State != state {
			t.Fatalf("event = %s %q (state %s), want %s %q (state %s)", ev.Kind, ev.Reader, ev.State, kind, reader, state)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s event for %q", kind, reader)
	}
}

// TestWatchReadersPluggedUnpluggedAndMuteCards drives the watcher over a fake PC/SC context through what
// a virtual reader cannot show: a reader plugged in and pulled out (the PnP notification), a mute card,
// and a reader that reports itself unavailable, which must not make the watcher spin.
func TestWatchReadersPluggedUnpluggedAndMuteCards(t *testing.T) {
	f := newFakePCSC()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := watch(ctx, WatchOptions{Poll: time.Second}, func() (pcscContext, error) { return f, nil })
	next(t, events, ServiceUp, "", StateNoReader)

	f.plug("USB Reader 00 00")
	next(t, events, ReaderAdded, "USB Reader 00 00", StateNoCard)
	f.set("USB Reader 00 00", scard.StatePresent|scard.StateMute)
	next(t, events, CardUnreadable, "USB Reader 00 00", StateCardUnreadable)
	f.set("USB Reader 00 00", scard.StateEmpty)
	next(t, events, CardRemoved, "USB Reader 00 00", StateNoCard)
	f.set("USB Reader 00 00", scard.StatePresent)
	next(t, events, CardInserted, "USB Reader 00 00", StateCardPresent)

	// Unavailable: no card, the reader still known, and the watcher waits rather than loops.
	f.set("USB Reader 00 00", scard.StateUnavailable)
	next(t, events, CardRemoved, "USB Reader 00 00", StateNoCard)
	before := f.waitCalls()
	select {
	case ev := <-events:
		t.Fatalf("event from an unavailable reader: %+v", ev)
	case <-time.After(500 * time.Millisecond):
	}
	if calls := f.waitCalls() - before; calls > 5 {
		t.Fatalf("%d GetStatusChange rounds in 0.5 s over an unavailable reader: a busy loop", calls)
	}

	f.set("USB Reader 00 00", scard.StatePresent)
	next(t, events, CardInserted, "USB Reader 00 00", StateCardPresent)
	f.unplug("USB Reader 00 00") // pulled out with the card in it
	// The card goes first, then the reader. The card's event carries the state the watcher saw when it
	// read the change: the reader unknown but still listed (no card), or already gone from the list (no
	// reader) when the PnP notification came in the same round; both are right.
	select {
	case ev := <-events:
		if ev.Kind != CardRemoved || ev.Reader != "USB Reader 00 00" || (ev.State != StateNoCard && ev.State != StateNoReader) {
			t.Fatalf("event = %s %q (state %s), want card_removed \"USB Reader 00 00\" (state no_card or no_reader)", ev.Kind, ev.Reader, ev.State)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no card_removed event for the pulled reader")
	}
	next(t, events, ReaderRemoved, "USB Reader 00 00", StateNoReader)
}
