package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// trainGraph is the article's network as a gorgonia expression graph for one
// fixed batch size: logits = relu(x·W1 + b1)·W2 + b2, cost = mean over the
// batch of −log softmax(logits)[y]. Its weight nodes are bound to the
// backing slices of a Params, so an optimizer that updates those slices in
// place updates every graph built over the same Params.
type trainGraph struct {
	g    *G.ExprGraph
	x, y *G.Node
	w    []*G.Node // w1, b1, w2, b2 in checkpoint order
	dw   []*G.Node // the gradients of w, in the same order
	// The float32 data of the inputs and of the outputs read each step,
	// kept so a step does not ask gorgonia for them again (Data allocates).
	xd, yd, qd []float32
	out, lg    args
	logits     *G.Node // batch×10
	cost       *G.Node
	m          *stepMachine
	xT, yT     *tensor.Dense
	batch      int
	// With distillation, q holds the teacher's soft targets for the batch.
	qT *tensor.Dense
	// With activation quantization, inputs are quantized as they load.
	aq *ActQuant
}

// newTrainGraph builds the graph for batches of the given size over p; with
// d, the cost is the distillation loss (see Distill); with aq, activations
// are fake-quantized (the input as it is loaded, the hidden ReLU output by
// a fakeQuant node whose gradient is the straight-through estimator).
func newTrainGraph(p *Params, batch int, d *Distill, aq *ActQuant) (*trainGraph, error) {
	h := p.Hidden()
	g := G.NewGraph()
	tg := &trainGraph{g: g, batch: batch, aq: aq}
	tg.xd, tg.yd = make([]float32, batch*Inputs), make([]float32, batch*Classes)
	tg.xT = tensor.New(tensor.WithShape(batch, Inputs), tensor.WithBacking(tg.xd))
	tg.yT = tensor.New(tensor.WithShape(batch, Classes), tensor.WithBacking(tg.yd))
	tg.x = G.NewMatrix(g, tensor.Float32, G.WithShape(batch, Inputs), G.WithName("x"), G.WithValue(tg.xT))
	tg.y = G.NewMatrix(g, tensor.Float32, G.WithShape(batch, Classes), G.WithName("y"), G.WithValue(tg.yT))
	bind := func(name string, rows, cols int, data []float32) *G.Node {
		v := tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))
		return G.NewMatrix(g, tensor.Float32, G.WithShape(rows, cols), G.WithName(name), G.WithValue(v))
	}
	w1 := bind("w1", Inputs, h, p.W1.Data)
	b1 := bind("b1", 1, h, p.B1.Data)
	w2 := bind("w2", h, Classes, p.W2.Data)
	b2 := bind("b2", 1, Classes, p.B2.Data)
	tg.w = []*G.Node{w1, b1, w2, b2}

	a1, err := G.ApplyOp(newHiddenLayer(), tg.x, w1, b1)
	if err != nil {
		return nil, fmt.Errorf("hidden layer: %w", err)
	}
	if aq != nil {
		if a1, err = G.ApplyOp(fakeQuant{aq: aq, r: aq.Hidden}, a1); err != nil {
			return nil, fmt.Errorf("fake-quantize hidden: %w", err)
		}
	}
	if tg.logits, err = G.ApplyOp(newOutputLayer(), a1, w2, b2); err != nil {
		return nil, fmt.Errorf("output layer: %w", err)
	}
	if tg.cost, err = G.ApplyOp(newSoftmaxCE(1), tg.logits, tg.y); err != nil {
		return nil, fmt.Errorf("cross-entropy: %w", err)
	}
	if d != nil {
		if tg.cost, err = tg.distillCost(g, tg.logits, tg.cost, d); err != nil {
			return nil, err
		}
	}
	if tg.dw, err = G.Grad(tg.cost, tg.w...); err != nil {
		return nil, fmt.Errorf("grad: %w", err)
	}
	if tg.m, err = newStepMachine(g); err != nil {
		return nil, fmt.Errorf("order graph: %w", err)
	}
	return tg, nil
}

// distillCost is α·T²·CE(q, softmax(z/T)) + (1−α)·CE(y, softmax(z)).
// CE(q, ·) is KL(q‖·) less the teacher's Σ q log q, which has no gradient;
// the trainer adds it back to the loss it reports.
func (tg *trainGraph) distillCost(g *G.ExprGraph, logits, hard *G.Node, d *Distill) (*G.Node, error) {
	tg.qd = make([]float32, tg.batch*Classes)
	tg.qT = tensor.New(tensor.WithShape(tg.batch, Classes), tensor.WithBacking(tg.qd))
	q := G.NewMatrix(g, tensor.Float32, G.WithShape(tg.batch, Classes), G.WithName("q"), G.WithValue(tg.qT))
	soft, err := G.ApplyOp(newSoftmaxCE(d.Temperature), logits, q)
	if err != nil {
		return nil, fmt.Errorf("soft cross-entropy: %w", err)
	}
	a, err := G.Mul(soft, G.NewConstant(float32(d.Alpha*d.Temperature*d.Temperature)))
	if err != nil {
		return nil, err
	}
	b, err := G.Mul(hard, G.NewConstant(float32(1-d.Alpha)))
	if err != nil {
		return nil, err
	}
	return G.Add(a, b)
}

// load copies the images idx of s into the graph's inputs (one-hot
// targets) and, when distilling, their rows of the soft targets.
func (tg *trainGraph) load(x []float32, y []uint8, soft []float32, idx []int) {
	xd, yd := tg.xd, tg.yd
	clear(yd)
	for r, i := range idx {
		copy(xd[r*Inputs:(r+1)*Inputs], x[i*Inputs:(i+1)*Inputs])
		yd[r*Classes+int(y[i])] = 1
	}
	if tg.aq != nil {
		tg.aq.quantizeInPlace(xd[:len(idx)*Inputs], tg.aq.Input)
	}
	if tg.qT != nil {
		qd := tg.qd
		for r, i := range idx {
			copy(qd[r*Classes:(r+1)*Classes], soft[i*Classes:(i+1)*Classes])
		}
	}
}

// run computes the cost and the gradients for the loaded batch. It returns
// the cost and the number of correct predictions in the batch.
func (tg *trainGraph) run(y []uint8, idx []int) (float64, int, error) {
	if err := tg.m.run(); err != nil {
		return 0, 0, err
	}
	var cost float64
	switch c := tg.m.value(tg.cost).(type) {
	case *G.F32:
		cost = float64(*c)
	default:
		cost = float64(c.Data().(float32))
	}
	d, err := tg.lg.f32s("logits", tg.m.value(tg.logits))
	if err != nil {
		return 0, 0, err
	}
	lp := d[0]
	correct := 0
	for r, i := range idx {
		if Argmax(lp[r*Classes:(r+1)*Classes]) == int(y[i]) {
			correct++
		}
	}
	return cost, correct, nil
}

// grads returns the gradient slices of w1, b1, w2, b2 after run.
func (tg *trainGraph) grads() ([][]float32, error) {
	var vals [4]G.Value
	for i, n := range tg.dw {
		if vals[i] = tg.m.value(n); vals[i] == nil {
			return nil, fmt.Errorf("gradient of %s was not computed", tg.w[i].Name())
		}
	}
	if _, err := tg.out.f32s("gradients", vals[:len(tg.dw)]...); err != nil {
		return nil, err
	}
	return tg.out.d[:len(tg.dw)], nil
}
