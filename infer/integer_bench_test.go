package infer

import (
	"fmt"
	"math/rand"
	"testing"

	"mnistc/internal/kernel"
	"mnistc/model"
)

// The MNIST benchmarks time the 10,000 test images in one call (batch) and
// one image per call (single, as a server answering one request at a
// time), on trained networks (784-128-10 and LeNet-300-100, one epoch on
// 10,000 images) compressed by the passes: the float network through
// model.Forward, and the packed files through the evaluator, where every
// layer runs on the integer path. Run them side by side:
//
//	go test ./infer -run '^$' -bench 'MNIST' -count 5
//
// batch reports ns/op for the whole test set; single reports ns/op per
// image.

var benchArchs = []struct {
	name   string
	hidden []int
}{{"784-128-10", []int{128}}, {"784-300-100-10", lenetHidden}}

// benchForward runs the batch and single-image benchmarks of f.
func benchForward(b *testing.B, f func(x []float32, n int) []float32) {
	test := mnist(b)
	b.Run("batch", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			f(test.X, test.Len())
		}
	})
	b.Run("single", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			f(test.Image(i%test.Len()), 1)
		}
	})
}

// BenchmarkFloatMNIST: model.Forward on the trained float32 networks (no
// activation quantization): the reference the targets are set against.
func BenchmarkFloatMNIST(b *testing.B) {
	for _, a := range benchArchs {
		p := trained(b, a.hidden...)
		b.Run(a.name, func(b *testing.B) {
			benchForward(b, func(x []float32, n int) []float32 { return model.Forward(p, x, n, nil) })
		})
	}
}

// BenchmarkFakeQuantMNIST: model.Forward on the unpacked 8-bit network with
// its 8-bit activation quantization, the float evaluation the integer path
// agrees with.
func BenchmarkFakeQuantMNIST(b *testing.B) {
	for _, a := range benchArchs {
		ck, _ := compressed(b, trained(b, a.hidden...), int8Chain...)
		b.Run(a.name, func(b *testing.B) {
			benchForward(b, func(x []float32, n int) []float32 { return model.Forward(ck.Params, x, n, ck.Meta.ActQuant) })
		})
	}
}

// benchPacked benchmarks the evaluator of each architecture after chain,
// with every kernel implementation this CPU runs but the Go loop (whose
// batch takes seconds) for the batch.
func benchPacked(b *testing.B, chain []string) {
	for _, a := range benchArchs {
		_, f := compressed(b, trained(b, a.hidden...), chain...)
		net, err := New(f)
		if err != nil {
			b.Fatal(err)
		}
		if net.ints == nil {
			b.Fatalf("%s: not on the integer path: %q", a.name, net.Kernels())
		}
		b.Run(a.name, func(b *testing.B) { benchForward(b, net.Forward) })
		for _, impl := range kernel.Int8Impls()[1:] {
			if impl == kernel.ImplGo {
				continue
			}
			b.Run(a.name+"/"+impl, func(b *testing.B) {
				defer kernel.ForceInt8(impl)()
				test := mnist(b)
				for i := 0; i < b.N; i++ {
					net.Forward(test.X, test.Len())
				}
			})
		}
	}
}

// BenchmarkInt8MNIST: 8-bit weights per channel, 8-bit activations.
func BenchmarkInt8MNIST(b *testing.B) { benchPacked(b, int8Chain) }

// BenchmarkInt4MNIST: 4-bit weights per channel, 8-bit activations.
func BenchmarkInt4MNIST(b *testing.B) { benchPacked(b, int4Chain) }

// BenchmarkDeepCompressionMNIST: keep 0.05, then 4-bit weights per
// channel, 8-bit activations (Deep Compression's chain, without retraining).
func BenchmarkDeepCompressionMNIST(b *testing.B) { benchPacked(b, deepChain) }

// BenchmarkSparseCrossover times the integer path's two kernels for pruned
// layers, dense int8 levels (pruned entries as zeros) against CSR of the
// kept levels, on trained networks pruned to several keep rates (then 8-bit
// weights per channel, 8-bit activations): where the CSR kernel starts to
// win sets sparseDensity.
func BenchmarkSparseCrossover(b *testing.B) {
	test := mnist(b)
	for _, a := range benchArchs {
		for _, keep := range []string{"0.001", "0.002", "0.005", "0.01", "0.05"} {
			_, f := compressed(b, trained(b, a.hidden...), "prune:keep="+keep, "quantize:bits=8,granularity=channel", "actquant:bits=8")
			layers, err := f.Layers()
			if err != nil {
				b.Fatal(err)
			}
			logits := make([]float32, test.Len()*10)
			for _, k := range []struct {
				name  string
				below float64
			}{{"dense", 0}, {"csr", 1}} {
				q := newIntNet(layers, f.Meta.ActQuant, k.below)
				b.Run(a.name+"/keep"+keep+"/"+k.name, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						q.forward(test.X, test.Len(), logits)
					}
				})
			}
		}
	}
}

// BenchmarkDotPairs times the first layer's integer sums over the MNIST
// test images' codes (random int8 levels), one image per pass over the
// weights against two (kernel.DotCodes2), for several widths: where pairs
// start to pay sets pairWidth. ns/image is per image in both.
func BenchmarkDotPairs(b *testing.B) {
	test := mnist(b)
	n := test.Len()
	codes := make([][]uint8, n)
	rule := kernel.CodeRule{Lo: 0, Hi: 1, Step: float32(1) / 255, Top: 255}
	for i := range codes {
		codes[i] = make([]uint8, kernel.CodeBytes(784))
		kernel.Codes(codes[i][:784], test.Image(i), rule)
	}
	rng := rand.New(rand.NewSource(1))
	for _, out := range []int{128, 192, 256, 304} {
		k := make([]int8, 784*out)
		for i := range k {
			k[i] = int8(rng.Intn(256) - 128)
		}
		w, width := kernel.LayoutInt8(k, 784, out), kernel.Int8Width(out)
		a0, a1 := make([]int32, width), make([]int32, width)
		b.Run(fmt.Sprintf("out%d/single", out), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				kernel.DotCodes(a0, codes[i%n], w, width)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/image")
		})
		b.Run(fmt.Sprintf("out%d/pair", out), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				j := 2 * i % (n - 1)
				kernel.DotCodes2(a0, a1, codes[j], codes[j+1], w, width)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/image")
		})
	}
}
