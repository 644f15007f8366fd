package onnx

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"mnistc/compress"
	"mnistc/data"
	"mnistc/infer"
	"mnistc/mnc"
	"mnistc/model"
)

// benchSet is the MNIST test set, also as a raw float32 file for run.mjs.
var (
	benchOnce   sync.Once
	benchTest   data.Set
	benchCalib  data.Set
	benchImages string
	benchErr    error
)

func benchData(b *testing.B) {
	benchOnce.Do(func() {
		dir, err := data.DefaultDir()
		if err != nil {
			benchErr = err
			return
		}
		train, test, err := data.Load(dir)
		if err != nil {
			benchErr = err
			return
		}
		benchTest, benchCalib = test, train.Slice(train.Len()-5000, train.Len())
		raw := make([]byte, 4*len(test.X))
		for i, v := range test.X {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		tmp, err := os.MkdirTemp("", "mnistc-onnx-bench")
		if err != nil {
			benchErr = err
			return
		}
		scratch = append(scratch, tmp)
		benchImages = filepath.Join(tmp, "test.f32")
		benchErr = os.WriteFile(benchImages, raw, 0o644)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
}

// BenchmarkVsORT times, on the 10,000 test images in one call, mnistc's
// evaluation of a model (what `mnistc eval` runs: model.Forward for a
// float32 checkpoint, package infer for a packed file) and ONNX Runtime's
// (run.mjs, 2 intra-op threads, after one warm-up call) on the same model
// exported, side by side: .../mnistc and .../onnxruntime report ns per
// 10,000-image call. The networks are the committed seed-1 baselines of
// results/article (784-128-10) and results/lenet300 (784-300-100-10),
// each as float32, with 8-bit per-column weights and 8-bit activations,
// and with 4-bit weights (int8 initializers) and 8-bit activations.
// scripts/onnx/bench.sh runs it and prints the medians.
func BenchmarkVsORT(b *testing.B) {
	if !haveORT(b) {
		b.Skip("no node or onnxruntime-node (scripts/setup.sh installs them)")
	}
	benchData(b)
	nets := []struct{ name, glob string }{
		{"784-128-10", "../results/article/baselines/seed1-*.npz"},
		{"lenet300", "../results/lenet300/baselines/seed1-*.npz"},
	}
	variants := []struct {
		name  string
		specs []string
	}{
		{"float", nil},
		{"w8-channel-a8", []string{"quantize:bits=8,granularity=channel", "actquant:bits=8"}},
		{"w4-a8", []string{"quantize:bits=4", "actquant:bits=8"}},
	}
	n := benchTest.Len()
	for _, net := range nets {
		paths, _ := filepath.Glob(net.glob)
		if len(paths) == 0 {
			b.Logf("no checkpoint %s: skipped", net.glob)
			continue
		}
		ck, err := model.Load(paths[0])
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range variants {
			passes, err := compress.Build(v.specs)
			if err != nil {
				b.Fatal(err)
			}
			st := compress.NewState(model.Checkpoint{Params: ck.Params})
			for _, p := range passes {
				if st, err = p.Apply(st, compress.Env{Calib: benchCalib}); err != nil {
					b.Fatal(err)
				}
			}
			c := model.Checkpoint{Params: st.Params, Meta: model.Meta{ActQuant: st.ActQuant}}
			var forward func() []float32
			var f *mnc.File
			if v.specs == nil {
				// a float32 checkpoint: mnistc eval runs model.Forward
				forward = func() []float32 { return model.Forward(c.Params, benchTest.X, n, nil) }
				if _, f, err = mnc.Pack(c); err != nil {
					b.Fatal(err)
				}
			} else {
				if _, f, err = mnc.Pack(c); err != nil {
					b.Fatal(err)
				}
				nt, err := infer.New(f)
				if err != nil {
					b.Fatal(err)
				}
				forward = func() []float32 { return nt.Forward(benchTest.X, n) }
			}
			m, _, err := Export(f, Options{})
			if err != nil {
				b.Fatal(err)
			}
			path := filepath.Join(filepath.Dir(benchImages), net.name+"-"+v.name+".onnx")
			if err := os.WriteFile(path, m.Marshal(), 0o644); err != nil {
				b.Fatal(err)
			}
			b.Run(net.name+"/"+v.name+"/mnistc", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					forward()
				}
			})
			b.Run(net.name+"/"+v.name+"/onnxruntime", func(b *testing.B) {
				r := runORT(b, path, benchImages, benchTest.Inputs(), b.N)
				total := 0.0
				for _, ms := range r.MS {
					total += ms
				}
				b.ReportMetric(total*1e6/float64(b.N), "ns/op")
			})
		}
	}
}
