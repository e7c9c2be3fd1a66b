package web

import (
	"strconv"
	"testing"
	"time"
)

// TestLimiterFloodKeepsLockouts: the limiter bounds its memory, but a flood of made-up names must not lift
// a lockout in force. The attack: five wrong passwords lock an account; a hundred thousand sign-ins under
// names that do not exist filled the table, which was then cleared whole, and the account could be
// guessed again at once.
func TestLimiterFloodKeepsLockouts(t *testing.T) {
	l := newLimiter(5, 15*time.Minute)
	now := time.Now()
	for range 5 {
		if !l.take(now, "admin") {
			t.Fatal("refused before the limit")
		}
	}
	if l.take(now, "admin") {
		t.Fatal("allowed past the limit")
	}
	for i := range 100002 {
		l.take(now.Add(time.Minute), "nobody-"+strconv.Itoa(i))
	}
	if l.take(now.Add(2*time.Minute), "admin") {
		t.Fatal("a flood of made-up names lifted the account's lockout")
	}
	if n := len(l.failures); n > 100001 {
		t.Errorf("the table grew to %d entries", n)
	}
	// Once the window has passed the account may try again.
	if !l.take(now.Add(16*time.Minute), "admin") {
		t.Fatal("the lockout outlived its window")
	}
}
