package image

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoDir is the repository's top folder (tests run in image/).
func repoDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatalf("repository folder: %v", err)
	}
	return dir
}

// requireRoot fails the test unless it runs as root, as the image build needs.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root: mmdebstrap's root mode, file ownership in the built root, network namespaces (run `make test` as root)")
	}
}

// requireCommand fails the test naming the Debian package when name is missing.
func requireCommand(t testing.TB, name, debianPackage string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not found: apt-get install %s", name, debianPackage)
	}
}

// run runs a command with a deadline and returns its combined output; it fails
// the test with that output when the command fails.
func run(t testing.TB, timeout time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	out, err := tryRun(t, timeout, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// tryRun is run that hands back the error instead of failing.
func tryRun(t testing.TB, timeout time.Duration, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (after %s)", ctx.Err(), timeout)
	}
	return out.String(), err
}

// unitNames lists the units the ssu-kiosk package installs.
func unitNames(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("package/units")
	if err != nil {
		t.Fatalf("units: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		t.Fatal("no units in package/units")
	}
	return names
}
