// Package report turns sweep records into what people read: results.csv
// (one row per cell, mean and std over seeds), Markdown tables, PNG and SVG
// plots, and REPORT.md. Every number it writes is computed from the
// records; nothing is typed in by hand.
package report
