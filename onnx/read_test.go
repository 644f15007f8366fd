package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
)

// A protobuf reader for the tests: it parses what Marshal writes (and what
// ONNX Runtime writes for an optimized model) back into the same structs,
// independently of the writer's code, so a test can check the bytes mean
// what was meant.

type field struct {
	num  int
	wire int
	v    uint64 // varint or fixed32
	b    []byte // length-delimited
}

func fields(b []byte) ([]field, error) {
	var out []field
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("bad key")
		}
		b = b[n:]
		f := field{num: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case wireVarint:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return nil, fmt.Errorf("field %d: bad varint", f.num)
			}
			f.v, b = v, b[n:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, fmt.Errorf("field %d: bad length", f.num)
			}
			f.b, b = b[n:n+int(l)], b[n+int(l):]
		case wireFixed:
			if len(b) < 4 {
				return nil, fmt.Errorf("field %d: truncated fixed32", f.num)
			}
			f.v, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case 1:
			if len(b) < 8 {
				return nil, fmt.Errorf("field %d: truncated fixed64", f.num)
			}
			f.v, b = binary.LittleEndian.Uint64(b), b[8:]
		default:
			return nil, fmt.Errorf("field %d: wire type %d", f.num, f.wire)
		}
		out = append(out, f)
	}
	return out, nil
}

func must(fs []field, err error) []field {
	if err != nil {
		panic(err)
	}
	return fs
}

// parseModel reads ModelProto bytes.
func parseModel(b []byte) (m Model, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	for _, f := range must(fields(b)) {
		switch f.num {
		case 1:
			m.IRVersion = int64(f.v)
		case 2:
			m.ProducerName = string(f.b)
		case 3:
			m.ProducerVersion = string(f.b)
		case 6:
			m.DocString = string(f.b)
		case 7:
			m.Graph = parseGraph(f.b)
		case 8:
			domain, version := "", int64(0)
			for _, o := range must(fields(f.b)) {
				if o.num == 1 {
					domain = string(o.b)
				} else if o.num == 2 {
					version = int64(o.v)
				}
			}
			if domain == "" || domain == "ai.onnx" {
				m.Opset = version
			}
		case 14:
			var kv [2]string
			for _, p := range must(fields(f.b)) {
				kv[p.num-1] = string(p.b)
			}
			m.Props = append(m.Props, kv)
		}
	}
	return m, nil
}

func parseGraph(b []byte) Graph {
	var g Graph
	for _, f := range must(fields(b)) {
		switch f.num {
		case 1:
			g.Nodes = append(g.Nodes, parseNode(f.b))
		case 2:
			g.Name = string(f.b)
		case 5:
			g.Inits = append(g.Inits, parseTensor(f.b))
		case 11:
			g.Inputs = append(g.Inputs, parseValueInfo(f.b))
		case 12:
			g.Outputs = append(g.Outputs, parseValueInfo(f.b))
		}
	}
	return g
}

func parseNode(b []byte) Node {
	var n Node
	for _, f := range must(fields(b)) {
		switch f.num {
		case 1:
			n.In = append(n.In, string(f.b))
		case 2:
			n.Out = append(n.Out, string(f.b))
		case 3:
			n.Name = string(f.b)
		case 4:
			n.Op = string(f.b)
		case 5:
			var a Attr
			for _, p := range must(fields(f.b)) {
				switch p.num {
				case 1:
					a.Name = string(p.b)
				case 3:
					a.Int = int64(p.v)
				}
			}
			n.Attrs = append(n.Attrs, a)
		}
	}
	return n
}

func parseTensor(b []byte) Tensor {
	var t Tensor
	for _, f := range must(fields(b)) {
		switch f.num {
		case 1:
			if f.wire == wireBytes { // packed
				for p := f.b; len(p) > 0; {
					v, n := binary.Uvarint(p)
					if n <= 0 {
						panic("bad packed dims")
					}
					t.Dims, p = append(t.Dims, int64(v)), p[n:]
				}
			} else {
				t.Dims = append(t.Dims, int64(f.v))
			}
		case 2:
			t.Type = DataType(f.v)
		case 4: // float_data, packed
			for p := f.b; len(p) >= 4; p = p[4:] {
				t.Raw = append(t.Raw, p[:4]...)
			}
		case 8:
			t.Name = string(f.b)
		case 9:
			t.Raw = f.b
		}
	}
	return t
}

func parseValueInfo(b []byte) ValueInfo {
	var v ValueInfo
	for _, f := range must(fields(b)) {
		switch f.num {
		case 1:
			v.Name = string(f.b)
		case 2:
			for _, tp := range must(fields(f.b)) {
				if tp.num != 1 {
					continue
				}
				for _, tt := range must(fields(tp.b)) {
					switch tt.num {
					case 1:
						v.Type = DataType(tt.v)
					case 2:
						for _, d := range must(fields(tt.b)) {
							var dim Dim
							for _, dv := range must(fields(d.b)) {
								if dv.num == 1 {
									dim.Value = int64(dv.v)
								} else if dv.num == 2 {
									dim.Param = string(dv.b)
								}
							}
							v.Dims = append(v.Dims, dim)
						}
					}
				}
			}
		}
	}
	return v
}

// floats decodes a float32 tensor's raw data.
func (t Tensor) floats() []float32 {
	v := make([]float32, len(t.Raw)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Raw[4*i:]))
	}
	return v
}
