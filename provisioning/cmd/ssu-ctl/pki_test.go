package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ssu-kiosk/provisioning/pki"
)

// pkiCA runs `ssu-ctl pki ca` into dir and returns the CA's files.
func pkiCA(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	out, errs, code := ctl(t, "", "pki", "ca", "--cn", "Test Trust fleet CA", "--cert", certFile, "--key", keyFile)
	if code != 0 {
		t.Fatalf("pki ca: exit %d: %s", code, errs)
	}
	noKeyPrinted(t, out+errs, keyFile)
	return certFile, keyFile
}

// noKeyPrinted fails if the output holds a key, or does not name the key file it wrote.
func noKeyPrinted(t *testing.T, output, keyFile string) {
	t.Helper()
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Split(string(key), "\n")[1] // the first line of base64
	if strings.Contains(output, "PRIVATE KEY") || strings.Contains(output, body) {
		t.Fatalf("the output shows the key:\n%s", output)
	}
	if !strings.Contains(output, "wrote "+keyFile+": private key (0600)") {
		t.Errorf("the output does not say where the key went:\n%s", output)
	}
}

func TestPKICAWritesACAAndKeepsIt(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := pkiCA(t, dir)
	if mode(t, keyFile) != 0o600 || mode(t, certFile) != 0o644 {
		t.Errorf("modes: key %v, certificate %v", mode(t, keyFile), mode(t, certFile))
	}
	ca, err := pki.LoadCA(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Cert.IsCA || ca.Cert.Subject.CommonName != "Test Trust fleet CA" {
		t.Errorf("CA %q, IsCA %v", ca.Cert.Subject.CommonName, ca.Cert.IsCA)
	}
	before, _ := os.ReadFile(keyFile)
	_, errs, code := ctl(t, "", "pki", "ca", "--cert", certFile, "--key", keyFile)
	if code != 1 || !strings.Contains(errs, "already exists") || !strings.Contains(errs, "--force") {
		t.Fatalf("a second CA over the first: exit %d, %q", code, errs)
	}
	if after, _ := os.ReadFile(keyFile); !bytes.Equal(before, after) {
		t.Fatal("the CA key was replaced without --force")
	}
	// Only the key is there: the certificate is not written either.
	os.Remove(certFile)
	if _, _, code := ctl(t, "", "pki", "ca", "--cert", certFile, "--key", keyFile); code != 1 {
		t.Fatalf("over the key alone: exit %d", code)
	}
	if _, err := os.Stat(certFile); err == nil {
		t.Fatal("a certificate was written beside a key it does not belong to")
	}
	out, errs, code := ctl(t, "", "pki", "ca", "--cert", certFile, "--key", keyFile, "--force")
	if code != 0 {
		t.Fatalf("--force: exit %d: %s", code, errs)
	}
	noKeyPrinted(t, out, keyFile)
	if after, _ := os.ReadFile(keyFile); bytes.Equal(before, after) {
		t.Fatal("--force kept the old key")
	}
	for _, args := range [][]string{{"--cert", certFile}, {"--cert", certFile, "--key", certFile}, {"--cert", "a", "--key", "b", "--years", "0"}} {
		if _, _, code := ctl(t, "", append([]string{"pki", "ca"}, args...)...); code != 2 {
			t.Errorf("pki ca %v: exit %d, want 2", args, code)
		}
	}
}

func TestPKIServerAndClientMeetOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, caKey := pkiCA(t, dir)
	srvCert, srvKey := filepath.Join(dir, "idservice.crt"), filepath.Join(dir, "idservice.key")
	out, errs, code := ctl(t, "", "pki", "server", "--ca", caFile, "--ca-key", caKey, "--cn", "idservice.example",
		"--host", "idservice.example, 127.0.0.1", "--cert", srvCert, "--key", srvKey)
	if code != 0 {
		t.Fatalf("pki server: exit %d: %s", code, errs)
	}
	noKeyPrinted(t, out, srvKey)
	if !strings.Contains(out, "hosts=idservice.example,127.0.0.1") {
		t.Errorf("output %q", out)
	}
	cliCert, cliKey := filepath.Join(dir, "fleet.crt"), filepath.Join(dir, "fleet.key")
	out, errs, code = ctl(t, "", "pki", "client", "--ca", caFile, "--ca-key", caKey, "--cn", "fleet", "--days", "30",
		"--cert", cliCert, "--key", cliKey)
	if code != 0 {
		t.Fatalf("pki client: exit %d: %s", code, errs)
	}
	noKeyPrinted(t, out, cliKey)
	for _, f := range []string{srvKey, cliKey} {
		if mode(t, f) != 0o600 {
			t.Errorf("%s: mode %v", f, mode(t, f))
		}
	}
	pool, err := pki.LoadPool(caFile)
	if err != nil {
		t.Fatal(err)
	}
	server, err := tls.LoadX509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	client, err := tls.LoadX509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peer <- err.Error()
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			peer <- err.Error()
			return
		}
		peer <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
		io.Copy(io.Discard, c)
	}()
	dial := &tls.Dialer{NetDialer: &net.Dialer{}, Config: &tls.Config{RootCAs: pool, ServerName: "idservice.example",
		Certificates: []tls.Certificate{client}, MinVersion: tls.VersionTLS12}}
	c, err := dial.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("mutual TLS: %v", err)
	}
	c.Close()
	if got := <-peer; got != "fleet" {
		t.Fatalf("the server saw client %q, want fleet", got)
	}
	leaf := server.Leaf
	if leaf == nil {
		leaf, _ = x509.ParseCertificate(server.Certificate[0])
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("server certificate for 127.0.0.1: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "other.example"}); err == nil {
		t.Error("the server certificate is good for a host it was not made for")
	}
	// A CA key others can read is used, with a warning.
	if err := os.Chmod(caKey, 0o640); err != nil {
		t.Fatal(err)
	}
	_, errs, code = ctl(t, "", "pki", "client", "--ca", caFile, "--ca-key", caKey, "--cn", "kiosk-0001",
		"--cert", filepath.Join(dir, "k.crt"), "--key", filepath.Join(dir, "k.key"))
	if code != 0 || !strings.Contains(errs, "readable by others") {
		t.Errorf("a CA key of mode 0640: exit %d, %q", code, errs)
	}
	// Existing files are kept.
	if _, errs, code := ctl(t, "", "pki", "client", "--ca", caFile, "--ca-key", caKey, "--cn", "fleet", "--cert", cliCert, "--key", cliKey); code != 1 || !strings.Contains(errs, "already exists") {
		t.Errorf("client over existing files: exit %d, %q", code, errs)
	}
}

func TestPKILeafRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	caFile, caKey := pkiCA(t, dir)
	other, otherKey := filepath.Join(dir, "other.crt"), filepath.Join(dir, "other.key")
	if _, errs, code := ctl(t, "", "pki", "ca", "--cert", other, "--key", otherKey); code != 0 {
		t.Fatal(errs)
	}
	out := func(n string) []string {
		return []string{"--cert", filepath.Join(dir, n+".crt"), "--key", filepath.Join(dir, n+".key")}
	}
	for name, c := range map[string]struct {
		args []string
		code int
	}{
		"server without --host":  {append([]string{"server", "--ca", caFile, "--ca-key", caKey, "--cn", "b"}, out("b")...), 2},
		"client with --host":     {append([]string{"client", "--ca", caFile, "--ca-key", caKey, "--cn", "c", "--host", "x"}, out("c")...), 2},
		"no CA key":              {append([]string{"client", "--ca", caFile, "--cn", "c"}, out("c")...), 2},
		"no --cn":                {append([]string{"client", "--ca", caFile, "--ca-key", caKey}, out("c")...), 2},
		"a key of another CA":    {append([]string{"client", "--ca", caFile, "--ca-key", otherKey, "--cn", "c"}, out("c")...), 1},
		"a leaf for a CA":        {append([]string{"client", "--ca", filepath.Join(dir, "nothing.crt"), "--ca-key", caKey, "--cn", "c"}, out("c")...), 1},
		"unknown pki subcommand": {[]string{"intermediate"}, 2},
	} {
		if _, _, code := ctl(t, "", append([]string{"pki"}, c.args...)...); code != c.code {
			t.Errorf("%s: exit %d, want %d", name, code, c.code)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "c.key")); err == nil {
		t.Error("a refused command wrote a key")
	}
}
