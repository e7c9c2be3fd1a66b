package idservice

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ImportHeader is the header an import file must have.
var ImportHeader = []string{"uuid", "name", "email", "mobile", "card_serial", "sopin"}

// ImportResult counts what an import did.
type ImportResult struct {
	Profiles int
	Cards    int
}

// ImportError names the line and field of a bad row; it never quotes the row.
type ImportError struct {
	Line  int
	Field string
	Why   string
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("line %d, %s: %s", e.Line, e.Field, e.Why)
}

// RA is the Registration Authority's side of the store: imports and changes to profiles, all audited.
type RA struct {
	Store  *Store
	Sealer *Sealer
	// Actor names who acts, for the audit log (for example "ra-cli:alice").
	Actor string
	Now   func() time.Time
}

func (ra *RA) now() time.Time {
	if ra.Now != nil {
		return ra.Now()
	}
	return time.Now()
}

func (ra *RA) audit(ctx context.Context, e AuditEntry) error {
	e.At, e.KioskID = ra.now(), ra.Actor
	return ra.Store.Audit(ctx, e)
}

// Import reads a CSV file (header uuid,name,email,mobile,card_serial,sopin) and adds or updates the
// profiles and cards in it. It checks every row before writing any, so a bad file changes nothing.
func (ra *RA) Import(ctx context.Context, r io.Reader) (ImportResult, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: read header: %w", err)
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff")
	}
	if !slices.Equal(trimAll(head), ImportHeader) {
		return ImportResult{}, fmt.Errorf("import: header must be %s", strings.Join(ImportHeader, ","))
	}
	cr.FieldsPerRecord = len(ImportHeader)
	type row struct {
		p      Profile
		serial string
		sopin  []byte
	}
	var rows []row
	defer func() {
		for _, r := range rows {
			clear(r.sopin)
		}
	}()
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return ImportResult{}, fmt.Errorf("import: %w", &ImportError{Line: pe.Line, Field: "row", Why: pe.Err.Error()})
			}
			return ImportResult{}, fmt.Errorf("import: %w", err)
		}
		line, _ := cr.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		rw := row{p: Profile{UUID: rec[0], Name: rec[1], Email: rec[2], Mobile: rec[3]}, serial: strings.ToLower(rec[4]), sopin: []byte(rec[5])}
		if err := checkRow(rw.p, rw.serial, rw.sopin); err != nil {
			err.Line = line
			return ImportResult{}, fmt.Errorf("import: %w", err)
		}
		rows = append(rows, rw)
	}
	var res ImportResult
	seen := map[string]bool{}
	now := ra.now()
	for _, rw := range rows {
		if err := ra.Store.PutProfile(ctx, rw.p, now); err != nil {
			return res, fmt.Errorf("import: %w", err)
		}
		if !seen[rw.p.UUID] {
			seen[rw.p.UUID] = true
			res.Profiles++
		}
		if rw.serial == "" {
			continue
		}
		var sealed []byte
		if len(rw.sopin) > 0 {
			if sealed, err = ra.Sealer.Seal(rw.serial, rw.sopin); err != nil {
				return res, fmt.Errorf("import: %w", err)
			}
		}
		if err := ra.Store.PutCard(ctx, Card{Serial: rw.serial, ProfileUUID: rw.p.UUID, SealedSOPIN: sealed}, now); err != nil {
			return res, fmt.Errorf("import: %w", err)
		}
		res.Cards++
		if err := ra.audit(ctx, AuditEntry{ProfileUUID: rw.p.UUID, CardSerial: rw.serial, Action: "ra.import", Outcome: "ok"}); err != nil {
			return res, err
		}
	}
	return res, nil
}

func trimAll(fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = strings.ToLower(strings.TrimSpace(f))
	}
	return out
}

// checkRow validates one import row without quoting personal data.
func checkRow(p Profile, serial string, sopin []byte) *ImportError {
	switch {
	case p.UUID == "" || len(p.UUID) > 64 || !printable(p.UUID):
		return &ImportError{Field: "uuid", Why: "must be 1-64 printable characters"}
	case len(p.Name) > 200:
		return &ImportError{Field: "name", Why: "longer than 200 characters"}
	case p.Email != "" && !validEmail(p.Email):
		return &ImportError{Field: "email", Why: "not an email address"}
	case p.Mobile != "" && len(normalMobile(p.Mobile)) < 10:
		return &ImportError{Field: "mobile", Why: "not a phone number"}
	case serial != "" && !isSerial(serial):
		return &ImportError{Field: "card_serial", Why: "must be 32 hex characters"}
	case len(sopin) > 0 && serial == "":
		return &ImportError{Field: "sopin", Why: "given without a card_serial"}
	case len(sopin) > 0 && !validSOPIN(sopin):
		return &ImportError{Field: "sopin", Why: "must be 8 digits"}
	}
	return nil
}

func validEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-3 && strings.Contains(s[at:], ".") && !strings.ContainsAny(s, " \t,;<>")
}

func validSOPIN(b []byte) bool {
	if len(b) != 8 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// SetEmail adds or changes a profile's email address ("" removes it).
func (ra *RA) SetEmail(ctx context.Context, uuid, email string) error {
	email = strings.TrimSpace(email)
	if email != "" && !validEmail(email) {
		return errors.New("set email: not an email address")
	}
	if err := ra.Store.SetContact(ctx, uuid, "email", email, ra.now()); err != nil {
		return err
	}
	return ra.audit(ctx, AuditEntry{ProfileUUID: uuid, Action: "ra.set-email", Outcome: "ok"})
}

// SetMobile adds or changes a profile's mobile number ("" removes it).
func (ra *RA) SetMobile(ctx context.Context, uuid, mobile string) error {
	mobile = strings.TrimSpace(mobile)
	if mobile != "" && len(normalMobile(mobile)) < 10 {
		return errors.New("set mobile: not a phone number")
	}
	if err := ra.Store.SetContact(ctx, uuid, "mobile", mobile, ra.now()); err != nil {
		return err
	}
	return ra.audit(ctx, AuditEntry{ProfileUUID: uuid, Action: "ra.set-mobile", Outcome: "ok"})
}

// SetSOPIN seals and stores a registered card's SOPIN (8 digits). The caller zeroes sopin.
func (ra *RA) SetSOPIN(ctx context.Context, serial string, sopin []byte) error {
	serial = strings.ToLower(strings.TrimSpace(serial))
	if !isSerial(serial) {
		return errors.New("set SOPIN: card serial must be 32 hex characters")
	}
	if !validSOPIN(sopin) {
		return errors.New("set SOPIN: must be 8 digits")
	}
	sealed, err := ra.Sealer.Seal(serial, sopin)
	if err != nil {
		return err
	}
	if err := ra.Store.SetCardSOPIN(ctx, serial, sealed, ra.now()); err != nil {
		return err
	}
	card, _ := ra.Store.Card(ctx, serial)
	return ra.audit(ctx, AuditEntry{ProfileUUID: card.ProfileUUID, CardSerial: serial, Action: "ra.set-sopin", Outcome: "ok"})
}

// AllowDomains adds email domains to the allow list.
func (ra *RA) AllowDomains(ctx context.Context, domains []string) error {
	for _, d := range domains {
		if strings.TrimSpace(d) == "" {
			continue
		}
		if err := ra.Store.AllowDomain(ctx, d); err != nil {
			return err
		}
		if err := ra.audit(ctx, AuditEntry{Action: "ra.allow-domain", Outcome: "ok", Detail: strings.ToLower(strings.TrimSpace(d))}); err != nil {
			return err
		}
	}
	return nil
}

// ClearLockout lifts a lockout raised by too many wrong codes and starts the count again. who is a card
// serial (the card and its registered holder are cleared) or a holder's profile UUID (the holder and every
// lockout raised through their cards). It returns how many lockouts were lifted; none is not an error.
func (ra *RA) ClearLockout(ctx context.Context, who string) (int, error) {
	who = strings.TrimSpace(who)
	var serial, profile string
	switch {
	case isSerial(strings.ToLower(who)):
		serial = strings.ToLower(who)
		card, err := ra.Store.Card(ctx, serial)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return 0, err
		}
		profile = card.ProfileUUID
	case who != "" && len(who) <= 64 && printable(who):
		profile = who
	default:
		return 0, errors.New("clear lockout: give a card serial (32 hex characters) or a profile UUID")
	}
	n, err := ra.Store.ClearLockout(ctx, serial, profile)
	if err != nil {
		return 0, err
	}
	return n, ra.audit(ctx, AuditEntry{ProfileUUID: profile, CardSerial: serial, Action: "ra.clear-lockout", Outcome: "ok",
		Detail: fmt.Sprintf("lockouts lifted: %d", n)})
}
