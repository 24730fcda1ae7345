package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressBar draws a one-line bar for long syncs. It stays silent for quick
// ones, so routine syncs print nothing extra.
type progressBar struct {
	w       io.Writer
	start   time.Time
	last    time.Time
	shown   bool
	done0   int64
	started bool
}

func newProgressBar(w io.Writer) *progressBar { return &progressBar{w: w, start: time.Now()} }

func (p *progressBar) update(done, total int64) {
	if !p.started {
		p.started, p.done0 = true, done
	}
	now := time.Now()
	if total <= 0 || now.Sub(p.start) < 500*time.Millisecond || now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last, p.shown = now, true
	frac := float64(done) / float64(total)
	frac = min(max(frac, 0), 1)
	const width = 30
	n := int(frac * width)
	rate := float64(done-p.done0) / now.Sub(p.start).Seconds()
	fmt.Fprintf(p.w, "\rsync [%s%s] %3.0f%% %d/%d changes, %.0f/s", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, done, total, rate)
}

func (p *progressBar) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
