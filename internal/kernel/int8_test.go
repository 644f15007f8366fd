package kernel

import (
	"math"
	"math/rand"
	"strconv"
	"testing"
)

// naiveDot is the definition of DotCodes on the unlaid-out levels k
// (in×out): acc[j] = Σ_i codes[i]·k[i][j], in int64 then wrapped to int32.
func naiveDot(codes []uint8, k []int8, in, out int) []int32 {
	acc := make([]int32, out)
	for j := 0; j < out; j++ {
		var s int64
		for i := 0; i < in; i++ {
			s += int64(codes[i]) * int64(k[i*out+j])
		}
		acc[j] = int32(s)
	}
	return acc
}

// randomLevels returns in×out levels, a quarter of them at the extremes
// −128 and 127, the rest uniform over int8, and codes with runs of zeros
// (whole groups of four blank, as a digit's background), a quarter of the
// rest 255.
func randomLevels(rng *rand.Rand, in, out int) ([]int8, []uint8) {
	k := make([]int8, in*out)
	for i := range k {
		switch rng.Intn(8) {
		case 0:
			k[i] = -128
		case 1:
			k[i] = 127
		default:
			k[i] = int8(rng.Intn(256) - 128)
		}
	}
	codes := make([]uint8, CodeBytes(in))
	for i := 0; i < in; {
		run := 1 + rng.Intn(12)
		blank := rng.Intn(2) == 0
		for ; run > 0 && i < in; run, i = run-1, i+1 {
			switch {
			case blank:
			case rng.Intn(4) == 0:
				codes[i] = 255
			default:
				codes[i] = uint8(rng.Intn(256))
			}
		}
	}
	return k, codes
}

// TestDotCodesImplementations: every implementation this CPU runs (VNNI,
// AVX2, Go), one image at a time and two (DotCodes2), gives the
// definition's int32 sums bit for bit, for widths of
// one to twenty-one registers (panels of 256 columns and the rest), input
// counts that are not multiples of 4 or 64, extreme codes (0, 255) and
// levels (−128, 127), blank groups, and garbage past the last group
// (ignored).
func TestDotCodesImplementations(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	impls := Int8Impls()
	t.Logf("implementations: %q", impls)
	for _, in := range []int{1, 3, 4, 17, 64, 65, 100, 300, 784} {
		for _, out := range []int{1, 10, 16, 17, 32, 100, 128, 256, 300, 336} {
			k, codes := randomLevels(rng, in, out)
			width := Int8Width(out)
			w := LayoutInt8(k, in, out)
			groups := len(w) / (4 * width)
			for i := 4 * groups; i < len(codes); i++ {
				codes[i] = uint8(1 + rng.Intn(255)) // past the groups: must be ignored
			}
			padded := append(append([]uint8(nil), codes[:in]...), make([]uint8, 4*groups-in)...)
			want := naiveDot(padded, k, in, out)
			for _, impl := range impls {
				acc := make([]int32, width+3)
				for j := range acc {
					acc[j] = int32(rng.Uint32()) // overwritten, not added to
				}
				sentinel := acc[width:]
				s0 := append([]int32(nil), sentinel...)
				dotWith(impl, acc[:width], codes, w, width, groups)
				for j := 0; j < out; j++ {
					if acc[j] != want[j] {
						t.Fatalf("%s in %d out %d: acc[%d] = %d, want %d", impl, in, out, j, acc[j], want[j])
					}
				}
				for j := out; j < width; j++ {
					if acc[j] != 0 {
						t.Fatalf("%s in %d out %d: padding column %d = %d, want 0", impl, in, out, j, acc[j])
					}
				}
				for j := range sentinel {
					if sentinel[j] != s0[j] {
						t.Fatalf("%s in %d out %d: wrote past the width", impl, in, out)
					}
				}
				// two images at once: the second's codes are the first's
				// reversed (other blank groups), and each gets its own sums
				codes1 := make([]uint8, len(codes))
				for i := 0; i < in; i++ {
					codes1[i] = codes[in-1-i]
				}
				copy(codes1[4*groups:], codes[4*groups:])
				padded1 := append(append([]uint8(nil), codes1[:in]...), make([]uint8, 4*groups-in)...)
				want1 := naiveDot(padded1, k, in, out)
				acc0, acc1 := make([]int32, width), make([]int32, width)
				dot2With(impl, acc0, acc1, codes, codes1, w, width, groups)
				for j := 0; j < out; j++ {
					if acc0[j] != want[j] || acc1[j] != want1[j] {
						t.Fatalf("%s, two images, in %d out %d: acc[%d] = %d and %d, want %d and %d", impl, in, out, j, acc0[j], acc1[j], want[j], want1[j])
					}
				}
			}
		}
	}
}

// TestDotCodesExtremes: all codes 255 against all levels −128 (the most
// negative sums) or 127, and sums that wrap past int32 (more inputs than
// any layer the evaluator accepts), agree across implementations: the
// int32 arithmetic is the same modulo 2^32, and nothing saturates.
func TestDotCodesExtremes(t *testing.T) {
	for _, c := range []struct {
		in  int
		lev int8
	}{{784, -128}, {784, 127}, {80000, -128}, {80000, 127}} {
		k := make([]int8, c.in*16)
		for i := range k {
			k[i] = c.lev
		}
		codes := make([]uint8, CodeBytes(c.in))
		for i := 0; i < c.in; i++ {
			codes[i] = 255
		}
		w := LayoutInt8(k, c.in, 16)
		want := int32(int64(c.in) * 255 * int64(c.lev))
		for _, impl := range Int8Impls() {
			acc := make([]int32, 16)
			dotWith(impl, acc, codes, w, 16, c.in/4)
			for j, a := range acc {
				if a != want {
					t.Fatalf("%s: %d inputs of 255 × %d: acc[%d] = %d, want %d", impl, c.in, c.lev, j, a, want)
				}
			}
		}
	}
}

func TestDotCodesRefusesBadShapes(t *testing.T) {
	for _, f := range []func(){
		func() { DotCodes(make([]int32, 16), make([]uint8, 64), make([]int8, 4*10), 10) },
		func() { DotCodes(make([]int32, 16), make([]uint8, 64), make([]int8, 4*16+1), 16) },
		func() { DotCodes(make([]int32, 8), make([]uint8, 64), make([]int8, 4*16), 16) },
		func() { DotCodes(make([]int32, 16), make([]uint8, 60), make([]int8, 4*16), 16) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("a bad shape was accepted")
				}
			}()
			f()
		}()
	}
}

// actQuantLevel is model.ActQuant's level of x over [lo, hi] (the package
// cannot import model, which imports it).
func actQuantLevel(x, lo, hi float32, bits int) int {
	levels := float32(int(1)<<bits - 1)
	scale := (hi - lo) / levels
	if scale <= 0 {
		return 0
	}
	if x < lo {
		x = lo
	} else if x > hi {
		x = hi
	}
	return int(math.RoundToEven(float64((x - lo) / scale)))
}

// TestCodesMatchActQuant: Codes gives model.ActQuant's level of every
// value that is not NaN (NaN gives 0) — below, at and above the range,
// half-way between levels, over ranges that do and do not start at 0 — in
// the vector path and in the Go loop alike, for lengths that are not
// multiples of 8; and 8-bit codes of MNIST pixels over [0, 1] are the
// pixels' bytes.
func TestCodesMatchActQuant(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, bits := range []int{1, 4, 8} {
		for _, r := range [][2]float32{{0, 1}, {0, 6.3}, {-0.5, 2}, {0.25, 0.75}, {1, 1}} {
			top := float32(int(1)<<bits - 1)
			rule := CodeRule{Lo: r[0], Hi: r[1], Step: (r[1] - r[0]) / top, Top: top}
			for _, n := range []int{0, 5, 8, 24, 31, 100, 787} {
				src := make([]float32, n)
				for i := range src {
					switch rng.Intn(8) {
					case 0:
						src[i] = 0
					case 1:
						src[i] = r[0] + rule.Step*(float32(rng.Intn(int(top)+1))+0.5) // half-way
					case 2:
						src[i] = r[1] + rng.Float32()
					case 3:
						src[i] = r[0] - rng.Float32()
					case 4:
						src[i] = float32(math.NaN())
					default:
						src[i] = r[0] + (r[1]-r[0])*rng.Float32()
					}
				}
				got, ref := make([]uint8, n), make([]uint8, n)
				Codes(got, src, rule)
				if rule.Step > 0 {
					codesGo(ref, src, rule)
				}
				for i, x := range src {
					want := 0
					if !math.IsNaN(float64(x)) {
						want = actQuantLevel(x, r[0], r[1], bits)
					}
					if int(got[i]) != want || ref[i] != got[i] {
						t.Fatalf("bits %d range %v: code of %v = %d (Go loop %d), ActQuant %d", bits, r, x, got[i], ref[i], want)
					}
				}
			}
		}
	}
	src, dst := make([]float32, 256), make([]uint8, 256)
	for b := range src {
		src[b] = float32(b) / 255
	}
	Codes(dst, src, CodeRule{Lo: 0, Hi: 1, Step: float32(1) / 255, Top: 255})
	for b, c := range dst {
		if int(c) != b {
			t.Fatalf("pixel byte %d has code %d", b, c)
		}
	}
}

// TestRequantizeRescaleMatchGo: the vector paths of Requantize and Rescale
// give the Go loops' bits, with sums at the int32 extremes, rescaled
// values below, inside and above [lo, hi], and ties at half-way.
func TestRequantizeRescaleMatchGo(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	for _, n := range []int{1, 8, 13, 128, 304} {
		acc := make([]int32, n)
		a, b := make([]float32, n), make([]float32, n)
		for j := range acc {
			switch rng.Intn(6) {
			case 0:
				acc[j] = math.MaxInt32
			case 1:
				acc[j] = math.MinInt32
			case 2:
				acc[j] = int32(rng.Intn(64)) * 2 // ties below: a = 0.25
				a[j], b[j] = 0.25, 0.5
				continue
			default:
				acc[j] = int32(rng.Intn(2_000_000) - 1_000_000)
			}
			a[j] = float32(rng.NormFloat64() * 1e-4)
			b[j] = float32(rng.NormFloat64() * 100)
		}
		for _, lohi := range [][2]float32{{0, 255}, {0, 15}, {3.5, 200}} {
			got, want := make([]uint8, n), make([]uint8, n)
			Requantize(got, acc, a, b, lohi[0], lohi[1])
			requantGo(want, acc, a, b, lohi[0], lohi[1])
			for j := range got {
				if got[j] != want[j] {
					t.Fatalf("n %d %v: Requantize[%d] = %d, Go loop %d (acc %d a %v b %v)", n, lohi, j, got[j], want[j], acc[j], a[j], b[j])
				}
			}
		}
		got := make([]float32, n)
		Rescale(got, acc, a, b)
		for j := range got {
			want := float32(float32(acc[j])*a[j]) + b[j]
			if math.Float32bits(got[j]) != math.Float32bits(want) {
				t.Fatalf("n %d: Rescale[%d] = %v, want %v", n, j, got[j], want)
			}
		}
	}
}

// benchDot times one image's first layer (or two, pair) (784 codes, MNIST-like: about a
// fifth of the pixels non-zero in runs) by an implementation, on random
// levels, for widths of the article's and LeNet's first layers.
func benchDot(b *testing.B, impl string, out int, pair bool) {
	rng := rand.New(rand.NewSource(1))
	k, _ := randomLevels(rng, 784, out)
	w := LayoutInt8(k, 784, out)
	codes := make([]uint8, CodeBytes(784))
	for r := 4; r < 24; r++ { // a blob of strokes in the middle rows
		for c := 6 + r%3; c < 22-r%4; c++ {
			if rng.Intn(3) > 0 {
				codes[r*28+c] = uint8(1 + rng.Intn(255))
			}
		}
	}
	width := Int8Width(out)
	acc, acc1 := make([]int32, width), make([]int32, width)
	codes1 := make([]uint8, len(codes)) // the same digit two pixels lower
	copy(codes1[56:], codes[:784-56])
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if pair {
			dot2With(impl, acc, acc1, codes, codes1, w, width, len(w)/(4*width))
			continue
		}
		dotWith(impl, acc, codes, w, width, len(w)/(4*width))
	}
	if pair {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/image")
	}
}

func BenchmarkDotCodes(b *testing.B) {
	for _, impl := range Int8Impls() {
		for _, out := range []int{128, 300} {
			b.Run(impl+"/out"+strconv.Itoa(out), func(b *testing.B) { benchDot(b, impl, out, false) })
			b.Run(impl+"/pair/out"+strconv.Itoa(out), func(b *testing.B) { benchDot(b, impl, out, true) })
		}
	}
}
