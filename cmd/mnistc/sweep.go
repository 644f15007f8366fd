package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"mnistc/experiments"
	"mnistc/report"
)

func runSweep(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sweep", "sweep EXPERIMENT.yaml [--out DIR] [--jobs N] [--fresh] [--force] [--shard I/N] [--data DIR] [--quiet]", stdout)
	var d dataFlags
	d.register(fs, false)
	out := fs.String("out", "", "results folder (default results/<experiment name>)")
	jobs := fs.Int("jobs", 0, "cells evaluated in parallel (default: one per core)")
	force := fs.Bool("force", false, "run in a folder made by another experiment file (matching records are reused; none are deleted)")
	fresh := fs.Bool("fresh", false, "start over if the folder holds a completed run (its records and baselines move to previous-<time>/); an incomplete run is resumed")
	quiet := fs.Bool("quiet", false, "no progress bar")
	shardText := fs.String("shard", "", "run only shard I of N of the cells (and the baselines they need), for a sweep spread over N machines; 'mnistc merge' gathers the shards' folders")
	file, args := leadingArg(args)
	if err := fs.parse(args); err != nil {
		return err
	}
	if file == "" {
		return usagef("name the experiment file: mnistc sweep experiments/article.yaml")
	}
	if *jobs < 0 {
		return usagef("--jobs %d out of range: want ≥ 0", *jobs)
	}
	var shard experiments.Shard
	if *shardText != "" {
		var err error
		if shard, err = experiments.ParseShard(*shardText); err != nil {
			return usagef("--shard %v", err)
		}
	}
	e, err := experiments.Load(file)
	if err != nil {
		return usageError{err}
	}
	if *out == "" {
		*out = filepath.Join("results", e.Name)
	}
	if err := d.check(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bar := newProgress(stderr, *quiet)
	opt := experiments.Options{Out: *out, Data: d.dir, Jobs: *jobs, Force: *force, Fresh: *fresh, Shard: shard, Command: os.Args,
		Log: func(f string, a ...any) { bar.clear(); fmt.Fprintf(stderr, f+"\n", a...) },
		Progress: func(done, total int, el time.Duration) {
			eta := ""
			if done > 0 {
				eta = fmt.Sprintf(" ETA %s", (el / time.Duration(done) * time.Duration(total-done)).Round(time.Second))
			}
			bar.update("cells"+eta, done, total)
		}}
	fmt.Fprintf(stderr, "%s: %d cells × seeds (at most %d), results in %s\n", e.Path(), e.CellCount(), experiments.MaxCells, *out)
	if shard.Count > 0 {
		fmt.Fprintf(stderr, "shard %s: this run takes every %s distinct cell\n", shard, ordinal(shard.Count))
	}
	sum, err := experiments.Run(ctx, e, opt)
	bar.clear()
	if err != nil {
		if sum.Ran > 0 {
			fmt.Fprintf(stderr, "%d cells finished and saved before the stop; rerun the same command to resume\n", sum.Ran)
		}
		return err
	}
	fmt.Fprintf(stderr, "%d cells × seeds: %d run now, %d already done; %.1f s in all, cells %.1f s (%.1f cells/s)\n",
		sum.Cells, sum.Ran, sum.Skipped, sum.Seconds, sum.CellSeconds, float64(sum.Ran)/math.Max(sum.CellSeconds, 1e-9))
	if shard.Count > 0 {
		fmt.Fprintf(stdout, "wrote shard %s to %s/%s; when every shard is done: mnistc merge --out DIR <the %d shard folders>\n", shard, *out, experiments.LogFile, shard.Count)
		return nil
	}
	if err := report.Write(*out, e, sum.Records); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s/{%s,%s,%s,%s,%s/}\n", *out, experiments.LogFile, report.CSVFile, report.TablesFile, report.ReportFile, report.PlotsDir)
	return nil
}

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", "report RESULTS_DIR [--readme README.md]", stdout)
	readme := fs.String("readme", "", "also rewrite this README's findings block for RESULTS_DIR (<!-- findings: RESULTS_DIR --> … <!-- /findings -->) from the new REPORT.md")
	dir, args := leadingArg(args)
	if err := fs.parse(args); err != nil {
		return err
	}
	if dir == "" {
		return usagef("name the results folder: mnistc report results/article")
	}
	e, err := experiments.Load(filepath.Join(dir, experiments.CopyFile))
	if err != nil {
		return err
	}
	recs, _, err := experiments.ReadLog(filepath.Join(dir, experiments.LogFile))
	if err != nil {
		return err
	}
	recs = experiments.Expand(e, recs)
	if err := report.Write(dir, e, recs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s/{%s,%s,%s,%s/} from %d records\n", dir, report.CSVFile, report.TablesFile, report.ReportFile, report.PlotsDir, len(recs))
	if *readme != "" {
		if err := report.UpdateReadme(*readme, dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "updated the findings of %s in %s\n", dir, *readme)
	}
	return nil
}

// leadingArg splits off the positional argument (a file or folder) that
// comes before the flags.
func leadingArg(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// ordinal is "2nd", "3rd", "10th" …; "1st" reads as "every".
func ordinal(n int) string {
	if n == 1 {
		return ""
	}
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return fmt.Sprintf("%d%s", n, suffix)
}
