package robust

import (
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"mnistc/internal/par"
)

// Severities is the number of severity levels of each corruption (1..5).
const Severities = 5

// DefaultSeverity is the level Evaluate uses unless told otherwise.
const DefaultSeverity = 3

// Corruption is one common corruption of square grey images with pixels in
// [0, 1], at Severities levels of one parameter.
type Corruption struct {
	Name string
	// Param says what the severity parameter is, in which unit.
	Param string
	// Levels holds the parameter at severities 1..Severities.
	Levels [Severities]float64
	apply  func(dst, src []float32, side int, v float64, rng *rand.Rand, s *scratch)
}

// scratch is one core's working memory for the corruptions, reused from
// image to image (a fresh slice per image kept the garbage collector busy).
type scratch struct {
	tmp, grid []float64
}

// floats returns (*buf)[:n], growing it when short.
func floats(buf *[]float64, n int) []float64 {
	if cap(*buf) < n {
		*buf = make([]float64, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

// Corruptions returns the corruptions in their fixed order (the order of
// Result columns), after MNIST-C (Mu & Gilmer 2019) and ImageNet-C
// (Hendrycks & Dietterich 2019):
//
//	gaussian_noise  σ of added N(0, σ²) noise, then clipped      0.1 0.2 0.3 0.4 0.5
//	impulse_noise   fraction of pixels set to 0 or 1 (half each) 0.05 0.1 0.15 0.2 0.3
//	blur            σ of the Gaussian kernel, pixels             0.5 0.75 1 1.5 2
//	shift           k: moved k pixels along one of 8 directions  1 2 3 4 5
//	rotate          angle in degrees, either way                 10 20 30 40 50
//	scale           zoom factor about the centre (shrinks)       0.9 0.8 0.7 0.6 0.5
//	contrast        c: pixels pulled toward the image mean       0.5 0.4 0.3 0.2 0.1
//	fog             a: blend (1−a)·x + a·plasma fractal in [0,1] 0.2 0.3 0.4 0.5 0.6
//
// Rotation and scaling sample bilinearly with 2×2 supersampling; pixels
// from outside the image are 0 (MNIST's border is blank).
func Corruptions() []Corruption {
	return []Corruption{
		{"gaussian_noise", "σ of the added Gaussian noise (pixel units), then clipped to [0, 1]", [5]float64{0.1, 0.2, 0.3, 0.4, 0.5}, gaussianNoise},
		{"impulse_noise", "fraction of pixels replaced by 0 or 1 (salt and pepper, half each)", [5]float64{0.05, 0.1, 0.15, 0.2, 0.3}, impulseNoise},
		{"blur", "σ of the Gaussian blur kernel (pixels), truncated at 3σ", [5]float64{0.5, 0.75, 1, 1.5, 2}, blur},
		{"shift", "pixels moved along one of the 8 compass directions (drawn per image)", [5]float64{1, 2, 3, 4, 5}, shift},
		{"rotate", "rotation angle in degrees about the centre, either way (drawn per image)", [5]float64{10, 20, 30, 40, 50}, rotate},
		{"scale", "zoom factor about the centre (< 1 shrinks the digit)", [5]float64{0.9, 0.8, 0.7, 0.6, 0.5}, scale},
		{"contrast", "factor c of x ← mean + c·(x − mean), the image's own mean", [5]float64{0.5, 0.4, 0.3, 0.2, 0.1}, contrast},
		{"fog", "weight a of x ← (1−a)·x + a·f, f a plasma fractal scaled to [0, 1]", [5]float64{0.2, 0.3, 0.4, 0.5, 0.6}, fog},
	}
}

// CorruptionNames returns the names of Corruptions, in order.
func CorruptionNames() []string {
	var names []string
	for _, c := range Corruptions() {
		names = append(names, c.Name)
	}
	return names
}

// CorruptionByName returns the corruption called name.
func CorruptionByName(name string) (Corruption, error) {
	for _, c := range Corruptions() {
		if c.Name == name {
			return c, nil
		}
	}
	return Corruption{}, fmt.Errorf("corruption %q unknown: want one of %v", name, CorruptionNames())
}

// Level returns the parameter at severity (1..Severities).
func (c Corruption) Level(severity int) float64 { return c.Levels[severity-1] }

// Apply returns the n square images x (n×side², row-major) corrupted at
// severity (1..Severities). Image i draws from its own stream, seeded by
// seed, the corruption's name and i, so its corruption does not depend on
// n or on the number of cores.
func (c Corruption) Apply(x []float32, n, severity int, seed int64) ([]float32, error) {
	dst := make([]float32, len(x))
	return dst, c.applyInto(dst, x, n, severity, seed)
}

// applyInto is Apply writing into dst (len(x) values).
func (c Corruption) applyInto(dst, x []float32, n, severity int, seed int64) error {
	if severity < 1 || severity > Severities {
		return fmt.Errorf("corruption %s: severity %d out of range: want 1..%d", c.Name, severity, Severities)
	}
	if n < 1 || len(x)%n != 0 {
		return fmt.Errorf("corruption %s: %d values are not %d images", c.Name, len(x), n)
	}
	in := len(x) / n
	side := int(math.Round(math.Sqrt(float64(in))))
	if side*side != in {
		return fmt.Errorf("corruption %s: images of %d pixels are not square", c.Name, in)
	}
	h := fnv.New64a()
	h.Write([]byte(c.Name))
	stream := h.Sum64()
	v := c.Level(severity)
	par.Rows(n, 16, func(a, b int) {
		var s scratch
		src := rand.NewPCG(0, 0)
		rng := rand.New(src) // holds no state of its own: reseeding src restarts it
		for i := a; i < b; i++ {
			src.Seed(uint64(seed), stream+uint64(i))
			c.apply(dst[i*in:(i+1)*in], x[i*in:(i+1)*in], side, v, rng, &s)
		}
	})
	return nil
}

func gaussianNoise(dst, src []float32, _ int, sigma float64, rng *rand.Rand, _ *scratch) {
	for i, v := range src {
		dst[i] = clip01(v + float32(sigma*rng.NormFloat64()))
	}
}

func impulseNoise(dst, src []float32, _ int, p float64, rng *rand.Rand, _ *scratch) {
	for i, v := range src {
		if rng.Float64() < p {
			v = float32(rng.IntN(2))
		}
		dst[i] = v
	}
}

func contrast(dst, src []float32, _ int, c float64, _ *rand.Rand, _ *scratch) {
	var mean float64
	for _, v := range src {
		mean += float64(v)
	}
	mean /= float64(len(src))
	for i, v := range src {
		dst[i] = clip01(float32(mean + c*(float64(v)-mean)))
	}
}

// shift moves the image k pixels along one of the 8 compass directions:
// dst[r][c] = src[r−dy][c−dx], with 0 where that falls outside.
func shift(dst, src []float32, side int, k float64, rng *rand.Rand, _ *scratch) {
	dirs := [8][2]int{{1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}, {0, -1}, {1, -1}}
	d := dirs[rng.IntN(8)]
	dx, dy := d[0]*int(k), d[1]*int(k)
	for r := 0; r < side; r++ {
		for c := 0; c < side; c++ {
			sr, sc := r-dy, c-dx
			v := float32(0)
			if sr >= 0 && sr < side && sc >= 0 && sc < side {
				v = src[sr*side+sc]
			}
			dst[r*side+c] = v
		}
	}
}

// blur convolves with a Gaussian of standard deviation sigma pixels,
// truncated at 3σ and normalized to sum 1, rows then columns, zero outside.
func blur(dst, src []float32, side int, sigma float64, _ *rand.Rand, sc *scratch) {
	rad := int(math.Ceil(3 * sigma))
	w := floats(&sc.grid, 2*rad+1)
	var sum float64
	for d := -rad; d <= rad; d++ {
		w[d+rad] = math.Exp(-float64(d*d) / (2 * sigma * sigma))
		sum += w[d+rad]
	}
	for i := range w {
		w[i] /= sum
	}
	tmp := floats(&sc.tmp, len(src))
	for r := 0; r < side; r++ {
		for c := 0; c < side; c++ {
			var s float64
			for d := max(-rad, -c); d <= min(rad, side-1-c); d++ {
				s += w[d+rad] * float64(src[r*side+c+d])
			}
			tmp[r*side+c] = s
		}
	}
	for r := 0; r < side; r++ {
		for c := 0; c < side; c++ {
			var s float64
			for d := max(-rad, -r); d <= min(rad, side-1-r); d++ {
				s += w[d+rad] * tmp[(r+d)*side+c]
			}
			dst[r*side+c] = float32(s)
		}
	}
}

// rotate turns the image by deg degrees about its centre, clockwise or
// counter-clockwise as rng draws.
func rotate(dst, src []float32, side int, deg float64, rng *rand.Rand, _ *scratch) {
	if rng.IntN(2) == 1 {
		deg = -deg
	}
	warpOf("rotate", side, deg).apply(dst, src)
}

// scale zooms the image by f about its centre.
func scale(dst, src []float32, side int, f float64, _ *rand.Rand, _ *scratch) {
	warpOf("scale", side, f).apply(dst, src)
}

// warp is a resampling as a sparse matrix: destination pixel i is
// Σ w[k]·src[idx[k]] over k in [start[i], start[i+1]).
type warp struct {
	start []int
	idx   []int32
	w     []float32
}

// warpKey names a warp: its kind, image side and parameter.
type warpKey struct {
	kind string
	side int
	v    float64
}

// warps caches the warps built so far: every image of a rotation or
// scaling at one severity shares one (or two: either way).
var warps sync.Map

// warpOf returns the warp of the kind ("rotate": v degrees; "scale":
// factor v) for side×side images: each destination pixel the mean of
// 2×2 bilinear samples of the source at the inverse-mapped positions, 0
// outside the image.
func warpOf(kind string, side int, v float64) *warp {
	key := warpKey{kind, side, v}
	if w, ok := warps.Load(key); ok {
		return w.(*warp)
	}
	from := func(x, y float64) (float64, float64) { return x / v, y / v }
	if kind == "rotate" {
		// dst(p) = src(R(−θ)·(p − centre) + centre)
		sin, cos := math.Sincos(v * math.Pi / 180)
		from = func(x, y float64) (float64, float64) { return cos*x + sin*y, -sin*x + cos*y }
	}
	c := float64(side-1) / 2
	w := &warp{start: make([]int, 1, side*side+1)}
	taps := map[int32]float64{}
	for r := 0; r < side; r++ {
		for q := 0; q < side; q++ {
			clear(taps)
			for _, oy := range [2]float64{-0.25, 0.25} {
				for _, ox := range [2]float64{-0.25, 0.25} {
					sx, sy := from(float64(q)+ox-c, float64(r)+oy-c)
					bilinearTaps(taps, side, sx+c, sy+c, 0.25)
				}
			}
			for _, k := range slices.Sorted(maps.Keys(taps)) {
				w.idx = append(w.idx, k)
				w.w = append(w.w, float32(taps[k]))
			}
			w.start = append(w.start, len(w.idx))
		}
	}
	actual, _ := warps.LoadOrStore(key, w)
	return actual.(*warp)
}

// bilinearTaps adds scale × the bilinear weights of the source pixels
// around (x, y) (column, row) to taps, skipping those outside the image.
func bilinearTaps(taps map[int32]float64, side int, x, y, scale float64) {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	c, r := int(x0), int(y0)
	for _, t := range [4]struct {
		c, r int
		w    float64
	}{{c, r, (1 - fx) * (1 - fy)}, {c + 1, r, fx * (1 - fy)}, {c, r + 1, (1 - fx) * fy}, {c + 1, r + 1, fx * fy}} {
		if t.c >= 0 && t.r >= 0 && t.c < side && t.r < side && t.w > 0 {
			taps[int32(t.r*side+t.c)] += scale * t.w
		}
	}
}

// apply writes the warped src into dst.
func (w *warp) apply(dst, src []float32) {
	for i := range dst {
		var s float32
		for k := w.start[i]; k < w.start[i+1]; k++ {
			s += w.w[k] * src[w.idx[k]]
		}
		dst[i] = clip01(s)
	}
}

// fog blends the image with a plasma fractal scaled to [0, 1].
func fog(dst, src []float32, side int, a float64, rng *rand.Rand, sc *scratch) {
	f := plasma(side, rng, sc)
	for i, v := range src {
		dst[i] = clip01(float32((1-a)*float64(v) + a*f[i]))
	}
}

// plasmaDecay is the factor by which the diamond-square displacement
// shrinks at each halving of the step: below 1/√2 the field's large scales
// dominate, which makes it fog-like rather than grainy.
const plasmaDecay = 0.5

// plasma returns a side×side diamond-square fractal (Fournier et al.
// 1982), cropped from the smallest 2^k+1 grid that holds it and scaled to
// span [0, 1] exactly.
func plasma(side int, rng *rand.Rand, sc *scratch) []float64 {
	n := 1
	for n+1 < side {
		n *= 2
	}
	size := n + 1
	g := floats(&sc.grid, size*size)
	at := func(x, y int) *float64 { return &g[y*size+x] }
	for _, p := range [4][2]int{{0, 0}, {n, 0}, {0, n}, {n, n}} {
		*at(p[0], p[1]) = rng.Float64()
	}
	amp := 1.0
	for step := n; step > 1; step /= 2 {
		h := step / 2
		for y := h; y < size; y += step {
			for x := h; x < size; x += step {
				avg := (*at(x-h, y-h) + *at(x+h, y-h) + *at(x-h, y+h) + *at(x+h, y+h)) / 4
				*at(x, y) = avg + amp*(rng.Float64()-0.5)
			}
		}
		for y := 0; y < size; y += h {
			for x := (y/h + 1) % 2 * h; x < size; x += step {
				var s, k float64
				for _, d := range [4][2]int{{-h, 0}, {h, 0}, {0, -h}, {0, h}} {
					if u, v := x+d[0], y+d[1]; u >= 0 && u < size && v >= 0 && v < size {
						s += *at(u, v)
						k++
					}
				}
				*at(x, y) = s/k + amp*(rng.Float64()-0.5)
			}
		}
		amp *= plasmaDecay
	}
	f := floats(&sc.tmp, side*side)
	lo, hi := math.Inf(1), math.Inf(-1)
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			v := *at(x, y)
			f[y*side+x] = v
			if v < lo {
				lo = v
			}
			if v > hi {
				hi = v
			}
		}
	}
	if hi > lo {
		for i, v := range f {
			f[i] = (v - lo) / (hi - lo)
		}
	}
	return f
}
