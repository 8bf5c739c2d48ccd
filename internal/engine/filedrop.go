package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// maxDropFile caps a file taken from a drop directory.
const maxDropFile = 256 << 20

// Where a drop directory's files go once their messages are stored.
const (
	DropProcessed = "processed" // every message accepted
	DropError     = "error"     // a message refused, or the file unreadable
)

// FileDrop is a directory a channel takes messages from.
type FileDrop struct {
	Channel string
	Dir     string
	Pattern string        // file names to take; "" takes all
	Poll    time.Duration // how often to look; 0 means 2 s
}

// RunFileDrop takes messages from the files dropped in fd.Dir until ctx
// ends. A file is taken once it has not changed for a poll interval (so
// a writer still writing is left alone); each message in it (one, several
// separated by CR or LF, or a batch) is received as if sent by MLLP, with
// the file's name as the peer. Only when every message is stored is the
// file moved to processed/ (all accepted) or error/ (some refused, or the
// file unreadable), under a name that starts with the time it was taken.
// If the store fails the file stays and is read again later: the messages
// already stored then count as duplicates, so nothing is taken twice.
func (e *Engine) RunFileDrop(ctx context.Context, fd FileDrop) {
	if fd.Poll <= 0 {
		fd.Poll = 2 * time.Second
	}
	log := e.opt.Logger.With("channel", fd.Channel, "dir", fd.Dir)
	for _, sub := range []string{DropProcessed, DropError} {
		if err := os.MkdirAll(filepath.Join(fd.Dir, sub), 0o750); err != nil {
			log.Error("file drop directory", "err", err)
		}
	}
	st := &dropState{seen: map[string]time.Time{}, sizes: map[string]int64{}, stuck: map[string]time.Time{}}
	for {
		if e.State(ctx, fd.Channel) == concord.ChannelStarted {
			e.scanDrop(ctx, fd, st)
		}
		sleep(ctx, nil, fd.Poll)
		if ctx.Err() != nil {
			return
		}
	}
}

// dropState is what a drop loop remembers between looks: each file's time
// and size at the last look (to see it settle), and the files whose
// messages were stored but that could not be moved away (left alone until
// they change, so they are not stored again at every look).
type dropState struct {
	seen  map[string]time.Time
	sizes map[string]int64
	stuck map[string]time.Time
}

// scanDrop takes the settled files of a drop directory, oldest first.
func (e *Engine) scanDrop(ctx context.Context, fd FileDrop, st *dropState) {
	seen, sizes := st.seen, st.sizes
	entries, err := os.ReadDir(fd.Dir)
	if err != nil {
		e.opt.Logger.Warn("file drop directory", "channel", fd.Channel, "dir", fd.Dir, "err", err)
		return
	}
	type file struct {
		name string
		mod  time.Time
	}
	var ready []file
	present := map[string]bool{}
	for _, en := range entries {
		name := en.Name()
		if !en.Type().IsRegular() || name[0] == '.' {
			continue
		}
		if fd.Pattern != "" {
			if ok, _ := filepath.Match(fd.Pattern, name); !ok {
				continue
			}
		}
		info, err := en.Info()
		if err != nil {
			continue
		}
		present[name] = true
		if at, ok := st.stuck[name]; ok && at.Equal(info.ModTime()) {
			continue // stored already; an operator must move it
		}
		delete(st.stuck, name)
		// Settled: the same size and time as at the last look.
		if seen[name].Equal(info.ModTime()) && sizes[name] == info.Size() {
			ready = append(ready, file{name, info.ModTime()})
		}
		seen[name], sizes[name] = info.ModTime(), info.Size()
	}
	for name := range seen {
		if !present[name] {
			delete(seen, name)
			delete(sizes, name)
		}
	}
	for name := range st.stuck {
		if !present[name] {
			delete(st.stuck, name)
		}
	}
	sort.Slice(ready, func(i, j int) bool {
		if !ready[i].mod.Equal(ready[j].mod) {
			return ready[i].mod.Before(ready[j].mod)
		}
		return ready[i].name < ready[j].name
	})
	for _, f := range ready {
		if ctx.Err() != nil || e.State(ctx, fd.Channel) != concord.ChannelStarted {
			return
		}
		switch e.takeFile(ctx, fd, f.name) {
		case taken:
			delete(seen, f.name)
			delete(sizes, f.name)
		case storedNotMoved:
			st.stuck[f.name] = f.mod
		}
	}
}

// What became of a dropped file.
type takeResult int

const (
	notStored      takeResult = iota // the store failed: read it again later
	taken                            // stored and moved away
	storedNotMoved                   // stored, but it could not be moved
)

// takeFile receives the messages of one file and moves it away.
func (e *Engine) takeFile(ctx context.Context, fd FileDrop, name string) takeResult {
	log := e.opt.Logger.With("channel", fd.Channel, "file", name)
	path := filepath.Join(fd.Dir, name)
	data, rerr := readCapped(path, maxDropFile)
	ok := rerr == nil
	if rerr != nil {
		log.Warn("file drop: file not read", "err", rerr)
		// Stored as a rejected message so operators see it with the others.
		m := &concord.Message{Channel: fd.Channel, Peer: name, ReceivedAt: e.opt.Now(), Status: concord.MessageRejected,
			Error: "file drop: " + rerr.Error()}
		if _, err := e.store(ctx, Inbound{Channel: fd.Channel, Via: "file", Peer: name}, m, false, nil); err != nil {
			log.Error("file drop: refusal not stored", "err", err)
			return notStored
		}
	} else {
		var msgs [][]byte
		if b, err := hl7v2.SplitBatch(data); err == nil && len(b.Messages) > 0 {
			msgs = b.Messages
		} else {
			msgs = [][]byte{data} // stored as received and refused with the reason
		}
		for _, raw := range msgs {
			a := e.Submit(ctx, Inbound{Channel: fd.Channel, Via: "file", Peer: name, Payload: raw})
			if a.Message == nil {
				log.Error("file drop: message not stored; the file is read again later")
				return notStored
			}
			ok = ok && a.Code == hl7v2.AA
		}
	}
	sub := DropProcessed
	if !ok {
		sub = DropError
	}
	dst := filepath.Join(fd.Dir, sub, e.opt.Now().UTC().Format("20060102T150405.000000000Z")+"-"+name)
	if err := os.Rename(path, dst); err != nil {
		// Its messages are stored; it is left alone until it changes (a
		// new file of that name is taken as new).
		log.Error("file drop: messages stored but the file not moved; move it away", "err", err)
		return storedNotMoved
	}
	syncDir(fd.Dir)
	log.Info("file drop: file taken", "to", sub, "messages_ok", ok)
	return taken
}

// readCapped reads a file of at most limit bytes.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
