package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBrokerConfigWritesConfigAndACL(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := ctl(t, "", "broker-config", "--out", dir, "--ca", "/etc/ssu/ca.crt", "--cert", "/etc/ssu/broker.crt",
		"--key", "/etc/ssu/broker.key", "--crl", "/etc/ssu/crl.pem", "--port", "8884", "--persistence", "/var/lib/mosquitto")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "mosquitto -c "+filepath.Join(dir, "mosquitto.conf")) {
		t.Errorf("output %q", out)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "mosquitto.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listener 8884\n", "require_certificate true", "use_identity_as_username true",
		"use_username_as_clientid true", "crlfile /etc/ssu/crl.pem", "acl_file " + filepath.Join(dir, "acl"),
		"persistence_location /var/lib/mosquitto/"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("mosquitto.conf lacks %q", want)
		}
	}
	acl, err := os.ReadFile(filepath.Join(dir, "acl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"user fleet\ntopic readwrite ssu/v1/#", "pattern write ssu/v1/kiosks/%u/events", "pattern read ssu/v1/kiosks/%u/cmd\n"} {
		if !strings.Contains(string(acl), want) {
			t.Errorf("acl lacks %q:\n%s", want, acl)
		}
	}
}

func TestBrokerConfigRefusesBadInput(t *testing.T) {
	if _, _, code := ctl(t, "", "broker-config", "--out", t.TempDir()); code != 2 {
		t.Errorf("missing files: exit %d, want 2", code)
	}
	_, errs, code := ctl(t, "", "broker-config", "--out", t.TempDir(), "--ca", "a", "--cert", "b", "--key", "c", "--fleet", "Fleet/#")
	if code != 1 || !strings.Contains(errs, "fleet identity") {
		t.Errorf("bad fleet identity: exit %d, %q", code, errs)
	}
	if _, _, code := ctl(t, "", "broker-config", "--out", t.TempDir(), "--ca", "a", "--cert", "b", "--key", "c", "--port", "70000"); code != 1 {
		t.Errorf("bad port: exit %d", code)
	}
}
