package led

import (
	"fmt"
	"time"
)

// Pattern is what the status lights say about the kiosk.
//
// Its text form (String, MarshalText) is the one health messages carry.
type Pattern uint8

// The patterns the kiosk uses. The zero value is Off.
const (
	Off          Pattern = iota // all lights dark; also what Halt and Close leave behind
	Idle                        // ready for the next person
	Busy                        // working: talking to the card or the identity service
	Success                     // the card was unlocked
	Error                       // something went wrong for the person at the kiosk
	OutOfService                // the kiosk cannot serve anyone
	Identify                    // a technician asked this kiosk to show itself; see Panel.Identify
	patternCount
)

var patternNames = [patternCount]string{
	Off:          "off",
	Idle:         "idle",
	Busy:         "busy",
	Success:      "success",
	Error:        "error",
	OutOfService: "out-of-service",
	Identify:     "identify",
}

// String returns the pattern's name, e.g. "out-of-service".
func (p Pattern) String() string {
	if p < patternCount {
		return patternNames[p]
	}
	return fmt.Sprintf("pattern(%d)", uint8(p))
}

// Valid reports whether p is one of the defined patterns.
func (p Pattern) Valid() bool {
	return p < patternCount
}

// MarshalText implements encoding.TextMarshaler, so JSON carries the name.
func (p Pattern) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("led: unknown pattern %d", uint8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it accepts the names
// String returns.
func (p *Pattern) UnmarshalText(b []byte) error {
	q, err := ParsePattern(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// ParsePattern returns the pattern named s, as String spells it.
func ParsePattern(s string) (Pattern, error) {
	for i, n := range patternNames {
		if n == s {
			return Pattern(i), nil
		}
	}
	return Off, fmt.Errorf("led: unknown pattern %q", s)
}

// role is one of the panel's lights.
type role uint8

const (
	green role = iota
	amber
	red
	roleCount
)

var roleNames = [roleCount]string{green: "green", amber: "amber", red: "red"}

func (r role) String() string { return roleNames[r] }

// lit is a set of lights that are on, one bit per role.
type lit uint8

const (
	litGreen lit = 1 << green
	litAmber lit = 1 << amber
	litRed   lit = 1 << red
	litAll       = litGreen | litAmber | litRed
)

func (l lit) has(r role) bool { return l&(1<<r) != 0 }

// frame is one step of a pattern: which lights are on, and for how long.
// A hold of 0 means "until the pattern changes".
type frame struct {
	on   lit
	hold time.Duration
}

// Blink periods, named so that tests and documentation agree.
const (
	busyBlink     = 500 * time.Millisecond
	outcomeBlink  = 150 * time.Millisecond
	identifyBlink = 250 * time.Millisecond
)

// frames returns the steps of a pattern; the panel loops through them.
func (p Pattern) frames() []frame {
	switch p {
	case Idle:
		return []frame{{on: litGreen}}
	case Busy:
		return []frame{{litAmber, busyBlink}, {0, busyBlink}}
	case Success:
		return []frame{{litGreen, outcomeBlink}, {0, outcomeBlink}}
	case Error:
		return []frame{{litRed, outcomeBlink}, {0, outcomeBlink}}
	case OutOfService:
		return []frame{{on: litRed}}
	case Identify:
		return []frame{{litAll, identifyBlink}, {0, identifyBlink}}
	default:
		return []frame{{on: 0}}
	}
}
