package kernel

import (
	"fmt"
	"math"
)

//go:generate go run gen_int8.go

// The integer path of evaluation: a layer's inputs as unsigned 8-bit
// activation codes, its weights as signed 8-bit levels, products summed in
// int32, then one float rescale per output. DotCodes is the inner loop:
// with AVX-512 VNNI one VPDPBUSD multiplies four codes by four weights of
// 16 outputs and adds them into 16 int32 lanes, without the int16
// saturation of AVX2's VPMADDUBSW; the AVX2 kernel widens to int16 and
// uses VPMADDWD instead, and the Go loop is the reference. All three give
// the same int32 sums (integer arithmetic, wrapping alike modulo 2^32).
//
// Weights are laid out for it by LayoutInt8: input rows in groups of four,
// each group a row of width·4 bytes (output j's four weights at 4j), so a
// group of four codes is one 32-bit broadcast. A group whose four codes
// are all zero is skipped: the blank pixels of a digit are contiguous, and
// so most of an image's groups are.

// Implementations of DotCodes.
const (
	ImplGo   = "go"
	ImplAVX2 = "avx2"
	ImplVNNI = "avx512-vnni"
)

// int8Impl is the implementation DotCodes runs: the fastest this CPU has.
var int8Impl = func() string {
	switch {
	case haveVNNI:
		return ImplVNNI
	case haveAVX2:
		return ImplAVX2
	}
	return ImplGo
}()

// Int8Impl names the implementation DotCodes runs on this CPU.
func Int8Impl() string { return int8Impl }

// Int8Impls lists the implementations this CPU can run, fastest first.
func Int8Impls() []string {
	var out []string
	if haveVNNI {
		out = append(out, ImplVNNI)
	}
	if haveAVX2 {
		out = append(out, ImplAVX2)
	}
	return append(out, ImplGo)
}

// ForceInt8 makes DotCodes run impl (one of Int8Impls) until the returned
// function restores the previous choice: for tests and benchmarks that
// compare the implementations end to end. Not safe while DotCodes runs.
func ForceInt8(impl string) (restore func()) {
	ok := false
	for _, i := range Int8Impls() {
		ok = ok || i == impl
	}
	if !ok {
		panic(fmt.Sprintf("kernel: ForceInt8(%q): this CPU runs %q", impl, Int8Impls()))
	}
	prev := int8Impl
	int8Impl = impl
	return func() { int8Impl = prev }
}

// Int8Cols is the column granularity of the integer layout: a layer's
// width is padded to a multiple of it (one 512-bit register of int32).
const Int8Cols = 16

// Int8Width returns the padded width of a layer of out outputs.
func Int8Width(out int) int { return (out + Int8Cols - 1) / Int8Cols * Int8Cols }

// CodeBytes returns how long a buffer of activation codes for n inputs
// must be: the kernels read 64 bytes (16 groups of four) at a time. Bytes
// past n must be zero.
func CodeBytes(n int) int { return (n + 63) / 64 * 64 }

// LayoutInt8 lays out the in×out weight levels k (row-major, input by
// output) for DotCodes: ⌈in/4⌉ groups of Int8Width(out)·4 bytes, output j's
// weights for inputs 4g … 4g+3 at bytes 4j … 4j+3 of group g, zero where
// there is no input or output.
func LayoutInt8(k []int8, in, out int) []int8 {
	width := Int8Width(out)
	groups := (in + 3) / 4
	w := make([]int8, groups*4*width)
	for i := 0; i < in; i++ {
		for j := 0; j < out; j++ {
			w[(i/4)*4*width+4*j+i%4] = k[i*out+j]
		}
	}
	return w
}

// DotCodes sets acc[j] = Σ_i codes[i]·w[(i/4)·4·width + 4j + i%4] for each
// j < width: a layer's integer sums over one image's activation codes,
// with w from LayoutInt8 (width = Int8Width of the layer's outputs, a
// multiple of 16). codes holds CodeBytes(4·groups) bytes or more, groups
// = len(w)/(4·width); codes past the groups are ignored.
func DotCodes(acc []int32, codes []uint8, w []int8, width int) {
	if width <= 0 || width%Int8Cols != 0 || len(w)%(4*width) != 0 || len(acc) < width {
		panic("kernel: DotCodes: width not a positive multiple of 16, or weights or sums of the wrong length")
	}
	groups := len(w) / (4 * width)
	if len(codes) < CodeBytes(4*groups) {
		panic("kernel: DotCodes: codes shorter than CodeBytes")
	}
	dotWith(int8Impl, acc[:width], codes, w, width, groups)
}

// DotCodes2 is DotCodes for two images, codes0 and codes1, into acc0 and
// acc1: the same sums, with each weight read once for both where VNNI
// runs (the two images' non-zero groups together).
func DotCodes2(acc0, acc1 []int32, codes0, codes1 []uint8, w []int8, width int) {
	if width <= 0 || width%Int8Cols != 0 || len(w)%(4*width) != 0 || len(acc0) < width || len(acc1) < width {
		panic("kernel: DotCodes2: width not a positive multiple of 16, or weights or sums of the wrong length")
	}
	groups := len(w) / (4 * width)
	if len(codes0) < CodeBytes(4*groups) || len(codes1) < CodeBytes(4*groups) {
		panic("kernel: DotCodes2: codes shorter than CodeBytes")
	}
	dot2With(int8Impl, acc0[:width], acc1[:width], codes0, codes1, w, width, groups)
}

func dot2With(impl string, acc0, acc1 []int32, codes0, codes1 []uint8, w []int8, width, groups int) {
	if impl != ImplVNNI || groups == 0 {
		dotWith(impl, acc0, codes0, w, width, groups)
		dotWith(impl, acc1, codes1, w, width, groups)
		return
	}
	for c := 0; c < width; {
		r := min(14, (width-c)/16)
		dotVNNI2(&acc0[c], &acc1[c], &codes0[0], &codes1[0], groups, &w[4*c], 4*width, r)
		c += 16 * r
	}
}

func dotWith(impl string, acc []int32, codes []uint8, w []int8, width, groups int) {
	if groups == 0 {
		clear(acc)
		return
	}
	switch impl {
	case ImplVNNI:
		for c := 0; c < width; c += 256 {
			dotVNNI(&acc[c], &codes[0], groups, &w[4*c], 4*width, min(16, (width-c)/16))
		}
	case ImplAVX2:
		for c := 0; c < width; c += 32 {
			dotAVX2(&acc[c], &codes[0], groups, &w[4*c], 4*width, min(8, (width-c)/4))
		}
	default:
		dotGo(acc, codes, w, width, groups)
	}
}

// dotGo is DotCodes in Go: the reference the vector kernels match.
func dotGo(acc []int32, codes []uint8, w []int8, width, groups int) {
	clear(acc[:width])
	stride := 4 * width
	for g := 0; g < groups; g++ {
		c := codes[4*g : 4*g+4]
		if c[0]|c[1]|c[2]|c[3] == 0 {
			continue
		}
		c0, c1, c2, c3 := int32(c[0]), int32(c[1]), int32(c[2]), int32(c[3])
		row := w[g*stride : g*stride+stride]
		a := acc[:len(row)/4]
		for j := range a {
			r := (*[4]int8)(row[4*j:])
			a[j] += c0*int32(r[0]) + c1*int32(r[1]) + c2*int32(r[2]) + c3*int32(r[3])
		}
	}
}

// CodeRule is an unsigned activation quantizer over [Lo, Hi] with Step =
// (Hi − Lo)/Top in float32 and Top = 2^bits − 1 (model.ActQuant's rule).
type CodeRule struct{ Lo, Hi, Step, Top float32 }

// Codes writes the activation code of each src value to dst:
//
//	0 where !(x > Lo) (NaN included) or Step ≤ 0, else
//	roundEven(min((min(x, Hi) − Lo)/Step, Top))
//
// which is model.ActQuant's level for every value that is not NaN. dst
// holds len(src) codes (Top ≤ 255).
func Codes(dst []uint8, src []float32, r CodeRule) {
	dst = dst[:len(src)]
	if !(r.Step > 0) {
		clear(dst)
		return
	}
	done := codesVector(dst, src, &r)
	codesGo(dst[done:], src[done:], r)
}

func codesGo(dst []uint8, src []float32, r CodeRule) {
	for i, x := range src {
		if !(x > r.Lo) {
			dst[i] = 0
			continue
		}
		if !(x < r.Hi) {
			x = r.Hi
		}
		q := (x - r.Lo) / r.Step
		if !(q < r.Top) {
			q = r.Top
		}
		dst[i] = uint8(int32(math.RoundToEven(float64(q))))
	}
}

// Requantize turns a hidden layer's integer sums into the next layer's
// codes: dst[j] = roundEven(min(max(float32(acc[j])·a[j] + b[j], lo), hi))
// (multiply, then add: never fused; a NaN sum gives lo), with
// 0 ≤ lo ≤ hi ≤ 255. The clamp at lo is the ReLU and the bottom of the next
// range at once; hi is its top.
func Requantize(dst []uint8, acc []int32, a, b []float32, lo, hi float32) {
	n := len(dst)
	acc, a, b = acc[:n], a[:n], b[:n]
	done := requantVector(dst, acc, a, b, lo, hi)
	requantGo(dst[done:], acc[done:], a[done:], b[done:], lo, hi)
}

func requantGo(dst []uint8, acc []int32, a, b []float32, lo, hi float32) {
	for j := range dst {
		z := float32(float32(acc[j])*a[j]) + b[j]
		if !(z > lo) {
			z = lo
		}
		if !(z < hi) {
			z = hi
		}
		dst[j] = uint8(int32(math.RoundToEven(float64(z))))
	}
}

// Rescale turns the last layer's integer sums into logits:
// dst[j] = float32(acc[j])·a[j] + b[j] (multiply, then add: never fused).
func Rescale(dst []float32, acc []int32, a, b []float32) {
	n := len(dst)
	acc, a, b = acc[:n], a[:n], b[:n]
	done := rescaleVector(dst, acc, a, b)
	for j := done; j < n; j++ {
		dst[j] = float32(float32(acc[j])*a[j]) + b[j]
	}
}
