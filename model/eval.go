package model

import "mnistc/data"

// Result is the evaluation of a network on a labelled set.
type Result struct {
	Correct   int                   `json:"correct"`
	Total     int                   `json:"total"`
	Accuracy  float64               `json:"accuracy"`
	Loss      float64               `json:"loss"`
	PerClass  [Classes]float64      `json:"per_class_accuracy"`
	Confusion [Classes][Classes]int `json:"confusion"` // [true][predicted]
}

// Evaluate runs the network over s and returns accuracy, mean cross-entropy,
// per-class accuracy and the confusion matrix.
func Evaluate(p Params, s data.Set, aq *ActQuant) Result {
	return Score(Forward(p, s.X, s.Len(), aq), s)
}

// Score turns the logits (n×10) of the n images of s into a Result.
func Score(logits []float32, s data.Set) Result {
	n := s.Len()
	var r Result
	r.Total = n
	var loss float64
	var perTotal [Classes]int
	for i := 0; i < n; i++ {
		row := logits[i*Classes : (i+1)*Classes]
		y := int(s.Y[i])
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
	for c := 0; c < Classes; c++ {
		if perTotal[c] > 0 {
			r.PerClass[c] = float64(r.Confusion[c][c]) / float64(perTotal[c])
		}
	}
	return r
}

// Predict returns the predicted class of each image in s.
func Predict(p Params, s data.Set, aq *ActQuant) []int {
	logits := Forward(p, s.X, s.Len(), aq)
	pred := make([]int, s.Len())
	for i := range pred {
		pred[i] = Argmax(logits[i*Classes : (i+1)*Classes])
	}
	return pred
}
