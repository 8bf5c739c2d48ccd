package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/mllp"
)

// maxInputFile caps a file read by send and hl7 parse.
const maxInputFile = 256 << 20

func newSend() *cobra.Command {
	var to, caFile, certFile, keyFile, serverName string
	var useTLS bool
	var timeout, enhancedWait time.Duration
	cmd := &cobra.Command{
		Use:   "send --to HOST:PORT [--tls …] FILE...",
		Short: "Send HL7 v2 messages over MLLP and print each acknowledgment",
		Long: "Send every message in the files (one or several messages each, segments ending in CR or LF,\n" +
			"batch envelopes allowed; - reads standard input). One line is printed per acknowledgment:\n" +
			"file, control ID, acknowledgment code and any error text. The exit status is non-zero when any\n" +
			"message is not accepted (AE, AR, CE, CR) or not acknowledged in time.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return fmt.Errorf("--to HOST:PORT is required")
			}
			client := &mllp.Client{Addr: to, AckTimeout: timeout}
			if useTLS || caFile != "" || certFile != "" {
				cfg, err := clientTLS(caFile, certFile, keyFile, serverName)
				if err != nil {
					return err
				}
				client.TLSConfig = cfg
			}
			defer client.Close()
			sent, failed := 0, 0
			for _, name := range args {
				data, err := readInput(name)
				if err != nil {
					return err
				}
				batch, err := hl7v2.SplitBatch(data)
				if err != nil {
					return fmt.Errorf("%s: %v", name, err)
				}
				for _, msg := range batch.Messages {
					sent++
					// Enhanced mode (HL7 v2.8 section 2.9.3): with MSH-15 NE the
					// receiver never sends an accept acknowledgment, with ER only
					// on error; silence then means accepted.
					accept := ""
					if pm, err := hl7v2.Parse(msg); err == nil {
						accept = pm.AcceptAckType()
					}
					wait := timeout
					if accept == "NE" || accept == "ER" {
						wait = min(enhancedWait, timeout)
					}
					ctx, cancel := context.WithTimeout(context.Background(), wait)
					ack, err := client.Send(ctx, msg)
					cancel()
					if err != nil && (accept == "NE" || accept == "ER") && errors.Is(err, mllp.ErrNoAck) {
						fmt.Printf("%s\t%s\tsent\t(MSH-15 %s: no acknowledgment means accepted)\n", name, mllp.ControlID(msg), accept)
						continue
					}
					if err != nil {
						failed++
						fmt.Printf("%s\t%s\tno acknowledgment: %v\n", name, mllp.ControlID(msg), err)
						continue
					}
					code, text := ackSummary(ack)
					if code != "AA" && code != "CA" {
						failed++
					}
					fmt.Printf("%s\t%s\t%s%s\n", name, mllp.ControlID(msg), code, text)
				}
			}
			if failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d of %d messages not accepted", failed, sent)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "receiver address host:port (required)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for each acknowledgment")
	f.DurationVar(&enhancedWait, "enhanced-wait", 2*time.Second, "how long to wait for an error acknowledgment when MSH-15 is ER or NE")
	f.BoolVar(&useTLS, "tls", false, "connect with TLS")
	f.StringVar(&caFile, "tls-ca", "", "PEM file of CA certificates to trust (implies --tls)")
	f.StringVar(&certFile, "tls-cert", "", "PEM client certificate (implies --tls)")
	f.StringVar(&keyFile, "tls-key", "", "PEM client key for --tls-cert")
	f.StringVar(&serverName, "tls-server-name", "", "name to verify in the server's certificate (default: the host of --to)")
	return cmd
}

// ackSummary returns MSA-1 and, for a refusal, the error text of the
// acknowledgment (ERR-8, ERR-3.2 or MSA-3).
func ackSummary(ack []byte) (string, string) {
	m, err := hl7v2.Parse(ack)
	if err != nil {
		return "??", "\tacknowledgment does not parse: " + err.Error()
	}
	code := m.Get("MSA-1")
	if code == "AA" || code == "CA" {
		return code, ""
	}
	for _, p := range []string{"ERR-8", "ERR-3.2", "MSA-3", "ERR-1.4.2"} {
		if t := m.Get(p); t != "" {
			return code, "\t" + t
		}
	}
	return code, ""
}

func clientTLS(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca %s: %s", caFile, reason(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificates", caFile)
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// readInput reads a named file, or standard input for "-", up to
// maxInputFile bytes.
func readInput(name string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", name, reason(err))
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInputFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %s", name, reason(err))
	}
	if len(data) > maxInputFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxInputFile)
	}
	return data, nil
}
