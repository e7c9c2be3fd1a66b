package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"ssu-kiosk/hal/card"
)

func runCard(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("ssu-ctl card "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	reader := fs.String("reader", "", "reader name, or part of it (default: the first reader holding a card)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	var err error
	switch sub {
	case "status":
		err = cardStatus(ctx, *reader, stdout)
	case "watch":
		err = cardWatch(ctx, *reader, stdout)
	case "unblock":
		err = cardUnblock(ctx, *reader, stdin, stdout, stderr)
	case "change-pin":
		err = cardChangePIN(ctx, *reader, stdin, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "ssu-ctl card: unknown command %q\n%s", sub, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "ssu-ctl card %s: %s\n", sub, plain(err))
		return 1
	}
	return 0
}

// plain says what went wrong in words an IT technician can act on.
func plain(err error) string {
	var auth *card.AuthError
	switch {
	case errors.Is(err, card.ErrOutcomeUnknown):
		return "the card went away during the change: whether it was made is not known; insert the card and run `ssu-ctl card status`"
	case errors.Is(err, card.ErrBlocked):
		return "blocked: no tries left (" + err.Error() + ")"
	case errors.As(err, &auth):
		return err.Error()
	case errors.Is(err, card.ErrServiceDown):
		return "the smartcard service (pcscd) is not running"
	case errors.Is(err, card.ErrNoCard):
		return "no card in the reader"
	}
	return err.Error()
}

// pickReader resolves --reader: a name or part of one, else the first reader with a card.
func pickReader(filter string) (string, error) {
	return card.FindReader(filter)
}

type statusJSON struct {
	Reader       string     `json:"reader"`
	ATR          string     `json:"atr"`
	Serial       string     `json:"serial"`
	HolderUUID   string     `json:"holder_uuid"`
	HolderName   string     `json:"holder_name"`
	CertNotAfter *time.Time `json:"cert_not_after"`
	PINTriesLeft *int       `json:"pin_tries_left"`
	PINBlocked   bool       `json:"pin_blocked"`
}

func cardStatus(ctx context.Context, filter string, stdout io.Writer) error {
	reader, err := pickReader(filter)
	if err != nil {
		return err
	}
	conn, err := card.Connect(ctx, reader)
	if err != nil {
		return err
	}
	defer conn.Close()
	out := statusJSON{Reader: reader, ATR: hex.EncodeToString(conn.ATR())}
	p := card.NewPIV(conn)
	if err := p.Select(); err != nil {
		return err
	}
	id, err := p.ReadIdentity(card.IdentityOptions{})
	if err != nil {
		return err
	}
	out.Serial, out.HolderUUID, out.HolderName = id.Serial, id.HolderUUID, id.HolderName
	if id.Certificate != nil {
		na := id.NotAfter.UTC()
		out.CertNotAfter = &na
	}
	st, err := p.PINStatus()
	if err != nil {
		return err
	}
	if st.TriesLeft >= 0 {
		out.PINTriesLeft = &st.TriesLeft
	}
	out.PINBlocked = st.Blocked
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

type eventJSON struct {
	Time   time.Time `json:"time"`
	Event  string    `json:"event"`
	Reader string    `json:"reader,omitempty"`
	ATR    string    `json:"atr,omitempty"`
	State  string    `json:"state"`
}

func cardWatch(ctx context.Context, filter string, stdout io.Writer) error {
	enc := json.NewEncoder(stdout)
	for ev := range card.Watch(ctx, card.WatchOptions{ReaderFilter: filter}) {
		err := enc.Encode(eventJSON{Time: ev.Time.UTC(), Event: ev.Kind.String(), Reader: ev.Reader,
			ATR: hex.EncodeToString(ev.ATR), State: ev.State.String()})
		if err != nil {
			return err
		}
	}
	return nil
}

func cardUnblock(ctx context.Context, filter string, stdin io.Reader, stdout, stderr io.Writer) error {
	return cardPINChange(ctx, filter, stdin, stdout, stderr, pinChange{
		secrets: [2]string{"PUK", "new PIN"}, wrong: "wrong PUK", done: "PIN unblocked and set",
		apply: func(p *card.PIV, puk, pin card.Secret) error { return p.Unblock(puk, pin) }})
}

func cardChangePIN(ctx context.Context, filter string, stdin io.Reader, stdout, stderr io.Writer) error {
	return cardPINChange(ctx, filter, stdin, stdout, stderr, pinChange{
		secrets: [2]string{"current PIN", "new PIN"}, wrong: "wrong current PIN", done: "PIN changed",
		apply: func(p *card.PIV, old, pin card.Secret) error { return p.ChangePIN(old, pin) }})
}

// pinChange is one way of setting a new PIN with a first secret: the PUK (unblock) or the current PIN.
type pinChange struct {
	secrets [2]string // what is read from stdin, in order; the second is the new PIN
	wrong   string    // how a refused first secret is named
	done    string    // printed on success
	apply   func(p *card.PIV, first, newPIN card.Secret) error
}

// cardPINChange reads the two secrets, checks the new PIN's policy before the card is touched, and
// applies the change on the card, exclusively.
func cardPINChange(ctx context.Context, filter string, stdin io.Reader, stdout, stderr io.Writer, c pinChange) error {
	secrets, err := readSecrets(stdin, stderr, c.secrets[:]...)
	if err != nil {
		return err
	}
	first, pin := secrets[0], secrets[1]
	defer first.Zero()
	defer pin.Zero()
	if err := card.CheckPIN(pin); err != nil {
		return fmt.Errorf("new PIN %w", err)
	}
	reader, err := pickReader(filter)
	if err != nil {
		return err
	}
	err = card.WithPIV(ctx, reader, func(p *card.PIV) error { return c.apply(p, first, pin) })
	var auth *card.AuthError
	if errors.As(err, &auth) {
		if auth.Retries == 0 {
			return fmt.Errorf("%s: no tries left, it is now blocked", c.wrong)
		}
		return fmt.Errorf("%s: %d tries left", c.wrong, auth.Retries)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, c.done)
	return nil
}

// readSecrets reads one secret per name: from a prompt with no echo when stdin is a terminal, else one
// per line. The caller zeroes them.
func readSecrets(stdin io.Reader, stderr io.Writer, names ...string) ([]card.Secret, error) {
	out := make([]card.Secret, 0, len(names))
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		for _, n := range names {
			fmt.Fprintf(stderr, "%s: ", n)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", n, err)
			}
			out = append(out, card.Secret(b))
		}
		return out, nil
	}
	r := bufio.NewReader(stdin)
	for _, n := range names {
		line, err := r.ReadSlice('\n')
		if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
			for _, s := range out {
				s.Zero()
			}
			return nil, fmt.Errorf("read %s from stdin: expected one per line (%s)", n, namesList(names))
		}
		s := make(card.Secret, 0, len(line))
		for _, c := range line {
			if c != '\n' && c != '\r' {
				s = append(s, c)
			}
		}
		clear(line)
		out = append(out, s)
	}
	return out, nil
}

func namesList(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", then "
		}
		s += n
	}
	return s
}
