package model

import "mnistc/data"

// Result is the evaluation of a network on a labelled set.
type Result struct {
	Correct   int       `json:"correct"`
	Total     int       `json:"total"`
	Accuracy  float64   `json:"accuracy"`
	Loss      float64   `json:"loss"`
	PerClass  []float64 `json:"per_class_accuracy"`
	Confusion [][]int   `json:"confusion"` // [true][predicted]
}

// Evaluate runs the network over s and returns accuracy, mean cross-entropy,
// per-class accuracy and the confusion matrix.
func Evaluate(p Params, s data.Set, aq *ActQuant) Result {
	return Score(Forward(p, s.X, s.Len(), aq), p.Classes(), s)
}

// Score turns the logits (n×classes) of the n images of s into a Result.
// A label outside 0..classes−1 counts as a wrong prediction with the
// largest loss of the set (callers check the data first; see CheckData).
func Score(logits []float32, classes int, s data.Set) Result {
	n := s.Len()
	r := Result{Total: n, PerClass: make([]float64, classes), Confusion: make([][]int, classes)}
	for c := range r.Confusion {
		r.Confusion[c] = make([]int, classes)
	}
	var loss float64
	perTotal := make([]int, classes)
	for i := 0; i < n; i++ {
		row := logits[i*classes : (i+1)*classes]
		y := int(s.Y[i])
		if y >= classes {
			continue
		}
		pred := Argmax(row)
		r.Confusion[y][pred]++
		perTotal[y]++
		if pred == y {
			r.Correct++
		}
		loss -= logSoftmaxAt(row, y)
	}
	if n > 0 {
		r.Accuracy = float64(r.Correct) / float64(n)
		r.Loss = loss / float64(n)
	}
	for c := 0; c < classes; c++ {
		if perTotal[c] > 0 {
			r.PerClass[c] = float64(r.Confusion[c][c]) / float64(perTotal[c])
		}
	}
	return r
}

// Predict returns the predicted class of each image in s.
func Predict(p Params, s data.Set, aq *ActQuant) []int {
	logits := Forward(p, s.X, s.Len(), aq)
	c := p.Classes()
	pred := make([]int, s.Len())
	for i := range pred {
		pred[i] = Argmax(logits[i*c : (i+1)*c])
	}
	return pred
}
