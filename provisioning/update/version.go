package update

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"ssu-kiosk/provisioning/version"
)

// newerOrSame is nil when bundle is the running version or newer; ErrOlder when older; ErrUnordered
// when either is not a version package version can order (a bare commit, say). The order is
// version.Compare's, the one every build is stamped for.
func newerOrSame(bundle, running string) error {
	if bundle == running {
		return nil
	}
	if !version.Valid(bundle) || !version.Valid(running) {
		return ErrUnordered
	}
	if version.Compare(bundle, running) < 0 {
		return ErrOlder
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
