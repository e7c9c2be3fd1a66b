// Package version is the one version of everything built from a commit: the binaries, the .deb, the
// image and its update bundles. Each command prints it for --version, the kiosk reports it in its health
// and usage events, and the update code compares it to refuse a bundle older than the running system.
//
// The build stamps it at link time, from image/version.sh (the only place it is computed; the Makefile
// and image/build.sh both call it):
//
//	go build -ldflags "-X ssu-kiosk/provisioning/version.value=$(image/version.sh)" ./...
//
// A build that is not stamped (go build, go run, go test) falls back to the commit Go records in the
// binary (debug.ReadBuildInfo: vcs.revision, vcs.modified) as 0.0.0-gSHORTSHA[-dirty], and to "dev"
// when there is none. This package imports nothing of the project's: any binary may use it.
//
// It must never hold anything but a version: no host name, no path, no user.
package version

import (
	"cmp"
	"runtime/debug"
	"strconv"
	"strings"
)

// value is set by the linker (-X ssu-kiosk/provisioning/version.value=...); empty when not stamped.
var value string

// String returns this build's version: the stamped one, else one made from the commit Go recorded,
// else "dev".
func String() string {
	if value != "" {
		return value
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return fromBuildInfo(info)
}

// fromBuildInfo makes 0.0.0-gSHORTSHA[-dirty] from the VCS settings Go stamps, or "dev" without them.
// The main module's own version is not used: Go's pseudo-versions hold a 14-digit time stamp, which the
// fleet's messages refuse (no six digits in a row), and it is "(devel)" in most builds anyway.
func fromBuildInfo(info *debug.BuildInfo) string {
	var rev string
	var modified bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	v := "0.0.0-g" + rev[:min(len(rev), 7)]
	if modified {
		v += "-dirty"
	}
	return v
}

// parsed is a version split into what orders it.
type parsed struct {
	core    [3]int
	pre     []string // the tag's pre-release identifiers (v1.2.0-rc.1: ["rc", "1"]); nil for a release
	commits int      // commits since the tag (git describe's -N-gSHA)
}

// parse splits a version of the forms this package makes:
//
//	[v]MAJOR.MINOR.PATCH[-PRERELEASE][-N-gSHA | -gSHA][-dirty]
//
// git describe --tags gives v1.2.3, v1.2.3-4-gabcdef0 (four commits after the tag) and -dirty; untagged
// builds are 0.0.N-gabcdef0, N the number of commits. ok is false for anything else ("dev").
func parse(s string) (p parsed, ok bool) {
	s = strings.TrimPrefix(s, "v")
	s = strings.TrimSuffix(s, "-dirty")
	parts := strings.Split(s, "-")
	if n := len(parts); n > 1 && isGitName(parts[n-1]) {
		parts = parts[:n-1]
		// -N-gSHA after a tag; not after a bare 0.0.N, whose count is already its patch number.
		if n := len(parts); n > 1 && isNumber(parts[n-1]) {
			c, err := strconv.Atoi(parts[n-1])
			if err != nil {
				return parsed{}, false
			}
			p.commits = c
			parts = parts[:n-1]
		}
	}
	nums := strings.Split(parts[0], ".")
	if len(nums) != 3 {
		return parsed{}, false
	}
	for i, n := range nums {
		if !isNumber(n) {
			return parsed{}, false
		}
		v, err := strconv.Atoi(n)
		if err != nil {
			return parsed{}, false
		}
		p.core[i] = v
	}
	if len(parts) > 1 {
		pre := strings.Join(parts[1:], "-")
		p.pre = strings.Split(pre, ".")
		for _, id := range p.pre {
			if id == "" {
				return parsed{}, false
			}
		}
	}
	return p, true
}

// isGitName reports whether s is git describe's abbreviated commit: "g" and at least four hex digits.
func isGitName(s string) bool {
	if len(s) < 5 || len(s) > 41 || s[0] != 'g' {
		return false
	}
	for _, r := range s[1:] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Valid reports whether s is a version Compare can order (a build's, or a tag's): not "dev", not a bare
// commit name.
func Valid(s string) bool {
	_, ok := parse(s)
	return ok
}

// Compare orders two versions: -1 when a is older than b, 0 when neither is, +1 when a is newer.
//
// The order is semantic versioning's on MAJOR.MINOR.PATCH and the tag's pre-release (v1.2.0-rc.1 before
// v1.2.0), then the number of commits since the tag (v1.2.0 before v1.2.0-3-gabcdef0 before v1.2.1):
// unlike a semver library, which would read git describe's "-3-gabcdef0" as a pre-release and put it
// before v1.2.0. The commit name and "-dirty" do not order: two builds of the same count compare equal.
// A leading "v" is ignored. Anything that is not such a version ("dev", "") is older than every version;
// two of those compare as strings.
func Compare(a, b string) int {
	pa, okA := parse(a)
	pb, okB := parse(b)
	switch {
	case !okA && !okB:
		return strings.Compare(a, b)
	case !okA:
		return -1
	case !okB:
		return 1
	}
	for i := range pa.core {
		if c := cmp.Compare(pa.core[i], pb.core[i]); c != 0 {
			return c
		}
	}
	if c := comparePre(pa.pre, pb.pre); c != 0 {
		return c
	}
	return cmp.Compare(pa.commits, pb.commits)
}

// comparePre orders pre-release identifiers as semantic versioning 2.0.0 (§11) does: a release (nil)
// after any pre-release; identifiers one by one, numbers numerically and before words; a longer list
// after its prefix.
func comparePre(a, b []string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		na, nb := isNumber(a[i]), isNumber(b[i])
		var c int
		switch {
		case na && nb:
			x, _ := strconv.Atoi(a[i])
			y, _ := strconv.Atoi(b[i])
			c = cmp.Compare(x, y)
		case na:
			c = -1
		case nb:
			c = 1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}
