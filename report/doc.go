// Package report turns sweep records into what people read: results.csv
// (one row per cell, mean and std over seeds), tables.md (every quantity,
// one table each), plots in PNG, SVG and PDF, and REPORT.md. Every number
// it writes is computed from the records; nothing is typed in by hand
// except the article's formulas, quoted as printed, and the literature
// figures the experiment file cites.
//
// Conventions:
//   - A comparison is paired by seed (each seed against its own baseline,
//     or two methods on the same seed) and carries its 95 % t interval
//     over the seeds (Diff). A difference whose interval contains 0 is a
//     tie; nothing is called better, worse, best or worst on means alone.
//     "Lossless" asks more than a tie: the whole interval above
//     -LossTolerance pp.
//   - Sentences are conditional on the data (findings.go, formulas.go,
//     compare.go): they say what the numbers show and change when the
//     numbers do.
//   - Selections (the smallest model within X pp, the Pareto frontier) are
//     made on the validation split when every record has it and reported
//     on the test set; records without it fall back to the test set and
//     the report says so.
//   - Columns are named by short labels (labels.go) that each section's
//     legend maps back to the full spec chain.
//   - A report replaces the previous one as a set (files.go); plots it no
//     longer makes are removed.
//   - Robustness (robust.go, robustplot.go), when the records carry robust
//     figures: each configuration's accuracy under attack and corruption
//     is paired with its seed's own float baseline under the same attack;
//     a white-box gain that the transfer attack (crafted on the float
//     baseline) does not bear out is called masked gradients, not
//     robustness; models near chance are not judged. Nothing about
//     robustness is written when no record has the figures.
//   - Literature figures (literature.go) are set beside the cells of the
//     sweep they name, at the row nearest the paper's bit width or keep
//     rate when the paper gives one.
package report
