package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line bar on a terminal; it is silent otherwise.
type progress struct {
	w    io.Writer
	on   bool
	last time.Time
}

// newProgress returns a bar on stderr when stderr is a terminal and quiet
// is false.
func newProgress(stderr io.Writer, quiet bool) *progress {
	on := false
	if f, ok := stderr.(*os.File); ok && !quiet {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			on = true
		}
	}
	return &progress{w: stderr, on: on}
}

// update redraws the bar at most ten times a second (and at the end).
func (p *progress) update(label string, done, total int) {
	if !p.on || (done < total && time.Since(p.last) < 100*time.Millisecond) {
		return
	}
	p.last = time.Now()
	const width = 30
	fill := width * done / max(total, 1)
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, total)
}

// clear erases the bar so the next line starts clean.
func (p *progress) clear() {
	if p.on {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 79))
	}
}
