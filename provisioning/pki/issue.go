package pki

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"time"
)

// Issued is a certificate and the key made for it.
type Issued struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
	TLS     tls.Certificate
}

// Request describes a TLS certificate to issue with a new ECDSA P-256 key.
type Request struct {
	CommonName string
	// Hosts are a server's DNS names and IP addresses.
	Hosts []string
	Usage x509.ExtKeyUsage
	// NotBefore defaults to an hour ago; NotAfter is required.
	NotBefore, NotAfter time.Time
}

// IssueClient makes a client certificate with CN = identity, valid for the given time.
func (ca *CA) IssueClient(identity string, valid time.Duration) (*Issued, error) {
	return ca.Issue(Request{CommonName: identity, Usage: x509.ExtKeyUsageClientAuth, NotAfter: time.Now().Add(valid)})
}

// IssueServer makes a server certificate for the given host names and IP addresses, valid five years.
func (ca *CA) IssueServer(cn string, hosts ...string) (*Issued, error) {
	return ca.Issue(Request{CommonName: cn, Hosts: hosts, Usage: x509.ExtKeyUsageServerAuth,
		NotAfter: time.Now().Add(5 * 365 * 24 * time.Hour)})
}

// Issue makes a key and a certificate for it as r says.
func (ca *CA) Issue(r Request) (*Issued, error) {
	key, err := NewKey(ECCP256)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", r.CommonName, err)
	}
	if r.NotBefore.IsZero() {
		r.NotBefore = time.Now().Add(-time.Hour)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: r.CommonName},
		NotBefore:   r.NotBefore,
		NotAfter:    r.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{r.Usage},
	}
	for _, h := range r.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	cert, err := ca.Sign(tmpl, key.Public())
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", r.CommonName, err)
	}
	keyPEM, err := KeyPEM(key)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", r.CommonName, err)
	}
	return &Issued{Cert: cert, CertPEM: CertPEM(cert.Raw), KeyPEM: keyPEM,
		TLS: tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}, nil
}

// SignClient signs a client certificate (CN = identity) for a key the CA never sees, such as the one in
// a kiosk's certificate request at enrolment. NotAfter is cut to the CA's own.
func (ca *CA) SignClient(identity string, pub crypto.PublicKey, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	return ca.Sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: identity},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, pub)
}

// ClientTLS returns a client tls.Config trusting the CA and presenting the issued certificate.
func (ca *CA) ClientTLS(is *Issued) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{is.TLS}, MinVersion: tls.VersionTLS12}
}

// ServerTLS returns a server tls.Config requiring client certificates signed by the CA.
func (ca *CA) ServerTLS(is *Issued) *tls.Config {
	return &tls.Config{ClientCAs: ca.Pool(), Certificates: []tls.Certificate{is.TLS},
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}
