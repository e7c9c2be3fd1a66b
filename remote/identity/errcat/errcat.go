// Package errcat is the one catalogue of error codes (ERRnnnn) that people see, shared by the identity
// service and the kiosk. A code is stable forever once released: wording may improve, meaning never changes.
//
// Entries are plain words for the person at the kiosk: what happened and what to do next. They never hold
// personal data; the catalogue has no state and never logs.
//
// Ranges: ERR1xxx identity service, ERR2xxx kiosk and card.
package errcat

import (
	"errors"
	"fmt"
)

// Code is a stable error code such as "ERR1009".
type Code string

// Entry is what a person is told for one code.
type Entry struct {
	Code Code
	// Title says what happened, in plain words.
	Title string
	// Advice says what to do next.
	Advice string
}

// String gives the form people quote to a help desk: "ERR1009: Failed to obtain SOPIN for user".
func (e Entry) String() string { return string(e.Code) + ": " + e.Title }

// Lookup returns the entry for a code; ok is false for a code the catalogue does not know.
func Lookup(c Code) (Entry, bool) {
	for _, list := range [][]Entry{serviceEntries, kioskEntries} {
		for _, e := range list {
			if e.Code == c {
				return e, true
			}
		}
	}
	return Entry{}, false
}

// MustLookup is Lookup for codes written in the program's own source; an unknown one is a programming error.
func MustLookup(c Code) Entry {
	e, ok := Lookup(c)
	if !ok {
		panic(fmt.Sprintf("errcat: unknown code %q", c))
	}
	return e
}

// All returns every entry, service codes first.
func All() []Entry {
	out := make([]Entry, 0, len(serviceEntries)+len(kioskEntries))
	out = append(out, serviceEntries...)
	return append(out, kioskEntries...)
}

// Error is an error that carries a catalogue code, so the code survives wrapping:
// errors.As(err, &errcat.Error{}) finds it.
type Error struct {
	Code Code
	// Err is the underlying cause, for logs; it must not hold personal data or secrets.
	Err error
}

func (e *Error) Error() string {
	entry, ok := Lookup(e.Code)
	msg := string(e.Code)
	if ok {
		msg = entry.String()
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Wrap returns err tagged with code (nil stays nil).
func Wrap(code Code, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// CodeOf returns the code carried by err, if any.
func CodeOf(err error) (Code, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return "", false
}
