package version

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The repository's root, from this package's folder.
const repoRoot = "../.."

// testVersion is what these tests stamp: its commit abbreviation holds six digits in a row, as real ones
// sometimes do.
const testVersion = "0.0.7-g1234567"

// stamp is the -ldflags value make build and image/build.sh pass.
const stamp = "-X ssu-kiosk/provisioning/version.value=" + testVersion

func goCmd(t *testing.T, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// commands lists the repository's commands: import path by binary name.
func commands(t *testing.T) map[string]string {
	t.Helper()
	cmds := map[string]string{}
	for _, p := range strings.Fields(string(goCmd(t, nil, "list", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "./..."))) {
		cmds[filepath.Base(p)] = p
	}
	if len(cmds) == 0 {
		t.Fatal("go list found no commands")
	}
	return cmds
}

// TestEveryCommandPrintsItsVersion: each command, built as make build builds it, prints the stamped
// version for --version and exits 0.
func TestEveryCommandPrintsItsVersion(t *testing.T) {
	cmds := commands(t)
	dir := t.TempDir()
	args := []string{"build", "-ldflags", stamp, "-o", dir + "/"}
	for _, p := range cmds {
		args = append(args, p)
	}
	goCmd(t, nil, args...)
	for name := range cmds {
		out, err := exec.Command(filepath.Join(dir, name), "--version").CombinedOutput()
		if want := name + " " + testVersion + "\n"; err != nil || string(out) != want {
			t.Errorf("%s --version: %v, printed %q, want %q", name, err, out, want)
		}
	}
}

// TestVersionScript: image/version.sh, the one place the version is computed, gives a version that
// Compare understands, and the Makefile and image/build.sh use it.
func TestVersionScript(t *testing.T) {
	out, err := exec.Command(filepath.Join(repoRoot, "image", "version.sh")).Output()
	if err != nil {
		t.Fatalf("image/version.sh: %v", err)
	}
	v := strings.TrimSpace(string(out))
	if _, ok := parse(v); !ok || v[0] < '0' || v[0] > '9' {
		t.Errorf("image/version.sh printed %q: not a version, or not starting with a digit as Debian wants", v)
	}
	for file, want := range map[string]string{
		"Makefile":       "image/version.sh",
		"image/build.sh": "version.sh",
	} {
		b, err := os.ReadFile(filepath.Join(repoRoot, file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(want)) || !bytes.Contains(b, []byte("ssu-kiosk/provisioning/version.value=")) {
			t.Errorf("%s does not take the version from %s and stamp it", file, want)
		}
	}
}

// installedBinaries reads the binaries the image's package installs from image/nfpm.yaml (src: ./bin/NAME).
func installedBinaries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "image", "nfpm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s*-?\s*src:\s*\./bin/(\S+)\s*$`).FindAllSubmatch(b, -1) {
		names = append(names, string(m[1]))
	}
	slices.Sort(names)
	if len(names) == 0 {
		t.Fatal("image/nfpm.yaml installs no binaries from ./bin/")
	}
	return names
}

// forbidden says why a package must not be in a production binary, or "" when it may.
func forbidden(pkg string) string {
	switch {
	case pkg == "ssu-kiosk/hal/vcard" || strings.HasPrefix(pkg, "ssu-kiosk/hal/vcard/"):
		return "the virtual card"
	case pkg == "ssu-kiosk/kiosk/demo" || strings.HasPrefix(pkg, "ssu-kiosk/kiosk/demo/"):
		return "the demo"
	case pkg == "testing" || strings.HasPrefix(pkg, "testing/") || pkg == "net/http/httptest":
		return "the standard library's test support"
	case strings.HasPrefix(pkg, "ssu-kiosk/") && strings.HasSuffix(pkg, "test"):
		return "a test helper package (cardtest, pcsctest, fleettest, ...)"
	}
	return ""
}

// TestReleaseBinaries: the binaries the image installs (image/nfpm.yaml), built as image/build.sh builds
// them, carry the stamped version and no demo, no virtual card and no test code: neither in what they
// import (go list -deps) nor in what the linker kept (go tool nm).
func TestReleaseBinaries(t *testing.T) {
	cmds := commands(t)
	dir := t.TempDir()
	// Every package of the module whose code must not be linked in, for the symbol check.
	var bad []string
	for _, p := range strings.Fields(string(goCmd(t, nil, "list", "ssu-kiosk/..."))) {
		if forbidden(p) != "" {
			bad = append(bad, p)
		}
	}
	bad = append(bad, "testing", "net/http/httptest")
	if !slices.Contains(bad, "ssu-kiosk/hal/vcard") || !slices.Contains(bad, "ssu-kiosk/hal/card/cardtest") {
		t.Fatalf("the forbidden list misses the virtual card or the card fakes: %q", bad)
	}
	for _, name := range installedBinaries(t) {
		pkg, ok := cmds[name]
		if !ok {
			t.Errorf("image/nfpm.yaml installs %s, which no command of the module builds", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			for _, dep := range strings.Fields(string(goCmd(t, []string{"CGO_ENABLED=1"}, "list", "-deps", pkg))) {
				if why := forbidden(dep); why != "" {
					t.Errorf("%s imports %s: %s", name, dep, why)
				}
			}
			bin := filepath.Join(dir, name)
			goCmd(t, []string{"CGO_ENABLED=1"}, "build", "-trimpath", "-ldflags", stamp, "-o", bin, pkg)
			out, err := exec.Command(bin, "--version").CombinedOutput()
			if want := name + " " + testVersion + "\n"; err != nil || string(out) != want {
				t.Errorf("%s --version: %v, printed %q, want %q", name, err, out, want)
			}
			syms := goCmd(t, nil, "tool", "nm", bin)
			if !bytes.Contains(syms, []byte(" main.main\n")) {
				t.Fatalf("go tool nm %s: no symbol table (a stripped binary cannot be checked)", name)
			}
			reported := map[string]bool{}
			for _, line := range strings.Split(string(syms), "\n") {
				for _, p := range bad {
					if i := strings.Index(line, p+"."); i >= 0 && (i == 0 || strings.ContainsRune(" :*([", rune(line[i-1]))) && !reported[p] {
						reported[p] = true
						t.Errorf("%s links code of %s (%s), e.g. %s", name, p, forbidden(p), strings.TrimSpace(line))
					}
				}
			}
		})
	}
}
