package flow

// Passcode rules: NHS smartcard passcodes (PIV PINs) are 6-8 digits.
const (
	MinPasscodeDigits = 6
	MaxPasscodeDigits = 8
	// CodeDigits is the length of a security code.
	CodeDigits = 6
)

// PasscodeProblem says why a new passcode was refused; the zero value means it is acceptable.
type PasscodeProblem int

// The reasons a new passcode is refused.
const (
	PasscodeOK PasscodeProblem = iota
	PasscodeEmpty
	PasscodeNotDigits
	PasscodeTooShort
	PasscodeTooLong
	PasscodeTooCommon
	PasscodeMismatch
	PasscodeSameAsCurrent
)

// Message explains the problem in plain words; it never repeats the passcode.
func (p PasscodeProblem) Message() string {
	switch p {
	case PasscodeEmpty:
		return "Enter a new passcode."
	case PasscodeNotDigits:
		return "Your passcode must only contain numbers."
	case PasscodeTooShort, PasscodeTooLong:
		return "Your passcode must be 6 to 8 digits long."
	case PasscodeTooCommon:
		return "This passcode is too easy to guess. Do not use a common passcode such as 123456, " +
			"the same digit repeated, or digits in order."
	case PasscodeMismatch:
		return "The passcodes do not match. Enter the same passcode twice."
	case PasscodeSameAsCurrent:
		return "Your new passcode must be different from your current one."
	}
	return ""
}

// commonPasscodes are passcodes people pick most often, beyond the patterns PasscodePolicy checks.
var commonPasscodes = []string{
	"123456", "654321", "111111", "000000", "12345678", "888888", "1234567", "87654321", "11111111", "00000000",
	"123123", "121212", "112233", "159753", "123321", "131313", "101010", "147258", "258369", "789456",
	"147852", "102030", "111222", "000111", "520520", "142536", "159357", "753951", "246810", "135790",
	"696969", "232323", "252525", "777888", "654123", "741852", "963852", "852456", "147369", "100200",
	"12341234", "11223344", "12344321", "11112222", "12121212", "11235813", "31415926",
	"1234321", "1212121", "1231231", "7777777", "5201314",
}

// PasscodePolicy checks new passcodes: 6-8 digits, typed twice alike, not a common passcode, and
// different from the current one when changing. It holds no passcode.
type PasscodePolicy struct {
	blocked map[string]bool
}

// NewPasscodePolicy builds a policy from the built-in list of common passcodes plus extra.
func NewPasscodePolicy(extra []string) PasscodePolicy {
	p := PasscodePolicy{blocked: map[string]bool{}}
	for _, s := range commonPasscodes {
		p.blocked[s] = true
	}
	for _, s := range extra {
		p.blocked[s] = true
	}
	return p
}

// Check returns the first problem with newPIN and its confirmation; current is the passcode being replaced
// (nil on the unlock path, where it is not known).
func (p PasscodePolicy) Check(newPIN, confirm, current []byte) PasscodeProblem {
	if pr := p.checkOne(newPIN); pr != PasscodeOK {
		return pr
	}
	if !equalBytes(newPIN, confirm) {
		return PasscodeMismatch
	}
	if current != nil && equalBytes(newPIN, current) {
		return PasscodeSameAsCurrent
	}
	return PasscodeOK
}

func (p PasscodePolicy) checkOne(pin []byte) PasscodeProblem {
	switch {
	case len(pin) == 0:
		return PasscodeEmpty
	case !allDigits(pin):
		return PasscodeNotDigits
	case len(pin) < MinPasscodeDigits:
		return PasscodeTooShort
	case len(pin) > MaxPasscodeDigits:
		return PasscodeTooLong
	case p.Blocked(pin):
		return PasscodeTooCommon
	}
	return PasscodeOK
}

// Blocked reports whether pin is too common: on the list, one digit repeated, digits counting up or down
// by one (123456, 98765432), or a repeated pair (121212).
func (p PasscodePolicy) Blocked(pin []byte) bool {
	if p.blocked[string(pin)] { // the compiler does not copy pin for a map lookup
		return true
	}
	return runOf(pin, 0) || runOf(pin, 1) || runOf(pin, -1) || repeatsEvery(pin, 2)
}

// runOf reports whether each digit is the one before plus step.
func runOf(pin []byte, step int) bool {
	for i := 1; i < len(pin); i++ {
		if int(pin[i])-int(pin[i-1]) != step {
			return false
		}
	}
	return len(pin) > 1
}

// repeatsEvery reports whether pin is one block of n digits repeated.
func repeatsEvery(pin []byte, n int) bool {
	if len(pin) <= n || len(pin)%n != 0 {
		return false
	}
	for i := n; i < len(pin); i++ {
		if pin[i] != pin[i-n] {
			return false
		}
	}
	return true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// equalBytes compares in constant time for equal lengths.
func equalBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	var d byte
	for i := range a {
		d |= a[i] ^ b[i]
	}
	return d == 0
}
