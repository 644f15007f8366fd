package report

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"mnistc/experiments"
	"mnistc/model"
)

// Cell is one sweep cell summarised over its seeds.
type Cell struct {
	Sweep   string
	Specs   []string
	Point   map[string]string
	Methods []string
	Seeds   []int64
	Acc     Stat // test accuracy after the chain
	Delta   Stat // accuracy change against each seed's baseline, pp
	Loss    Stat
	Size    Stat // bytes the representation needs (the size model)
	Ratio   Stat // original float32 size / Size
	// Packed is the real size: the length of the cell's packed .mnc file
	// (N = 0 for records written before packing existed).
	Packed      Stat
	PackedRatio Stat
	Bits        Stat // effective bits per weight of w1 and w2
	EvalMS      Stat
	// NoRetrain is, for a fine-tuning cell, the accuracy of the same passes
	// applied after training without fine-tuning.
	NoRetrain Stat
	// TrainSeconds is, for a fine-tuning cell, the wall time of its training.
	TrainSeconds Stat
	// Weights names the weight tensors w1 … wN of the cell's network;
	// Sparsity and Distinct hold each one's fraction of zeros and count of
	// distinct values (means over seeds), in the same order.
	Weights  []string
	Sparsity []float64
	Distinct []float64
	// Arch is the network's sizes, as 784-128-10; Classes its outputs.
	Arch    string
	Classes int
	// Layers is the packed file's per-weight-tensor breakdown (means over
	// seeds; empty for records written before it was kept).
	Layers []LayerStat
	// Val is the accuracy on the validation split and ValDelta its change
	// against each seed's baseline on that split (pp): what selections are
	// made on. N = 0 when a record lacks it (written before it was kept).
	Val, ValDelta Stat
	// Base is the seeds' baseline test accuracy.
	Base Stat
	// Seconds is the wall-clock time of the cell (N = 0 when not recorded).
	Seconds Stat
	// Budget describes a fine-tuning cell's training ("5 epochs, batch 32,
	// Adam lr 0.0001"); Kind is the record's fine-tuning kind ("", scratch,
	// distilled, alone). Both empty for a post-training cell.
	Budget, Kind string
	// AllZero is set when every weight tensor of every seed's model is
	// zero: a model that predicts one class, whose ratio means nothing.
	AllZero bool
	// Robust holds the cell's accuracies under attack and corruption
	// (fractions, over the seeds whose records have them), keyed by
	// robust.Result.Columns' names: "fgsm_0.1", "pgd_0.1",
	// "transfer_pgd_0.1", "corrupt_shift", "corrupt_mean", …; BaseRobust
	// the same figures of the seeds' baselines. Both empty when the
	// records have none. RobustInfo says how they were measured.
	Robust, BaseRobust map[string]Stat
	RobustInfo         *RobustInfo

	bySeed map[int64]seedVals
	// robustOrder is the order of the robust figures' names.
	robustOrder []string
}

// LayerStat is one weight tensor of a cell's packed file, Deep
// Compression's per-layer row: the share of weights kept, the bits per
// kept weight of its codes and of its relative indices as stored (after
// Huffman coding), and its bytes.
type LayerStat struct {
	Name                             string
	Shape                            []int
	Kept, CodeBits, IndexBits, Bytes float64
}

// Stat is a mean and a sample standard deviation over seeds.
type Stat struct {
	Mean, Std float64
	N         int
}

func stat(v []float64) Stat {
	s := Stat{N: len(v)}
	for _, x := range v {
		s.Mean += x
	}
	s.Mean /= float64(max(1, len(v)))
	if len(v) > 1 {
		var ss float64
		for _, x := range v {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(len(v)-1))
	}
	return s
}

// Bytes is the cell's real size when every seed's model was packed, else
// the size model's; Real says which.
func (c Cell) Bytes() (bytes, ratio float64, real bool) {
	if c.Packed.N > 0 {
		return c.Packed.Mean, c.PackedRatio.Mean, true
	}
	return c.Size.Mean, c.Ratio.Mean, false
}

// Label returns the chain as text.
func (c Cell) Label() string { return strings.Join(c.Specs, " → ") }

// Aggregate groups records by sweep and chain, in the records' order.
func Aggregate(recs []experiments.Record) []Cell {
	type acc struct {
		cell                                Cell
		acc, delta, loss, size, ratio, bits []float64
		ms                                  []float64
		sp, dist                            map[string][]float64
		layers                              map[string][]LayerStat
		noRetrain, trainSecs                []float64
		packed, packedRatio                 []float64
		val, valDelta, base, secs           []float64
		zero                                bool
		robust, baseRobust                  map[string][]float64
	}
	var order []string
	groups := map[string]*acc{}
	for _, r := range recs {
		k := r.Sweep + "\x00" + strings.Join(r.Cell.Specs, "\x00")
		g, ok := groups[k]
		if !ok {
			g = &acc{cell: Cell{Sweep: r.Sweep, Specs: r.Cell.Specs, Point: r.Cell.Point, Methods: r.Cell.Methods, bySeed: map[int64]seedVals{}},
				sp: map[string][]float64{}, dist: map[string][]float64{}, layers: map[string][]LayerStat{}, zero: true,
				robust: map[string][]float64{}, baseRobust: map[string][]float64{}}
			groups[k] = g
			order = append(order, k)
		}
		t := r.Total()
		g.cell.Seeds = append(g.cell.Seeds, r.Seed)
		g.cell.Arch = model.ArchName(t.Sizes)
		if len(t.Sizes) > 0 {
			g.cell.Classes = t.Sizes[len(t.Sizes)-1]
		}
		g.acc = append(g.acc, t.AccAfter)
		g.delta = append(g.delta, t.DeltaPP)
		g.loss = append(g.loss, t.LossAfter)
		g.size = append(g.size, float64(t.SizeBytes))
		g.ratio = append(g.ratio, t.Ratio)
		g.bits = append(g.bits, t.BitsPerWeight)
		g.base = append(g.base, r.Baseline.TestAccuracy)
		sv := seedVals{acc: t.AccAfter, baseAcc: r.Baseline.TestAccuracy}
		if r.ValAccuracy > 0 && r.Baseline.ValAccuracy > 0 {
			g.val = append(g.val, r.ValAccuracy)
			g.valDelta = append(g.valDelta, 100*(r.ValAccuracy-r.Baseline.ValAccuracy))
		}
		if r.Seconds > 0 {
			g.secs = append(g.secs, r.Seconds)
		}
		var ms float64
		for _, s := range r.Steps[:len(r.Steps)-1] {
			ms += s.EvalMS
		}
		g.ms = append(g.ms, ms)
		if r.Packed != nil {
			g.packed = append(g.packed, float64(r.Packed.Bytes))
			g.packedRatio = append(g.packedRatio, r.Packed.Ratio)
			for _, t := range r.Packed.Tensors {
				if isWeight(t.Name) {
					g.layers[t.Name] = append(g.layers[t.Name], LayerStat{Name: t.Name, Shape: t.Shape, Kept: float64(t.Kept) / float64(max(1, t.Weights)),
						CodeBits: t.CodeBitsHuffman, IndexBits: t.IndexBitsHuff, Bytes: float64(t.Bytes)})
				}
			}
		}
		if r.Finetune != nil {
			g.noRetrain = append(g.noRetrain, r.Finetune.AccNoRetrain)
			g.trainSecs = append(g.trainSecs, r.Finetune.Seconds)
			sv.noRetrain = r.Finetune.AccNoRetrain
			tc := r.Finetune.Train
			g.cell.Budget = fmt.Sprintf("%s, batch %d, Adam lr %g", plural(tc.Epochs, "epoch"), tc.Batch, tc.LR)
			g.cell.Kind = r.Finetune.Kind
		}
		if r.Robust != nil {
			sv.robust = robustFigures(*r.Robust, &g.cell.robustOrder, g.robust)
			g.cell.RobustInfo = g.cell.RobustInfo.add(*r.Robust)
		}
		if r.Baseline.Robust != nil {
			sv.baseRobust = robustFigures(*r.Baseline.Robust, nil, g.baseRobust)
		}
		g.cell.bySeed[r.Seed] = sv
		for _, ts := range t.Tensors {
			if !isWeight(ts.Name) {
				continue
			}
			g.zero = g.zero && ts.Sparsity == 1
			if _, ok := g.sp[ts.Name]; !ok {
				g.cell.Weights = append(g.cell.Weights, ts.Name)
			}
			g.sp[ts.Name] = append(g.sp[ts.Name], ts.Sparsity)
			g.dist[ts.Name] = append(g.dist[ts.Name], float64(ts.DistinctValues))
		}
	}
	var out []Cell
	for _, k := range order {
		g := groups[k]
		c := g.cell
		c.Acc, c.Delta, c.Loss, c.Size = stat(g.acc), stat(g.delta), stat(g.loss), stat(g.size)
		c.Ratio, c.Bits, c.EvalMS = stat(g.ratio), stat(g.bits), stat(g.ms)
		if len(g.packed) == len(g.acc) {
			c.Packed, c.PackedRatio = stat(g.packed), stat(g.packedRatio)
		}
		if len(g.noRetrain) > 0 {
			c.NoRetrain, c.TrainSeconds = stat(g.noRetrain), stat(g.trainSecs)
		}
		if len(g.val) == len(g.acc) {
			c.Val, c.ValDelta = stat(g.val), stat(g.valDelta)
		}
		if len(g.secs) == len(g.acc) {
			c.Seconds = stat(g.secs)
		}
		c.Base = stat(g.base)
		c.Robust, c.BaseRobust = stats(g.robust), stats(g.baseRobust)
		c.AllZero = g.zero && len(c.Weights) > 0
		for _, w := range c.Weights {
			c.Sparsity = append(c.Sparsity, stat(g.sp[w]).Mean)
			c.Distinct = append(c.Distinct, stat(g.dist[w]).Mean)
			if ls := g.layers[w]; len(ls) == len(g.acc) {
				m := LayerStat{Name: w, Shape: ls[0].Shape}
				for _, l := range ls {
					n := float64(len(ls))
					m.Kept += l.Kept / n
					m.CodeBits += l.CodeBits / n
					m.IndexBits += l.IndexBits / n
					m.Bytes += l.Bytes / n
				}
				c.Layers = append(c.Layers, m)
			}
		}
		sort.Slice(c.Seeds, func(i, j int) bool { return c.Seeds[i] < c.Seeds[j] })
		out = append(out, c)
	}
	return out
}

// isWeight reports whether a tensor name is a layer's weights (w1, w2, …).
func isWeight(name string) bool {
	if len(name) < 2 || name[0] != 'w' {
		return false
	}
	for _, r := range name[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
