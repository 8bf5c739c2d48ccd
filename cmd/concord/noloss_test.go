package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/postgres"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/internal/store/storetest"
	"github.com/concord-health/concord/mllp"
)

// noLoss sends total synthetic messages over 8 connections to a channel
// that forwards them to a partner (a second Concord), kills the server
// with SIGKILL after about a third were acknowledged, restarts it on the
// same store, and lets the senders resend whatever was not acknowledged,
// as MLLP senders do. Every message that received AA must then be stored,
// every message exactly once as received (a copy stored but whose
// acknowledgment was lost is caught by the duplicate check), and every
// message must reach the partner and be stored there exactly once as
// received: delivery is at least once (an attempt cut short by the crash
// is made again) and the partner's duplicate check makes the effect once.
func noLoss(t *testing.T, storeArgs []string, open func() concord.Store) {
	const total, conns = 20000, 8
	dir := t.TempDir()
	partnerData := filepath.Join(t.TempDir(), "partner")
	partner := startServe(t, t.TempDir(), "--data", partnerData)
	feed := freePort(t)
	cfg := fmt.Sprintf("channels:\n  - name: feed\n    mllp: %q\n    destinations:\n      - name: partner\n"+
		"        mllp: %q\n        retry_initial: 50ms\n        retry_max: 500ms\n", feed, partner.mllp)
	if err := os.WriteFile(filepath.Join(dir, "concord.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startServe(t, dir, storeArgs...)
	msg := func(i int) []byte {
		return []byte(fmt.Sprintf("MSH|^~\\&|LOAD|Test|EHR|Ward|20260102030405||ADT^A08^ADT_A01|NL-%d|P|2.5.1\r"+
			"EVN|A08|20260102030405\rPID|1||MRN-%d^^^Test^MR||Synthetic^Patient\rPV1|1|O\r", i, i))
	}
	var acked sync.Map
	var ackCount atomic.Int64
	var addr atomic.Value
	addr.Store(feed)
	// send delivers message i until it is acknowledged AA, riding out the
	// crash: while the server is down every attempt fails.
	send := func(c **mllp.Client, i int) {
		for attempt := 0; ; attempt++ {
			if attempt > 600 {
				t.Errorf("message %d never acknowledged", i)
				return
			}
			a := addr.Load().(string)
			if (*c).Addr != a {
				(*c).Close()
				*c = &mllp.Client{Addr: a, AckTimeout: 5 * time.Second, DialTimeout: time.Second}
			}
			ack, err := (*c).Send(context.Background(), msg(i))
			if err == nil && strings.Contains(string(ack), "MSA|AA|") {
				acked.Store(i, true)
				ackCount.Add(1)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &mllp.Client{Addr: feed, AckTimeout: 5 * time.Second, DialTimeout: time.Second}
			defer func() { c.Close() }()
			for i := w; i < total; i += conns {
				send(&c, i)
			}
		}()
	}
	// Kill the server hard once a third of the messages are acknowledged.
	for ackCount.Load() < total/3 {
		time.Sleep(5 * time.Millisecond)
	}
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
	before := ackCount.Load()
	n2 := startServe(t, dir, storeArgs...)
	wg.Wait()
	if t.Failed() {
		return
	}
	// Wait until the restarted node has delivered everything.
	bearer, _, _ := run(t, dir, append([]string{"token", "create", "--role", "integration"}, storeArgs...)...)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, body := get(t, n2.url+"/api/channels", strings.TrimSpace(bearer))
		var chans []struct {
			Name                   string
			Received, Queued, Sent int
		}
		json.Unmarshal([]byte(body), &chans)
		if len(chans) == 2 && chans[1].Queued == 0 && chans[1].Sent == chans[1].Received && chans[1].Received == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries not finished: %s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	n2.stop(t)
	partner.stop(t)
	t.Logf("%d messages acknowledged before SIGKILL, %d in all, all delivered", before, ackCount.Load())

	st := open()
	defer st.Close()
	checkOnce(t, st, "feed", total, &acked)
	pst, err := sqlite.Open(context.Background(), filepath.Join(partnerData, "concord.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pst.Close()
	checkOnce(t, pst, "default", total, nil)
	if _, brk, err := concord.VerifyAudit(context.Background(), st); err != nil || brk != nil {
		t.Fatalf("audit chain after crash: %v %v", brk, err)
	}
}

// checkOnce checks that each of the total messages is stored exactly once
// as received on the channel (and, with acked, that each was acknowledged).
func checkOnce(t *testing.T, st concord.Store, channel string, total int, acked *sync.Map) {
	t.Helper()
	received := map[string]int{}
	for offset := 0; ; offset += 1000 {
		ms, _, err := st.Messages(context.Background(), concord.MessageFilter{Channel: channel, Status: concord.MessageReceived, Limit: 1000, Offset: offset})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			received[m.ControlID]++
		}
		if len(ms) < 1000 {
			break
		}
	}
	missing, doubled := 0, 0
	for i := 0; i < total; i++ {
		id := fmt.Sprintf("NL-%d", i)
		if acked != nil {
			if _, ok := acked.Load(i); !ok {
				t.Errorf("message %s never acknowledged", id)
			}
		}
		switch received[id] {
		case 0:
			missing++
		case 1:
		default:
			doubled++
		}
	}
	if missing > 0 || doubled > 0 {
		t.Fatalf("channel %s: %d messages missing, %d stored twice as received", channel, missing, doubled)
	}
}

func TestNoLossSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("long test")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	noLoss(t, []string{"--data", data}, func() concord.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(data, "concord.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestNoLossPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("long test")
	}
	url := storetest.PostgresURL(t)
	noLoss(t, []string{"--db", url, "--data", filepath.Join(t.TempDir(), "d")}, func() concord.Store {
		st, err := postgres.Open(context.Background(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}
