package mllp_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/concord-health/concord/mllp"
)

func ExampleReader() {
	// A sender's stream: a keep-alive newline, then two frames, the second
	// without the CR after its end block.
	stream := "\n\x0bMSH|^~\\&|A|B|C|D|20250101||ADT^A01|X1|P|2.5\r\x1c\r" +
		"\x0bMSH|^~\\&|A|B|C|D|20250101||ADT^A01|X2|P|2.5\r\x1c"
	r := mllp.NewReader(strings.NewReader(stream), 0)
	for {
		payload, err := r.ReadFrame()
		if err != nil {
			fmt.Println(err, "- skipped", r.Skipped())
			break
		}
		fmt.Println(mllp.ControlID(payload))
	}
	// Output:
	// X1
	// X2
	// EOF - skipped 1
}

func ExampleWriteFrame() {
	var buf bytes.Buffer
	if err := mllp.WriteFrame(&buf, []byte("MSH|^~\\&|A\r")); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", buf.String())
	// Output:
	// "\vMSH|^~\\&|A\r\x1c\r"
}

func ExampleServer_Serve() {
	ln, err := net.Listen("tcp", ":2575")
	if err != nil {
		log.Fatal(err)
	}
	s := &mllp.Server{
		Handler: mllp.HandlerFunc(func(ctx context.Context, c *mllp.Conn, payload []byte) ([]byte, error) {
			// Store the message durably first, then acknowledge it.
			id := mllp.ControlID(payload)
			return []byte("MSH|^~\\&|RECEIVER|FAC|SENDER|FAC|20250101120000||ACK|A" + id + "|P|2.5\rMSA|AA|" + id + "\r"), nil
		}),
		AllowedPeers: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		OnError: func(c *mllp.Conn, err error, skipped int64) {
			log.Printf("mllp connection %d from %v: %v (%d bytes skipped)", c.ID, c.RemoteAddr, err, skipped)
		},
	}
	if err := s.Serve(context.Background(), ln); err != nil {
		log.Fatal(err)
	}
}

func ExampleClient_Send() {
	c := &mllp.Client{Addr: "lis.example.org:2575", AckTimeout: 10 * time.Second}
	defer c.Close()
	msg := []byte("MSH|^~\\&|CONCORD|FAC|LIS|FAC|20250101120000||ORM^O01|MSG0001|P|2.5\rPID|1||SYNTH1\r")
	ack, err := c.Send(context.Background(), msg)
	if err != nil {
		log.Fatal(err) // retry later: the message may or may not have arrived
	}
	fmt.Println(mllp.AckControlID(ack))
}
