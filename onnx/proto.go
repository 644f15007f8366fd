package onnx

import (
	"encoding/binary"
	"math"
	"strconv"
)

// The messages below are the subset of onnx.proto (ONNX's protobuf schema,
// onnx/onnx.proto3 in the ONNX repository) that a dense network needs,
// with the schema's field numbers. Marshal writes them in protobuf's wire
// format by hand: varints, length-delimited fields and packed repeated
// integers are all it takes, which keeps a generated 10,000-line binding
// out of the build.

// DataType is TensorProto.DataType: the element type of a tensor.
type DataType int32

// The element types this package writes.
const (
	Float  DataType = 1
	Uint8  DataType = 2
	Int8   DataType = 3
	Uint16 DataType = 4
	Int16  DataType = 5
	Int32  DataType = 6
	Int64  DataType = 7
	Uint4  DataType = 21 // opset 21 and later, two per byte (first in the low nibble)
	Int4   DataType = 22
)

func (t DataType) String() string {
	switch t {
	case Float:
		return "float32"
	case Uint8:
		return "uint8"
	case Int8:
		return "int8"
	case Uint16:
		return "uint16"
	case Int16:
		return "int16"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Uint4:
		return "uint4"
	case Int4:
		return "int4"
	}
	return "type" + strconv.Itoa(int(t))
}

// Model is ModelProto: the graph and the operator set it is written for.
type Model struct {
	IRVersion       int64 // 1
	Opset           int64 // opset_import (8) of the default domain
	ProducerName    string
	ProducerVersion string
	DocString       string
	Graph           Graph
	Props           [][2]string // metadata_props (14): key, value
}

// Graph is GraphProto.
type Graph struct {
	Name    string
	Nodes   []Node
	Inits   []Tensor
	Inputs  []ValueInfo
	Outputs []ValueInfo
}

// Node is NodeProto: one operator.
type Node struct {
	Op    string
	Name  string
	In    []string
	Out   []string
	Attrs []Attr
}

// Attr is an AttributeProto holding one integer (the only kind used here:
// DequantizeLinear's axis).
type Attr struct {
	Name string
	Int  int64
}

// Tensor is TensorProto with its data in raw_data (little-endian, as the
// schema specifies).
type Tensor struct {
	Name string
	Type DataType
	Dims []int64
	Raw  []byte
}

// ValueInfo is ValueInfoProto for a tensor: its name, element type and
// shape, where a dimension is a number or, when Param is set, symbolic.
type ValueInfo struct {
	Name string
	Type DataType
	Dims []Dim
}

// Dim is one dimension of a ValueInfo: Value, or Param ("N") if not empty.
type Dim struct {
	Value int64
	Param string
}

// enc accumulates protobuf wire-format bytes.
type enc struct{ b []byte }

// wire types
const (
	wireVarint = 0
	wireBytes  = 2
	wireFixed  = 5
)

func (e *enc) tag(field, wire int) { e.b = binary.AppendUvarint(e.b, uint64(field)<<3|uint64(wire)) }

// int writes a varint field (int32, int64 and enums: negative values take
// ten bytes, as protobuf specifies). Zero is written too: proto3 would omit
// it, and a reader treats both the same.
func (e *enc) int(field int, v int64) {
	e.tag(field, wireVarint)
	e.b = binary.AppendUvarint(e.b, uint64(v))
}

func (e *enc) bytes(field int, p []byte) {
	e.tag(field, wireBytes)
	e.b = binary.AppendUvarint(e.b, uint64(len(p)))
	e.b = append(e.b, p...)
}

func (e *enc) str(field int, s string) {
	if s != "" {
		e.bytes(field, []byte(s))
	}
}

func (e *enc) msg(field int, m func(*enc)) {
	var sub enc
	m(&sub)
	e.bytes(field, sub.b)
}

// packed writes repeated int64 values as one packed field.
func (e *enc) packed(field int, v []int64) {
	var sub enc
	for _, x := range v {
		sub.b = binary.AppendUvarint(sub.b, uint64(x))
	}
	e.bytes(field, sub.b)
}

// Marshal returns the model as ONNX protobuf bytes.
func (m *Model) Marshal() []byte {
	var e enc
	e.int(1, m.IRVersion)
	e.str(2, m.ProducerName)
	e.str(3, m.ProducerVersion)
	e.str(6, m.DocString)
	e.msg(7, m.Graph.marshal)
	e.msg(8, func(o *enc) { // OperatorSetIdProto: domain "" (ai.onnx), version
		o.int(2, m.Opset)
	})
	for _, kv := range m.Props {
		e.msg(14, func(p *enc) { p.str(1, kv[0]); p.str(2, kv[1]) })
	}
	return e.b
}

func (g *Graph) marshal(e *enc) {
	for i := range g.Nodes {
		e.msg(1, g.Nodes[i].marshal)
	}
	e.str(2, g.Name)
	for i := range g.Inits {
		e.msg(5, g.Inits[i].marshal)
	}
	for i := range g.Inputs {
		e.msg(11, g.Inputs[i].marshal)
	}
	for i := range g.Outputs {
		e.msg(12, g.Outputs[i].marshal)
	}
}

func (n *Node) marshal(e *enc) {
	for _, s := range n.In {
		e.bytes(1, []byte(s)) // an empty name is an omitted optional input
	}
	for _, s := range n.Out {
		e.bytes(2, []byte(s))
	}
	e.str(3, n.Name)
	e.str(4, n.Op)
	for _, a := range n.Attrs {
		e.msg(5, func(p *enc) {
			p.str(1, a.Name)
			p.int(3, a.Int)
			p.int(20, 2) // AttributeType INT
		})
	}
}

func (t *Tensor) marshal(e *enc) {
	if len(t.Dims) > 0 {
		e.packed(1, t.Dims)
	}
	e.int(2, int64(t.Type))
	e.str(8, t.Name)
	e.bytes(9, t.Raw)
}

func (v *ValueInfo) marshal(e *enc) {
	e.str(1, v.Name)
	e.msg(2, func(tp *enc) { // TypeProto
		tp.msg(1, func(tt *enc) { // TypeProto.Tensor
			tt.int(1, int64(v.Type))
			tt.msg(2, func(sh *enc) { // TensorShapeProto
				for _, d := range v.Dims {
					sh.msg(1, func(dm *enc) {
						if d.Param != "" {
							dm.str(2, d.Param)
						} else {
							dm.int(1, d.Value)
						}
					})
				}
			})
		})
	})
}

// FloatTensor returns a float32 initializer.
func FloatTensor(name string, dims []int64, v []float32) Tensor {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, Type: Float, Dims: dims, Raw: raw}
}

// IntTensor returns an integer initializer of type t (Int4, Uint4, Int8,
// Uint8, Int16, Uint16, Int32) holding v, which must fit the type: 4-bit
// values two to a byte, the first in the low nibble.
func IntTensor(name string, t DataType, dims []int64, v []int32) Tensor {
	var raw []byte
	switch t {
	case Int4, Uint4:
		raw = make([]byte, (len(v)+1)/2)
		for i, x := range v {
			raw[i/2] |= byte(x&0xf) << (4 * (i % 2))
		}
	case Int8, Uint8:
		raw = make([]byte, len(v))
		for i, x := range v {
			raw[i] = byte(x)
		}
	case Int16, Uint16:
		raw = make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(raw[2*i:], uint16(x))
		}
	case Int32:
		raw = make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(x))
		}
	default:
		panic("onnx: IntTensor of " + t.String())
	}
	return Tensor{Name: name, Type: t, Dims: dims, Raw: raw}
}
