package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress reports how an import goes on stderr: a bar redrawn in place
// when stderr is a terminal, else a plain line every few seconds.
type progress struct {
	w          io.Writer
	tty        bool
	files      int
	size       int64 // bytes of all files
	doneFiles  int
	doneBytes  int64
	resources  int
	start      time.Time
	last       time.Time // last line drawn
	every      time.Duration
	drawnWidth int
}

func newProgress(w *os.File, files int, size int64) *progress {
	p := &progress{w: w, files: files, size: size, start: time.Now(), every: 5 * time.Second}
	if fi, err := w.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		p.tty, p.every = true, 100*time.Millisecond
	}
	p.last = p.start
	return p
}

// update notes resources done inside the current file.
func (p *progress) update(resources int) {
	p.resources = resources
	p.draw(false)
}

// fileDone notes a finished file.
func (p *progress) fileDone(size int64, resources int) {
	p.doneFiles++
	p.doneBytes += size
	p.resources = resources
	p.draw(false)
}

// finish draws the last state and ends the bar's line.
func (p *progress) finish() {
	p.draw(true)
	if p.tty {
		fmt.Fprintln(p.w)
		p.drawnWidth = 0
	}
}

// clear blanks the bar so that a message can be written; it returns the
// writer to write it to.
func (p *progress) clear() io.Writer {
	if p.tty && p.drawnWidth > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.drawnWidth))
		p.drawnWidth = 0
	}
	return p.w
}

func (p *progress) elapsed() time.Duration { return time.Since(p.start) }

func (p *progress) draw(force bool) {
	now := time.Now()
	if !force && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	frac := 1.0
	if p.size > 0 {
		frac = float64(p.doneBytes) / float64(p.size)
	}
	rate := float64(p.resources) / max(now.Sub(p.start).Seconds(), 1e-3)
	status := fmt.Sprintf("%3.0f%% %d/%d files %d resources %.0f/s", 100*frac, p.doneFiles, p.files, p.resources, rate)
	if !p.tty {
		if !force {
			fmt.Fprintf(p.w, "import: %s\n", status)
		}
		return
	}
	const width = 30
	n := int(frac * width)
	line := fmt.Sprintf("\r[%s%s] %s", strings.Repeat("=", n), strings.Repeat(" ", width-n), status)
	fmt.Fprint(p.w, line)
	p.drawnWidth = len(line)
}
