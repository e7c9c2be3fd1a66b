package update

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// A Probe is one thing that must hold before the booted slot is marked good; it returns why not.
type Probe struct {
	Name  string
	Check func(ctx context.Context) error
}

// ErrUnhealthy: the kiosk did not become healthy in time after booting a slot.
var ErrUnhealthy = errors.New("kiosk not healthy in time")

// WaitHealthy runs the probes every interval until all pass or ctx ends; then it returns
// ErrUnhealthy wrapped with the first probe still failing.
func WaitHealthy(ctx context.Context, probes []Probe, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var failing error
		for _, p := range probes {
			if err := p.Check(ctx); err != nil {
				failing = fmt.Errorf("%s: %w", p.Name, err)
				break
			}
		}
		if failing == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrUnhealthy, failing)
		case <-t.C:
		}
	}
}

// UnitActive holds when systemd says the unit is active: for a Type=notify service (ssu-kiosk),
// once it sent READY=1.
func UnitActive(unit string) Probe {
	return Probe{Name: unit, Check: func(ctx context.Context) error {
		out, err := exec.CommandContext(ctx, "systemctl", "is-active", unit).Output()
		state := strings.TrimSpace(string(out))
		if err != nil || state != "active" {
			return fmt.Errorf("%s (want active)", state)
		}
		return nil
	}}
}

// BrokerConnected holds when the kiosk is enrolled with a fleet broker (fleet-broker in its
// configuration) and a TCP connection to the broker's port is established; it holds at once when
// the configuration names no broker (the kiosk is not enrolled, or runs without a fleet).
func BrokerConnected(kioskConfig, procNet string) Probe {
	return Probe{Name: "fleet broker", Check: func(context.Context) error {
		port, err := brokerPort(kioskConfig)
		if err != nil || port == 0 {
			return err
		}
		for _, f := range []string{"tcp", "tcp6"} {
			ok, err := established(procNet+"/"+f, port)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
		}
		return fmt.Errorf("no connection to port %d", port)
	}}
}

// brokerPort reads fleet-broker: from the kiosk's configuration; 0 when none is set.
func brokerPort(kioskConfig string) (int, error) {
	data, err := os.ReadFile(kioskConfig)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		// "fleet-broker = URL" or "fleet-broker: URL": the first of = and : ends the key.
		i := strings.IndexAny(line, "=:")
		if i < 0 || strings.TrimSpace(line[:i]) != "fleet-broker" {
			continue
		}
		v := line[i+1:]
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		if v == "" {
			return 0, nil
		}
		u, err := url.Parse(v)
		if err != nil {
			return 0, fmt.Errorf("fleet-broker %q: %w", v, err)
		}
		if p := u.Port(); p != "" {
			return strconv.Atoi(p)
		}
		if u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtts" {
			return 8883, nil
		}
		return 1883, nil
	}
	return 0, nil
}

// established looks in /proc/net/tcp{,6} for an established connection to a remote port.
func established(path string, port int) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || fields[3] != "01" {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[2], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
			return true, nil
		}
	}
	return false, sc.Err()
}
