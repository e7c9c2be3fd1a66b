package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 2, "either --config FILE or --demo"},
		{[]string{"--demo", "--config", "x"}, 2, "either"},
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
