package enrol

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ParseProfile reads a profile file: `name = value` lines (# starts a comment) with identity-url,
// broker-url, troubleshooting-url, methods (comma-separated), service-ca (a PEM file) and
// card-key-file (the fleet's card-key secret). Relative file names are taken from dir. See
// testdata/enrol-profile.conf.
func ParseProfile(r io.Reader, dir string) (Profile, error) {
	var p Profile
	var errs []error
	file := func(v string) string {
		if filepath.IsAbs(v) {
			return v
		}
		return filepath.Join(dir, v)
	}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, value, ok := strings.Cut(text, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok {
			errs = append(errs, fmt.Errorf("line %d: want `name = value`", line))
			continue
		}
		var err error
		switch name {
		case "identity-url":
			p.IdentityURL = value
		case "broker-url":
			p.BrokerURL = value
		case "troubleshooting-url":
			p.TroubleshootingURL = value
		case "methods":
			p.Methods = nil
			for _, m := range strings.Split(value, ",") {
				if m = strings.TrimSpace(m); m != "" {
					p.Methods = append(p.Methods, m)
				}
			}
		case "service-ca":
			p.ServiceCA, err = os.ReadFile(file(value))
		case "card-key-file":
			p.CardKey, err = os.ReadFile(file(value))
			p.CardKey = bytes.TrimSpace(p.CardKey) // as the kiosk reads it (kiosk/app)
		default:
			err = errors.New("unknown setting")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %s: %w", line, name, err))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		errs = append(errs, p.validate())
	}
	if err := errors.Join(errs...); err != nil {
		return Profile{}, fmt.Errorf("enrolment profile: %w", err)
	}
	return p, nil
}

// LoadProfile reads a profile file (ParseProfile); relative file names are taken from its directory.
func LoadProfile(path string) (Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return Profile{}, fmt.Errorf("enrolment profile: %w", err)
	}
	defer f.Close()
	return ParseProfile(f, filepath.Dir(path))
}
