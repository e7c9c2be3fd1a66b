//go:build imageboot

package image

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/provisioning/enrol"
)

// TestFirstBootEnrolment boots the image as it leaves `make image`, with an empty state partition, the
// way IT plugs in a new kiosk: the kernel command line names a fleet server (ssu-fleetd --demo on this
// machine, which the guest reaches as 10.0.2.2), a single-use token and the pin of the server's
// certificate. The kiosk must enrol on its own (ssu-enrol.service) and then start the walk-through:
// ssu-kiosk.service only runs once the enrolment is on the state partition. The token is then spent.
func TestFirstBootEnrolment(t *testing.T) {
	dir := imageDir(t)
	bin := filepath.Join(t.TempDir(), "ssu-fleetd")
	build := exec.Command("go", "build", "-o", bin, "ssu-kiosk/remote/cmd/ssu-fleetd")
	build.Dir = repoDir(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ssu-fleetd: %v\n%s", err, out)
	}
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fleetd := exec.CommandContext(ctx, bin, "--demo", "--data", data, "--http", "127.0.0.1:0",
		"--broker-listen", "127.0.0.1:0", "--demo-kiosks", "0", "--seed-sessions-per-month", "50")
	out, err := fleetd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	fleetd.Stderr = io.Discard
	if err := fleetd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = fleetd.Wait() }()
	enrolAt := regexp.MustCompile(`kiosk enrolment at https://127\.0\.0\.1:([0-9]+)/`)
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := enrolAt.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[1]
			}
		}
	}()
	var p string
	select {
	case p = <-port:
	case <-time.After(2 * time.Minute):
		t.Fatal("ssu-fleetd --demo did not start its enrolment service")
	}
	local := "https://127.0.0.1:" + p

	// The pin of the enrolment server's own certificate, as IT would read it off the server.
	conn, err := tls.Dial("tcp", "127.0.0.1:"+p, &tls.Config{InsecureSkipVerify: true}) // only to read its certificate
	if err != nil {
		t.Fatal(err)
	}
	pin := enrol.SPKIPin(conn.ConnectionState().PeerCertificates[0])
	conn.Close()

	httpClient, err := enrol.NewHTTPClient(filepath.Join(data, "pki", "ca.crt"), "")
	if err != nil {
		t.Fatal(err)
	}
	c := &enrol.Client{Server: local, HTTP: httpClient}
	admin, err := enrol.ReadSecretFile(filepath.Join(data, "enrol-admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, admin, "qemu", "first-boot")
	if err != nil {
		t.Fatal(err)
	}

	// A fresh copy of the image's empty state partition.
	state := filepath.Join(t.TempDir(), "state.ext4")
	run(t, time.Minute, nil, "cp", "--sparse=always", filepath.Join(dir, "state.ext4"), state)

	cmdline := strings.Join([]string{"ssu.server=https://10.0.2.2:" + p, "ssu.token=" + tok.Token, "ssu.ca_pin=" + pin}, " ")
	wall, guest := bootAnyAccel(t, dir, state, "", cmdline, false)
	t.Logf("first boot: enrolled and ssu-kiosk.service ready %.1f s after power-on (%.1f s guest uptime)", wall, guest)

	again := enrol.Device{Dir: filepath.Join(t.TempDir(), "enrol")}
	if _, err := again.Enrol(ctx, c, []byte(tok.Token)); !errors.Is(err, enrol.ErrTokenUsed) {
		t.Errorf("the token after first boot: err = %v, want ErrTokenUsed (the kiosk used it)", err)
	}
}
