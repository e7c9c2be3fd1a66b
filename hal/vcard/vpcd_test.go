package vcard

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// fakeVPCD is the reader side of the vpcd protocol, as pcscd's libifdvpcd speaks it.
type fakeVPCD struct {
	t    *testing.T
	ln   net.Listener
	conn net.Conn
	r    *bufio.Reader
}

func newFakeVPCD(t *testing.T) *fakeVPCD {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeVPCD{t: t, ln: ln}
}

func (v *fakeVPCD) addr() string { return v.ln.Addr().String() }

// accept waits for the card to dial in.
func (v *fakeVPCD) accept() {
	v.t.Helper()
	v.ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	conn, err := v.ln.Accept()
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { conn.Close() })
	v.conn, v.r = conn, bufio.NewReader(conn)
}

func (v *fakeVPCD) send(b []byte) {
	v.t.Helper()
	if err := writeFrame(v.conn, b); err != nil {
		v.t.Fatal(err)
	}
}

// exchange sends one frame and reads the answer.
func (v *fakeVPCD) exchange(b []byte) ([]byte, error) {
	v.send(b)
	v.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	return readFrame(v.r)
}

func startInsert(t *testing.T, addr string, c *Card, f Faults) (cancel func(), done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- Insert(ctx, addr, c, f) }()
	t.Cleanup(cancel)
	return cancel, ch
}

func waitInsert(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Insert did not return")
		return nil
	}
}

func TestVPCDProtocol(t *testing.T) {
	v := newFakeVPCD(t)
	c := NewCard(newTestState(t))
	cancel, done := startInsert(t, v.addr(), c, Faults{})
	v.accept()

	v.send([]byte{vpcdPowerOn})
	atr, err := v.exchange([]byte{vpcdGetATR})
	if err != nil || string(atr) != string(c.ATR()) {
		t.Fatalf("ATR % X, %v", atr, err)
	}
	resp, err := v.exchange(apdu(t, "00A4040005A000000308"))
	if err != nil || sw(resp) != "9000" {
		t.Fatalf("SELECT: % X, %v", resp, err)
	}
	if resp, _ := v.exchange(verifyAPDU("123456")); sw(resp) != "9000" {
		t.Fatalf("VERIFY: %s", sw(resp))
	}
	// A reset forgets the PIN.
	v.send([]byte{vpcdReset})
	if resp, _ := v.exchange(apdu(t, "0020008000")); sw(resp) != "63C3" {
		t.Fatalf("VERIFY status after reset: %s", sw(resp))
	}
	v.send([]byte{0x7f}) // unknown control byte: ignored
	v.send([]byte{vpcdPowerOff})
	if atr, _ := v.exchange([]byte{vpcdGetATR}); len(atr) == 0 {
		t.Fatal("no ATR after power off")
	}

	cancel()
	if err := waitInsert(t, done); err != nil {
		t.Fatalf("Insert after cancel: %v", err)
	}
	v.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := v.r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("socket after removal: %v, want EOF", err)
	}
}

func TestVPCDGoneIsAnError(t *testing.T) {
	v := newFakeVPCD(t)
	_, done := startInsert(t, v.addr(), NewCard(newTestState(t)), Faults{})
	v.accept()
	v.conn.Close()
	if err := waitInsert(t, done); !errors.Is(err, ErrVPCDClosed) {
		t.Fatalf("Insert = %v, want ErrVPCDClosed", err)
	}
	// Nobody listening at all.
	addr := v.addr()
	v.ln.Close()
	if err := Insert(context.Background(), addr, NewCard(newTestState(t)), Faults{}); err == nil {
		t.Fatal("Insert with no vpcd worked")
	}
}

func TestFaultRemoveAfter(t *testing.T) {
	v := newFakeVPCD(t)
	_, done := startInsert(t, v.addr(), NewCard(newTestState(t)), Faults{RemoveAfter: 2})
	v.accept()
	if _, err := v.exchange([]byte{vpcdGetATR}); err != nil { // control frames do not count
		t.Fatal(err)
	}
	if resp, err := v.exchange(apdu(t, "00A4040005A000000308")); err != nil || sw(resp) != "9000" {
		t.Fatalf("first APDU: %v", err)
	}
	if _, err := v.exchange(apdu(t, "0020008000")); err == nil {
		t.Fatal("second APDU answered; want the card pulled")
	}
	if err := waitInsert(t, done); err != nil {
		t.Fatalf("Insert after a fault removal: %v", err)
	}
}

func TestFaultMalformedAfter(t *testing.T) {
	v := newFakeVPCD(t)
	_, _ = startInsert(t, v.addr(), NewCard(newTestState(t)), Faults{MalformedAfter: 2})
	v.accept()
	if resp, _ := v.exchange(apdu(t, "0020008000")); sw(resp) != "63C3" {
		t.Fatalf("first APDU: % X", resp)
	}
	for range 2 {
		resp, err := v.exchange(apdu(t, "0020008000"))
		if err != nil || len(resp) != 1 {
			t.Fatalf("malformed answer % X, %v; want one byte", resp, err)
		}
	}
}

func TestFaultDelay(t *testing.T) {
	const delay = 50 * time.Millisecond
	v := newFakeVPCD(t)
	cancel, done := startInsert(t, v.addr(), NewCard(newTestState(t)), Faults{Delay: delay})
	v.accept()
	start := time.Now()
	if resp, err := v.exchange(apdu(t, "0020008000")); err != nil || sw(resp) != "63C3" {
		t.Fatalf("delayed APDU: %v", err)
	}
	if waited := time.Since(start); waited < delay {
		t.Fatalf("answered after %v, before the %v delay", waited, delay)
	}
	// A removal during the delay is prompt and clean.
	v.send(apdu(t, "0020008000"))
	cancel()
	if err := waitInsert(t, done); err != nil {
		t.Fatal(err)
	}
}
