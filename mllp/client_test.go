package mllp

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer accepts connections on 127.0.0.1 and runs serve on each, for
// tests that need a server misbehaving in ways Server never does. It
// returns the address and a counter of accepted connections.
func rawServer(t *testing.T, serve func(conn net.Conn)) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				serve(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String(), &accepted
}

func TestClientSkipsStaleAck(t *testing.T) {
	addr, _ := rawServer(t, func(conn net.Conn) {
		r := NewReader(conn, 0)
		for {
			msg, err := r.ReadFrame()
			if err != nil {
				return
			}
			// A late acknowledgment of an earlier message, a frame that is
			// no acknowledgment at all, then the right one.
			for _, f := range [][]byte{testAck("OLD-1"), []byte("not HL7"), testAck(ControlID(msg))} {
				if err := WriteFrame(conn, f); err != nil {
					return
				}
			}
		}
	})
	c := &Client{Addr: addr}
	defer c.Close()
	for _, id := range []string{"NEW-1", "NEW-2"} {
		ack, err := c.Send(context.Background(), testMessage(id))
		if err != nil || AckControlID(ack) != id {
			t.Fatalf("Send %s: %q, %v", id, ack, err)
		}
	}
}

func TestClientCustomMatch(t *testing.T) {
	addr, _ := rawServer(t, func(conn net.Conn) {
		r := NewReader(conn, 0)
		if _, err := r.ReadFrame(); err != nil {
			return
		}
		WriteFrame(conn, []byte("first"))
		WriteFrame(conn, []byte("second"))
		r.ReadFrame() // wait for the client to hang up
	})
	c := &Client{Addr: addr, Match: func(msg, ack []byte) bool { return string(ack) == "second" }}
	defer c.Close()
	if ack, err := c.Send(context.Background(), []byte("anything")); err != nil || string(ack) != "second" {
		t.Fatalf("got %q, %v", ack, err)
	}
}

func TestClientNoAck(t *testing.T) {
	addr, accepted := rawServer(t, func(conn net.Conn) {
		r := NewReader(conn, 0)
		for {
			if _, err := r.ReadFrame(); err != nil {
				return
			}
		}
	})
	c := &Client{Addr: addr, AckTimeout: 100 * time.Millisecond}
	defer c.Close()
	if _, err := c.Send(context.Background(), testMessage("UNANSWERED")); !errors.Is(err, ErrNoAck) {
		t.Fatalf("got %v, want ErrNoAck", err)
	}
	// A context deadline earlier than AckTimeout is used instead.
	c.AckTimeout = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Send(ctx, testMessage("UNANSWERED-2"))
	if !errors.Is(err, ErrNoAck) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrNoAck and context.DeadlineExceeded", err)
	}
	if n := accepted.Load(); n != 2 {
		t.Fatalf("%d connections, want a new one after ErrNoAck", n)
	}
}

func TestClientContextCancel(t *testing.T) {
	addr, _ := rawServer(t, func(conn net.Conn) {
		NewReader(conn, 0).ReadFrame()
		NewReader(conn, 0).ReadFrame()
	})
	c := &Client{Addr: addr}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := c.Send(ctx, testMessage("CANCELLED")); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if _, err := c.Send(ctx, testMessage("CANCELLED")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context: %v", err)
	}
}

func TestClientReconnectAfterServerRestart(t *testing.T) {
	ts := startServer(t, &Server{Handler: ackHandler()}, "")
	c := &Client{Addr: ts.addr, DialTimeout: time.Second, AckTimeout: 2 * time.Second}
	defer c.Close()
	send(t, c, "BEFORE")
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(context.Background(), testMessage("DOWN")); err == nil {
		t.Fatal("Send while the server is down succeeded")
	}
	startServer(t, &Server{Handler: ackHandler()}, ts.addr)
	send(t, c, "AFTER")
}

func TestClientReconnectAfterServerCloses(t *testing.T) {
	ts := startServer(t, &Server{Handler: ackHandler(), IdleTimeout: 50 * time.Millisecond}, "")
	c := &Client{Addr: ts.addr}
	defer c.Close()
	send(t, c, "ONE")
	// The server closes the idle connection; the client notices and dials
	// again instead of failing the next Send.
	time.Sleep(250 * time.Millisecond)
	send(t, c, "TWO")
}

func TestClientClose(t *testing.T) {
	ts := startServer(t, &Server{Handler: ackHandler()}, "")
	c := &Client{Addr: ts.addr}
	send(t, c, "OPEN")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Send(context.Background(), testMessage("CLOSED")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestClientCloseInterruptsSend(t *testing.T) {
	addr, _ := rawServer(t, func(conn net.Conn) {
		NewReader(conn, 0).ReadFrame()
		NewReader(conn, 0).ReadFrame()
	})
	c := &Client{Addr: addr}
	res := make(chan error, 1)
	go func() {
		_, err := c.Send(context.Background(), testMessage("WAITING"))
		res <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case err := <-res:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("interrupted Send: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt Send")
	}
}

func TestClientDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &Client{Addr: addr, DialTimeout: time.Second}
	defer c.Close()
	if _, err := c.Send(context.Background(), testMessage("NOBODY")); err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
}

func TestClientRefusesUnframeableMessage(t *testing.T) {
	c := &Client{Addr: "127.0.0.1:1"}
	defer c.Close()
	if _, err := c.Send(context.Background(), []byte("MSH|^~\\&|A\x1cB\r")); err == nil || errors.Is(err, ErrNoAck) {
		t.Fatalf("got %v, want the payload refused before dialling", err)
	}
}
