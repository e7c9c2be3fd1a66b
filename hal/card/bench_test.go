package card_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"ssu-kiosk/hal/card"
	"ssu-kiosk/hal/vcard"
)

// BenchmarkCardInsertedLatency measures what hal/card adds between pcscd reporting a card present and
// the watcher's CardInserted reaching its reader: a bare SCardGetStatusChange waiter on the same reader
// is woken by the same pcscd notification, and the gap between the two is hal/card's cost.
// Run: go test ./hal/card -run '^$' -bench CardInsertedLatency
func BenchmarkCardInsertedLatency(b *testing.B) {
	const cycles = 5
	r := daemon.Readers()[1]
	path, _ := newCardFile(b, nil)
	vc, err := vcard.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	var gaps []time.Duration
	for range b.N {
		for range cycles {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			events := card.Watch(ctx, card.WatchOptions{ReaderFilter: r.Name})
			waitFor(b, events, card.ReaderAdded, r.Name)
			raw := make(chan time.Time, 1)
			go func() { raw <- bareWait(ctx, r.Name) }()
			time.Sleep(200 * time.Millisecond) // both waiters are blocked inside pcscd now

			cctx, pull := context.WithCancel(ctx)
			inserted := make(chan error, 1)
			go func() { inserted <- vcard.Insert(cctx, r.VPCDAddr, vc, vcard.Faults{}) }()
			waitFor(b, events, card.CardInserted, r.Name)
			got := time.Now()
			woke := <-raw
			if woke.IsZero() {
				b.Fatal("the bare PC/SC waiter failed")
			}
			gaps = append(gaps, got.Sub(woke))
			pull()
			<-inserted
			waitFor(b, events, card.CardRemoved, r.Name)
			cancel()
		}
	}
	b.ReportMetric(float64(median(gaps).Microseconds())/1000, "ms-added-median")
	b.ReportMetric(float64(slices.Max(gaps).Microseconds())/1000, "ms-added-max")
}

// bareWait blocks in SCardGetStatusChange until reader holds a card and returns the time it woke.
func bareWait(ctx context.Context, reader string) time.Time {
	sctx, err := scard.EstablishContext()
	if err != nil {
		return time.Time{}
	}
	defer sctx.Release()
	st := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	for ctx.Err() == nil {
		err := sctx.GetStatusChange(st, time.Second)
		now := time.Now()
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			return time.Time{}
		}
		if st[0].EventState&scard.StatePresent != 0 && st[0].CurrentState&scard.StatePresent == 0 && st[0].CurrentState != scard.StateUnaware {
			return now
		}
		st[0].CurrentState = st[0].EventState &^ scard.StateChanged
	}
	return time.Time{}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
