// Command ssu-vcard is a virtual PIV smartcard for tests and demonstrations. It creates cards
// (--create) and inserts them into pcscd's virtual reader through vsmartcard's vpcd driver (--vpcd),
// where OpenSC, yubico-piv-tool and the kiosk see it as a real card.
//
//	ssu-vcard --create --state FILE --holder-uuid 555000000001 --name "Sam Example" --pin 123456 \
//	    --puk 12345678 --not-after 2028-01-31 [--pin-tries 3] [--puk-tries 3] [--ca DIR] [--force]
//	ssu-vcard --vpcd 127.0.0.1:35963 --state FILE [--fault-remove-after N] [--fault-delay D]
//	    [--fault-malformed-after N]
//
// The card stays in the reader until SIGINT or SIGTERM, then it is removed (the socket is closed) and
// the program exits 0; when pcscd goes away it waits for it and inserts the card again. It exits 0 too
// when --fault-remove-after pulled the card, and 1 with a plain message on any error.
//
// PINs and PUKs given on the command line are for test cards only; they never reach a log line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"ssu-kiosk/hal/vcard"
	"ssu-kiosk/provisioning/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	vpcd, state, ca, holder, name, pin, puk, notAfter string
	create, force, debug, version                     bool
	pinTries, pukTries                                int
	faults                                            vcard.Faults
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("ssu-vcard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.vpcd, "vpcd", "", "insert the card into the vpcd reader at `HOST:PORT` (e.g. 127.0.0.1:35963)")
	fs.StringVar(&o.state, "state", "", "the card's state `FILE` (required)")
	fs.BoolVar(&o.create, "create", false, "create a new card in --state")
	fs.BoolVar(&o.force, "force", false, "with --create: replace an existing state file")
	fs.StringVar(&o.holder, "holder-uuid", "", "with --create: the holder's UUID, e.g. 555000000001")
	fs.StringVar(&o.name, "name", "", "with --create: the holder's name")
	fs.StringVar(&o.pin, "pin", "", "with --create: the PIN, 6-8 digits (test cards only)")
	fs.StringVar(&o.puk, "puk", "", "with --create: the PUK, 6-8 digits (test cards only)")
	fs.StringVar(&o.notAfter, "not-after", "", "with --create: the certificates' expiry `DATE` (YYYY-MM-DD, UTC)")
	fs.IntVar(&o.pinTries, "pin-tries", 3, "with --create: PIN tries before it blocks")
	fs.IntVar(&o.pukTries, "puk-tries", 3, "with --create: PUK tries before it blocks")
	fs.StringVar(&o.ca, "ca", "testdata/pki", "with --create: `DIR` holding card-ca.pem and card-ca.key")
	fs.IntVar(&o.faults.RemoveAfter, "fault-remove-after", 0, "pull the card instead of answering the `N`th APDU")
	fs.DurationVar(&o.faults.Delay, "fault-delay", 0, "wait `D` before answering each APDU")
	fs.IntVar(&o.faults.MalformedAfter, "fault-malformed-after", 0, "answer the `N`th APDU and later ones malformed")
	fs.BoolVar(&o.debug, "debug", false, "log every APDU's header and status word")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	if o.version {
		fmt.Fprintln(stdout, "ssu-vcard", version.String())
		return 0
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := o.check(fs.NArg(), set); err != nil {
		fmt.Fprintf(stderr, "ssu-vcard: %v\n", err)
		return 1
	}

	if o.create {
		s, err := o.createCard()
		if err != nil {
			fmt.Fprintf(stderr, "ssu-vcard: %v\n", err)
			return 1
		}
		log.Info("card created", "state", o.state, "serial", s.Serial(), "not_after", o.notAfter)
		fmt.Fprintln(stdout, s.Serial())
		if o.vpcd == "" {
			return 0
		}
	}

	card, err := vcard.Open(o.state)
	if err != nil {
		fmt.Fprintf(stderr, "ssu-vcard: %v\n", err)
		return 1
	}
	card.SetLogger(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, log, o.vpcd, card, o.faults); err != nil {
		fmt.Fprintf(stderr, "ssu-vcard: %v\n", err)
		return 1
	}
	return 0
}

func (o *options) check(nargs int, set map[string]bool) error {
	switch {
	case nargs > 0:
		return errors.New("unexpected arguments; see -h")
	case o.state == "":
		return errors.New("--state FILE is required")
	case !o.create && o.vpcd == "":
		return errors.New("nothing to do: give --create, --vpcd or both")
	case o.faults.RemoveAfter < 0 || o.faults.MalformedAfter < 0 || o.faults.Delay < 0:
		return errors.New("fault settings must not be negative")
	}
	if !o.create {
		for _, f := range []string{"holder-uuid", "name", "pin", "puk", "not-after", "pin-tries", "puk-tries", "ca", "force"} {
			if set[f] {
				return fmt.Errorf("--%s needs --create", f)
			}
		}
		return nil
	}
	for f, v := range map[string]string{"holder-uuid": o.holder, "name": o.name, "pin": o.pin, "puk": o.puk, "not-after": o.notAfter} {
		if v == "" {
			return fmt.Errorf("--create needs --%s", f)
		}
	}
	return nil
}

func (o *options) createCard() (*vcard.State, error) {
	notAfter, err := time.Parse(time.DateOnly, o.notAfter)
	if err != nil {
		return nil, errors.New("--not-after must be a date like 2028-01-31")
	}
	if !o.force {
		if _, err := os.Stat(o.state); err == nil {
			return nil, fmt.Errorf("%s exists; give --force to replace that card", o.state)
		}
	}
	ca, err := vcard.LoadCA(o.ca)
	if err != nil {
		return nil, fmt.Errorf("%w (give the CA directory with --ca DIR)", err)
	}
	pin, puk := []byte(o.pin), []byte(o.puk)
	defer clear(pin)
	defer clear(puk)
	s, err := vcard.Create(vcard.CreateOptions{
		HolderUUID: o.holder, Name: o.name, PIN: pin, PUK: puk, NotAfter: notAfter,
		PINTries: o.pinTries, PUKTries: o.pukTries, CA: ca,
	})
	if err != nil {
		return nil, err
	}
	if err := s.Save(o.state); err != nil {
		return nil, err
	}
	return s, nil
}

// serve keeps the card in the reader until ctx ends, inserting it again whenever pcscd comes back.
func serve(ctx context.Context, log *slog.Logger, addr string, card *vcard.Card, f vcard.Faults) error {
	const maxWait = 2 * time.Second
	wait := 100 * time.Millisecond
	var lastErr string
	for {
		log.Info("inserting card", "vpcd", addr, "serial", card.Serial())
		start := time.Now()
		err := vcard.Insert(ctx, addr, card, f)
		switch {
		case err == nil && ctx.Err() != nil:
			log.Info("card removed", "serial", card.Serial())
			return nil
		case err == nil:
			log.Info("card removed by fault injection", "serial", card.Serial(), "after_apdus", f.RemoveAfter)
			return nil
		}
		if time.Since(start) > maxWait {
			wait = 100 * time.Millisecond
		}
		if msg := err.Error(); msg != lastErr {
			log.Warn("card is out of the reader; retrying", "err", err)
			lastErr = msg
		}
		select {
		case <-ctx.Done():
			log.Info("card removed", "serial", card.Serial())
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}
