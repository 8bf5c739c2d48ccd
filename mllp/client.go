package mllp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Client defaults.
const (
	defaultDialTimeout = 10 * time.Second
	defaultAckTimeout  = 30 * time.Second
	// queuedFrames is how many received frames wait for Send before the
	// connection's reader stops reading.
	queuedFrames = 16
)

// Client sends HL7 v2 messages to one MLLP server and returns their
// acknowledgments. It dials lazily, keeps one connection, and dials again
// on the Send after any error. It is safe for concurrent use: Sends take
// turns on the connection. The zero value with Addr set is ready to use; a
// Client must not be copied after first use.
type Client struct {
	// Addr is the server's host:port.
	Addr string
	// TLSConfig, when not nil, makes the client speak TLS. Without a
	// ServerName, the host of Addr is verified.
	TLSConfig *tls.Config
	// DialTimeout bounds connecting (and the TLS handshake); 0 means 10
	// seconds.
	DialTimeout time.Duration
	// AckTimeout bounds writing a message and waiting for its
	// acknowledgment when ctx has no earlier deadline; 0 means 30 seconds.
	AckTimeout time.Duration
	// MaxFrameSize caps the payload of a received frame; 0 means
	// DefaultMaxFrameSize.
	MaxFrameSize int
	// Match reports whether ack acknowledges msg. Nil means
	// MatchControlID.
	Match func(msg, ack []byte) bool

	once sync.Once
	turn chan struct{} // holds a token while a Send uses the connection

	mu     sync.Mutex // guards cc and closed
	cc     *clientConn
	closed bool
}

// clientConn is one connection and the goroutine that reads its frames.
type clientConn struct {
	nc     net.Conn
	frames chan []byte
	quit   chan struct{} // closed by close
	done   chan struct{} // closed when the reader has stopped
	err    error         // why the reader stopped; read after done
	once   sync.Once
}

// Send writes msg as one frame and returns the first frame received after
// it that acknowledges it (see Match). Frames that do not match, such as
// late acknowledgments of an earlier message, are skipped.
//
// If no matching frame arrives before the deadline (AckTimeout after the
// connection is ready, or ctx's deadline if that is earlier), Send returns
// an error wrapping ErrNoAck. After any error on the connection it is
// closed, and the next Send dials again. The message may have been
// delivered even when Send fails: senders retry, and receivers recognise
// repeated control IDs.
//
// Sends wait for their turn on the connection; a Send whose ctx is done
// while it waits returns ctx's error without sending.
func (c *Client) Send(ctx context.Context, msg []byte) (ack []byte, err error) {
	c.once.Do(func() { c.turn = make(chan struct{}, 1) })
	if err := checkPayload(msg); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.turn }()

	cc, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	ack, err = c.exchange(ctx, cc, msg)
	if err != nil {
		c.drop(cc)
		if c.isClosed() {
			return nil, ErrClosed
		}
		return nil, err
	}
	return ack, nil
}

// Close closes the connection, interrupting a Send in progress, and makes
// every later Send fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	cc := c.cc
	c.cc = nil
	c.mu.Unlock()
	if cc != nil {
		cc.close()
		<-cc.done
	}
	return nil
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// connect returns the open connection, or dials a new one if there is none
// or the server has closed it.
func (c *Client) connect(ctx context.Context) (*clientConn, error) {
	c.mu.Lock()
	closed, cc := c.closed, c.cc
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if cc != nil {
		select {
		case <-cc.done: // the server closed it, or it failed, while idle
			c.drop(cc)
		default:
			return cc, nil
		}
	}
	nc, err := c.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("mllp: dial %s: %w", c.Addr, err)
	}
	cc = &clientConn{
		nc:     nc,
		frames: make(chan []byte, queuedFrames),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go cc.read(NewReader(nc, c.MaxFrameSize))
	c.mu.Lock()
	closed = c.closed
	if !closed {
		c.cc = cc
	}
	c.mu.Unlock()
	if closed {
		cc.close()
		<-cc.done
		return nil, ErrClosed
	}
	return cc, nil
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: orDefault(c.DialTimeout, defaultDialTimeout), KeepAliveConfig: keepAlive()}
	if c.TLSConfig == nil {
		return d.DialContext(ctx, "tcp", c.Addr)
	}
	td := &tls.Dialer{NetDialer: d, Config: c.TLSConfig}
	return td.DialContext(ctx, "tcp", c.Addr)
}

// drop forgets cc if it is the current connection, closes it and waits for
// its reader to stop.
func (c *Client) drop(cc *clientConn) {
	c.mu.Lock()
	if c.cc == cc {
		c.cc = nil
	}
	c.mu.Unlock()
	cc.close()
	<-cc.done
}

// exchange writes msg and waits for its acknowledgment.
func (c *Client) exchange(ctx context.Context, cc *clientConn, msg []byte) ([]byte, error) {
	match := c.Match
	if match == nil {
		match = MatchControlID
	}
	timeout := orDefault(c.AckTimeout, defaultAckTimeout)
	deadline, ctxDeadline := time.Now().Add(timeout), false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ctxDeadline = d, true
	}
	// Frames that arrived while no message was outstanding acknowledge
	// nothing this Send wrote.
	for drained := false; !drained; {
		select {
		case <-cc.frames:
		default:
			drained = true
		}
	}
	stop := context.AfterFunc(ctx, cc.close)
	defer stop()

	if err := cc.nc.SetWriteDeadline(deadline); err != nil {
		return nil, fmt.Errorf("mllp: set write deadline: %w", err)
	}
	if err := WriteFrame(cc.nc, msg); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case f := <-cc.frames:
			if match(msg, f) {
				return f, nil
			}
		case <-cc.done:
			// The reader queues every frame before it stops: look at the
			// ones still queued before giving up.
			if f := cc.queued(msg, match); f != nil {
				return f, nil
			}
			if ctx.Err() != nil {
				return nil, ctxError(ctx)
			}
			return nil, fmt.Errorf("mllp: connection lost before acknowledgment: %w", cc.err)
		case <-timer.C:
			if ctxDeadline {
				return nil, fmt.Errorf("%w: %w", ErrNoAck, context.DeadlineExceeded)
			}
			return nil, fmt.Errorf("%w within %v", ErrNoAck, timeout)
		case <-ctx.Done():
			return nil, ctxError(ctx)
		}
	}
}

// ctxError returns ctx's error, wrapped with ErrNoAck when its deadline
// passed while Send waited.
func ctxError(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrNoAck, err)
	}
	return err
}

// read queues every frame the connection receives until it fails or is
// closed.
func (cc *clientConn) read(r *Reader) {
	defer close(cc.done)
	for {
		f, err := r.ReadFrame()
		if err != nil {
			cc.err = err
			return
		}
		select {
		case cc.frames <- f:
		case <-cc.quit:
			cc.err = net.ErrClosed
			return
		}
	}
}

// queued returns the first queued frame that matches msg, or nil,
// discarding the frames before it.
func (cc *clientConn) queued(msg []byte, match func(msg, ack []byte) bool) []byte {
	for {
		select {
		case f := <-cc.frames:
			if match(msg, f) {
				return f
			}
		default:
			return nil
		}
	}
}

// close closes the connection, which stops the reader.
func (cc *clientConn) close() {
	cc.once.Do(func() {
		close(cc.quit)
		cc.nc.Close()
	})
}
