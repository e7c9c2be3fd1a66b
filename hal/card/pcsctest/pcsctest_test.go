package pcsctest

import (
	"os"
	"testing"
)

var daemon *Daemon

func TestMain(m *testing.M) {
	daemon = Setup(m, 2)
	code := m.Run()
	daemon.Close()
	os.Exit(code)
}

func TestReadersListedAndRestart(t *testing.T) {
	got, err := listReaders()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != daemon.Readers()[0].Name {
		t.Fatalf("readers = %q, want %v", got, daemon.Readers())
	}
	if err := daemon.Stop(os.Kill); err != nil {
		t.Fatal(err)
	}
	if _, err := listReaders(); err == nil {
		t.Fatal("readers listed with pcscd stopped")
	}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
}
