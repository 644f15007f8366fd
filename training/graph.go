package training

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"mnistc/model"
)

// trainGraph is the network as a gorgonia expression graph for one fixed
// batch size: a1 = relu(x·W1 + b1), a_l = relu(a_{l−1}·W_l + b_l) for the
// middle layers, logits = a_{N−1}·W_N + b_N, cost = mean over the batch of
// −log softmax(logits)[y]. Its weight nodes are bound to the backing slices
// of a Params, so an optimizer that updates those slices in place updates
// every graph built over the same Params.
type trainGraph struct {
	g    *G.ExprGraph
	x, y *G.Node
	w    []*G.Node // w1, b1, …, wN, bN in checkpoint order
	dw   []*G.Node // the gradients of w, in the same order
	// The float32 data of the inputs and of the outputs read each step,
	// kept so a step does not ask gorgonia for them again (Data allocates).
	xd, yd, qd []float32
	out, lg    args
	vals       []G.Value // grads' scratch
	logits     *G.Node   // batch×classes
	cost       *G.Node
	m          *stepMachine
	xT, yT     *tensor.Dense
	batch      int
	in, cls    int // input width, classes
	// With distillation, q holds the teacher's soft targets for the batch.
	qT *tensor.Dense
	// With activation quantization, inputs are quantized as they load.
	aq *model.ActQuant
	// nw is the number of model tensors at the head of w and dw; learned
	// activation steps, if any, follow them.
	nw int
}

// newTrainGraph builds the graph for batches of the given size over p; with
// d, the cost is the distillation loss (see Distill); with aq, activations
// are fake-quantized (the input as it is loaded, each hidden ReLU output by
// a fakeQuant node whose gradient is the straight-through estimator); with
// steps too, the hidden outputs are quantized with learned steps (lsqAct),
// whose 1×1 nodes follow the model's tensors in w and dw.
//
// The first layer is one fused op without an input gradient (nothing below
// it learns); a middle layer is the linear op with its input gradient and
// ReLU fused in; the last is the linear op.
func newTrainGraph(p *model.Params, batch int, d *model.Distill, aq *model.ActQuant, steps *actSteps) (*trainGraph, error) {
	if p.Depth() < 2 {
		return nil, fmt.Errorf("the network needs at least one hidden layer, got %d layer(s)", p.Depth())
	}
	g := G.NewGraph()
	in, cls := p.Inputs(), p.Classes()
	tg := &trainGraph{g: g, batch: batch, aq: aq, in: in, cls: cls}
	tg.xd, tg.yd = make([]float32, batch*in), make([]float32, batch*cls)
	tg.xT = tensor.New(tensor.WithShape(batch, in), tensor.WithBacking(tg.xd))
	tg.yT = tensor.New(tensor.WithShape(batch, cls), tensor.WithBacking(tg.yd))
	tg.x = G.NewMatrix(g, tensor.Float32, G.WithShape(batch, in), G.WithName("x"), G.WithValue(tg.xT))
	tg.y = G.NewMatrix(g, tensor.Float32, G.WithShape(batch, cls), G.WithName("y"), G.WithValue(tg.yT))
	bind := func(name string, rows, cols int, data []float32) *G.Node {
		v := tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))
		return G.NewMatrix(g, tensor.Float32, G.WithShape(rows, cols), G.WithName(name), G.WithValue(v))
	}
	if steps != nil {
		aq = steps.aq
		tg.aq = aq
	}
	a := tg.x
	last := p.Depth() - 1
	var stepNodes []*G.Node
	for l, L := range p.Layers {
		w := bind(L.W.Name, L.In(), L.Out(), L.W.Data)
		b := bind(L.B.Name, 1, L.Out(), L.B.Data)
		tg.w = append(tg.w, w, b)
		var op G.Op
		switch {
		case l == 0:
			op = newHiddenLayer()
		case l < last:
			op = newLinearLayer(l+1, true)
		default:
			op = newLinearLayer(l+1, false)
		}
		var err error
		if a, err = G.ApplyOp(op, a, w, b); err != nil {
			return nil, fmt.Errorf("layer %d: %w", l+1, err)
		}
		if steps != nil && l < last {
			sn := bind(fmt.Sprintf("s%d", l+1), 1, 1, steps.s[l])
			stepNodes = append(stepNodes, sn)
			if a, err = G.ApplyOp(&lsqAct{aq: aq, q: steps.q}, a, sn); err != nil {
				return nil, fmt.Errorf("fake-quantize layer %d output: %w", l+1, err)
			}
		} else if aq != nil && l < last {
			if a, err = G.ApplyOp(fakeQuant{aq: aq, r: aq.Range(l + 1)}, a); err != nil {
				return nil, fmt.Errorf("fake-quantize layer %d output: %w", l+1, err)
			}
		}
	}
	tg.nw = len(tg.w)
	tg.w = append(tg.w, stepNodes...)
	tg.logits = a
	var err error
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
func (tg *trainGraph) distillCost(g *G.ExprGraph, logits, hard *G.Node, d *model.Distill) (*G.Node, error) {
	C := tg.cls
	tg.qd = make([]float32, tg.batch*C)
	tg.qT = tensor.New(tensor.WithShape(tg.batch, C), tensor.WithBacking(tg.qd))
	q := G.NewMatrix(g, tensor.Float32, G.WithShape(tg.batch, C), G.WithName("q"), G.WithValue(tg.qT))
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
// targets) and, when distilling, their rows of the soft targets, then
// quantizes the inputs when activations are quantized.
func (tg *trainGraph) load(x []float32, y []uint8, soft []float32, idx []int) {
	tg.copyIn(x, y, soft, idx)
	tg.finishInput(len(idx))
}

// copyIn is load without the input quantization, so the trainer can
// change the images (jitter, adversarial perturbation) before it.
func (tg *trainGraph) copyIn(x []float32, y []uint8, soft []float32, idx []int) {
	xd, yd, K, C := tg.xd, tg.yd, tg.in, tg.cls
	clear(yd)
	for r, i := range idx {
		copy(xd[r*K:(r+1)*K], x[i*K:(i+1)*K])
		yd[r*C+int(y[i])] = 1
	}
	if tg.qT != nil && soft != nil {
		qd := tg.qd
		for r, i := range idx {
			copy(qd[r*C:(r+1)*C], soft[i*C:(i+1)*C])
		}
	}
}

// finishInput quantizes the first n loaded images when activations are
// quantized.
func (tg *trainGraph) finishInput(n int) {
	if tg.aq != nil {
		tg.aq.QuantizeActivations(tg.xd[:n*tg.in], tg.aq.Range(0))
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
	C := tg.cls
	for r, i := range idx {
		if model.Argmax(lp[r*C:(r+1)*C]) == int(y[i]) {
			correct++
		}
	}
	return cost, correct, nil
}

// grads returns the gradient slices of w1, b1, …, wN, bN after run.
func (tg *trainGraph) grads() ([][]float32, error) {
	if len(tg.vals) != len(tg.dw) {
		tg.vals = make([]G.Value, len(tg.dw))
	}
	vals := tg.vals
	for i, n := range tg.dw {
		if vals[i] = tg.m.value(n); vals[i] == nil {
			return nil, fmt.Errorf("gradient of %s was not computed", tg.w[i].Name())
		}
	}
	if _, err := tg.out.f32s("gradients", vals...); err != nil {
		return nil, err
	}
	return tg.out.d[:len(tg.dw)], nil
}
