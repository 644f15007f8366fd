package onnx

import (
	"encoding/binary"
	"math"
	"math/rand"
	"strings"
	"testing"

	"mnistc/internal/handmade"
	"mnistc/mnc"
	"mnistc/model"
)

// ints decodes an integer initializer's raw data (4-bit values sign- or
// zero-extended from their nibble).
func (t Tensor) ints() []int64 {
	n := 1
	for _, d := range t.Dims {
		n *= int(d)
	}
	v := make([]int64, n)
	for i := range v {
		switch t.Type {
		case Int4:
			v[i] = int64(int8(t.Raw[i/2]>>(4*(i%2))<<4) >> 4)
		case Uint4:
			v[i] = int64(t.Raw[i/2] >> (4 * (i % 2)) & 0xf)
		case Int8:
			v[i] = int64(int8(t.Raw[i]))
		case Uint8:
			v[i] = int64(t.Raw[i])
		case Int16:
			v[i] = int64(int16(binary.LittleEndian.Uint16(t.Raw[2*i:])))
		case Uint16:
			v[i] = int64(binary.LittleEndian.Uint16(t.Raw[2*i:]))
		case Int32:
			v[i] = int64(int32(binary.LittleEndian.Uint32(t.Raw[4*i:])))
		}
	}
	return v
}

// weightValues computes, from the parsed graph alone, the float32 values of
// the tensor named name as ONNX defines the nodes that make it:
// DequantizeLinear (x−zp)·s, Cast + Gather, or an initializer.
func weightValues(t *testing.T, g Graph, name string) []float32 {
	t.Helper()
	for _, in := range g.Inits {
		if in.Name == name {
			if in.Type != Float {
				t.Fatalf("%s is %s", name, in.Type)
			}
			return in.floats()
		}
	}
	init := func(name string) Tensor {
		for _, in := range g.Inits {
			if in.Name == name {
				return in
			}
		}
		t.Fatalf("no initializer %s", name)
		return Tensor{}
	}
	for _, n := range g.Nodes {
		if len(n.Out) != 1 || n.Out[0] != name {
			continue
		}
		switch n.Op {
		case "DequantizeLinear":
			x, s, z := init(n.In[0]), init(n.In[1]).floats(), init(n.In[2])
			if z.Type != x.Type {
				t.Fatalf("%s: zero point %s for %s data", name, z.Type, x.Type)
			}
			q, zp := x.ints(), z.ints()
			cols := int(x.Dims[1])
			axis := len(n.Attrs) == 1 && n.Attrs[0].Name == "axis" && n.Attrs[0].Int == 1
			if axis != (len(s) > 1) || (axis && len(s) != cols) || len(zp) != len(s) {
				t.Fatalf("%s: %d scales, %d zero points, axis attribute %v", name, len(s), len(zp), n.Attrs)
			}
			out := make([]float32, len(q))
			for i := range q {
				g := 0
				if axis {
					g = i % cols
				}
				out[i] = float32(q[i]-zp[g]) * s[g]
			}
			return out
		case "Gather":
			book := init(n.In[0]).floats()
			var idx []int64
			for _, c := range g.Nodes {
				if c.Op == "Cast" && c.Out[0] == n.In[1] {
					idx = init(c.In[0]).ints()
				}
			}
			if idx == nil {
				idx = init(n.In[1]).ints()
			}
			out := make([]float32, len(idx))
			for i, k := range idx {
				out[i] = book[k]
			}
			return out
		}
		t.Fatalf("%s is made by %s", name, n.Op)
	}
	t.Fatalf("nothing makes %s", name)
	return nil
}

// TestExportEncodings: for each way a .mnc file stores a weight, the
// written model parses back (with a reader independent of the writer) to
// a graph whose weights compute to the file's values bit for bit, in the
// form the file's encoding calls for, at the opset it needs; shapes,
// names, types and the order of the nodes are what ONNX requires.
func TestExportEncodings(t *testing.T) {
	sizes := []int{30, 20, 12, 5}
	cases := []struct {
		name   string
		chain  []handmade.Step
		opt    Options
		types  []DataType // what w1's stored values are
		opset  int64
		nodeOp string // the node that makes w1 ("" for an initializer)
	}{
		{"float", nil, Options{}, []DataType{Float}, Base, ""},
		{"grid 8b per column", []handmade.Step{handmade.Symmetric(8, true)}, Options{}, []DataType{Int8, Float, Int8}, Base, "DequantizeLinear"},
		{"grid 4b per tensor", []handmade.Step{handmade.Symmetric(4, false)}, Options{}, []DataType{Int8, Float, Int8}, Base, "DequantizeLinear"},
		{"grid 4b as int4", []handmade.Step{handmade.Symmetric(4, false)}, Options{Int4: true}, []DataType{Int4, Float, Int4}, Wide, "DequantizeLinear"},
		{"grid 12b", []handmade.Step{handmade.Symmetric(12, false)}, Options{}, []DataType{Int16, Float, Int16}, Wide, "DequantizeLinear"},
		{"pruned grid", []handmade.Step{handmade.Prune(0.2), handmade.Symmetric(4, true)}, Options{Int4: true}, []DataType{Int4, Float, Int4}, Wide, "DequantizeLinear"},
		{"affine 8b per column", []handmade.Step{handmade.Affine(8, true)}, Options{}, []DataType{Int8, Float, Int8}, Base, "DequantizeLinear"},
		{"affine 4b as int4", []handmade.Step{handmade.Affine(4, false)}, Options{Int4: true}, []DataType{Int4, Float, Int4}, Wide, "DequantizeLinear"},
		{"codebook per column", []handmade.Step{handmade.Codebook(3, true)}, Options{}, []DataType{Uint8, Float}, Base, "Gather"},
		{"codebook", []handmade.Step{handmade.Codebook(4, false)}, Options{}, []DataType{Uint8, Float}, Base, "Gather"},
		{"pruned codebook", []handmade.Step{handmade.Prune(0.3), handmade.Codebook(4, false)}, Options{}, []DataType{Uint8, Float}, Base, "Gather"},
		{"pruned float", []handmade.Step{handmade.Prune(0.1)}, Options{}, []DataType{Float}, Base, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := handmade.Network(sizes, 3, c.chain...)
			_, f, err := mnc.Pack(model.Checkpoint{Params: p})
			if err != nil {
				t.Fatal(err)
			}
			m, rep, err := Export(f, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			back, err := parseModel(m.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if back.Opset != c.opset || back.IRVersion != irVersion[c.opset] || back.ProducerName != "mnistc" {
				t.Errorf("opset %d, IR %d, producer %q; want opset %d, IR %d", back.Opset, back.IRVersion, back.ProducerName, c.opset, irVersion[c.opset])
			}
			g := back.Graph
			in, out := g.Inputs, g.Outputs
			if len(in) != 1 || in[0].Name != Input || in[0].Type != Float || len(in[0].Dims) != 2 || in[0].Dims[0].Param != "N" || in[0].Dims[1].Value != 30 ||
				len(out) != 1 || out[0].Name != Output || out[0].Dims[0].Param != "N" || out[0].Dims[1].Value != 5 {
				t.Errorf("inputs %+v, outputs %+v", in, out)
			}
			// every value is defined once, before it is used
			defined := map[string]bool{Input: true}
			for _, it := range g.Inits {
				if defined[it.Name] {
					t.Errorf("%s defined twice", it.Name)
				}
				defined[it.Name] = true
			}
			for _, n := range g.Nodes {
				for _, x := range n.In {
					if !defined[x] {
						t.Errorf("%s reads %s before it is defined", n.Name, x)
					}
				}
				for _, x := range n.Out {
					if defined[x] {
						t.Errorf("%s defined twice", x)
					}
					defined[x] = true
				}
			}
			if !defined[Output] {
				t.Errorf("nothing makes %s", Output)
			}
			var got []DataType
			for _, it := range g.Inits {
				if strings.HasPrefix(it.Name, "w1") {
					got = append(got, it.Type)
				}
			}
			if !equalTypes(got, c.types) {
				t.Errorf("w1 stored as %v, want %v", got, c.types)
			}
			made := ""
			for _, n := range g.Nodes {
				if n.Out[0] == "w1" {
					made = n.Op
				}
			}
			if made != c.nodeOp {
				t.Errorf("w1 made by %q, want %q", made, c.nodeOp)
			}
			for _, tn := range f.Tensors {
				want := tn.Dense()
				have := weightValues(t, g, tn.Name)
				if len(have) != len(want) {
					t.Fatalf("%s: %d values, want %d", tn.Name, len(have), len(want))
				}
				for i := range want {
					if math.Float32bits(have[i]) != math.Float32bits(want[i]) && !(have[i] == 0 && want[i] == 0) {
						t.Fatalf("%s[%d] = %v in the graph, %v in the file", tn.Name, i, have[i], want[i])
					}
				}
			}
			if len(rep.Items) != len(f.Tensors) {
				t.Errorf("%d items for %d tensors", len(rep.Items), len(f.Tensors))
			}
		})
	}
}

func equalTypes(a, b []DataType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestExportActivations: each activation rule becomes the nodes Export
// documents, with the scale model.ActQuant uses.
func TestExportActivations(t *testing.T) {
	p := model.InitGlorot([]int{8, 6, 4, 3}, rand.New(rand.NewSource(2)))
	ops := func(aq *model.ActQuant) (string, Model) {
		_, f, err := mnc.Pack(model.Checkpoint{Params: p, Meta: model.Meta{ActQuant: aq}})
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := Export(f, Options{})
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseModel(m.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, n := range back.Graph.Nodes {
			s = append(s, n.Op)
		}
		return strings.Join(s, " "), back
	}
	layer := "MatMul Add Relu "
	qdq := "QuantizeLinear DequantizeLinear "
	for _, c := range []struct {
		name  string
		aq    *model.ActQuant
		want  string
		opset int64
	}{
		{"8 bits from 0", &model.ActQuant{Bits: 8, Calib: "minmax", Ranges: []model.Range{{Lo: 0, Hi: 1}, {Lo: 0, Hi: 2}, {Lo: 0, Hi: 3}}},
			qdq + layer + qdq + layer + qdq + "MatMul Add", Base},
		{"4 bits, lo 0.5, one point", &model.ActQuant{Bits: 4, Calib: "minmax", Ranges: []model.Range{{Lo: 0.5, Hi: 1}, {Lo: 0, Hi: 2}, {Lo: 1, Hi: 1}}},
			"Clip Sub " + qdq + "Add " + layer + "Clip " + qdq + layer + "Mul Add MatMul Add", Base},
		{"12 bits", &model.ActQuant{Bits: 12, Calib: "minmax", Ranges: []model.Range{{Lo: 0, Hi: 1}, {Lo: 0, Hi: 2}, {Lo: 0, Hi: 3}}},
			"Clip " + qdq + layer + "Clip " + qdq + layer + "Clip " + qdq + "MatMul Add", Wide},
		{"literal", &model.ActQuant{Bits: 1, Calib: "literal", Literal: true},
			"Div Round Mul " + layer + "Div Round Mul " + layer + "Div Round Mul MatMul Add", Base},
	} {
		got, m := ops(c.aq)
		if got != strings.TrimSpace(c.want) || m.Opset != c.opset {
			t.Errorf("%s: %s at opset %d\nwant %s at opset %d", c.name, got, m.Opset, c.want, c.opset)
		}
		if c.aq.Literal {
			continue
		}
		for _, it := range m.Graph.Inits {
			if it.Name == "act1_scale" {
				want := (c.aq.Ranges[1].Hi - c.aq.Ranges[1].Lo) / float32(int(1)<<c.aq.Bits-1)
				if s := it.floats(); len(s) != 1 || s[0] != want {
					t.Errorf("%s: act1 scale %v, want %v", c.name, s, want)
				}
			}
		}
	}
}
