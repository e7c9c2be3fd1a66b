package update

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// describe matches what `git describe --tags` gives for a tag vX.Y.Z: vX.Y.Z, vX.Y.Z-N-gHASH, with
// -dirty after either (the v optional).
var describe = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:-(\d+)-g[0-9a-f]+)?(-dirty)?$`)

// order gives a version's place: major, minor, patch, commits since the tag.
func order(v string) ([4]int, bool) {
	m := describe.FindStringSubmatch(v)
	if m == nil {
		return [4]int{}, false
	}
	var o [4]int
	for i := 0; i < 4; i++ {
		if m[i+1] != "" {
			n, err := strconv.Atoi(m[i+1])
			if err != nil {
				return [4]int{}, false
			}
			o[i] = n
		}
	}
	return o, true
}

// newerOrSame is nil when bundle is the running version or newer; ErrOlder when older; ErrUnordered
// when either is not a version git describe gives for a vX.Y.Z tag (a bare commit, say).
func newerOrSame(bundle, running string) error {
	if bundle == running {
		return nil
	}
	b, okB := order(bundle)
	r, okR := order(running)
	if !okB || !okR {
		return ErrUnordered
	}
	for i := range b {
		if b[i] != r[i] {
			if b[i] < r[i] {
				return ErrOlder
			}
			return nil
		}
	}
	return nil
}

// ReadSystem reads the running kiosk's compatible from RAUC's system.conf and its version from
// os-release's IMAGE_VERSION (written by image/build.sh).
func ReadSystem(systemConf, osRelease string) (System, error) {
	var s System
	conf, err := readKeys(systemConf, "compatible")
	if err != nil {
		return s, err
	}
	rel, err := readKeys(osRelease, "IMAGE_VERSION")
	if err != nil {
		return s, err
	}
	s.Compatible, s.Version = conf["compatible"], strings.Trim(rel["IMAGE_VERSION"], `"'`)
	if s.Compatible == "" {
		return s, fmt.Errorf("%s: no compatible= in [system]", systemConf)
	}
	if s.Version == "" {
		return s, fmt.Errorf("%s: no IMAGE_VERSION=", osRelease)
	}
	return s, nil
}

// readKeys reads key=value lines (the first of each key) from an ini-like or shell-like file.
func readKeys(path string, keys ...string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	got := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		k = strings.TrimSpace(k)
		if ok && want[k] {
			if _, seen := got[k]; !seen {
				got[k] = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return got, nil
}
