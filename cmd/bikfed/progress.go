package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// longSync is how many outstanding changes make a sync long enough for a bar;
// routine syncs print nothing extra.
const longSync = 2000

// progressBar draws a one-line bar for long syncs.
type progressBar struct {
	w       io.Writer
	start   time.Time
	last    time.Time
	show    bool
	shown   bool
	started bool
	done0   int64
}

func newProgressBar(w io.Writer) *progressBar { return &progressBar{w: w, start: time.Now()} }

func (p *progressBar) update(done, total int64) {
	if total <= 0 {
		return
	}
	now := time.Now()
	if !p.started {
		p.started, p.done0 = true, done
		p.show = total-done >= longSync
	}
	if !p.show && now.Sub(p.start) < 2*time.Second {
		return
	}
	p.show = true
	if done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last, p.shown = now, true
	frac := min(max(float64(done)/float64(total), 0), 1)
	const width = 30
	n := int(frac * width)
	rate := float64(done-p.done0) / max(now.Sub(p.start).Seconds(), 0.001)
	fmt.Fprintf(p.w, "\rsync [%s%s] %3.0f%% %d/%d changes, %.0f/s", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, done, total, rate)
}

func (p *progressBar) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
