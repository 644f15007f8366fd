// Package experiments reads declarative experiment files and runs them:
// it trains each seed's baseline once (cached by a hash of its recipe),
// expands the sweeps into cells — one chain of compression passes each —
// and evaluates every cell for every seed, in parallel, appending each
// finished record durably to a JSON-lines log keyed by a hash of its full
// config, so a killed run resumes where it stopped.
//
// Conventions: an experiment file is YAML; every error names the file,
// the line and the field (as the file names it: train.epochs,
// sweeps[1].steps[0].methods[2]), and everything that would fail once the
// run reaches it is refused when the file is read. Experiment and sweep
// names become file and folder names, so they follow NamePattern; an
// experiment holds at most MaxCells cells × seeds, counted from the grid
// sizes before anything is expanded. A cell's key hashes everything that
// determines its numbers (recipe, seed, data, pass specs); records carry
// that config.
package experiments
