// Package cardtest holds fakes for the card layer's tests: a scripted transport, and a recorder and
// player of APDU transcripts kept as text files in testdata/.
//
// Transcripts may hold test PINs and PUKs of test cards; never record a real card.
package cardtest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Exchange is one command and the card's answer, or the error the transport gave instead.
type Exchange struct {
	Command  []byte
	Response []byte
	Err      error
}

// Transport is a card behind a function, counting and keeping every exchange (for assertions).
type Transport struct {
	// Card answers each command; nil answers 6D00 (instruction not supported).
	Card func(cmd []byte) ([]byte, error)

	mu  sync.Mutex
	log []Exchange
}

// Transmit passes cmd to Card and records the exchange.
func (t *Transport) Transmit(cmd []byte) ([]byte, error) {
	c := append([]byte(nil), cmd...) // callers zero their buffers once sent
	var (
		resp []byte
		err  error
	)
	if t.Card == nil {
		resp = []byte{0x6d, 0x00}
	} else {
		resp, err = t.Card(c)
	}
	t.mu.Lock()
	t.log = append(t.log, Exchange{Command: c, Response: append([]byte(nil), resp...), Err: err})
	t.mu.Unlock()
	return resp, err
}

// Exchanges returns what was sent so far.
func (t *Transport) Exchanges() []Exchange {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Exchange(nil), t.log...)
}

// WriteTranscript writes exchanges as text: "> command" and "< response" (hex), "! error".
func WriteTranscript(w io.Writer, comment string, xs []Exchange) error {
	var b bytes.Buffer
	for _, line := range strings.Split(comment, "\n") {
		fmt.Fprintf(&b, "# %s\n", line)
	}
	for _, x := range xs {
		fmt.Fprintf(&b, "> %X\n", x.Command)
		if x.Err != nil {
			fmt.Fprintf(&b, "! %s\n", x.Err)
		} else {
			fmt.Fprintf(&b, "< %X\n", x.Response)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// ErrTransport is what a replayed "!" line returns.
var ErrTransport = errors.New("transport error")

// ReadTranscript parses a transcript written by WriteTranscript.
func ReadTranscript(r io.Reader) ([]Exchange, error) {
	var xs []Exchange
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) < 2 {
			return nil, fmt.Errorf("transcript line %d: too short", n)
		}
		body := strings.TrimSpace(line[1:])
		switch line[0] {
		case '>':
			b, err := hex.DecodeString(body)
			if err != nil {
				return nil, fmt.Errorf("transcript line %d: %w", n, err)
			}
			xs = append(xs, Exchange{Command: b})
		case '<', '!':
			if len(xs) == 0 || xs[len(xs)-1].Response != nil || xs[len(xs)-1].Err != nil {
				return nil, fmt.Errorf("transcript line %d: answer without a command", n)
			}
			if line[0] == '!' {
				xs[len(xs)-1].Err = fmt.Errorf("%w: %s", ErrTransport, body)
				continue
			}
			b, err := hex.DecodeString(body)
			if err != nil {
				return nil, fmt.Errorf("transcript line %d: %w", n, err)
			}
			xs[len(xs)-1].Response = b
		default:
			return nil, fmt.Errorf("transcript line %d: starts with %q", n, line[0])
		}
	}
	return xs, sc.Err()
}

// LoadTranscript reads a transcript file.
func LoadTranscript(path string) ([]Exchange, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadTranscript(f)
}

// Playback is a card that answers exactly as a transcript says, and fails on any other command.
type Playback struct {
	mu   sync.Mutex
	xs   []Exchange
	next int
}

// NewPlayback replays xs.
func NewPlayback(xs []Exchange) *Playback { return &Playback{xs: xs} }

// Transmit checks cmd against the next recorded command and returns the recorded answer.
func (p *Playback) Transmit(cmd []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= len(p.xs) {
		return nil, fmt.Errorf("playback: command %d beyond the transcript's %d", p.next+1, len(p.xs))
	}
	x := p.xs[p.next]
	p.next++
	if !bytes.Equal(cmd, x.Command) {
		return nil, fmt.Errorf("playback: command %d differs from the transcript:\n got  %X\n want %X", p.next, cmd, x.Command)
	}
	return append([]byte(nil), x.Response...), x.Err
}

// Done reports an error unless every recorded exchange was replayed.
func (p *Playback) Done() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next != len(p.xs) {
		return fmt.Errorf("playback: %d of %d exchanges replayed", p.next, len(p.xs))
	}
	return nil
}
