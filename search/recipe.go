package search

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"mnistc/compress"
	"mnistc/model"
)

// Recipe is one per-layer compression setting of a network with N weight
// layers: what the search moves through and what it prints as pass specs.
type Recipe struct {
	// Keep is, per weight layer w1 … wN, the fraction of the whole
	// tensor's weights kept by magnitude pruning (1: no pruning). It counts
	// against the full tensor even when whole units are pruned too, so the
	// kept weights come from the surviving units.
	Keep []float64 `json:"keep"`
	// Bits is, per weight layer, the bits of its k-means shared values
	// (Deep Compression's weight sharing, retrained); 32: float32.
	Bits []int `json:"bits"`
	// Units is, per hidden layer, the fraction of its units kept by neuron
	// pruning (whole units by the L2 norm of their incoming weights).
	Units []float64 `json:"units"`
	// BiasBits quantizes every bias to a symmetric per-tensor grid; 32:
	// float32.
	BiasBits int `json:"bias_bits"`
}

// The ladders each dimension of a recipe steps along, least compressed
// first. They are part of the search's definition (a state file records
// them through the options' key).
var (
	keepLadder = []float64{1, 0.7, 0.5, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05, 0.04, 0.03, 0.025, 0.02, 0.015, 0.012, 0.01,
		0.008, 0.006, 0.005, 0.004, 0.003}
	bitsLadder  = []int{32, 8, 6, 5, 4, 3, 2, 1}
	unitsLadder = []float64{1, 0.875, 0.75, 0.625, 0.5, 0.4375, 0.375, 0.3125, 0.25, 0.1875, 0.125}
	biasLadder  = []int{32, 8, 6, 4}
)

// plain returns the uncompressed recipe for a network of depth weight
// layers.
func plain(depth int) Recipe {
	r := Recipe{Keep: make([]float64, depth), Bits: make([]int, depth), Units: make([]float64, depth-1), BiasBits: 32}
	for l := range r.Keep {
		r.Keep[l], r.Bits[l] = 1, 32
	}
	for h := range r.Units {
		r.Units[h] = 1
	}
	return r
}

// clone returns a deep copy.
func (r Recipe) clone() Recipe {
	return Recipe{Keep: append([]float64(nil), r.Keep...), Bits: append([]int(nil), r.Bits...),
		Units: append([]float64(nil), r.Units...), BiasBits: r.BiasBits}
}

// surviving returns the fraction of weight layer l's (0-based) entries that
// neuron pruning leaves: its input units' fraction times its output
// units'.
func (r Recipe) surviving(l int) float64 {
	f := 1.0
	if l > 0 {
		f *= r.Units[l-1]
	}
	if l < len(r.Units) {
		f *= r.Units[l]
	}
	return f
}

// prunes reports whether magnitude pruning of layer l removes anything
// beyond what neuron pruning does.
func (r Recipe) prunes(l int) bool { return r.Keep[l] < r.surviving(l) }

// Specs returns the recipe as pass specs for `mnistc finetune`, in the
// order they are held: neuron pruning, magnitude pruning (gradual, Zhu &
// Gupta), k-means weight sharing per bit width, bias quantization. The
// specs are canonical (compress.ParseSpec), as finetune prints them.
func (r Recipe) Specs() []string {
	var out []string
	add := func(text string) {
		s, err := compress.ParseSpec(text)
		if err != nil {
			panic("search: a recipe made an invalid spec (a bug): " + err.Error())
		}
		out = append(out, s.String())
	}
	var names, keeps []string
	for h, u := range r.Units {
		if u < 1 {
			names = append(names, model.WeightName(h+1))
			keeps = append(keeps, model.WeightName(h+1)+":"+num(u))
		}
	}
	if len(names) > 0 {
		add("prune:method=neuron,keep=" + strings.Join(keeps, "/") + ",layers=" + strings.Join(names, "/"))
	}
	names, keeps = nil, nil
	for l, k := range r.Keep {
		if r.prunes(l) {
			names = append(names, model.WeightName(l+1))
			keeps = append(keeps, model.WeightName(l+1)+":"+num(k))
		}
	}
	if len(names) > 0 {
		add("prune:keep=" + strings.Join(keeps, "/") + ",layers=" + strings.Join(names, "/") + ",schedule=gradual")
	}
	for _, b := range bitsLadder { // one pass per width, its layers together
		names = nil
		for l, lb := range r.Bits {
			if lb == b && b < 32 {
				names = append(names, model.WeightName(l+1))
			}
		}
		if len(names) > 0 {
			add(fmt.Sprintf("quantize:scheme=kmeans,bits=%d,layers=%s", b, strings.Join(names, "/")))
		}
	}
	if r.BiasBits < 32 {
		var bs []string
		for l := range r.Keep {
			bs = append(bs, model.BiasName(l+1))
		}
		add(fmt.Sprintf("quantize:bits=%d,layers=%s", r.BiasBits, strings.Join(bs, "/")))
	}
	return out
}

// num formats a ladder value as its shortest decimal.
func num(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// Key identifies the recipe: its specs, which determine the fine-tuning.
func (r Recipe) Key() string {
	s := strings.Join(r.Specs(), " ")
	if s == "" {
		return "(none)"
	}
	return s
}

// String is a short per-layer description: w1 keep 0.03 3b, units 64/128 …
func (r Recipe) String() string {
	var parts []string
	for l := range r.Keep {
		p := model.WeightName(l+1) + " keep " + num(r.Keep[l])
		if r.Bits[l] < 32 {
			p += fmt.Sprintf(" %db", r.Bits[l])
		}
		parts = append(parts, p)
	}
	for h, u := range r.Units {
		if u < 1 {
			parts = append(parts, fmt.Sprintf("units%d %s", h+1, num(u)))
		}
	}
	if r.BiasBits < 32 {
		parts = append(parts, fmt.Sprintf("biases %db", r.BiasBits))
	}
	return strings.Join(parts, ", ")
}

// dim names one dimension of a recipe: a kind and a layer index (0-based
// weight layer for keep and bits, hidden layer for units, 0 for bias).
type dim struct {
	Kind  string `json:"kind"` // keep | bits | units | bias
	Layer int    `json:"layer"`
}

func (d dim) String() string {
	switch d.Kind {
	case "units":
		return fmt.Sprintf("units of hidden layer %d", d.Layer+1)
	case "bias":
		return "bias bits"
	}
	return fmt.Sprintf("%s %s", model.WeightName(d.Layer+1), d.Kind)
}

// dims lists every dimension of a recipe for a network of depth layers, in
// a fixed order.
func dims(depth int) []dim {
	var out []dim
	for l := 0; l < depth; l++ {
		out = append(out, dim{"keep", l}, dim{"bits", l})
	}
	for h := 0; h < depth-1; h++ {
		out = append(out, dim{"units", h})
	}
	return append(out, dim{"bias", 0})
}

// rung returns the recipe's position on d's ladder (the nearest rung at or
// above its value's compression).
func (r Recipe) rung(d dim) int {
	switch d.Kind {
	case "keep":
		return floatRung(keepLadder, r.Keep[d.Layer])
	case "bits":
		return intRung(bitsLadder, r.Bits[d.Layer])
	case "units":
		return floatRung(unitsLadder, r.Units[d.Layer])
	default:
		return intRung(biasLadder, r.BiasBits)
	}
}

func floatRung(ladder []float64, v float64) int {
	for i, x := range ladder {
		if x <= v+1e-12 {
			return i
		}
	}
	return len(ladder) - 1
}

func intRung(ladder []int, v int) int {
	for i, x := range ladder {
		if x <= v {
			return i
		}
	}
	return len(ladder) - 1
}

// down returns r with dimension d moved n rungs further down its ladder
// (more compressed), or false when that changes nothing: the ladder has
// ended, or a keep rate would not prune below what neuron pruning leaves.
// A value between rungs (a keep rate lowered to its layer's surviving
// fraction) counts its next rung down as the first step.
func (r Recipe) down(d dim, n int) (Recipe, bool) {
	i := r.rung(d)
	if r.value(d) > d.ladder(i)+1e-12 {
		n--
	}
	j := min(i+n, d.rungs()-1)
	out := r.with(d, j)
	return out, out.Key() != r.Key()
}

// value returns the recipe's value along d.
func (r Recipe) value(d dim) float64 {
	switch d.Kind {
	case "keep":
		return r.Keep[d.Layer]
	case "bits":
		return float64(r.Bits[d.Layer])
	case "units":
		return r.Units[d.Layer]
	default:
		return float64(r.BiasBits)
	}
}

// ladder returns rung i's value of d's ladder.
func (d dim) ladder(i int) float64 {
	switch d.Kind {
	case "keep":
		return keepLadder[i]
	case "bits":
		return float64(bitsLadder[i])
	case "units":
		return unitsLadder[i]
	default:
		return float64(biasLadder[i])
	}
}

// rungs returns the number of rungs of d's ladder.
func (d dim) rungs() int {
	switch d.Kind {
	case "keep":
		return len(keepLadder)
	case "bits":
		return len(bitsLadder)
	case "units":
		return len(unitsLadder)
	default:
		return len(biasLadder)
	}
}

// with returns a copy of r with dimension d at rung i. A keep rate is
// never left above what neuron pruning leaves of its layer (it would
// prune nothing more), and the count it keeps stays at least one weight.
func (r Recipe) with(d dim, i int) Recipe {
	out := r.clone()
	switch d.Kind {
	case "keep":
		out.Keep[d.Layer] = keepLadder[i]
	case "bits":
		out.Bits[d.Layer] = bitsLadder[i]
	case "units":
		out.Units[d.Layer] = unitsLadder[i]
	default:
		out.BiasBits = biasLadder[i]
	}
	for l := range out.Keep {
		out.Keep[l] = math.Min(out.Keep[l], out.surviving(l))
	}
	return out
}

// fits reports whether every layer keeps at least one weight and every
// hidden layer at least one unit, for a network of the given sizes.
func (r Recipe) fits(sizes []int) bool {
	for h, u := range r.Units {
		if compress.KeepCount(u, sizes[h+1]) < 1 {
			return false
		}
	}
	for l, k := range r.Keep {
		if compress.KeepCount(k, sizes[l]*sizes[l+1]) < 1 {
			return false
		}
	}
	return true
}
