package training

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// stepMachine runs a gorgonia expression graph — its nodes, ops and the
// backward pass G.Grad added to it — by calling each op's Do in gorgonia's
// topological order on the calling goroutine, keeping every value in a
// slot of its own.
//
// It replaces gorgonia's tape machine for training steps because of what a
// RunAll costs here: each call locks the caller's OS thread and runs the
// program on a new goroutine, so every step hands the processor to another
// thread and back (Go issue 21827) — two futex wake-ups, about 80 µs of
// CPU per step on these virtual machines, as much as the whole first-layer
// forward pass at batch 32. The ops here own their output buffers and
// overwrite no input, so nothing else of the tape machine's (register
// allocation, in-place variants) is needed. The two execute the same ops
// on the same values: TestStepMachineMatchesTapeMachine checks the cost,
// logits and gradients agree bit for bit.
type stepMachine struct {
	steps []execStep
	vals  []G.Value
	slot  map[*G.Node]int
}

type execStep struct {
	node *G.Node
	op   G.Op      // nil for an input: its bound value is read each run
	in   []int     // the slots of the op's inputs, in order
	args []G.Value // reused argument list
}

// newStepMachine orders g's nodes for execution.
func newStepMachine(g *G.ExprGraph) (*stepMachine, error) {
	sorted, err := G.Sort(g) // roots first
	if err != nil {
		return nil, err
	}
	m := &stepMachine{slot: make(map[*G.Node]int, len(sorted)), vals: make([]G.Value, len(sorted))}
	for i := len(sorted) - 1; i >= 0; i-- {
		n := sorted[i]
		s := execStep{node: n, op: n.Op()}
		if s.op != nil {
			kids := g.From(n.ID())
			for kids.Next() {
				k, ok := kids.Node().(*G.Node)
				if !ok {
					return nil, fmt.Errorf("graph node %v has a child that is not a gorgonia node", n)
				}
				at, ok := m.slot[k]
				if !ok {
					return nil, fmt.Errorf("graph node %v runs before its input %v", n, k)
				}
				s.in = append(s.in, at)
			}
			s.args = make([]G.Value, len(s.in))
		}
		m.slot[n] = len(m.steps)
		m.steps = append(m.steps, s)
	}
	return m, nil
}

// run executes every node once.
func (m *stepMachine) run() error {
	for i := range m.steps {
		s := &m.steps[i]
		if s.op == nil {
			if m.vals[i] = s.node.Value(); m.vals[i] == nil {
				return fmt.Errorf("input %v has no value", s.node)
			}
			continue
		}
		for k, at := range s.in {
			s.args[k] = m.vals[at]
		}
		v, err := s.op.Do(s.args...)
		if err != nil {
			return fmt.Errorf("%v: %w", s.op, err)
		}
		m.vals[i] = v
	}
	return nil
}

// value returns n's value from the last run.
func (m *stepMachine) value(n *G.Node) G.Value {
	at, ok := m.slot[n]
	if !ok {
		return nil
	}
	return m.vals[at]
}
