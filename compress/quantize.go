package compress

import (
	"fmt"
	"math"

	"mnistc/internal/kernel"
	"mnistc/model"
)

// quantize maps each weight onto a small set of levels and stores the
// level's float32 value (fake quantization); Encoding records the codes.
type quantize struct{ spec Spec }

// newQuantize builds the pass; with an option that reads the calibration
// images it is the calibrated form, which cannot rewrite in place.
func newQuantize(s Spec) Pass {
	if s.has("correct") || s.has("rounding") {
		return calibrated{quantize{s}}
	}
	return quantize{s}
}

func (q quantize) Spec() Spec { return q.spec }

// checkQuantize drops arguments the scheme does not read, so equal
// transforms have equal canonical specs, and refuses contradictions.
func checkQuantize(s Spec, given map[string]string) error {
	scheme := s.Args["scheme"]
	if _, ok := given["range"]; ok && scheme != "symmetric" && s.Args["range"] != "minmax" {
		return fmt.Errorf("range=%s applies to scheme=symmetric only", s.Args["range"])
	}
	if _, ok := given["delta"]; ok && scheme != "ternary" {
		return fmt.Errorf("delta applies to scheme=ternary only")
	}
	if scheme != "symmetric" {
		delete(s.Args, "range")
	}
	if scheme != "ternary" {
		delete(s.Args, "delta")
	}
	b := s.intArg("bits")
	switch {
	case scheme == "ternary":
		if g, ok := given["bits"]; ok && g != "2" {
			return fmt.Errorf("scheme=ternary stores 2-bit codes: bits=%s does not apply (omit bits or give 2)", g)
		}
		s.Args["bits"] = "2"
	case b > 16 && b != 32:
		return fmt.Errorf("bits=%d out of range: want 1–16, or 32 for unchanged weights", b)
	}
	if err := checkCalibrated(s, given); err != nil {
		return err
	}
	if b == 32 { // identity: one canonical form whatever the other keys say
		for k := range s.Args {
			if k != "bits" && k != "layers" {
				delete(s.Args, k)
			}
		}
	}
	return nil
}

func (q quantize) Apply(in State, _ Env) (State, error) {
	out := in.clone()
	if q.spec.intArg("bits") == 32 {
		return out, nil
	}
	enc, err := q.rewrite(&out.Params, true)
	if err != nil {
		return State{}, err
	}
	for name, e := range enc {
		out.Enc[name] = e
	}
	return out, nil
}

// Rewrite quantizes p's target tensors in place.
func (q quantize) Rewrite(p *model.Params) error {
	if q.spec.intArg("bits") == 32 {
		return nil
	}
	_, err := q.rewrite(p, false)
	return err
}

// rewrite quantizes p's target tensors in place, group by group, and with
// encodings set returns how each would be stored.
func (q quantize) rewrite(p *model.Params, encodings bool) (map[string]Encoding, error) {
	ts, err := targets(p, q.spec)
	if err != nil {
		return nil, err
	}
	enc := map[string]Encoding{}
	for _, t := range ts {
		e := q.quantizeTensor(t)
		if encodings {
			enc[t.Name] = e
		}
	}
	return enc, nil
}

// groups returns how many groups t is quantized in: one, or one per output
// unit (column) of a matrix with granularity=channel.
func (q quantize) groups(t *model.Tensor) int {
	if q.spec.Args["granularity"] == "channel" && len(t.Shape) == 2 {
		return t.Shape[1]
	}
	return 1
}

// quantizeTensor rewrites t in place, group by group, and returns how it
// would be stored.
func (q quantize) quantizeTensor(t *model.Tensor) Encoding {
	groups := q.groups(t)
	var groupBits int
	switch {
	case groups == 1:
		groupBits = q.quantizeGroup(t.Data)
	case q.scheme() == "symmetric" && q.spec.Args["range"] != "mse":
		// Per channel by max |w|, row by row (the same values as column
		// by column; quantization-aware training runs this every step).
		SymmetricColumns(t.Data, groups, q.spec.intArg("bits"), columnMaxAbs(t.Data, groups))
		groupBits = 32
	default:
		buf := make([]float32, len(t.Data)/groups)
		for g := 0; g < groups; g++ {
			gather(buf, t.Data, g, groups)
			groupBits = q.quantizeGroup(buf)
			scatter(t.Data, buf, g, groups)
		}
	}
	return q.encoding(t, groups, groupBits)
}

// encoding says how t, quantized in groups each storing groupBits, is
// stored.
func (q quantize) encoding(t *model.Tensor, groups, groupBits int) Encoding {
	e := Encoding{Scheme: q.scheme(), Bits: q.spec.intArg("bits"), Groups: groups, GroupBits: groupBits}
	if e.Scheme == "literal" {
		e.Bits = bitsFor(distinct(t.Data))
		e.GroupBits = 32 * distinct(t.Data) // its levels as a codebook
	}
	return e
}

// adaKeys are the settings only rounding=adaround reads.
var adaKeys = []string{"iters", "lambda", "seed"}

// checkCalibrated validates correct= and rounding= and drops them when
// they name today's behaviour (no correction, rounding to nearest), so a
// spec without them keeps its canonical form.
func checkCalibrated(s Spec, given map[string]string) error {
	scheme := s.Args["scheme"]
	if s.Args["rounding"] == "adaround" {
		switch {
		case scheme != "symmetric" && scheme != "affine":
			return fmt.Errorf("rounding=adaround picks floor or ceil on a scale grid: it applies to scheme=symmetric or affine, not %s", scheme)
		case s.intArg("bits") < 2:
			return fmt.Errorf("rounding=adaround needs bits ≥ 2 (1 bit is binary: sign·α, no grid to round on)")
		}
	} else {
		for _, k := range adaKeys {
			if _, ok := given[k]; ok {
				return fmt.Errorf("%s applies to rounding=adaround only", k)
			}
			delete(s.Args, k)
		}
	}
	if s.Args["rounding"] == "nearest" {
		delete(s.Args, "rounding")
	}
	if s.Args["correct"] == "none" {
		delete(s.Args, "correct")
	}
	return nil
}

// scheme names the rule actually applied (bits=1 symmetric/affine is binary).
func (q quantize) scheme() string {
	s := q.spec.Args["scheme"]
	if q.spec.intArg("bits") == 1 && (s == "symmetric" || s == "affine") {
		return "binary"
	}
	return s
}

// quantizeGroup rewrites v in place and returns the bits the group stores
// besides its codes (scale, zero-point, codebook).
func (q quantize) quantizeGroup(v []float32) int {
	b := q.spec.intArg("bits")
	switch q.scheme() {
	case "literal":
		Literal(v, b)
		return 0
	case "binary":
		Binary(v)
		return 32
	case "ternary":
		Ternary(v, q.spec.floatArg("delta"))
		return 32
	case "kmeans":
		return 32 * KMeans(v, 1<<b)
	case "affine":
		Affine(v, b)
		return 64
	default:
		c := maxAbs(v)
		if q.spec.Args["range"] == "mse" {
			c = mseClip(v, b)
		}
		Symmetric(v, b, c)
		return 32
	}
}

// gather copies group g of src into dst: with groups > 1, src is a
// row-major matrix with `groups` columns and group g is column g.
func gather(dst, src []float32, g, groups int) {
	for i := range dst {
		dst[i] = src[i*groups+g]
	}
}

func scatter(dst, src []float32, g, groups int) {
	for i, x := range src {
		dst[i*groups+g] = x
	}
}

// Symmetric quantizes v in place with zero-point 0 onto the narrow integer
// range −(2^(b−1)−1)…2^(b−1)−1 with scale c/(2^(b−1)−1); values beyond ±c
// saturate. b must be at least 2.
func Symmetric(v []float32, b int, c float64) {
	s, qmax := symmetricScale(b, c)
	if s == 0 {
		return // all zeros, or a range too small for a float32 scale
	}
	var scales [256]float32 // one scale for every entry, a chunk at a time
	for i := range scales {
		scales[i] = s
	}
	for lo := 0; lo < len(v); lo += len(scales) {
		chunk := v[lo:min(lo+len(scales), len(v))]
		kernel.SymmetricRow(chunk, scales[:len(chunk)], qmax)
	}
}

// SymmetricColumns is Symmetric applied to each column j of the row-major
// matrix v (cols columns) with range c[j], row by row: the same values as
// quantizing each column on its own, without gathering columns that lie a
// row apart in memory.
func SymmetricColumns(v []float32, cols, b int, c []float64) {
	s := make([]float32, cols)
	var qmax float64
	for j := range s {
		s[j], qmax = symmetricScale(b, c[j])
	}
	for r := 0; r+cols <= len(v); r += cols {
		kernel.SymmetricRow(v[r:r+cols], s, qmax)
	}
}

// symmetricScale returns the float32 scale of b-bit symmetric quantization
// over range c (0 when nothing is to be done) and the largest code. Each
// weight then becomes scale·clamp(roundToEven(w/scale), ±qmax), computed in
// float64 and stored in float32 (kernel.SymmetricRow).
func symmetricScale(b int, c float64) (float32, float64) {
	qmax := float64(int(1)<<(b-1) - 1)
	if c <= 0 {
		return 0, qmax
	}
	return float32(c / qmax), qmax // stored as float32, so a packed file holds it exactly
}

// columnMaxAbs returns max |v| of each column of the row-major matrix v
// (cols columns), as maxAbs computes it for one column.
func columnMaxAbs(v []float32, cols int) []float64 {
	m := make([]float32, cols)
	for r := 0; r+cols <= len(v); r += cols {
		for j, x := range v[r : r+cols] {
			m[j] = absMax(m[j], x)
		}
	}
	out := make([]float64, cols)
	for j, x := range m {
		out[j] = float64(x)
	}
	return out
}

// Affine quantizes v in place onto 2^b levels spanning [min(v,0), max(v,0)]
// with a zero-point, nudged so that 0 is a level exactly (as TFLite does).
func Affine(v []float32, b int) {
	s, zp, levels := affineGrid(v, b)
	if s == 0 {
		return
	}
	for i, x := range v {
		k := math.Max(0, math.Min(levels, math.RoundToEven(float64(x)/float64(s))+zp))
		v[i] = s * float32(int(k-zp))
	}
}

// affineGrid returns the float32 scale (0 when v is to stay as it is), the
// zero-point and the largest code of b-bit affine quantization of v: the
// levels are s·(k − zp) for k in 0…levels.
func affineGrid(v []float32, b int) (s float32, zp, levels float64) {
	lo, hi := 0.0, 0.0
	for _, x := range v {
		lo, hi = math.Min(lo, float64(x)), math.Max(hi, float64(x))
	}
	levels = float64(int(1)<<b - 1)
	if hi == lo {
		return 0, 0, levels
	}
	s = float32((hi - lo) / levels) // float32, as stored in a packed file
	if s == 0 {
		return 0, 0, levels
	}
	return s, math.Max(0, math.Min(levels, math.RoundToEven(-lo/float64(s)))), levels
}

// Binary sets v to sign(v)·α with α the mean |v| of its non-zero entries
// (BinaryConnect/XNOR-Net); zeros stay zero.
func Binary(v []float32) {
	var sum float64
	n := 0
	for _, x := range v {
		if x != 0 {
			sum += math.Abs(float64(x))
			n++
		}
	}
	if n == 0 {
		return
	}
	a := float32(sum / float64(n))
	for i, x := range v {
		switch {
		case x > 0:
			v[i] = a
		case x < 0:
			v[i] = -a
		}
	}
}

// Ternary sets v to {−α, 0, α} (Ternary Weight Networks): entries with
// |v| ≤ Δ = delta·mean|v| become 0, the rest sign(v)·α with α their mean |v|.
func Ternary(v []float32, delta float64) {
	var sum float64
	for _, x := range v {
		sum += math.Abs(float64(x))
	}
	th := delta * sum / float64(len(v))
	var kept float64
	n := 0
	for _, x := range v {
		if a := math.Abs(float64(x)); a > th {
			kept += a
			n++
		}
	}
	alpha := float32(0)
	if n > 0 {
		alpha = float32(kept / float64(n))
	}
	for i, x := range v {
		switch {
		case math.Abs(float64(x)) <= th:
			v[i] = 0
		case x > 0:
			v[i] = alpha
		default:
			v[i] = -alpha
		}
	}
}

// Literal applies the article's printed formula round(w/2^(b−1))·2^(b−1).
func Literal(v []float32, b int) {
	step := math.Ldexp(1, b-1)
	for i, x := range v {
		v[i] = float32(float64(int64(math.RoundToEven(float64(x)/step))) * step) // int64: −0 becomes +0
	}
}

func maxAbs(v []float32) float64 {
	var m float32
	for _, x := range v {
		m = absMax(m, x)
	}
	return float64(m)
}

// absMax returns max(m, |x|) in float32 (exact: the largest magnitude is one
// of the values); a NaN, once met, stays, as math.Max would keep it.
func absMax(m, x float32) float32 {
	if a := float32(math.Abs(float64(x))); a > m || (a != a && m == m) {
		return a
	}
	return m
}

// MSEClip is mseClip for callers outside the package (quantization-aware
// training refreshes its clipping ranges with it).
func MSEClip(v []float32, b int) float64 { return mseClip(v, b) }

// mseClip returns the clipping range c in (0, max|v|] whose b-bit symmetric
// quantization of v has the least squared error, searched over 200 evenly
// spaced fractions of max|v| (the largest fraction wins ties).
func mseClip(v []float32, b int) float64 {
	m := maxAbs(v)
	if m == 0 || b < 2 {
		return m
	}
	qmax := float64(int(1)<<(b-1) - 1)
	best, bestErr := m, math.Inf(1)
	for k := 200; k >= 1; k-- {
		c := m * float64(k) / 200
		s := c / qmax
		var e float64
		for _, x := range v {
			kq := math.RoundToEven(float64(x) / s)
			if kq > qmax {
				kq = qmax
			} else if kq < -qmax {
				kq = -qmax
			}
			d := float64(x) - kq*s
			e += d * d
		}
		if e < bestErr {
			best, bestErr = c, e
		}
	}
	return best
}
