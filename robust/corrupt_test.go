package robust

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

const side = 28

// constImages returns n images of value v.
func constImages(n int, v float32) []float32 {
	x := make([]float32, n*side*side)
	for i := range x {
		x[i] = v
	}
	return x
}

// gaussImage returns one image holding a Gaussian blob of standard
// deviations sx, sy (pixels) at the centre, peak 1.
func gaussImage(sx, sy float64) []float32 {
	x := make([]float32, side*side)
	c := float64(side-1) / 2
	for r := 0; r < side; r++ {
		for q := 0; q < side; q++ {
			dx, dy := float64(q)-c, float64(r)-c
			x[r*side+q] = float32(math.Exp(-dx*dx/(2*sx*sx) - dy*dy/(2*sy*sy)))
		}
	}
	return x
}

// moments returns an image's mass, centroid and central second moments.
func moments(x []float32) (m, cx, cy, xx, yy, xy float64) {
	for r := 0; r < side; r++ {
		for q := 0; q < side; q++ {
			v := float64(x[r*side+q])
			m += v
			cx += v * float64(q)
			cy += v * float64(r)
		}
	}
	cx, cy = cx/m, cy/m
	for r := 0; r < side; r++ {
		for q := 0; q < side; q++ {
			v := float64(x[r*side+q])
			dx, dy := float64(q)-cx, float64(r)-cy
			xx += v * dx * dx
			yy += v * dy * dy
			xy += v * dx * dy
		}
	}
	return m, cx, cy, xx / m, yy / m, xy / m
}

func apply(t *testing.T, name string, x []float32, n, sev int, seed int64) []float32 {
	t.Helper()
	c, err := CorruptionByName(name)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Apply(x, n, sev, seed)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every corruption is deterministic per seed, draws each image's
// corruption from its own stream (the first k images do not depend on n),
// keeps pixels in [0, 1], and leaves its input alone.
func TestCorruptionsDeterministic(t *testing.T) {
	_, test := realMNIST(t)
	const n = 50
	x := slices.Clone(test.X[:n*side*side])
	orig := slices.Clone(x)
	for _, c := range Corruptions() {
		for sev := 1; sev <= Severities; sev++ {
			a := apply(t, c.Name, x, n, sev, 1)
			b := apply(t, c.Name, x, n, sev, 1)
			if !slices.Equal(a, b) {
				t.Errorf("%s severity %d: two runs with seed 1 differ", c.Name, sev)
			}
			head := apply(t, c.Name, x[:7*side*side], 7, sev, 1)
			if !slices.Equal(head, a[:7*side*side]) {
				t.Errorf("%s severity %d: the first 7 images depend on how many are corrupted", c.Name, sev)
			}
			for i, v := range a {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("%s severity %d: pixel %d = %v outside [0, 1]", c.Name, sev, i, v)
				}
			}
			if slices.Equal(a, x) {
				t.Errorf("%s severity %d changed nothing", c.Name, sev)
			}
		}
		if random := !slices.Contains([]string{"blur", "scale", "contrast"}, c.Name); random && slices.Equal(apply(t, c.Name, x, n, 3, 1), apply(t, c.Name, x, n, 3, 2)) {
			t.Errorf("%s: seeds 1 and 2 give the same images", c.Name)
		}
	}
	if !slices.Equal(x, orig) {
		t.Fatal("a corruption modified its input")
	}
}

// Severity errors name the corruption and the range.
func TestCorruptionBadInput(t *testing.T) {
	c, _ := CorruptionByName("shift")
	for _, tc := range []struct {
		x   []float32
		n   int
		sev int
	}{{constImages(1, 0), 1, 0}, {constImages(1, 0), 1, 6}, {make([]float32, 10), 1, 1}, {make([]float32, 10), 3, 1}} {
		if _, err := c.Apply(tc.x, tc.n, tc.sev, 1); err == nil {
			t.Errorf("%d values, n %d, severity %d: no error", len(tc.x), tc.n, tc.sev)
		}
	}
	if _, err := CorruptionByName("snow"); err == nil {
		t.Error("unknown corruption: no error")
	}
}

// Gaussian noise: on a mid-grey image, the mean absolute change is
// E|clip(σZ, −½, ½)| (integrated numerically), within 3 %.
func TestGaussianNoiseSeverity(t *testing.T) {
	const n = 200
	x := constImages(n, 0.5)
	c, _ := CorruptionByName("gaussian_noise")
	for sev := 1; sev <= Severities; sev++ {
		sigma := c.Level(sev)
		out := apply(t, c.Name, x, n, sev, 3)
		var got float64
		for _, v := range out {
			got += math.Abs(float64(v) - 0.5)
		}
		got /= float64(len(out))
		var want float64 // ∫ min(|σz|, ½) φ(z) dz
		for z := -8.0; z < 8; z += 1e-4 {
			want += math.Min(math.Abs(sigma*z), 0.5) * math.Exp(-z*z/2) / math.Sqrt(2*math.Pi) * 1e-4
		}
		if math.Abs(got-want) > 0.03*want {
			t.Errorf("σ = %v: mean |change| %.4f, want %.4f", sigma, got, want)
		}
	}
}

// Impulse noise: on a mid-grey image, the fraction of pixels set to 0 or
// 1 is the stated fraction (within 4 binomial standard deviations), half
// each, and no other pixel changes.
func TestImpulseNoiseSeverity(t *testing.T) {
	const n = 100
	x := constImages(n, 0.5)
	c, _ := CorruptionByName("impulse_noise")
	for sev := 1; sev <= Severities; sev++ {
		p := c.Level(sev)
		out := apply(t, c.Name, x, n, sev, 4)
		var salt, pepper int
		for _, v := range out {
			switch v {
			case 1:
				salt++
			case 0:
				pepper++
			case 0.5:
			default:
				t.Fatalf("fraction %v: a pixel became %v", p, v)
			}
		}
		total := float64(len(out))
		sd := math.Sqrt(total * p * (1 - p))
		if k := float64(salt + pepper); math.Abs(k-p*total) > 4*sd {
			t.Errorf("fraction %v: %v of %v pixels hit", p, k, total)
		}
		if math.Abs(float64(salt-pepper)) > 4*math.Sqrt(p*total)/2+1 {
			t.Errorf("fraction %v: %d salt, %d pepper: want half each", p, salt, pepper)
		}
	}
}

// Blur: a single bright pixel spreads into the kernel, whose mass is 1 and
// whose variance along each axis is that of the Gaussian sampled at whole
// pixels within 3σ (σ² within 3 % from σ = 1; 0.215 at σ = 0.5).
func TestBlurSeverity(t *testing.T) {
	c, _ := CorruptionByName("blur")
	for sev := 1; sev <= Severities; sev++ {
		sigma := c.Level(sev)
		x := make([]float32, side*side)
		x[14*side+14] = 1
		m, cx, cy, xx, yy, _ := moments(apply(t, c.Name, x, 1, sev, 1))
		if math.Abs(m-1) > 1e-5 || math.Abs(cx-14) > 1e-5 || math.Abs(cy-14) > 1e-5 {
			t.Errorf("σ = %v: mass %v at (%v, %v), want 1 at (14, 14)", sigma, m, cx, cy)
		}
		var w, wd2 float64
		for d := -math.Ceil(3 * sigma); d <= math.Ceil(3*sigma); d++ {
			w += math.Exp(-d * d / (2 * sigma * sigma))
			wd2 += d * d * math.Exp(-d*d/(2*sigma*sigma))
		}
		want := wd2 / w
		for _, v := range []float64{xx, yy} {
			if math.Abs(v-want) > 1e-5 || (sigma >= 1 && math.Abs(v-sigma*sigma) > 0.03*sigma*sigma) {
				t.Errorf("σ = %v: variance %.4f, want %.4f (σ² = %.4f)", sigma, v, want, sigma*sigma)
			}
		}
	}
}

// Shift moves every pixel by exactly k along one of the 8 directions,
// filling with 0.
func TestShiftSeverity(t *testing.T) {
	_, test := realMNIST(t)
	const n = 40
	x := test.X[:n*side*side]
	c, _ := CorruptionByName("shift")
	seen := map[[2]int]bool{}
	for sev := 1; sev <= Severities; sev++ {
		k := int(c.Level(sev))
		out := apply(t, c.Name, x, n, sev, 5)
		for i := 0; i < n; i++ {
			src, dst := x[i*side*side:(i+1)*side*side], out[i*side*side:(i+1)*side*side]
			found := false
			for _, d := range [][2]int{{1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}, {0, -1}, {1, -1}} {
				if slices.Equal(dst, shifted(src, d[0]*k, d[1]*k)) {
					found = true
					seen[d] = true
					break
				}
			}
			if !found {
				t.Fatalf("k = %d, image %d: not the image shifted by k along any direction", k, i)
			}
		}
	}
	if len(seen) != 8 {
		t.Errorf("only %d of the 8 directions drawn", len(seen))
	}
}

// shifted is the reference shift: dst[r][c] = src[r−dy][c−dx], 0 outside.
func shifted(src []float32, dx, dy int) []float32 {
	dst := make([]float32, len(src))
	for r := 0; r < side; r++ {
		for c := 0; c < side; c++ {
			if r-dy >= 0 && r-dy < side && c-dx >= 0 && c-dx < side {
				dst[r*side+c] = src[(r-dy)*side+c-dx]
			}
		}
	}
	return dst
}

// Rotation turns an elongated blob's principal axis by ± the stated angle
// (within 1°), keeping its mass (within 2 %) and centre.
func TestRotateSeverity(t *testing.T) {
	c, _ := CorruptionByName("rotate")
	x := gaussImage(6, 1.5)
	const n = 8
	xs := slices.Repeat(x, n)
	m0, _, _, _, _, _ := moments(x)
	for sev := 1; sev <= Severities; sev++ {
		deg := c.Level(sev)
		out := apply(t, c.Name, xs, n, sev, 6)
		signs := map[bool]bool{}
		for i := 0; i < n; i++ {
			m, cx, cy, xx, yy, xy := moments(out[i*side*side : (i+1)*side*side])
			angle := 0.5 * math.Atan2(2*xy, xx-yy) * 180 / math.Pi
			if math.Abs(math.Abs(angle)-deg) > 1 || math.Abs(m-m0) > 0.02*m0 || math.Abs(cx-13.5) > 0.05 || math.Abs(cy-13.5) > 0.05 {
				t.Errorf("%v°, image %d: axis at %.2f°, mass %.2f of %.2f, centre (%.2f, %.2f)", deg, i, angle, m, m0, cx, cy)
			}
			signs[angle > 0] = true
		}
		if len(signs) != 2 {
			t.Errorf("%v°: every image turned the same way", deg)
		}
	}
}

// Scaling by f multiplies a blob's radius of gyration by f (within 2 %)
// and its mass by f².
func TestScaleSeverity(t *testing.T) {
	c, _ := CorruptionByName("scale")
	x := gaussImage(4, 4)
	m0, _, _, xx0, yy0, _ := moments(x)
	r0 := math.Sqrt(xx0 + yy0)
	for sev := 1; sev <= Severities; sev++ {
		f := c.Level(sev)
		m, _, _, xx, yy, _ := moments(apply(t, c.Name, x, 1, sev, 1))
		if r := math.Sqrt(xx + yy); math.Abs(r/r0-f) > 0.02*f {
			t.Errorf("f = %v: radius %.3f → %.3f, ratio %.4f", f, r0, r, r/r0)
		}
		if math.Abs(m/m0-f*f) > 0.03*f*f {
			t.Errorf("f = %v: mass ratio %.4f, want f² = %.4f", f, m/m0, f*f)
		}
	}
}

// Contrast scales each image's deviations from its mean by c and keeps
// the mean.
func TestContrastSeverity(t *testing.T) {
	_, test := realMNIST(t)
	const n = 20
	x := test.X[:n*side*side]
	c, _ := CorruptionByName("contrast")
	for sev := 1; sev <= Severities; sev++ {
		k := c.Level(sev)
		out := apply(t, c.Name, x, n, sev, 1)
		for i := 0; i < n; i++ {
			src, dst := x[i*side*side:(i+1)*side*side], out[i*side*side:(i+1)*side*side]
			ms, ss := meanStd(src)
			md, sd := meanStd(dst)
			if math.Abs(md-ms) > 1e-6 || math.Abs(sd-k*ss) > 1e-6 {
				t.Fatalf("c = %v, image %d: mean %v → %v, std %v → %v", k, i, ms, md, ss, sd)
			}
		}
	}
}

func meanStd(x []float32) (mean, std float64) {
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

// Fog: out − (1−a)·x = a·f with f a field spanning [0, 1] exactly that is
// smooth (neighbouring pixels differ by far less than independent
// uniform noise, 1/3 on average).
func TestFogSeverity(t *testing.T) {
	_, test := realMNIST(t)
	const n = 20
	x := test.X[:n*side*side]
	c, _ := CorruptionByName("fog")
	for sev := 1; sev <= Severities; sev++ {
		a := c.Level(sev)
		out := apply(t, c.Name, x, n, sev, 7)
		for i := 0; i < n; i++ {
			f := make([]float64, side*side)
			lo, hi := math.Inf(1), math.Inf(-1)
			for j := range f {
				k := i*side*side + j
				f[j] = (float64(out[k]) - (1-a)*float64(x[k])) / a
				lo, hi = math.Min(lo, f[j]), math.Max(hi, f[j])
			}
			if math.Abs(lo) > 1e-5 || math.Abs(hi-1) > 1e-5 {
				t.Fatalf("a = %v, image %d: fog field spans [%v, %v], want [0, 1]", a, i, lo, hi)
			}
			var step float64
			for r := 0; r < side; r++ {
				for q := 0; q+1 < side; q++ {
					step += math.Abs(f[r*side+q+1] - f[r*side+q])
				}
			}
			if step /= float64(side * (side - 1)); step > 0.15 {
				t.Errorf("a = %v, image %d: neighbours differ by %.3f on average: not smooth", a, i, step)
			}
		}
	}
}

func ExampleCorruptions() {
	for _, c := range Corruptions() {
		fmt.Println(c.Name, c.Levels)
	}
	// Output:
	// gaussian_noise [0.1 0.2 0.3 0.4 0.5]
	// impulse_noise [0.05 0.1 0.15 0.2 0.3]
	// blur [0.5 0.75 1 1.5 2]
	// shift [1 2 3 4 5]
	// rotate [10 20 30 40 50]
	// scale [0.9 0.8 0.7 0.6 0.5]
	// contrast [0.5 0.4 0.3 0.2 0.1]
	// fog [0.2 0.3 0.4 0.5 0.6]
}
