package websocket

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// client is a minimal WebSocket client for the tests.
type client struct {
	c  net.Conn
	br *bufio.Reader
}

// dial opens a connection and sends a handshake with the given headers
// (a valid one when hdr is nil); it returns the client and the status.
func dial(t *testing.T, url string, hdr map[string]string) (*client, int) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if hdr == nil {
		hdr = map[string]string{"Connection": "keep-alive, Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	}
	var b strings.Builder
	b.WriteString("GET /ws HTTP/1.1\r\nHost: test\r\n")
	for k, v := range hdr {
		b.WriteString(k + ": " + v + "\r\n")
	}
	b.WriteString("\r\n")
	io.WriteString(c, b.String())
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 101 {
		// RFC 6455's own example: this key gives this accept value.
		if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
			t.Fatalf("Sec-WebSocket-Accept = %q", got)
		}
	}
	return &client{c: c, br: br}, resp.StatusCode
}

// send writes a masked frame.
func (cl *client) send(fin bool, op byte, payload []byte) {
	b := []byte{op}
	if fin {
		b[0] |= 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	rand.Read(key[:])
	b = append(b, key[:]...)
	p := bytes.Clone(payload)
	mask(p, key)
	cl.c.Write(append(b, p...))
}

// recv reads one server frame (unmasked).
func (cl *client) recv(t *testing.T) (byte, []byte) {
	t.Helper()
	cl.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(cl.br, h[:]); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	if h[1]&0x80 != 0 {
		t.Fatal("a server frame was masked")
	}
	n := int(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		io.ReadFull(cl.br, b[:])
		n = int(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		io.ReadFull(cl.br, b[:])
		n = int(binary.BigEndian.Uint64(b[:]))
	}
	p := make([]byte, n)
	io.ReadFull(cl.br, p)
	return h[0] & 0x0F, p
}

// echo is a server that sends every message back.
func echo(t *testing.T, opt Options) (*httptest.Server, chan error) {
	errs := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, opt)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for {
			op, msg, err := c.ReadMessage()
			if err != nil {
				errs <- err
				return
			}
			if op == OpText {
				c.WriteText(string(msg))
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, errs
}

func TestEcho(t *testing.T) {
	srv, errs := echo(t, Options{MaxMessage: 70000})
	cl, code := dial(t, srv.URL, nil)
	if code != 101 {
		t.Fatalf("handshake: %d", code)
	}
	cl.send(true, OpText, []byte("bind 123"))
	if op, p := cl.recv(t); op != OpText || string(p) != "bind 123" {
		t.Fatalf("echo = %d %q", op, p)
	}
	// A fragmented message with a ping between its fragments: the pong
	// comes first, then the whole message.
	cl.send(false, OpText, []byte("hel"))
	cl.send(true, OpPing, []byte("p"))
	cl.send(true, OpContinuation, []byte("lo"))
	if op, p := cl.recv(t); op != OpPong || string(p) != "p" {
		t.Fatalf("pong = %d %q", op, p)
	}
	if op, p := cl.recv(t); op != OpText || string(p) != "hello" {
		t.Fatalf("fragmented echo = %d %q", op, p)
	}
	big := bytes.Repeat([]byte("x"), 66000) // a 64-bit length
	cl.send(true, OpText, big)
	if op, p := cl.recv(t); op != OpText || !bytes.Equal(p, big) {
		t.Fatalf("long echo = %d, %d bytes", op, len(p))
	}
	cl.send(true, OpClose, binary.BigEndian.AppendUint16(nil, CloseNormal))
	if op, p := cl.recv(t); op != OpClose || binary.BigEndian.Uint16(p) != CloseNormal {
		t.Fatalf("close answer = %d %v", op, p)
	}
	if err := <-errs; err != ErrClosed {
		t.Fatalf("server read = %v, want ErrClosed", err)
	}
}

// TestRefused: broken frames close the connection with the right code.
func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(cl *client)
		code uint16
	}{
		{"unmasked", func(cl *client) { cl.c.Write([]byte{0x81, 0x01, 'a'}) }, CloseProtocolError},
		{"reserved bits", func(cl *client) { cl.send(true, 0x40|OpText, []byte("a")) }, CloseProtocolError},
		{"unknown opcode", func(cl *client) { cl.send(true, 0x3, []byte("a")) }, CloseProtocolError},
		{"too large", func(cl *client) { cl.send(true, OpText, bytes.Repeat([]byte("a"), 200)) }, CloseTooBig},
		{"too large in fragments", func(cl *client) {
			cl.send(false, OpText, bytes.Repeat([]byte("a"), 60))
			cl.send(true, OpContinuation, bytes.Repeat([]byte("a"), 60))
		}, CloseTooBig},
		{"not UTF-8", func(cl *client) { cl.send(true, OpText, []byte{0xff, 0xfe}) }, CloseInvalidData},
		{"continuation first", func(cl *client) { cl.send(true, OpContinuation, []byte("a")) }, CloseProtocolError},
		{"fragmented ping", func(cl *client) { cl.send(false, OpPing, nil) }, CloseProtocolError},
		{"long ping", func(cl *client) { cl.send(true, OpPing, bytes.Repeat([]byte("a"), 126)) }, CloseProtocolError},
		{"bad close code", func(cl *client) { cl.send(true, OpClose, []byte{0x03, 0xED}) }, CloseProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, errs := echo(t, Options{MaxMessage: 100})
			cl, _ := dial(t, srv.URL, nil)
			tc.send(cl)
			op, p := cl.recv(t)
			if op != OpClose || len(p) < 2 || binary.BigEndian.Uint16(p) != tc.code {
				t.Fatalf("answer = %d %q, want close %d", op, p, tc.code)
			}
			var pe *ProtocolError
			if err := <-errs; !errors.As(err, &pe) || pe.Code != tc.code {
				t.Fatalf("server read = %v", err)
			}
		})
	}
}

// TestReadTimeout: a silent peer is dropped after ReadTimeout.
func TestReadTimeout(t *testing.T) {
	srv, errs := echo(t, Options{ReadTimeout: 100 * time.Millisecond})
	dial(t, srv.URL, nil)
	select {
	case err := <-errs:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("server read = %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a silent peer was kept")
	}
}

// TestBadHandshakes: requests that are not version 13 handshakes are
// refused before the connection is taken over.
func TestBadHandshakes(t *testing.T) {
	srv, _ := echo(t, Options{})
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	for name, hdr := range map[string]map[string]string{
		"no upgrade":     {"Connection": "keep-alive", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key},
		"version 8":      {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": key},
		"short key":      {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "YWJj"},
		"missing key":    {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"},
		"other protocol": {"Connection": "Upgrade", "Upgrade": "h2c", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key},
	} {
		if _, code := dial(t, srv.URL, hdr); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, code)
		}
	}
}
