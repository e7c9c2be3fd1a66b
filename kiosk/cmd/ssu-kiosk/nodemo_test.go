//go:build !demo

package main

import (
	"bytes"
	"testing"
	"time"
)

// TestNoDemoInProduction: the production build does not know the demo's flags.
func TestNoDemoInProduction(t *testing.T) {
	for _, args := range [][]string{{"--demo"}, {"--demo-dir", "x", "--config", "y"}, {"--vpcd", "127.0.0.1:1", "--config", "y"}} {
		var out, errs bytes.Buffer
		if code := run(time.Now(), args, &out, &errs); code != 2 || !bytes.Contains(errs.Bytes(), []byte("flag provided but not defined")) {
			t.Errorf("%q: exit %d, said %q", args, code, errs.String())
		}
	}
}
