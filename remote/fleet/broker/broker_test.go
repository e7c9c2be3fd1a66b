package broker_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/broker"
	"ssu-kiosk/remote/fleet/fleettest"
)

// recorder collects the topics of messages a client receives.
type recorder struct {
	mu     sync.Mutex
	topics []string
}

func (r *recorder) handle(_ mqtt.Client, m mqtt.Message) {
	r.mu.Lock()
	r.topics = append(r.topics, m.Topic()+" "+string(m.Payload()))
	r.mu.Unlock()
}

func (r *recorder) has(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.topics {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

func connect(url string, cfg *tls.Config, id string, will string, rec *recorder) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetTLSConfig(cfg).SetCleanSession(true).
		SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(5 * time.Second).SetOrderMatters(false)
	if will != "" {
		o.SetWill(will, `{"v":1,"kiosk":"x","online":false,"conn":999}`, 1, true)
	}
	if rec != nil {
		o.SetDefaultPublishHandler(rec.handle)
	}
	c := mqtt.NewClient(o)
	t := c.Connect()
	if !t.WaitTimeout(10 * time.Second) {
		return nil, errTimeout
	}
	if t.Error() != nil {
		return nil, t.Error()
	}
	return c, nil
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "timed out" }

var errTimeout = timeoutErr{}

func mustConnect(t *testing.T, url string, cfg *tls.Config, id string, rec *recorder) mqtt.Client {
	t.Helper()
	c, err := connect(url, cfg, id, "", rec)
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

func subscribe(t *testing.T, c mqtt.Client, filter string, rec *recorder) {
	t.Helper()
	tok := c.Subscribe(filter, 1, rec.handle)
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatalf("subscribe %s timed out", filter)
	}
}

func publish(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	tok.WaitTimeout(5 * time.Second) // a refused publish may still be acknowledged
}

func TestKioskIsConfinedToItsTopics(t *testing.T) {
	fleettest.Brokers(t, func(t *testing.T, p *fleettest.PKI, url string) {
		fleetRec, k1Rec, k2Rec := &recorder{}, &recorder{}, &recorder{}
		fl := mustConnect(t, url, p.Client(t, "fleet"), "fleet", fleetRec)
		subscribe(t, fl, "ssu/v1/#", fleetRec)
		k2 := mustConnect(t, url, p.Client(t, "kiosk-0002"), "kiosk-0002", k2Rec)
		subscribe(t, k2, fleet.CommandTopic("kiosk-0002"), k2Rec)

		// Each forbidden publish on its own connection: the embedded broker disconnects an MQTT 3.1.1
		// client whose QoS 1 publish is refused; Mosquitto drops the message and carries on.
		k1TLS := p.Client(t, "kiosk-0001")
		for topic, payload := range map[string]string{
			fleet.EventsTopic("kiosk-0002"):  "forged-event",
			fleet.StatusTopic("kiosk-0002"):  "forged-status",
			fleet.CommandTopic("kiosk-0002"): "forged-command",
			fleet.CommandTopic("kiosk-0001"): "self-command",
			fleet.AckTopic("kiosk-0001"):     "self-ack",
			"ssu/v1/other":                   "outside",
		} {
			c, err := connect(url, k1TLS, "kiosk-0001", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			publish(t, c, topic, payload)
			c.Disconnect(0)
		}

		// kiosk-0001 tries to read other kiosks' commands: refused, or never delivered.
		k1 := mustConnect(t, url, k1TLS, "kiosk-0001", k1Rec)
		subscribe(t, k1, fleet.CommandTopic("kiosk-0002"), k1Rec)
		subscribe(t, k1, fleet.All(fleet.LeafCmd), k1Rec)
		subscribe(t, k1, "#", k1Rec)
		publish(t, k1, fleet.EventsTopic("kiosk-0001"), "own-event")
		publish(t, fl, fleet.CommandTopic("kiosk-0002"), "fleet-command")

		fleettest.Eventually(t, 5*time.Second, func() bool { return fleetRec.has("own-event") }, "the fleet sees kiosk-0001's own event")
		fleettest.Eventually(t, 5*time.Second, func() bool { return k2Rec.has("fleet-command") }, "kiosk-0002 gets the fleet's command")
		time.Sleep(300 * time.Millisecond)
		for _, forged := range []string{"forged-event", "forged-status", "forged-command", "self-command", "self-ack", "outside"} {
			if fleetRec.has(forged) || k2Rec.has(forged) || k1Rec.has(forged) {
				t.Errorf("%s was delivered", forged)
			}
		}
		if k1Rec.has("fleet-command") {
			t.Error("kiosk-0001 read kiosk-0002's command")
		}
	})
}

// rawConnect opens a TLS connection and sends an MQTT 3.1.1 CONNECT with a Will, returning the
// CONNACK return code and the connection, so the test can drop it without a DISCONNECT.
func rawConnect(t *testing.T, url string, cfg *tls.Config, id, willTopic, willPayload string) (byte, net.Conn) {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "ssl://"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion = "MQTT", 4
	cp.ClientIdentifier, cp.CleanSession, cp.Keepalive = id, true, 30
	cp.WillFlag, cp.WillTopic, cp.WillMessage, cp.WillQos, cp.WillRetain = true, willTopic, []byte(willPayload), 1, false
	if err := cp.Write(conn); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	pk, err := packets.ReadPacket(conn)
	if err != nil {
		return 0xff, conn // closed without an answer: refused
	}
	conn.SetReadDeadline(time.Time{})
	ack, ok := pk.(*packets.ConnackPacket)
	if !ok {
		t.Fatalf("answer to CONNECT: %T", pk)
	}
	return ack.ReturnCode, conn
}

// A forged Will (on another kiosk's topic) is never published: the embedded broker refuses the
// connection; Mosquitto 2.0 accepts it but checks the Will against the ACL when it would send it.
func TestForgedWillIsRefused(t *testing.T) {
	fleettest.Brokers(t, func(t *testing.T, p *fleettest.PKI, url string) {
		rec := &recorder{}
		fl := mustConnect(t, url, p.Client(t, "fleet"), "fleet", rec)
		subscribe(t, fl, "ssu/v1/#", rec)
		cfg := p.Client(t, "kiosk-0001")

		code, conn := rawConnect(t, url, cfg, "kiosk-0001", fleet.StatusTopic("kiosk-0002"), "forged-will")
		conn.Close() // no DISCONNECT: the broker would send the Will now
		if strings.Contains(t.Name(), "embedded") && code == 0 {
			t.Fatal("the embedded broker accepted a forged Will")
		}
		code, conn = rawConnect(t, url, cfg, "kiosk-0001", fleet.StatusTopic("kiosk-0001"), "own-will")
		if code != 0 {
			t.Fatalf("a Will on the kiosk's own status topic was refused: code %d", code)
		}
		conn.Close()
		fleettest.Eventually(t, 5*time.Second, func() bool { return rec.has("own-will") }, "the kiosk's own Will is published")
		time.Sleep(300 * time.Millisecond)
		if rec.has("forged-will") {
			t.Fatal("a forged Will was published")
		}
	})
}

func TestIdentityIsTheCertificate(t *testing.T) {
	fleettest.Brokers(t, func(t *testing.T, p *fleettest.PKI, url string) {
		// No client certificate: refused.
		noCert := &tls.Config{RootCAs: p.CA.Pool(), MinVersion: tls.VersionTLS12}
		if c, err := connect(url, noCert, "kiosk-0001", "", nil); err == nil {
			c.Disconnect(0)
			t.Fatal("a client without a certificate was accepted")
		}
		// A certificate from another CA: refused.
		other := fleettest.NewPKI(t)
		if c, err := connect(url, other.Client(t, "kiosk-0001"), "kiosk-0001", "", nil); err == nil {
			c.Disconnect(0)
			t.Fatal("a certificate from another CA was accepted")
		}
		// kiosk-0001's certificate with kiosk-0002's client id: the embedded broker refuses it; Mosquitto
		// replaces the client id by the CN. Either way it cannot act as kiosk-0002.
		fleetRec := &recorder{}
		fl := mustConnect(t, url, p.Client(t, "fleet"), "fleet", fleetRec)
		subscribe(t, fl, "ssu/v1/#", fleetRec)
		c, err := connect(url, p.Client(t, "kiosk-0001"), "kiosk-0002", "", nil)
		if err == nil {
			publish(t, c, fleet.EventsTopic("kiosk-0002"), "impostor")
			publish(t, c, fleet.EventsTopic("kiosk-0001"), "own")
			fleettest.Eventually(t, 5*time.Second, func() bool { return fleetRec.has("own") }, "the own event arrives")
			time.Sleep(200 * time.Millisecond)
			if fleetRec.has("impostor") {
				t.Fatal("kiosk-0001 published as kiosk-0002")
			}
			c.Disconnect(0)
			if strings.Contains(url, "ssl://127.0.0.1") && !strings.Contains(t.Name(), "mosquitto") {
				t.Fatal("the embedded broker accepted a client id different from the certificate CN")
			}
		}
	})
}

func TestRevokedIdentityIsRefused(t *testing.T) {
	p := fleettest.NewPKI(t)
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", TLS: p.CA.ServerTLS(p.Server), Fleet: "fleet", Revoked: []string{"kiosk-0009"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if c, err := connect(b.URL(), p.Client(t, "kiosk-0009"), "kiosk-0009", "", nil); err == nil {
		c.Disconnect(0)
		t.Fatal("a revoked kiosk connected")
	}
	cfg := p.Client(t, "kiosk-0003")
	c, err := connect(b.URL(), cfg, "kiosk-0003", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Revoke("kiosk-0003")
	fleettest.Eventually(t, 5*time.Second, func() bool { return !c.IsConnectionOpen() }, "the revoked kiosk is disconnected")
	if c, err := connect(b.URL(), cfg, "kiosk-0003", "", nil); err == nil {
		c.Disconnect(0)
		t.Fatal("a revoked kiosk reconnected")
	}
}

func TestMosquittoConfig(t *testing.T) {
	m := broker.Mosquitto{Fleet: "fleet", Port: 8883, CAFile: "/etc/ssu/ca.crt", CertFile: "/etc/ssu/broker.crt",
		KeyFile: "/etc/ssu/broker.key", ACLFile: "/etc/ssu/acl", CRLFile: "/etc/ssu/crl.pem"}
	conf, err := m.Config()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"require_certificate true", "use_identity_as_username true", "use_username_as_clientid true",
		"acl_file /etc/ssu/acl", "crlfile /etc/ssu/crl.pem", "allow_anonymous false", "listener 8883\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	bad := m
	bad.KeyFile = ""
	if _, err := bad.Config(); err == nil {
		t.Error("a config without a key file was written")
	}
	bad = m
	bad.ACLFile = "/tmp/x\nallow_anonymous true"
	if _, err := bad.Config(); err == nil {
		t.Error("a line break in a file name was written into the config")
	}
}

// TestMosquittoRefusesRevokedCertificate: the crlfile that broker-config writes is how a fleet revokes a
// kiosk on Mosquitto (the embedded broker has Revoke).
func TestMosquittoRefusesRevokedCertificate(t *testing.T) {
	p := fleettest.NewPKI(t)
	revoked, err := p.CA.IssueClient("kiosk-0005", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := p.CA.CRL(revoked.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.CRLFile, crl, 0o644); err != nil {
		t.Fatal(err)
	}
	m := fleettest.StartMosquitto(t, p)
	if c, err := connect(m.URL, p.CA.ClientTLS(revoked), "kiosk-0005", "", nil); err == nil {
		c.Disconnect(0)
		t.Fatal("a revoked certificate was accepted")
	}
	c, err := connect(m.URL, p.Client(t, "kiosk-0006"), "kiosk-0006", "", nil)
	if err != nil {
		t.Fatalf("a valid certificate was refused: %v", err)
	}
	c.Disconnect(0)
}

// TestEmbeddedBrokerRefusesCertificatesOnTheCRL: a CRL given at start refuses the certificates it
// lists; a later one (SetCRL) disconnects a connected holder and refuses it from then on, while a kiosk
// whose other certificate is not listed still connects.
func TestEmbeddedBrokerRefusesCertificatesOnTheCRL(t *testing.T) {
	p := fleettest.NewPKI(t)
	first, err := p.CA.IssueClient("kiosk-0005", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	crlOf := func(revoked ...*x509.Certificate) *x509.RevocationList {
		b, err := p.CA.CRL(revoked...)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			blk = &pem.Block{Bytes: b}
		}
		crl, err := x509.ParseRevocationList(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return crl
	}
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", TLS: p.CA.ServerTLS(p.Server), Fleet: "fleet", CRL: crlOf(first.Cert)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if c, err := connect(b.URL(), p.CA.ClientTLS(first), "kiosk-0005", "", nil); err == nil {
		c.Disconnect(0)
		t.Fatal("a certificate on the CRL given at start connected")
	}
	second, err := p.CA.IssueClient("kiosk-0006", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := connect(b.URL(), p.CA.ClientTLS(second), "kiosk-0006", "", nil)
	if err != nil {
		t.Fatalf("a certificate not on the CRL was refused: %v", err)
	}
	b.SetCRL(crlOf(first.Cert, second.Cert))
	fleettest.Eventually(t, 5*time.Second, func() bool { return !c.IsConnectionOpen() }, "the holder of a newly revoked certificate is disconnected")
	if c, err := connect(b.URL(), p.CA.ClientTLS(second), "kiosk-0006", "", nil); err == nil {
		c.Disconnect(0)
		t.Fatal("a certificate on the new CRL reconnected")
	}
	renewed, err := p.CA.IssueClient("kiosk-0006", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := connect(b.URL(), p.CA.ClientTLS(renewed), "kiosk-0006", "", nil); err != nil {
		t.Fatalf("the kiosk's certificate not on the CRL was refused: %v", err)
	} else {
		c.Disconnect(0)
	}
}
