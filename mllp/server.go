package mllp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Server defaults and limits.
const (
	defaultIdleTimeout  = 5 * time.Minute
	defaultReadTimeout  = 60 * time.Second
	defaultWriteTimeout = 30 * time.Second
	defaultMaxConns     = 1000
	// shutdownGrace bounds how long Serve waits, once its context is
	// done, for handlers in flight to finish and write their responses.
	shutdownGrace = 10 * time.Second
	// maxAcceptDelay caps the back-off after temporary Accept errors.
	maxAcceptDelay = time.Second
)

// keepAlive returns the TCP keep-alive used on server and client
// connections: a dead peer is noticed within about two minutes of silence.
func keepAlive() net.KeepAliveConfig {
	return net.KeepAliveConfig{Enable: true, Idle: 60 * time.Second, Interval: 15 * time.Second, Count: 4}
}

// Errors a Server reports to OnError when it refuses a connection.
var (
	// ErrPeerNotAllowed: the peer's address is not in AllowedPeers.
	ErrPeerNotAllowed = errors.New("mllp: peer address not in AllowedPeers")
	// ErrHandshake wraps a failed TLS handshake (no or a bad client
	// certificate, a plain-TCP client on a TLS port …).
	ErrHandshake    = errors.New("mllp: TLS handshake")
	errTooManyConns = errors.New("mllp: connection limit reached")
)

// Handler handles the frames a Server receives.
type Handler interface {
	// ServeMLLP handles one received frame and returns the response frame
	// payload to send back (usually an HL7 ACK). A nil response sends
	// nothing. An error closes the connection.
	//
	// Frames of one connection are handled one at a time, in order;
	// frames of different connections concurrently. ctx is cancelled when
	// the server gives up on a graceful shutdown; handlers must then
	// return promptly. The payload belongs to the handler.
	ServeMLLP(ctx context.Context, c *Conn, payload []byte) ([]byte, error)
}

// HandlerFunc adapts a function to the Handler interface.
type HandlerFunc func(ctx context.Context, c *Conn, payload []byte) ([]byte, error)

// ServeMLLP calls f(ctx, c, payload).
func (f HandlerFunc) ServeMLLP(ctx context.Context, c *Conn, payload []byte) ([]byte, error) {
	return f(ctx, c, payload)
}

// Conn describes the connection a frame arrived on. Handlers must treat
// it as read-only.
type Conn struct {
	// ID numbers the connections a Server accepted, from 1.
	ID uint64
	// RemoteAddr is the peer's address and LocalAddr the address it
	// connected to.
	RemoteAddr, LocalAddr net.Addr
	// TLS is the state of the completed TLS handshake, with the verified
	// peer certificates; nil on a plain TCP connection.
	TLS *tls.ConnectionState
}

// Server accepts MLLP connections and passes each received frame to its
// Handler. Its fields are read when Serve starts and must not change
// while it runs; a Server must not be copied after first use.
type Server struct {
	// Handler handles every frame. It is required.
	Handler Handler
	// TLSConfig, when not nil, makes the server speak TLS; with its
	// ClientAuth set, client certificates are verified.
	TLSConfig *tls.Config
	// MaxFrameSize caps the payload of one frame in bytes; 0 means
	// DefaultMaxFrameSize. A larger frame closes the connection.
	MaxFrameSize int
	// IdleTimeout is the longest wait for the next frame on a connection
	// (bytes that are not a frame do not extend it); 0 means 5 minutes.
	IdleTimeout time.Duration
	// ReadTimeout is the longest time to receive one frame once its start
	// block arrived, and to complete a TLS handshake; 0 means 60 seconds.
	ReadTimeout time.Duration
	// WriteTimeout is the longest time to write one response; 0 means 30
	// seconds.
	WriteTimeout time.Duration
	// AllowedPeers, when not empty, lists the only addresses that may
	// connect; other connections are closed at once, before a byte is
	// read.
	AllowedPeers []netip.Prefix
	// Admit, when set, is asked about each new connection after the peer
	// check, before a byte is read: an error closes the connection (and
	// goes to OnError), so a source can refuse work while it is paused.
	Admit func(c *Conn) error
	// Verify, when set, is asked about each connection after its TLS
	// handshake (c.TLS is set then) and before a frame is read: an error
	// closes the connection (and goes to OnError). It is where a source
	// checks who the client certificate names.
	Verify func(c *Conn) error
	// MaxConns caps the connections open at once; 0 means 1000. Beyond it
	// new connections are closed at once.
	MaxConns int
	// OnError, when not nil, is told of framing errors, rejected peers,
	// failed TLS handshakes, handler errors and panics, and failed writes,
	// with the number of bytes skipped on that connection so far. It is
	// called from connection goroutines and must be safe for concurrent
	// use.
	OnError func(c *Conn, err error, skipped int64)
	// Logger, when not nil, receives connection events.
	Logger *slog.Logger

	nextID atomic.Uint64
}

// Serve accepts connections on ln and serves each in its own goroutine
// until ctx is done, then stops accepting (closing ln), lets handlers in
// flight finish and write their responses for up to 10 seconds, closes
// every connection and returns nil. Connections waiting for a frame are
// closed at once. Serve also returns, with the error, when Accept fails
// for a reason that is not temporary.
//
// Handlers receive a context that carries ctx's values but is cancelled
// only when the graceful period runs out.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.Handler == nil {
		return errors.New("mllp: Server.Handler is nil")
	}
	st := &serving{
		srv:          s,
		log:          s.Logger,
		maxFrame:     orDefault(s.MaxFrameSize, DefaultMaxFrameSize),
		maxConns:     orDefault(s.MaxConns, defaultMaxConns),
		idleTimeout:  orDefault(s.IdleTimeout, defaultIdleTimeout),
		readTimeout:  orDefault(s.ReadTimeout, defaultReadTimeout),
		writeTimeout: orDefault(s.WriteTimeout, defaultWriteTimeout),
		conns:        make(map[*serverConn]struct{}),
	}
	if st.log == nil {
		st.log = slog.New(slog.DiscardHandler)
	}
	hctx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	err := st.accept(ctx, hctx, ln)
	ln.Close()
	st.shutdown(cancelHandlers)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// serving is the state of one Serve call.
type serving struct {
	srv                                    *Server
	log                                    *slog.Logger
	maxFrame, maxConns                     int
	idleTimeout, readTimeout, writeTimeout time.Duration

	wg      sync.WaitGroup
	mu      sync.Mutex // guards the fields below and serverConn.idle
	conns   map[*serverConn]struct{}
	closing bool
}

// serverConn is one accepted connection.
type serverConn struct {
	raw  net.Conn
	info Conn
	idle bool // waiting for a frame: closed at once on shutdown
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// accept runs the accept loop until ctx is done or Accept fails for good.
func (st *serving) accept(ctx, hctx context.Context, ln net.Listener) error {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !isTemporary(err) {
				return fmt.Errorf("mllp: accept: %w", err)
			}
			delay = min(max(2*delay, 5*time.Millisecond), maxAcceptDelay)
			st.log.Warn("mllp: accept failed; retrying", "err", err, "delay", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil
			}
			continue
		}
		delay = 0
		st.start(hctx, nc)
	}
}

// isTemporary reports whether an Accept error is worth retrying (such as
// running out of file descriptors, or a connection aborted before it was
// accepted).
func isTemporary(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// start admits or rejects a new connection and serves it.
func (st *serving) start(hctx context.Context, nc net.Conn) {
	sc := &serverConn{
		raw:  nc,
		info: Conn{ID: st.srv.nextID.Add(1), RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr()},
		idle: true,
	}
	if !peerAllowed(st.srv.AllowedPeers, nc.RemoteAddr()) {
		nc.Close()
		st.report(&sc.info, ErrPeerNotAllowed, 0)
		return
	}
	if st.srv.Admit != nil {
		if err := st.srv.Admit(&sc.info); err != nil {
			nc.Close()
			st.report(&sc.info, err, 0)
			return
		}
	}
	st.mu.Lock()
	if len(st.conns) >= st.maxConns {
		st.mu.Unlock()
		nc.Close()
		st.report(&sc.info, fmt.Errorf("%w (%d)", errTooManyConns, st.maxConns), 0)
		return
	}
	st.conns[sc] = struct{}{}
	st.wg.Add(1)
	st.mu.Unlock()
	go st.serve(hctx, sc)
}

// peerAllowed reports whether addr is inside one of the allowed prefixes,
// or whether the list is empty.
func peerAllowed(allowed []netip.Prefix, addr net.Addr) bool {
	if len(allowed) == 0 {
		return true
	}
	var ip netip.Addr
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip = ta.AddrPort().Addr()
	} else if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
		ip = ap.Addr()
	} else {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range allowed {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// serve reads frames from one connection, hands them to the handler and
// writes the responses, until the connection fails, idles out or the
// server shuts down.
func (st *serving) serve(ctx context.Context, sc *serverConn) {
	defer st.wg.Done()
	defer st.remove(sc)
	defer sc.raw.Close()

	if tc, ok := sc.raw.(*net.TCPConn); ok {
		// Keep-alive is an optimisation; a platform without it still works.
		_ = tc.SetKeepAliveConfig(keepAlive())
	}
	conn := sc.raw
	if cfg := st.srv.TLSConfig; cfg != nil {
		tc := tls.Server(sc.raw, cfg)
		_ = tc.SetDeadline(time.Now().Add(st.readTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			if !st.isClosing() {
				st.report(&sc.info, fmt.Errorf("%w: %w", ErrHandshake, err), 0)
			}
			return
		}
		state := tc.ConnectionState()
		sc.info.TLS = &state
		conn = tc
		defer tc.Close() // sends close_notify before the deferred raw close
	}
	if st.srv.Verify != nil {
		if err := st.srv.Verify(&sc.info); err != nil {
			st.report(&sc.info, err, 0)
			return
		}
	}
	log := st.log.With("conn", sc.info.ID, "remote", addrString(sc.info.RemoteAddr))
	log.Debug("mllp: connection opened")

	r := NewReader(conn, st.maxFrame)
	var out []byte
	frames := 0
	defer func() {
		if r.Skipped() > 0 {
			log.Warn("mllp: connection closed; bytes outside frames were skipped", "frames", frames, "skipped", r.Skipped())
		} else {
			log.Debug("mllp: connection closed", "frames", frames)
		}
	}()
	for {
		_ = conn.SetReadDeadline(time.Now().Add(st.idleTimeout))
		if err := r.seek(); err != nil {
			switch {
			case err == io.EOF:
			case isTimeout(err):
				log.Debug("mllp: idle timeout", "timeout", st.idleTimeout)
			case !st.isClosing():
				log.Debug("mllp: read between frames failed", "err", err)
			}
			return
		}
		if !st.setIdle(sc, false) {
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(st.readTimeout))
		payload, err := r.ReadFrame()
		if err != nil {
			if isTimeout(err) {
				err = fmt.Errorf("mllp: frame not complete within %v: %w", st.readTimeout, err)
			}
			st.report(&sc.info, err, r.Skipped())
			return
		}
		frames++
		resp, err := st.handle(ctx, &sc.info, payload)
		if err != nil {
			st.report(&sc.info, err, r.Skipped())
			return
		}
		if resp != nil {
			_ = conn.SetWriteDeadline(time.Now().Add(st.writeTimeout))
			if err = checkPayload(resp); err == nil {
				out, err = writeFrame(conn, resp, out) // out: reused for every response
			}
			if err != nil {
				st.report(&sc.info, err, r.Skipped())
				return
			}
		}
		if !st.setIdle(sc, true) {
			return
		}
	}
}

// handle calls the handler and turns a panic into an error.
func (st *serving) handle(ctx context.Context, c *Conn, payload []byte) (resp []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			st.log.Error("mllp: handler panic", "conn", c.ID, "panic", v, "stack", string(debug.Stack()))
			resp, err = nil, fmt.Errorf("mllp: handler panic: %v", v)
		}
	}()
	resp, err = st.srv.Handler.ServeMLLP(ctx, c, payload)
	if err != nil {
		err = fmt.Errorf("mllp: handler: %w", err)
	}
	return resp, err
}

// setIdle marks a connection as waiting for a frame or busy with one. It
// reports false when the server is shutting down and the connection should
// end instead.
func (st *serving) setIdle(sc *serverConn, idle bool) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	sc.idle = idle
	return !st.closing
}

func (st *serving) isClosing() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.closing
}

func (st *serving) remove(sc *serverConn) {
	st.mu.Lock()
	delete(st.conns, sc)
	st.mu.Unlock()
}

// shutdown closes idle connections, waits up to shutdownGrace for the
// others to finish their frame, then cancels handlers, closes what is left
// and waits for every connection goroutine to end.
func (st *serving) shutdown(cancelHandlers context.CancelFunc) {
	st.mu.Lock()
	st.closing = true
	for sc := range st.conns {
		if sc.idle {
			sc.raw.Close()
		}
	}
	st.mu.Unlock()

	done := make(chan struct{})
	go func() {
		st.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(shutdownGrace)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	st.log.Warn("mllp: handlers still running after the shutdown grace period; closing their connections", "grace", shutdownGrace)
	cancelHandlers()
	st.mu.Lock()
	for sc := range st.conns {
		sc.raw.Close()
	}
	st.mu.Unlock()
	<-done
}

// report tells the operator about a connection's error.
func (st *serving) report(c *Conn, err error, skipped int64) {
	st.log.Warn("mllp: connection error", "conn", c.ID, "remote", addrString(c.RemoteAddr), "err", err, "skipped", skipped)
	if st.srv.OnError != nil {
		st.srv.OnError(c, err, skipped)
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
