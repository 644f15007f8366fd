package main

import (
	"fmt"
	"io"

	"mnistc/experiments"
	"mnistc/report"
)

func init() {
	registered = append(registered, command{"merge", "gather the results folders of a sweep's shards (sweep --shard I/N) into one, and report it", runMerge})
}

func runMerge(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("merge", "merge --out DIR DIR_1 … DIR_N", stdout)
	out := fs.String("out", "", "the merged results folder to write (new, or empty)")
	dirs, err := fs.parseMixed(args)
	if err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required: the folder the merged results go to")
	}
	if len(dirs) == 0 {
		return usagef("name the shards' results folders: mnistc merge --out results/article results/article-1 results/article-2")
	}
	e, recs, err := experiments.Merge(*out, dirs)
	if err != nil {
		return err
	}
	if err := report.Write(*out, e, recs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %d shards into %s (%d records); wrote %s/{%s,%s,%s,%s/}\n", len(dirs), *out, len(recs),
		*out, report.CSVFile, report.TablesFile, report.ReportFile, report.PlotsDir)
	return nil
}
