package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"mnistc/model"
	"mnistc/training"
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

// epochHooks draws the batch progress bar and prints one line per epoch
// (loss, accuracy, validation accuracy, seconds) on stderr; after, if
// set, also runs after each epoch line.
func epochHooks(stderr io.Writer, quiet bool, epochs, valImages int, after func()) training.Hooks {
	bar := newProgress(stderr, quiet)
	return training.Hooks{
		Batch: func(ep, b, n int) { bar.update(fmt.Sprintf("epoch %d/%d", ep, epochs), b, n) },
		Epoch: func(s model.EpochStats, el time.Duration) {
			if after != nil {
				after()
			}
			bar.clear()
			fmt.Fprintf(stderr, "epoch %2d  train loss %.4f  train acc %.4f  val acc %s  %.2fs\n",
				s.Epoch, s.TrainLoss, s.TrainAccuracy, valText(s, valImages), el.Seconds())
		},
	}
}

func valText(s model.EpochStats, n int) string {
	if n == 0 {
		return "  —   "
	}
	return fmt.Sprintf("%.4f", s.ValAccuracy)
}
