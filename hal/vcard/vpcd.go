package vcard

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// vpcd control bytes: a one-byte frame from vpcd (vsmartcard, virtualsmartcard/src/vpcd/vpcd.h).
const (
	vpcdPowerOff = 0x00
	vpcdPowerOn  = 0x01
	vpcdReset    = 0x02
	vpcdGetATR   = 0x04
)

// ErrVPCDClosed is wrapped by Insert's error when vpcd (pcscd) closed the connection: pcscd stopped.
var ErrVPCDClosed = errors.New("vpcd closed the connection")

// Faults make a card misbehave on purpose, for tests. The zero value is a well-behaved card.
// APDUs are counted from 1 over one Insert; vpcd's control frames (power, reset, ATR) do not count.
type Faults struct {
	// RemoveAfter N closes the socket (pulls the card) instead of carrying out the Nth APDU.
	RemoveAfter int
	// RemoveUnanswered N carries out the Nth APDU, then closes the socket before answering it: the card
	// did the work, the host never hears so.
	RemoveUnanswered int
	// Delay is how long the card thinks before answering each APDU.
	Delay time.Duration
	// MalformedAfter N answers the Nth APDU and every later one with the last byte cut off: the status
	// word is garbled and any data is one byte short.
	MalformedAfter int
}

// Insert dials vpcd at vpcdAddr (pcscd's virtual reader, for example 127.0.0.1:35963) and serves c there:
// the card is in the reader while Insert runs. It returns nil when ctx is done (the socket is closed:
// the card is removed) or when Faults.RemoveAfter or RemoveUnanswered pulled the card, and an error wrapping ErrVPCDClosed
// when vpcd went away.
func Insert(ctx context.Context, vpcdAddr string, c *Card, f Faults) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", vpcdAddr)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("insert card into vpcd at %s: %w", vpcdAddr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c.Reset()
	r := bufio.NewReader(conn)
	apdus := 0
	for {
		quickACK(conn)
		frame, err := readFrame(r)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
				errors.Is(err, syscall.ECONNRESET) {
				return fmt.Errorf("card in vpcd at %s: %w", vpcdAddr, ErrVPCDClosed)
			}
			return fmt.Errorf("card in vpcd at %s: read: %w", vpcdAddr, err)
		}
		var resp []byte
		switch {
		case len(frame) == 1:
			switch frame[0] {
			case vpcdPowerOff, vpcdPowerOn, vpcdReset:
				c.logControl(frame[0]) // not ATR requests: pcscd sends one every 400 ms
				c.Reset()
				continue
			case vpcdGetATR:
				resp = c.ATR()
			default:
				continue // unknown control byte: vpcd expects no answer
			}
		case len(frame) > 1:
			apdus++
			if f.RemoveAfter > 0 && apdus >= f.RemoveAfter {
				// vpcd (vsmartcard 3.3) then answers the host's transmit with zero bytes, not an error.
				return nil
			}
			if f.Delay > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(f.Delay):
				}
			}
			resp = c.Process(frame)
			clear(frame) // it may hold a PIN
			if f.RemoveUnanswered > 0 && apdus >= f.RemoveUnanswered {
				return nil
			}
			if f.MalformedAfter > 0 && apdus >= f.MalformedAfter {
				resp = resp[:len(resp)-1]
			}
		default:
			continue
		}
		if err := writeFrame(conn, resp); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("card in vpcd at %s: write: %w", vpcdAddr, err)
		}
	}
}

// logControl logs a vpcd control frame at debug level.
func (c *Card) logControl(b byte) {
	c.mu.Lock()
	log := c.log
	c.mu.Unlock()
	name := map[byte]string{vpcdPowerOff: "power off", vpcdPowerOn: "power on", vpcdReset: "reset", vpcdGetATR: "get ATR"}[b]
	log.Debug("card: vpcd control", "byte", fmt.Sprintf("%02X", b), "meaning", name)
}

// readFrame reads one vpcd frame: a two-byte big-endian length, then that many bytes.
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// writeFrame writes b as one vpcd frame, in one write.
func writeFrame(w io.Writer, b []byte) error {
	if len(b) > 0xffff {
		return fmt.Errorf("response of %d bytes does not fit a vpcd frame", len(b))
	}
	out := make([]byte, 2, 2+len(b))
	binary.BigEndian.PutUint16(out, uint16(len(b)))
	_, err := w.Write(append(out, b...))
	return err
}
