package app

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"ssu-kiosk/hal/led"
	"ssu-kiosk/kiosk/flow"
)

// Config is a kiosk's configuration file: lines of `name = value`; # starts a comment. See
// testdata/kiosk/ssu-kiosk.conf for every setting, commented.
type Config struct {
	KioskID, Site, Ward string
	// IdentityURL, ServiceCA, ClientCert and ClientKey reach the identity service over mutual TLS.
	IdentityURL, ServiceCA, ClientCert, ClientKey string
	// ReaderFilter keeps card readers whose name contains it ("" for all).
	ReaderFilter       string
	LEDs               led.Config
	IdleTimeout        time.Duration
	TroubleshootingURL string
	Methods            []flow.Method
	Maintenance        bool
	MaintenanceMessage string
	// Fullscreen and HideCursor are for the kiosk's touch screen (both true by default).
	Fullscreen, HideCursor bool
	// OperationTimeout bounds each card or service call (flow's default when zero).
	OperationTimeout time.Duration
}

// Place is the site and ward, for the header.
func (c Config) Place() string {
	switch {
	case c.Site != "" && c.Ward != "":
		return c.Site + ", " + c.Ward
	case c.Site != "":
		return c.Site
	}
	return c.Ward
}

// Flow is the walk-through's part of the configuration.
func (c Config) Flow() flow.Config {
	return flow.Config{KioskID: c.KioskID, Methods: c.Methods, IdleTimeout: c.IdleTimeout,
		TroubleshootingURL: c.TroubleshootingURL, Maintenance: c.Maintenance, MaintenanceMessage: c.MaintenanceMessage,
		OperationTimeout: c.OperationTimeout}
}

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c, err := ParseConfig(f)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig reads a configuration and reports every problem in it, with line numbers.
func ParseConfig(r io.Reader) (Config, error) {
	c := Config{Fullscreen: true, HideCursor: true}
	var errs []error
	sc := bufio.NewScanner(r)
	seen := map[string]int{}
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, value, ok := strings.Cut(text, "=")
		name, value = strings.TrimSpace(name), strings.Trim(strings.TrimSpace(value), `"`)
		if !ok {
			errs = append(errs, fmt.Errorf("line %d: want `name = value`", line))
			continue
		}
		if prev, dup := seen[name]; dup {
			errs = append(errs, fmt.Errorf("line %d: %s already set on line %d", line, name, prev))
			continue
		}
		seen[name] = line
		if err := c.set(name, value); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %s: %w", line, name, err))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		errs = append(errs, c.Validate())
	}
	return c, errors.Join(errs...)
}

func (c *Config) set(name, value string) error {
	str := map[string]*string{
		"kiosk-id": &c.KioskID, "site": &c.Site, "ward": &c.Ward, "identity-url": &c.IdentityURL,
		"service-ca": &c.ServiceCA, "client-cert": &c.ClientCert, "client-key": &c.ClientKey,
		"reader-filter": &c.ReaderFilter, "led-green": &c.LEDs.Green, "led-amber": &c.LEDs.Amber, "led-red": &c.LEDs.Red,
		"led-sysfs-root": &c.LEDs.SysfsRoot, "troubleshooting-url": &c.TroubleshootingURL,
		"maintenance-message": &c.MaintenanceMessage,
	}
	if p, ok := str[name]; ok {
		*p = value
		return nil
	}
	boolean := map[string]*bool{"maintenance": &c.Maintenance, "fullscreen": &c.Fullscreen, "hide-cursor": &c.HideCursor}
	if p, ok := boolean[name]; ok {
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("%q is not true or false", value)
		}
		*p = b
		return nil
	}
	dur := map[string]*time.Duration{"idle-timeout": &c.IdleTimeout, "operation-timeout": &c.OperationTimeout}
	if p, ok := dur[name]; ok {
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration such as 60s", value)
		}
		*p = d
		return nil
	}
	if name == "methods" {
		c.Methods = nil
		for _, m := range strings.Split(value, ",") {
			if m = strings.TrimSpace(m); m != "" {
				c.Methods = append(c.Methods, flow.Method(m))
			}
		}
		return nil
	}
	return errors.New("unknown setting")
}

// Validate checks the settings together.
func (c Config) Validate() error {
	var errs []error
	if err := c.Flow().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.IdentityURL == "" || c.ServiceCA == "" || c.ClientCert == "" || c.ClientKey == "" {
		errs = append(errs, errors.New("identity-url, service-ca, client-cert and client-key are all needed"))
	}
	if err := c.LEDs.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
