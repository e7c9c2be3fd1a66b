package main

import (
	"os/exec"
	"testing"
)

// BenchmarkUnblockAPDUs counts the APDUs a full unblock of a blocked card takes with `ssu-ctl card
// unblock` and with yubico-piv-tool (`-a unblock-pin`), as pcscd logs them.
// Run: go test ./provisioning/cmd/ssu-ctl -run '^$' -bench UnblockAPDUs
func BenchmarkUnblockAPDUs(b *testing.B) {
	if _, err := exec.LookPath("yubico-piv-tool"); err != nil {
		b.Fatal("yubico-piv-tool not found: apt-get install yubico-piv-tool")
	}
	reader := daemon.Readers()[0].Name
	count := func(unblock func()) int {
		_, _, remove := insertCard(b)
		defer remove()
		block(b)
		before, err := daemon.APDUs()
		if err != nil {
			b.Fatal(err)
		}
		unblock()
		after, _ := daemon.APDUs()
		if st := status(b); st.PINBlocked {
			b.Fatal("the card is still blocked")
		}
		return after - before
	}
	var ours, theirs int
	for range b.N {
		ours = count(func() {
			if _, errs, code := ctl(b, "12345678\n975310\n", "card", "unblock"); code != 0 {
				b.Fatalf("ssu-ctl: %s", errs)
			}
		})
		theirs = count(func() {
			out, err := exec.Command("yubico-piv-tool", "-r", reader, "-a", "unblock-pin", "-P", "12345678", "-N", "975310").CombinedOutput()
			if err != nil {
				b.Fatalf("yubico-piv-tool: %v\n%s", err, out)
			}
		})
	}
	b.ReportMetric(float64(ours), "apdus-ssu-ctl")
	b.ReportMetric(float64(theirs), "apdus-yubico-piv-tool")
}

// block burns the PIN's three tries through ssu-ctl change-pin with a wrong current PIN.
func block(b testing.TB) {
	for range 3 {
		ctl(b, "000000\n112233\n", "card", "change-pin")
	}
	if st := status(b); !st.PINBlocked {
		b.Fatalf("card not blocked: %+v", st)
	}
}
