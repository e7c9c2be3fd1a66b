package app

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"ssu-kiosk/hal/led"
	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/remote/fleet"
)

// Config is a kiosk's configuration file: lines of `name = value`; # starts a comment. See
// testdata/kiosk/ssu-kiosk.conf for every setting, commented.
type Config struct {
	KioskID, Site, Ward string
	// IdentityURL, ServiceCA, ClientCert and ClientKey reach the identity service over mutual TLS.
	IdentityURL, ServiceCA, ClientCert, ClientKey string
	// ReaderFilter keeps card readers whose name contains it ("" for all).
	ReaderFilter string
	LEDs         led.Config
	IdleTimeout  time.Duration
	// MoreTimeWarning is how long "Do you need more time?" is shown (on screen, by a tone and in speech)
	// before the session ends: more-time-warning (flow's default, 30 s, when zero).
	MoreTimeWarning    time.Duration
	TroubleshootingURL string
	Methods            []flow.Method
	Maintenance        bool
	MaintenanceMessage string
	// Fullscreen and HideCursor are for the kiosk's touch screen (both true by default).
	Fullscreen, HideCursor bool
	// OperationTimeout bounds each card or service call (flow's default when zero).
	OperationTimeout time.Duration
	// Fleet is the link to the fleet server; it is off when Fleet.Broker is empty.
	Fleet FleetConfig
	// RebootCommand is run when the fleet asks for a reboot and no session is in progress
	// (DefaultRebootCommand when empty).
	RebootCommand []string
	// Version identifies this configuration in health reports: a digest of the file's content.
	Version string
}

// FleetConfig is how the kiosk reaches the fleet server's broker (package remote/fleet/link).
type FleetConfig struct {
	// Broker is the broker's URL, e.g. ssl://fleet.example.nhs.uk:8883; empty turns the link off and
	// usage records are only logged.
	Broker string
	// CA is the CA bundle the broker's certificate must chain to; Cert and Key are this kiosk's client
	// certificate (CN = kiosk id), by default the device certificate (client-cert, client-key).
	CA, Cert, Key string
	// CardKeyFile holds the fleet's secret key for pseudonymous card keys (HMAC of the card serial).
	CardKeyFile string
	// Outbox is the SQLite file holding usage events until the fleet server has stored them.
	Outbox string
	// Site and Ward are the place as fleet tokens (a-z, 0-9, '-'); by default made from site and ward.
	Site, Ward string
}

// DefaultOutbox is where the fleet outbox lives unless fleet-outbox says otherwise.
const DefaultOutbox = "/var/lib/ssu/fleet-outbox.db"

// DefaultRebootCommand reboots the kiosk's machine.
var DefaultRebootCommand = []string{"systemctl", "reboot"}

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
	return flow.Config{KioskID: c.KioskID, Methods: c.Methods, IdleTimeout: c.IdleTimeout, MoreTimeCountdown: c.MoreTimeWarning,
		TroubleshootingURL: c.TroubleshootingURL, Maintenance: c.Maintenance, MaintenanceMessage: c.MaintenanceMessage,
		OperationTimeout: c.OperationTimeout}
}

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := ParseConfig(bytes.NewReader(b))
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	c.Version = configVersion(b)
	return c, nil
}

// configVersion is a short digest of a configuration file, grouped so that it never holds six digits
// in a row (fleet messages refuse those): "3f2a.91c0.ab12".
func configVersion(b []byte) string {
	h := hex.EncodeToString(func() []byte { s := sha256.Sum256(b); return s[:6] }())
	return h[0:4] + "." + h[4:8] + "." + h[8:12]
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
		c.fleetDefaults()
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
		"fleet-broker":        &c.Fleet.Broker, "fleet-ca": &c.Fleet.CA, "fleet-cert": &c.Fleet.Cert, "fleet-key": &c.Fleet.Key,
		"fleet-card-key-file": &c.Fleet.CardKeyFile, "fleet-outbox": &c.Fleet.Outbox, "fleet-site": &c.Fleet.Site,
		"fleet-ward": &c.Fleet.Ward,
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
	dur := map[string]*time.Duration{"idle-timeout": &c.IdleTimeout, "operation-timeout": &c.OperationTimeout,
		"more-time-warning": &c.MoreTimeWarning}
	if p, ok := dur[name]; ok {
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration such as 60s", value)
		}
		*p = d
		return nil
	}
	if name == "reboot-command" {
		c.RebootCommand = strings.Fields(value)
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
	if err := c.Fleet.validate(c.KioskID); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// fleetDefaults fills in the fleet settings a file left out.
func (c *Config) fleetDefaults() {
	f := &c.Fleet
	if f.Cert == "" && f.Key == "" {
		f.Cert, f.Key = c.ClientCert, c.ClientKey
	}
	if f.Outbox == "" {
		f.Outbox = DefaultOutbox
	}
	if f.Site == "" {
		f.Site = fleet.Slug(c.Site)
	}
	if f.Ward == "" {
		f.Ward = fleet.Slug(c.Ward)
	}
}

func (f FleetConfig) validate(kioskID string) error {
	if f.Broker == "" {
		return nil
	}
	var errs []error
	if f.CA == "" || f.Cert == "" || f.Key == "" || f.CardKeyFile == "" || f.Outbox == "" {
		errs = append(errs, errors.New("fleet-broker needs fleet-ca, fleet-card-key-file, and a client certificate and key"))
	}
	// The kiosk id, site and ward travel in every fleet message: check them as the fleet server will.
	st := fleet.Status{V: fleet.Version, Kiosk: kioskID, Site: f.Site, Ward: f.Ward}
	if err := st.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("fleet: kiosk-id, fleet-site or fleet-ward: %w", err))
	}
	return errors.Join(errs...)
}
