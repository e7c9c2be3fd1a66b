package vcard

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// atr is the card's Answer To Reset: direct convention, T=0 and T=1, and historical bytes that name no
// real product (so no OpenSC driver claims the card by its ATR and the PIV driver finds it by SELECT).
var atr = func() []byte {
	hist := []byte("SSU vPIV")
	b := []byte{0x3b, 0x80 | byte(len(hist)), 0x80, 0x01}
	b = append(b, hist...)
	var tck byte
	for _, c := range b[1:] {
		tck ^= c
	}
	return append(b, tck)
}()

// maxChain bounds the data of a chained command, so a host cannot make the card hold unbounded memory.
const maxChain = 1 << 16

// Card is a live card over a State. It is safe for concurrent use.
type Card struct {
	mu    sync.Mutex
	state *State
	path  string // where every change to PIN, PUK or counters is saved; "" keeps it in memory
	log   *slog.Logger

	// Volatile card state, lost on reset and power off.
	pinVerified bool
	pending     []byte   // response bytes GET RESPONSE still has to hand out
	chain       *command // the chained command being gathered, data so far in chain.data
}

// Open loads the state at path; every change to PIN, PUK or counters is saved there before the card answers.
func Open(path string) (*Card, error) {
	s, err := LoadState(path)
	if err != nil {
		return nil, err
	}
	c := NewCard(s)
	c.path = path
	return c, nil
}

// NewCard makes a card over s that keeps its changes in memory only (for unit tests).
// The card owns s from now on.
func NewCard(s *State) *Card {
	return &Card{state: s, log: slog.New(slog.DiscardHandler)}
}

// SetLogger makes the card log each command's header and status word at debug level (never its data).
func (c *Card) SetLogger(l *slog.Logger) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	c.log = l
}

// Serial is the card's serial: the CHUID GUID in lowercase hex.
func (c *Card) Serial() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.Serial()
}

// State returns a copy of the card's state as it is now.
func (c *Card) State() *State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := *c.state
	s.PIN, s.PUK = bytes.Clone(s.PIN), bytes.Clone(s.PUK)
	return &s
}

// ATR returns the card's Answer To Reset.
func (c *Card) ATR() []byte { return bytes.Clone(atr) }

// Reset is a warm or cold reset, or power off: the PIN is no longer verified and the PIV application is
// selected again (it is the card's default application).
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pinVerified = false
	c.pending = nil
	c.chain = nil
}

// Process takes one command APDU and returns response data followed by SW1 SW2. It never panics.
func (c *Card) Process(cmd []byte) (resp []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("card: internal error answering a command", "ins", insOf(cmd))
			c.pending, c.chain = nil, nil
			resp = status(swNoDiagnosis)
		}
	}()
	resp = c.process(cmd)
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.Debug("card: apdu", "header", header(cmd), "bytes_in", len(cmd), "bytes_out", len(resp),
			"sw", fmt.Sprintf("%02X%02X", resp[len(resp)-2], resp[len(resp)-1]))
	}
	return resp
}

// header is the CLA INS P1 P2 of a command, for logs: the data may be a PIN.
func header(cmd []byte) string {
	return fmt.Sprintf("% X", cmd[:min(4, len(cmd))])
}

func insOf(cmd []byte) string {
	if len(cmd) < 2 {
		return "none"
	}
	return fmt.Sprintf("%02X", cmd[1])
}

func (c *Card) process(raw []byte) []byte {
	cmd, err := decodeCommand(raw)
	if err != nil {
		c.pending, c.chain = nil, nil
		return status(swWrongLength)
	}
	if cmd.cla&^claChainBit != 0 { // proprietary classes, secure messaging, logical channels: none here
		c.pending, c.chain = nil, nil
		return status(swCLANotSupported)
	}
	if cmd.ins == insGetResponse && c.chain == nil {
		return c.getResponse(cmd)
	}
	c.pending = nil

	// Command chaining (ISO 7816-4, 5.4.2): gather the data, answer 9000 until the last link.
	if cmd.cla&claChainBit != 0 {
		if c.chain != nil && (c.chain.ins != cmd.ins || c.chain.p1 != cmd.p1 || c.chain.p2 != cmd.p2) {
			c.chain = nil
		}
		if c.chain == nil {
			c.chain = &command{ins: cmd.ins, p1: cmd.p1, p2: cmd.p2}
		}
		if len(c.chain.data)+len(cmd.data) > maxChain {
			c.chain = nil
			return status(swWrongLength)
		}
		c.chain.data = append(c.chain.data, cmd.data...)
		return status(swOK)
	}
	if c.chain != nil {
		link := c.chain
		c.chain = nil
		if link.ins != cmd.ins || link.p1 != cmd.p1 || link.p2 != cmd.p2 {
			clear(link.data)
			return status(swLastNotInChain)
		}
		if len(link.data)+len(cmd.data) > maxChain {
			clear(link.data)
			return status(swWrongLength)
		}
		cmd.data = append(link.data, cmd.data...)
		defer clear(cmd.data) // it may hold a PIN
	}

	data, sw := c.execute(cmd)
	return c.respond(data, sw, cmd.ne)
}

// respond sends at most ne bytes of data now and keeps the rest for GET RESPONSE, saying 61xx.
func (c *Card) respond(data []byte, sw uint16, ne int) []byte {
	if len(data) <= ne {
		return withStatus(bytes.Clone(data), sw)
	}
	c.pending = bytes.Clone(data[ne:])
	return withStatus(bytes.Clone(data[:ne]), swMoreData|uint16(min(len(c.pending), 256)&0xff))
}

// getResponse hands out the next part of a long response (ISO 7816-4, 7.6.1).
func (c *Card) getResponse(cmd command) []byte {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return status(swIncorrectP1P2)
	}
	if c.pending == nil {
		return status(swConditionsNotMet)
	}
	data := c.pending
	c.pending = nil
	return c.respond(data, swOK, cmd.ne)
}

// execute runs one complete command and gives its response data and status word.
func (c *Card) execute(cmd command) ([]byte, uint16) {
	switch cmd.ins {
	case insSelect:
		return c.selectApp(cmd)
	case insGetData:
		return c.getData(cmd)
	case insVerify:
		return nil, c.verify(cmd)
	case insChangeRef:
		return nil, c.changeReference(cmd)
	case insResetRetry:
		return nil, c.resetRetry(cmd)
	case insGeneralAuth:
		return c.generalAuthenticate(cmd)
	case insPutData, insGenerateKey:
		// Both need the card management key (9B), which this card never accepts.
		return nil, swSecurityStatus
	}
	return nil, swINSNotSupported
}
