package image

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFirewall loads the image's firewall (rootfs/etc/nftables.conf) and the
// egress sets the egress helper fills into a network namespace of their own,
// then tries connections through them.
func TestFirewall(t *testing.T) {
	requireRoot(t)
	checkFirewall(t, "rootfs/etc/nftables.conf", "package/libexec/egress")
}

// probeScript runs inside `unshare --net`: a veth link on 10.9.9.1/24, the
// firewall, the egress helper against a root whose enrolled configuration
// names a broker and an identity service, then connection attempts. A
// connection the firewall lets out times out (nobody answers on the veth link:
// exit 124); one it refuses fails at once.
const probeScript = `
set -eu
ip link set lo up
ip link add ssu0 type veth peer name ssu1
ip addr add 10.9.9.1/24 dev ssu0
ip link set ssu0 up
ip link set ssu1 up
nft -f "$CONF"
SSU_ROOT="$FAKEROOT" "$EGRESS"
nft -j list ruleset >"$OUT/ruleset.json"
probe() {
	rc=0
	timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null || rc=$?
	echo "probe $1:$2 $rc"
}
probe 10.9.9.2 8883
probe 10.9.9.3 443
probe 10.9.9.2 443
probe 10.9.9.3 8883
probe 10.9.9.4 80
probe 10.9.9.4 22
probe 127.0.0.1 9
`

func checkFirewall(t *testing.T, conf, egress string) {
	t.Helper()
	requireCommand(t, "nft", "nftables")
	requireCommand(t, "unshare", "util-linux")
	requireCommand(t, "ip", "iproute2")
	requireCommand(t, "timeout", "coreutils")
	conf, _ = filepath.Abs(conf)
	egress, _ = filepath.Abs(egress)
	out := t.TempDir()
	fake := t.TempDir()
	enrol := filepath.Join(fake, "var/lib/ssu/enrol")
	if err := os.MkdirAll(enrol, 0o700); err != nil {
		t.Fatal(err)
	}
	config := "kiosk_id: k1\nbroker: mqtts://10.9.9.2:8883\nidentity:\n  url: \"https://10.9.9.3/v1\"\n"
	if err := os.WriteFile(filepath.Join(enrol, "kiosk.yaml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	got := run(t, time.Minute, []string{"CONF=" + conf, "EGRESS=" + egress, "FAKEROOT=" + fake, "OUT=" + out},
		"unshare", "--net", "sh", "-c", probeScript)

	results := map[string]string{}
	for _, line := range strings.Split(got, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "probe" {
			results[f[1]] = f[2]
		}
	}
	for dest, allowed := range map[string]bool{
		"10.9.9.2:8883": true,  // the broker
		"10.9.9.3:443":  true,  // the identity service
		"10.9.9.2:443":  false, // the broker's host, another port
		"10.9.9.3:8883": false,
		"10.9.9.4:80":   false, // anywhere else
		"10.9.9.4:22":   false,
	} {
		rc, ok := results[dest]
		switch {
		case !ok:
			t.Errorf("no probe result for %s:\n%s", dest, got)
		case allowed && rc != "124":
			t.Errorf("connection to %s refused (exit %s), want it let out", dest, rc)
		case !allowed && rc == "124":
			t.Errorf("connection to %s let out, want it refused", dest)
		}
	}
	if rc := results["127.0.0.1:9"]; rc == "124" {
		t.Errorf("loopback probe timed out; want an immediate answer (connection refused)")
	}

	data, err := os.ReadFile(filepath.Join(out, "ruleset.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkRuleset(t, data)
}

// checkRuleset checks the loaded ruleset: both hooks drop by default, DNS and
// NTP go out, and the egress sets hold what the enrolled configuration names.
func checkRuleset(t *testing.T, data []byte) {
	t.Helper()
	var rs struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(data, &rs); err != nil {
		t.Fatalf("nft -j: %v", err)
	}
	policies := map[string]string{}
	var rules []string
	sets := map[string]string{}
	for _, obj := range rs.Nftables {
		if raw, ok := obj["chain"]; ok {
			var c struct{ Hook, Policy string }
			if err := json.Unmarshal(raw, &c); err == nil && c.Hook != "" {
				policies[c.Hook] = c.Policy
			}
		}
		if raw, ok := obj["rule"]; ok {
			rules = append(rules, string(raw))
		}
		if raw, ok := obj["set"]; ok {
			var s struct{ Name string }
			if err := json.Unmarshal(raw, &s); err == nil {
				sets[s.Name] = string(raw)
			}
		}
	}
	for _, hook := range []string{"input", "forward", "output"} {
		if policies[hook] != "drop" {
			t.Errorf("%s hook policy %q, want drop", hook, policies[hook])
		}
	}
	all := strings.Join(rules, "\n")
	for _, port := range []string{`"right": 53`, `"right": 123`} {
		if !strings.Contains(all, port) {
			t.Errorf("no rule for %s (DNS 53, NTP 123)", port)
		}
	}
	if !strings.Contains(sets["egress4"], "10.9.9.2") || !strings.Contains(sets["egress4"], "8883") ||
		!strings.Contains(sets["egress4"], "10.9.9.3") {
		t.Errorf("egress4 set lacks the broker or identity service: %s", sets["egress4"])
	}
	if strings.Contains(sets["admin_ports"], "22") {
		t.Error("port 22 is open with no SSH key given at enrolment")
	}
}
