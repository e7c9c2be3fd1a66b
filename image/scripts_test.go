package image

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEgressAllowList: the egress helper lets out every URL's host on its
// port (from the URL or its scheme), from the enrolled configuration, the apt
// sources and its arguments, and nothing else.
func TestEgressAllowList(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("var/lib/ssu/enrol/kiosk.yaml", `kiosk_id: ward-7-kiosk-1
site: "RX1"
broker: mqtts://192.0.2.10:8883
broker_backup: "ssl://192.0.2.11"
identity:
  url: 'https://192.0.2.20/api/v1'
troubleshooting_url: https://[2001:db8::30]:8443/help
methods: [email, sms]
`)
	write("etc/apt/sources.list.d/debian.sources", "Types: deb\nURIs: http://192.0.2.40/debian\nSuites: bookworm\n")
	write("etc/apt/sources.list.d/old.list", "deb https://192.0.2.41/debian-security bookworm-security main\n# deb http://192.0.2.99/x y z\n")

	out := run(t, time.Minute, []string{"SSU_EGRESS_PRINT=1", "SSU_ROOT=" + root}, "sh", "package/libexec/egress", "https://192.0.2.50:9443/enrol")
	want := []string{
		"flush set inet ssu egress4",
		"flush set inet ssu egress6",
		"add element inet ssu egress4 { 192.0.2.10 . 8883 }",
		"add element inet ssu egress4 { 192.0.2.11 . 8883 }",
		"add element inet ssu egress4 { 192.0.2.20 . 443 }",
		"add element inet ssu egress6 { 2001:db8::30 . 8443 }",
		"add element inet ssu egress4 { 192.0.2.40 . 80 }",
		"add element inet ssu egress4 { 192.0.2.41 . 443 }",
		"add element inet ssu egress4 { 192.0.2.50 . 9443 }",
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("egress script:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
}

// TestEnrolmentParameters: the kernel command line gives server and token,
// the boot partition's file overrides them and may add an SSH key.
func TestEnrolmentParameters(t *testing.T) {
	dir := t.TempDir()
	cmdline := filepath.Join(dir, "cmdline")
	conf := filepath.Join(dir, "ssu-enrol.conf")
	show := `. package/libexec/enrol-params; printf 'server=%s token=%s pin=%s ssh=%s\n' "$SSU_SERVER" "$SSU_TOKEN" "$SSU_CA_PIN" "$SSU_SSH_KEY"`
	if err := os.WriteFile(cmdline, []byte("BOOT_IMAGE=/vmlinuz root=LABEL=SSU-ROOT ro ssu.server=https://fleet.example:8443 ssu.token=tok-1 ssu.ca_pin=ab12 quiet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"SSU_CMDLINE=" + cmdline, "SSU_ENROL_CONF=" + conf}
	if got, want := run(t, time.Minute, env, "sh", "-c", show), "server=https://fleet.example:8443 token=tok-1 pin=ab12 ssh=\n"; got != want {
		t.Errorf("from the command line: %q, want %q", got, want)
	}
	if err := os.WriteFile(conf, []byte("# enrolment\nTOKEN=tok-2\nCA_PIN=cd34\nSSH_AUTHORIZED_KEY=ssh-ed25519 AAAAC3Nza it@example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := run(t, time.Minute, env, "sh", "-c", show), "server=https://fleet.example:8443 token=tok-2 pin=cd34 ssh=ssh-ed25519 AAAAC3Nza it@example\n"; got != want {
		t.Errorf("with the boot partition's file: %q, want %q", got, want)
	}
}

// TestEnrolRunsSSUCtl: the unprivileged enrolment step hands ssu-ctl the server, the CA pin when one was
// given, and the token on its standard input only (never as an argument), and removes the token file.
func TestEnrolRunsSSUCtl(t *testing.T) {
	for _, pin := range []string{"", "0f1e2d3c"} {
		dir := t.TempDir()
		runDir, bin := filepath.Join(dir, "run"), filepath.Join(dir, "bin")
		for _, d := range []string{runDir, bin} {
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		files := map[string]string{"server": "https://fleet.example:8443\n", "token": "tok-secret-1\n"}
		if pin != "" {
			files["ca-pin"] = pin + "\n"
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(runDir, name), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		fake := "#!/bin/sh\nprintf 'args:'; printf ' %s' \"$@\"; printf '\\nstdin: %s\\n' \"$(cat)\"\n"
		if err := os.WriteFile(filepath.Join(bin, "ssu-ctl"), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
		out := run(t, time.Minute, []string{"SSU_ENROL_RUN=" + runDir, "PATH=" + bin + ":/usr/bin:/bin"}, "sh", "package/libexec/enrol")
		args := "args: enrol --server https://fleet.example:8443 --token -"
		if pin != "" {
			args = "args: enrol --server https://fleet.example:8443 --ca-pin " + pin + " --token -"
		}
		if !strings.Contains(out, args+"\n") || !strings.Contains(out, "stdin: tok-secret-1\n") {
			t.Errorf("pin %q: ssu-ctl ran as:\n%s\nwant %q and the token on stdin", pin, out, args)
		}
		if strings.Contains(strings.SplitN(out, "stdin:", 2)[0], "tok-secret-1") {
			t.Errorf("the token reached ssu-ctl's arguments or the log:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(runDir, "token")); !os.IsNotExist(err) {
			t.Errorf("the token file is still there: %v", err)
		}
	}
}

// TestEnrolmentWithoutParameters: with no server or token the enrolment
// step fails with an explanation, and so is retried by systemd.
func TestEnrolmentWithoutParameters(t *testing.T) {
	dir := t.TempDir()
	cmdline := filepath.Join(dir, "cmdline")
	if err := os.WriteFile(cmdline, []byte("root=LABEL=SSU-ROOT ro\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"SSU_CMDLINE=" + cmdline, "SSU_ENROL_CONF=" + filepath.Join(dir, "none"), "SSU_LIBEXEC=package/libexec"}
	out, err := tryRun(t, time.Minute, env, "sh", "package/libexec/enrol-prepare")
	if err == nil {
		t.Fatalf("enrol-prepare with no parameters succeeded:\n%s", out)
	}
	if !strings.Contains(out, "ssu.server=URL ssu.token=T") {
		t.Errorf("enrol-prepare does not say what is missing:\n%s", out)
	}
}

// TestCustomizeRefusesRunningSystem: the lock-down never touches the machine
// it runs on.
func TestCustomizeRefusesRunningSystem(t *testing.T) {
	out, err := tryRun(t, time.Minute, nil, "sh", "customize.sh", "/")
	if err == nil || !strings.Contains(out, "refusing") {
		t.Errorf("customize.sh / did not refuse: %v\n%s", err, out)
	}
}

// TestUnitsExposure holds every unit's exposure score (the units as packaged,
// analysed offline) under its ceiling: ssu-kiosk.service below 3.0.
func TestUnitsExposure(t *testing.T) {
	requireCommand(t, "systemd-analyze", "systemd")
	ceiling := map[string]float64{
		"ssu-kiosk.service":   maxExposure,
		"ssu-enrol.service":   maxExposure,
		"ssu-egress.service":  maxExposure,
		"ssu-display.service": 7.0, // Xorg as root: the GPU and input devices, no login session
	}
	for unit, max := range ceiling {
		score := exposure(t, "", filepath.Join("package/units", unit))
		t.Logf("%s exposure %.1f (ceiling %.1f)", unit, score, max)
		if score >= max {
			t.Errorf("%s exposure %.1f, want below %.1f", unit, score, max)
		}
	}
}

// BenchmarkKioskExposure reports ssu-kiosk.service's systemd-analyze
// security exposure score (lower is better; the tests hold it below 3.0).
func BenchmarkKioskExposure(b *testing.B) {
	requireCommand(b, "systemd-analyze", "systemd")
	var score float64
	for b.Loop() {
		score = exposure(b, "", "package/units/ssu-kiosk.service")
	}
	b.ReportMetric(score, "exposure")
}
