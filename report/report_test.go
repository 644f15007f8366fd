package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mnistc/compress"
	"mnistc/experiments"
	"mnistc/model"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const exp = `name: golden
train: {epochs: 1}
seeds: [1, 2]
sweeps:
  - name: quantize
    rows: bits
    steps:
      - methods: [quantize, "quantize:scheme=literal"]
        grid: {bits: [2, 8]}
`

// fakeRecords builds records with hand-chosen accuracies and sizes: the
// golden tables below are checked against these numbers, not a run.
func fakeRecords(t *testing.T) (*experiments.Experiment, []experiments.Record) {
	e, err := experiments.Parse("golden.yaml", []byte(exp))
	if err != nil {
		t.Fatal(err)
	}
	cells, _ := e.Sweeps[0].Cells()
	acc := map[string][2]float64{ // accuracy for seeds 1 and 2
		"2/quantize": {0.5, 0.6}, "8/quantize": {0.97, 0.98},
		"2/quantize:scheme=literal": {0.098, 0.098}, "8/quantize:scheme=literal": {0.0974, 0.0974},
	}
	var recs []experiments.Record
	for si, seed := range []int64{1, 2} {
		for _, c := range cells {
			a := acc[c.Point["bits"]+"/"+c.Methods[0]]
			size := 100000
			if c.Point["bits"] == "2" {
				size = 25000
			}
			tot := compress.Record{Pass: "total", AccBefore: 0.9 + 0.01*float64(si), AccAfter: a[si], SizeBytes: size,
				Ratio: 407080 / float64(size), BitsPerWeight: 32 * float64(size) / 407080, CorrectAfter: int(a[si] * 10000),
				Sizes: []int{784, 128, 10}, Tensors: []compress.TensorStats{{Name: "w1", Sparsity: 0.25, DistinctValues: 4}, {Name: "w2", Sparsity: 0.5, DistinctValues: 3}}}
			tot.DeltaPP = 100 * (tot.AccAfter - tot.AccBefore)
			// packed files: the size model plus 1,000 bytes of framing and
			// metadata, less 10 % from Huffman coding, a little more for seed 2
			packed := int(0.9*float64(size)) + 1000 + 10*si
			recs = append(recs, experiments.Record{Sweep: c.Sweep, Seed: seed, Cell: c, Train: model.TrainConfig{Layers: []int{128}},
				Baseline: experiments.Baseline{TestAccuracy: tot.AccBefore, TestCorrect: int(tot.AccBefore * 10000)},
				Steps:    []compress.Record{tot, tot},
				Packed:   &experiments.Packed{Bytes: packed, MetaBytes: 300, Ratio: 407080 / float64(packed)}})
		}
	}
	return e, recs
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestTablesGolden(t *testing.T) {
	e, recs := fakeRecords(t)
	cells := Aggregate(recs)
	g := NewGrid(e.Sweeps[0], cells)
	golden(t, "accuracy.md", []byte(g.AccuracyTable()))
	golden(t, "size.md", []byte(g.SizeTable()))
	golden(t, "packed.md", []byte(g.PackedTable()))
	golden(t, "baseline.md", []byte(BaselineTable(recs)))
	golden(t, "results.csv", CSV(cells))
	st := NewStudy(e, cells)
	golden(t, "findings.md", []byte(strings.Join(append(st.Headline(), st.SectionFindings(st.Grids[0])...), "\n")+"\n"))
}

// TestAggregate checks mean and sample std by hand: accuracies 0.5 and 0.6
// give mean 0.55 and std sqrt(0.005) ≈ 0.0707.
func TestAggregate(t *testing.T) {
	_, recs := fakeRecords(t)
	c := Aggregate(recs)[0]
	if len(c.Seeds) != 2 || c.Acc.Mean != 0.55 || c.Acc.Std < 0.0707 || c.Acc.Std > 0.0708 {
		t.Errorf("cell %v: seeds %v, accuracy %+v; want mean 0.55, std 0.0707", c.Specs, c.Seeds, c.Acc)
	}
}

func TestFrontier(t *testing.T) {
	mk := func(size, acc float64) Cell {
		return Cell{Size: Stat{Mean: size}, Ratio: Stat{Mean: 1000 / size}, Acc: Stat{Mean: acc}}
	}
	f := Study{Cells: []Cell{mk(100, 0.97), mk(50, 0.96), mk(60, 0.95), mk(10, 0.5), mk(200, 0.98), mk(300, 0.97)}}.Frontier()
	var got [][2]float64
	for _, c := range f {
		got = append(got, [2]float64{c.Size.Mean, c.Acc.Mean})
	}
	want := [][2]float64{{50, 0.96}, {100, 0.97}, {200, 0.98}}
	if len(got) != len(want) {
		t.Fatalf("frontier %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("frontier %v, want %v", got, want)
		}
	}
}

// TestWrite renders every output file of a results folder.
func TestWrite(t *testing.T) {
	e, recs := fakeRecords(t)
	dir := t.TempDir()
	if err := Write(dir, e, recs); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CSVFile, TablesFile, ReportFile, "plots/01-quantize.png", "plots/01-quantize.svg", "plots/01-quantize.pdf",
		"plots/pareto.png", "plots/pareto.svg", "plots/pareto.pdf"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	rep, _ := os.ReadFile(filepath.Join(dir, ReportFile))
	for _, want := range []string{"## Findings", "## 1. quantize", "plots/01-quantize.png", "55.00 ± 7.07", "## Size against accuracy", "as printed", "## Provenance"} {
		if !bytes.Contains(rep, []byte(want)) {
			t.Errorf("REPORT.md lacks %q", want)
		}
	}
}

// TestWriteWeakModels: when every cell is far below 85 % (a model trained
// for a test), the size plot still renders (it once panicked on an empty
// log axis).
func TestWriteWeakModels(t *testing.T) {
	e, recs := fakeRecords(t)
	for i := range recs {
		for j := range recs[i].Steps {
			recs[i].Steps[j].AccAfter *= 0.3
		}
	}
	if err := Write(t.TempDir(), e, recs); err != nil {
		t.Fatal(err)
	}
}
