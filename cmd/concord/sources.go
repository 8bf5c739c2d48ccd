package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"

	"github.com/concord-health/concord/internal/config"
	"github.com/concord-health/concord/mllp"
)

// sourceTLS builds the TLS configuration of a channel's MLLP source: its
// certificate, and with a client CA, client certificates required and
// verified against it.
func sourceTLS(ch config.Channel) (*tls.Config, error) {
	if ch.TLS == nil {
		return nil, nil
	}
	where := fmt.Sprintf("config %s:%d: channel %s tls", ch.File, ch.Line, ch.Name)
	cert, err := tls.LoadX509KeyPair(ch.TLS.Cert, ch.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: certificate %s and key %s: %s", where, ch.TLS.Cert, ch.TLS.Key, reason(err))
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if ch.TLS.ClientCA != "" {
		pem, err := os.ReadFile(ch.TLS.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("%s: client_ca %s: %s", where, ch.TLS.ClientCA, reason(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: client_ca %s: no PEM certificates", where, ch.TLS.ClientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// subjectCheck returns the check of each connection to a channel's MLLP
// source after its TLS handshake: the verified client certificate must
// name one of the allowed subjects. With no subjects listed it is nil.
func subjectCheck(subjects []string) func(*mllp.Conn) error {
	if len(subjects) == 0 {
		return nil
	}
	return func(c *mllp.Conn) error {
		if c.TLS == nil || len(c.TLS.PeerCertificates) == 0 {
			return fmt.Errorf("no client certificate")
		}
		if cn := c.TLS.PeerCertificates[0].Subject.CommonName; !slices.Contains(subjects, cn) {
			return fmt.Errorf("client certificate subject %q is not in allow_subjects", cn)
		}
		return nil
	}
}
