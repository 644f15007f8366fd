package search

import (
	"fmt"

	"mnistc/compress"
	"mnistc/mnc"
	"mnistc/model"
)

// trainingKeys are the prune keys only training reads (compress refuses
// them): dropped for the post-training application of a recipe.
var trainingKeys = []string{"schedule", "rounds", "every", "ramp"}

// postTraining builds the compress passes of specs without their training
// keys. A neuron pruning pass is returned apart: it is applied first as
// masks and last as the removal of the (then zero) units, as training
// holds it.
func postTraining(specs []string) (neuron compress.Pass, rest []compress.Pass, err error) {
	var texts []string
	var neuronText string
	for _, text := range specs {
		s, err := compress.ParseSpec(text)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range trainingKeys {
			delete(s.Args, k)
		}
		if s.Name == "prune" && s.Args["method"] == "neuron" {
			neuronText = s.String()
			continue
		}
		texts = append(texts, s.String())
	}
	if neuronText != "" {
		ps, err := compress.Build([]string{neuronText})
		if err != nil {
			return nil, nil, err
		}
		neuron = ps[0]
	}
	rest, err = compress.Build(texts)
	return neuron, rest, err
}

// applySpecs applies pass specs to p after training, the way training in
// the loop holds them: neuron-pruned units are zeroed first, so magnitude
// pruning (counted over the full tensors) keeps weights of surviving units
// only; then the other passes in order; then the zero units are removed,
// leaving the smaller network. It never changes p.
func applySpecs(p model.Params, specs []string) (model.Params, error) {
	neuron, rest, err := postTraining(specs)
	if err != nil {
		return model.Params{}, err
	}
	st := compress.State{Params: p.Clone()}
	if neuron != nil {
		masks, err := compress.PruneMasks(&st.Params, neuron.Spec())
		if err != nil {
			return model.Params{}, err
		}
		for name, m := range masks {
			t := st.Params.Get(name)
			for i, pruned := range m {
				if pruned {
					t.Data[i] = 0
				}
			}
		}
	}
	for _, x := range rest {
		if st, err = x.Apply(st, compress.Env{}); err != nil {
			return model.Params{}, err
		}
	}
	if neuron != nil {
		if st, err = neuron.Apply(st, compress.Env{}); err != nil {
			return model.Params{}, err
		}
	}
	return st.Params, nil
}

// packedBytes returns the length of p packed as a .mnc file with meta's
// lean part, as `mnistc pack --lean` writes it.
func packedBytes(p model.Params, meta model.Meta) (int, error) {
	b, _, err := mnc.Pack(model.Checkpoint{Params: p, Meta: mnc.Lean(meta)})
	if err != nil {
		return 0, fmt.Errorf("pack: %w", err)
	}
	return len(b), nil
}
