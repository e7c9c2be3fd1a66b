package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"ssu-kiosk/hal/card"
	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/errcat"
)

// PCSCCard is the Card in a PC/SC reader, through hal/card.
type PCSCCard struct{}

var _ Card = PCSCCard{}

// cardError tags a card layer error with the code people see.
func cardError(err error) error {
	if err == nil {
		return nil
	}
	code := errcat.ERR2001
	switch {
	case errors.Is(err, card.ErrCardRemoved), errors.Is(err, card.ErrNoCard):
		code = errcat.ERR2003
	case errors.Is(err, card.ErrNotPIV), errors.Is(err, card.ErrCardUnusable):
		code = errcat.ERR2002 // a card this kiosk cannot use: the person is sent to their RA
	case errors.Is(err, card.ErrReaderGone):
		code = errcat.ERR2004
	case errors.Is(err, card.ErrServiceDown):
		code = errcat.ERR2005
	case errors.Is(err, card.ErrCardBusy):
		code = errcat.ERR2009
	}
	return &errcat.Error{Code: code, Err: err}
}

// Read implements Card.
func (c PCSCCard) Read(ctx context.Context, reader string) (flow.CardStatus, error) {
	var st flow.CardStatus
	err := card.WithPIV(ctx, reader, func(p *card.PIV) error {
		id, err := p.ReadIdentity(card.IdentityOptions{})
		if err != nil {
			return err
		}
		if id.Certificate == nil {
			return card.ErrNotPIV // nothing to unlock: not a card this kiosk serves
		}
		pin, err := p.PINStatus()
		if err != nil {
			return err
		}
		st = flow.CardStatus{CertificatesNotAfter: id.NotAfter, PINBlocked: pin.Blocked,
			PINTriesLeft: max(pin.TriesLeft, 0), Fingerprint: id.Serial}
		return nil
	})
	return st, cardError(refusedIsUnusable(err))
}

// refusedIsUnusable makes a card that answered a read or a proof with an unexpected status word (no Card
// Authentication certificate, a command it refuses) a card this kiosk cannot use: taking it out and in
// again does not help, so people are sent to their RA, not asked to turn it round.
func refusedIsUnusable(err error) error {
	var sw *card.StatusError
	if errors.As(err, &sw) && !errors.Is(err, card.ErrCardUnusable) {
		return fmt.Errorf("%w: %w", card.ErrCardUnusable, err)
	}
	return err
}

// Prove implements Card.
func (c PCSCCard) Prove(ctx context.Context, reader string, ch identity.Challenge) (identity.StartSessionRequest, error) {
	var req identity.StartSessionRequest
	opts, err := identityOptions(ch)
	if err != nil {
		return req, &errcat.Error{Code: errcat.ERR2009, Err: err}
	}
	nonce := ch.Nonce
	err = card.WithPIV(ctx, reader, func(p *card.PIV) error {
		id, err := p.ReadIdentity(opts)
		if err != nil {
			return err
		}
		if id.Certificate == nil {
			return card.ErrNotPIV
		}
		sig, cardAuth, err := p.Authenticate(nonce)
		if err != nil {
			return err
		}
		req = identity.StartSessionRequest{CardSerial: id.Serial, HolderUUID: id.HolderUUID,
			PIVAuthCert: id.Certificate.Raw, CardAuthCert: certRaw(cardAuth), Nonce: append([]byte(nil), nonce...), Signature: sig}
		return nil
	})
	return req, cardError(refusedIsUnusable(err))
}

// identityOptions reads the holder UUID attribute the service named in the challenge (the one setting of
// it, on the service); serialNumber when it named none.
func identityOptions(ch identity.Challenge) (card.IdentityOptions, error) {
	attr := ch.HolderUUIDAttribute
	if attr == "" {
		attr = identity.DefaultHolderUUIDAttribute
	}
	oid, err := card.ParseOID(attr)
	if err != nil {
		return card.IdentityOptions{}, fmt.Errorf("holder UUID attribute in the challenge: %w", err)
	}
	return card.IdentityOptions{HolderUUIDAttribute: oid}, nil
}

func certRaw(c *x509.Certificate) []byte {
	if c == nil {
		return nil
	}
	return c.Raw
}

// Unblock implements Card.
func (c PCSCCard) Unblock(ctx context.Context, reader string, puk, newPIN []byte) (flow.WriteResult, error) {
	err := card.WithPIV(ctx, reader, func(p *card.PIV) error {
		return p.Unblock(card.Secret(puk), card.Secret(newPIN))
	})
	switch {
	case err == nil:
		return flow.WriteDone, nil
	case errors.Is(err, card.ErrOutcomeUnknown):
		return flow.WriteUnknown, cardError(err)
	}
	var auth *card.AuthError
	if errors.As(err, &auth) || errors.Is(err, card.ErrBlocked) {
		return flow.WriteNotDone, &errcat.Error{Code: errcat.ERR2006, Err: err}
	}
	return flow.WriteNotDone, cardError(err)
}

// ChangePIN implements Card.
func (c PCSCCard) ChangePIN(ctx context.Context, reader string, current, newPIN []byte) (flow.WriteResult, bool, int, error) {
	sent := false
	err := card.WithPIV(ctx, reader, func(p *card.PIV) error {
		sent = true
		return p.ChangePIN(card.Secret(current), card.Secret(newPIN))
	})
	if err == nil {
		return flow.WriteDone, false, 0, nil
	}
	var (
		auth *card.AuthError
		sw   *card.StatusError
	)
	switch {
	case errors.As(err, &auth):
		return flow.WriteNotDone, true, auth.Retries, nil
	case errors.Is(err, card.ErrBlocked):
		return flow.WriteNotDone, true, 0, nil
	case !sent:
		return flow.WriteNotDone, false, 0, cardError(err)
	case errors.As(err, &sw):
		return flow.WriteNotDone, false, 0, &errcat.Error{Code: errcat.ERR2010, Err: err}
	}
	// No status word came back once the change was sent: it may have been done.
	return flow.WriteUnknown, false, 0, &errcat.Error{Code: errcat.ERR2011, Err: err}
}
