package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/provisioning/version"
)

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 2, modeUsage},
		{[]string{"--config", "x", "extra"}, 2, modeUsage},
		{[]string{"--config", "x", "--log-level", "loud"}, 2, "--log-level"},
		{[]string{"--config", filepath.Join(t.TempDir(), "none.conf")}, 1, "no such file"},
		// The example configuration parses; its certificate files do not exist on a test machine.
		{[]string{"--config", "../../../testdata/kiosk/ssu-kiosk.conf"}, 1, "read service CA"},
	} {
		var out, errs bytes.Buffer
		if code := run(time.Now(), tc.args, &out, &errs); code != tc.code || !strings.Contains(errs.String(), tc.says) {
			t.Errorf("%q: exit %d (want %d), said %q (want %q)", tc.args, code, tc.code, errs.String(), tc.says)
		}
	}
}

// TestVersion: --version prints the build's version and exits 0, whatever else is (not) given.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version", "--config", "x"}} {
		var out, errs bytes.Buffer
		if code := run(time.Now(), args, &out, &errs); code != 0 || out.String() != "ssu-kiosk "+version.String()+buildNote+"\n" {
			t.Errorf("%q: exit %d, printed %q %q", args, code, out.String(), errs.String())
		}
	}
}

func TestParseWindow(t *testing.T) {
	if w, h, err := parseWindow("800x480"); err != nil || w != 800 || h != 480 {
		t.Errorf("800x480: %d %d %v", w, h, err)
	}
	for _, bad := range []string{"", "big", "10x10", "800"} {
		if _, _, err := parseWindow(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
