// Package websocket is a small WebSocket (RFC 6455) server: the opening
// handshake over an http.Handler, framing with client masking enforced,
// fragmented messages, ping/pong and the closing handshake, with a cap on
// message size and a deadline on every read and write. It negotiates no
// extension and no subprotocol, and is not a client.
package websocket

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/concord-health/concord"
)

// acceptGUID is the key suffix of the handshake (section 1.3).
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Options bound a connection.
type Options struct {
	// MaxMessage is the largest message read, fragments together
	// (default 4 KiB).
	MaxMessage int
	// ReadTimeout is how long a read may wait for the peer's next frame
	// (default 60 s): send pings more often to keep a quiet peer's
	// connection (its pongs count).
	ReadTimeout time.Duration
	// WriteTimeout bounds each write (default 10 s).
	WriteTimeout time.Duration
}

// ErrClosed is returned by reads after the peer closed the connection
// (the closing handshake was answered) and by writes after Close.
var ErrClosed = errors.New("websocket: connection closed")

// Conn is a server-side WebSocket connection. One goroutine may read
// while others write.
type Conn struct {
	c   net.Conn
	br  *bufio.Reader
	opt Options

	wmu    sync.Mutex
	closed bool // a close frame was sent
	buf    []byte
}

// Upgrade answers a client's opening handshake (section 4.2) and takes
// over the connection. A request that is not a WebSocket handshake gets
// an error (EINVALID; EUNSUPPORTED for another protocol version) and
// nothing is written: answer it as any bad request.
func Upgrade(w http.ResponseWriter, r *http.Request, opt Options) (*Conn, error) {
	if opt.MaxMessage <= 0 {
		opt.MaxMessage = 4 << 10
	}
	if opt.ReadTimeout <= 0 {
		opt.ReadTimeout = 60 * time.Second
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 10 * time.Second
	}
	if r.Method != http.MethodGet || !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", "websocket") {
		return nil, concord.Errorf(concord.EINVALID, "a WebSocket opening handshake is a GET with Connection: Upgrade and Upgrade: websocket")
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return nil, concord.Errorf(concord.EUNSUPPORTED, "WebSocket version %q: this server speaks version 13", r.Header.Get("Sec-WebSocket-Version"))
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return nil, concord.Errorf(concord.EINVALID, "Sec-WebSocket-Key is not 16 bytes in base64")
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, concord.Errorf(concord.EINTERNAL, "the connection cannot be taken over: %v", err)
	}
	// The HTTP server's own deadlines stay on a hijacked connection: ours
	// replace them.
	c.SetDeadline(time.Time{})
	sum := sha1.Sum([]byte(key + acceptGUID))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	c.SetWriteDeadline(time.Now().Add(opt.WriteTimeout))
	if _, err := io.WriteString(c, resp); err != nil {
		c.Close()
		return nil, err
	}
	return &Conn{c: c, br: brw.Reader, opt: opt}, nil
}

// headerHas reports whether the comma-separated header name lists token
// (case-insensitively).
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// ReadMessage returns the next text or binary message, joining its
// fragments. Pings are answered, pongs skipped; a close frame is
// answered and ends the connection (ErrClosed). A peer breaking the
// protocol (or sending text that is not UTF-8, or a message larger than
// MaxMessage) gets a close frame with the reason's code, and the error.
func (c *Conn) ReadMessage() (op byte, msg []byte, err error) {
	for {
		c.c.SetReadDeadline(time.Now().Add(c.opt.ReadTimeout))
		f, err := ReadFrame(c.br, c.opt.MaxMessage-len(msg))
		if err != nil {
			return 0, nil, c.fail(err)
		}
		switch f.Op {
		case OpPing:
			if err := c.write(OpPong, f.Payload); err != nil {
				return 0, nil, err
			}
			continue
		case OpPong:
			continue
		case OpClose:
			code := CloseNormal
			if len(f.Payload) == 1 {
				return 0, nil, c.fail(protocolError("close frame with a one-byte body"))
			}
			if len(f.Payload) >= 2 {
				code = binary.BigEndian.Uint16(f.Payload)
				if !validCloseCode(code) || !utf8.Valid(f.Payload[2:]) {
					return 0, nil, c.fail(protocolError("close frame with an invalid code or reason"))
				}
			}
			c.Close(code, "")
			return 0, nil, ErrClosed
		case OpContinuation:
			if op == 0 {
				return 0, nil, c.fail(protocolError("continuation without a message"))
			}
		default: // text, binary
			if op != 0 {
				return 0, nil, c.fail(protocolError("new message inside a fragmented one"))
			}
			op = f.Op
		}
		msg = append(msg, f.Payload...)
		if f.Fin {
			if op == OpText && !utf8.Valid(msg) {
				return 0, nil, c.fail(&ProtocolError{Code: CloseInvalidData, Reason: "text message is not UTF-8"})
			}
			return op, msg, nil
		}
	}
}

// validCloseCode reports whether a peer may send code (section 7.4).
func validCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// fail closes the connection after a read error, with a close frame
// when the peer broke the protocol.
func (c *Conn) fail(err error) error {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		c.Close(pe.Code, pe.Reason)
	} else {
		c.c.Close()
	}
	return err
}

// WriteText sends a text message.
func (c *Conn) WriteText(s string) error { return c.write(OpText, []byte(s)) }

// Ping sends a ping; the peer's pong keeps reads alive.
func (c *Conn) Ping() error { return c.write(OpPing, nil) }

// write sends one frame.
func (c *Conn) write(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.buf = AppendFrame(c.buf[:0], op, payload)
	c.c.SetWriteDeadline(time.Now().Add(c.opt.WriteTimeout))
	_, err := c.c.Write(c.buf)
	if op == OpClose {
		c.closed = true
	}
	return err
}

// Close sends a close frame with code and reason (once) and closes the
// connection. It does not wait for the peer's close frame.
func (c *Conn) Close(code uint16, reason string) error {
	if len(reason) > maxControl-2 {
		reason = reason[:maxControl-2]
	}
	p := binary.BigEndian.AppendUint16(nil, code)
	c.write(OpClose, append(p, reason...))
	return c.c.Close()
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.c.RemoteAddr() }
