package card

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ebfe/scard"
)

// pcscErr maps a PC/SC error to this package's errors, keeping the original for logs.
func pcscErr(err error) error {
	var sc scard.Error
	if !errors.As(err, &sc) {
		return err
	}
	var kind error
	switch sc {
	case scard.ErrRemovedCard, scard.ErrResetCard:
		kind = ErrCardRemoved
	case scard.ErrNoSmartcard:
		kind = ErrNoCard
	case scard.ErrUnknownReader, scard.ErrReaderUnavailable, scard.ErrNoReadersAvailable:
		kind = ErrReaderGone
	case scard.ErrNoService, scard.ErrServiceStopped, scard.ErrInvalidHandle, scard.ErrShutdown:
		kind = ErrServiceDown
	case scard.ErrUnresponsiveCard, scard.ErrUnpoweredCard, scard.ErrUnsupportedCard, scard.ErrCommError,
		scard.ErrProtoMismatch, scard.ErrInvalidAtr, scard.ErrCommDataLost:
		kind = ErrCardUnreadable
	case scard.ErrSharingViolation:
		kind = ErrCardBusy
	default:
		return fmt.Errorf("pcsc: %w", err)
	}
	return fmt.Errorf("%w (pcsc: %w)", kind, err)
}

// Readers lists the PC/SC readers. No readers is an empty list, not an error.
func Readers() ([]string, error) {
	ctx, err := scard.EstablishContext()
	if err != nil {
		return nil, pcscErr(err)
	}
	defer ctx.Release()
	readers, err := ctx.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, pcscErr(err)
	}
	return readers, nil
}

// FindReader picks a reader: the first whose name contains filter (all when filter is ""), preferring
// one that holds a card.
func FindReader(filter string) (string, error) {
	ctx, err := scard.EstablishContext()
	if err != nil {
		return "", pcscErr(err)
	}
	defer ctx.Release()
	readers, err := ctx.ListReaders()
	if err != nil && !errors.Is(err, scard.ErrNoReadersAvailable) {
		return "", pcscErr(err)
	}
	var states []scard.ReaderState
	for _, r := range readers {
		if strings.Contains(r, filter) {
			states = append(states, scard.ReaderState{Reader: r, CurrentState: scard.StateUnaware})
		}
	}
	if len(states) == 0 {
		if filter != "" {
			return "", fmt.Errorf("%w: no reader matches %q", ErrReaderGone, filter)
		}
		return "", fmt.Errorf("%w: no card reader connected", ErrReaderGone)
	}
	if err := ctx.GetStatusChange(states, 0); err != nil && !errors.Is(err, scard.ErrTimeout) {
		return "", pcscErr(err)
	}
	for _, s := range states {
		if s.EventState&scard.StatePresent != 0 {
			return s.Reader, nil
		}
	}
	return states[0].Reader, nil
}

// Conn is an exclusive connection to the card in one reader, inside a PC/SC transaction: nothing else
// touches the card until Close. It implements Transport.
type Conn struct {
	ctx    *scard.Context
	card   *scard.Card
	reader string
	atr    []byte
	// gone is set once the card was seen removed: Close then must not ask for a reset (with pcscd 1.9.9
	// and vpcd, a reset after a pulled card leaves the reader unable to see the next card).
	gone bool
}

// busyRetry is how long Connect waits for another program to let go of the card, unless ctx ends first.
const busyRetry = 3 * time.Second

// Connect opens the card in reader exclusively (SCARD_SHARE_EXCLUSIVE) and begins a transaction.
// While another program holds the card it retries for a few seconds (or until ctx ends), then gives
// ErrCardBusy.
func Connect(ctx context.Context, reader string) (*Conn, error) {
	sctx, err := scard.EstablishContext()
	if err != nil {
		return nil, pcscErr(err)
	}
	deadline := time.Now().Add(busyRetry)
	var c *scard.Card
	for {
		c, err = sctx.Connect(reader, scard.ShareExclusive, scard.ProtocolAny)
		if !errors.Is(err, scard.ErrSharingViolation) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			sctx.Release()
			return nil, fmt.Errorf("connect to %q: %w (%w)", reader, ErrCardBusy, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		sctx.Release()
		return nil, fmt.Errorf("connect to %q: %w", reader, pcscErr(err))
	}
	if err := c.BeginTransaction(); err != nil {
		_ = c.Disconnect(scard.LeaveCard)
		sctx.Release()
		return nil, fmt.Errorf("begin transaction: %w", pcscErr(err))
	}
	conn := &Conn{ctx: sctx, card: c, reader: reader}
	if st, err := c.Status(); err == nil {
		conn.atr = st.Atr
	}
	return conn, nil
}

// Reader is the reader's name.
func (c *Conn) Reader() string { return c.reader }

// ATR is the card's answer to reset.
func (c *Conn) ATR() []byte { return append([]byte(nil), c.atr...) }

// Transmit sends one APDU.
func (c *Conn) Transmit(cmd []byte) ([]byte, error) {
	resp, err := c.card.Transmit(cmd)
	if err == nil && len(resp) < 2 {
		// Some readers (vpcd among them) hand back an empty answer when the card goes mid-command, and
		// pcscd notices the removal only at its next poll: ask PC/SC for a moment whether the card is
		// still there before calling the answer garbled.
		err = c.stillPresent()
	}
	if err != nil {
		err = pcscErr(err)
		if errors.Is(err, ErrCardRemoved) || errors.Is(err, ErrNoCard) {
			c.gone = true
		}
		return nil, err
	}
	return resp, nil
}

// removalGrace is how long stillPresent waits for PC/SC to notice a card that went mid-command.
const removalGrace = 2 * time.Second

// stillPresent returns the removal error if PC/SC reports the card gone within removalGrace, else nil.
func (c *Conn) stillPresent() error {
	deadline := time.Now().Add(removalGrace)
	for {
		st, err := c.card.Status()
		if err != nil {
			return err
		}
		if st.State&scard.Present == 0 {
			return scard.ErrRemovedCard
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close ends the transaction and resets the card, so no verified PIN outlives the connection (a card
// that was pulled is simply let go).
func (c *Conn) Close() error {
	_ = c.card.EndTransaction(scard.LeaveCard)
	disposition := scard.ResetCard
	if c.gone {
		disposition = scard.LeaveCard
	}
	err := c.card.Disconnect(disposition)
	c.ctx.Release()
	if err != nil && !errors.Is(err, scard.ErrRemovedCard) && !errors.Is(err, scard.ErrNoSmartcard) {
		return pcscErr(err)
	}
	return nil
}

// WithPIV connects to the card in reader exclusively, selects PIV and runs fn; the card is released
// (and reset) afterwards whatever fn returns.
func WithPIV(ctx context.Context, reader string, fn func(*PIV) error) error {
	conn, err := Connect(ctx, reader)
	if err != nil {
		return err
	}
	defer conn.Close()
	p := NewPIV(conn)
	if err := p.Select(); err != nil {
		return err
	}
	return fn(p)
}
