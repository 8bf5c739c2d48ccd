package mllp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// testPKI is an ephemeral certificate authority with a server certificate
// for 127.0.0.1 and a client certificate, made for one test.
type testPKI struct {
	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Synthetic Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	pki := &testPKI{pool: x509.NewCertPool()}
	pki.pool.AddCert(ca)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) tls.Certificate {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	pki.server = issue(2, "synthetic-mllp-server", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	pki.client = issue(3, "synthetic-lab-sender", x509.ExtKeyUsageClientAuth, nil)
	return pki
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestTLSClientCertificates(t *testing.T) {
	pki := newTestPKI(t)
	peers := make(chan string, 4)
	s := &Server{
		Handler: HandlerFunc(func(ctx context.Context, c *Conn, payload []byte) ([]byte, error) {
			if c.TLS == nil || len(c.TLS.PeerCertificates) == 0 {
				peers <- ""
			} else {
				peers <- c.TLS.PeerCertificates[0].Subject.CommonName
			}
			return testAck(ControlID(payload)), nil
		}),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{pki.server},
			ClientCAs:    pki.pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
		},
	}
	errs := errorSink(s)
	ts := startServer(t, s, "")

	t.Run("with certificate", func(t *testing.T) {
		c := &Client{Addr: ts.addr, TLSConfig: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}}}
		defer c.Close()
		send(t, c, "TLS1")
		send(t, c, "TLS2")
		for range 2 {
			if cn := <-peers; cn != "synthetic-lab-sender" {
				t.Fatalf("handler saw peer %q", cn)
			}
		}
	})
	t.Run("without certificate", func(t *testing.T) {
		c := &Client{Addr: ts.addr, AckTimeout: 2 * time.Second, TLSConfig: &tls.Config{RootCAs: pki.pool}}
		defer c.Close()
		if _, err := c.Send(context.Background(), testMessage("NOCERT")); err == nil {
			t.Fatal("Send without a client certificate succeeded")
		}
		waitError(t, errs, func(err error) bool { return strings.Contains(err.Error(), "TLS handshake") })
		select {
		case cn := <-peers:
			t.Fatalf("a frame from %q without a certificate reached the handler", cn)
		default:
		}
	})
	t.Run("plain TCP to the TLS port", func(t *testing.T) {
		c := &Client{Addr: ts.addr, AckTimeout: 2 * time.Second}
		defer c.Close()
		if _, err := c.Send(context.Background(), testMessage("PLAIN")); err == nil {
			t.Fatal("plain Send to a TLS server succeeded")
		}
	})
}

// TestVerifyAfterHandshake: Verify sees the verified client certificate
// and can refuse the connection before any frame reaches the handler.
func TestVerifyAfterHandshake(t *testing.T) {
	pki := newTestPKI(t)
	handled := make(chan string, 4)
	seen := make(chan string, 4)
	s := &Server{
		Handler: HandlerFunc(func(ctx context.Context, c *Conn, payload []byte) ([]byte, error) {
			handled <- ControlID(payload)
			return testAck(ControlID(payload)), nil
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientCAs: pki.pool, ClientAuth: tls.RequireAndVerifyClientCert},
		Verify: func(c *Conn) error {
			if c.TLS == nil || len(c.TLS.PeerCertificates) == 0 {
				return errors.New("verify without a handshake")
			}
			seen <- c.TLS.PeerCertificates[0].Subject.CommonName
			return errors.New("subject not allowed")
		},
	}
	errs := errorSink(s)
	ts := startServer(t, s, "")
	c := &Client{Addr: ts.addr, AckTimeout: 2 * time.Second,
		TLSConfig: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}}}
	defer c.Close()
	if _, err := c.Send(context.Background(), testMessage("REFUSED")); err == nil {
		t.Fatal("Send by a refused subject succeeded")
	}
	if cn := <-seen; cn != "synthetic-lab-sender" {
		t.Fatalf("Verify saw %q", cn)
	}
	waitError(t, errs, func(err error) bool { return strings.Contains(err.Error(), "subject not allowed") })
	select {
	case id := <-handled:
		t.Fatalf("frame %s reached the handler", id)
	default:
	}
}
