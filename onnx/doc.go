// Package onnx writes a network as an ONNX model (the open format that ONNX
// Runtime, TensorRT, OpenVINO, TFLite converters and most deployment tools
// read), so that a model trained and compressed by mnistc runs outside it.
//
// Export translates a packed .mnc file: float32 layers become MatMul, Add
// and Relu; grid-quantized weights stay integers (int8, or int4/int16 where
// only those fit) through DequantizeLinear with their per-tensor or
// per-column scales, codebooks stay indices through Gather, and the
// activation quantizer becomes QuantizeLinear/DequantizeLinear pairs — the
// "QDQ" form that runtimes turn into integer kernels — so the file stays
// about as small as the quantized weights. Every value the graph computes
// before a matrix product is the one mnistc computes, bit for bit (see
// Export).
//
// The protobuf encoding is written by hand (proto.go): the handful of
// messages a dense network needs, with onnx.proto's field numbers.
// scripts/onnx/run.mjs runs an exported file in ONNX Runtime; the tests
// check its predictions on the MNIST test set against mnistc's.
package onnx
