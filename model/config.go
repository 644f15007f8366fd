package model

import (
	"encoding/json"
	"fmt"
	"strings"
)

// TrainConfig is the training recipe. DefaultTrainConfig is the article's:
// Keras defaults for Adam, batch 32, 10 epochs, Glorot-uniform kernels,
// one hidden layer of 128 units.
type TrainConfig struct {
	Epochs int     `json:"epochs"`
	Batch  int     `json:"batch"`
	LR     float64 `json:"lr"`
	Beta1  float64 `json:"beta1"`
	Beta2  float64 `json:"beta2"`
	Eps    float64 `json:"eps"`
	Seed   int64   `json:"seed"`
	// Layers are the hidden widths, input side first: [128] is the
	// article's 784-128-10, [300, 100] LeNet-300-100. (Checkpoints written
	// before networks had depth record "hidden": H; they read as [H].)
	Layers []int `json:"layers"`
	// TrainImages and ValImages record the sizes of the sets used; they are
	// filled in by training, not read by it.
	TrainImages int `json:"train_images"`
	ValImages   int `json:"val_images"`
	// Distill, when set, trains from a teacher's soft targets.
	Distill *Distill `json:"distill,omitempty"`
	// ActQuant, when set, fake-quantizes activations during training
	// (fixed, calibrated ranges unless LearnAct).
	ActQuant *ActQuant `json:"actquant,omitempty"`
	// LearnAct learns the hidden activations' quantizer steps with the
	// weights (LSQ, Esser et al. 2020), starting from the steps with the
	// least squared error on the first training images; the trained
	// ranges are [0, step·(2^bits−1)]. The pixels' range (ActQuant's)
	// stays.
	LearnAct bool `json:"learn_act,omitempty"`
	// Schedule is the learning-rate schedule: "" or "constant" keeps LR
	// throughout; "cosine" anneals it to 0 over the run,
	// LR·(1 + cos(π·t/T))/2 at step t of T.
	Schedule string `json:"schedule,omitempty"`
	// Jitter, when above 0, shifts each training image by a random whole
	// number of pixels in [−Jitter, Jitter] along each axis every time it
	// is used (Hinton et al.'s MNIST jitter), from a stream of its own
	// seeded by Seed. The images must be square.
	Jitter int `json:"jitter,omitempty"`
	// Adversarial, when set, trains on adversarial examples too.
	Adversarial *Adversarial `json:"adversarial,omitempty"`
}

// Adversarial is adversarial training (Goodfellow et al. 2015; Madry et
// al. 2018): in each batch a fraction Mix of the images is replaced by an
// attack's examples crafted against the weights of that step.
type Adversarial struct {
	Attack string  `json:"attack" yaml:"attack"` // fgsm | pgd
	Eps    float64 `json:"eps" yaml:"eps"`       // L∞ radius on pixels in [0, 1]
	Mix    float64 `json:"mix" yaml:"mix"`       // fraction of each batch replaced, in (0, 1]
	// Steps and Step are PGD's iterations and step size (0: the attack's
	// defaults).
	Steps int     `json:"steps,omitempty" yaml:"steps"`
	Step  float64 `json:"step,omitempty" yaml:"step"`
}

// Validate names the field out of range.
func (a Adversarial) Validate() error {
	switch {
	case a.Attack != "fgsm" && a.Attack != "pgd":
		return fmt.Errorf("adversarial attack %q unknown: want fgsm or pgd", a.Attack)
	case !(a.Eps > 0 && a.Eps <= 1):
		return fmt.Errorf("adversarial eps %v out of range: want 0 < eps ≤ 1", a.Eps)
	case !(a.Mix > 0 && a.Mix <= 1):
		return fmt.Errorf("adversarial mix %v out of range: want 0 < mix ≤ 1", a.Mix)
	case a.Steps < 0 || a.Steps > 1000:
		return fmt.Errorf("adversarial steps %d out of range: want 0–1000", a.Steps)
	case !(a.Step >= 0 && a.Step <= 1):
		return fmt.Errorf("adversarial step %v out of range: want 0 ≤ step ≤ 1", a.Step)
	}
	return nil
}

// UnmarshalJSON reads a recipe, taking the one-hidden-layer "hidden": H of
// earlier checkpoints as layers [H].
func (c *TrainConfig) UnmarshalJSON(b []byte) error {
	type plain TrainConfig
	var v struct {
		plain
		Hidden int `json:"hidden"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = TrainConfig(v.plain)
	if c.Layers == nil && v.Hidden != 0 {
		c.Layers = []int{v.Hidden}
	}
	return nil
}

// DefaultTrainConfig returns the article's recipe with seed 1.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Epochs: 10, Batch: 32, LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-7, Seed: 1, Layers: []int{DefaultHidden}}
}

// Sizes returns the network's widths for data with the given input width
// and class count: [inputs, Layers…, classes].
func (c TrainConfig) Sizes(inputs, classes int) []int {
	s := append([]int{inputs}, c.Layers...)
	return append(s, classes)
}

// Validate reports the first field out of range, named as its flag is.
func (c TrainConfig) Validate() error {
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("epochs %d out of range: want ≥ 1", c.Epochs)
	case c.Batch < 1:
		return fmt.Errorf("batch %d out of range: want ≥ 1", c.Batch)
	case !(c.LR > 0) || c.LR > 10:
		return fmt.Errorf("lr %v out of range: want 0 < lr ≤ 10", c.LR)
	case !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("beta1 %v / beta2 %v out of range: want 0 ≤ β < 1", c.Beta1, c.Beta2)
	case !(c.Eps > 0):
		return fmt.Errorf("eps %v out of range: want > 0", c.Eps)
	case len(c.Layers) == 0:
		return fmt.Errorf("layers is empty: want at least one hidden layer (the article's is 128)")
	case c.Schedule != "" && c.Schedule != "constant" && c.Schedule != "cosine":
		return fmt.Errorf("schedule %q unknown: want constant or cosine", c.Schedule)
	case c.Jitter < 0 || c.Jitter > 8:
		return fmt.Errorf("jitter %d out of range: want 0–8 pixels", c.Jitter)
	}
	if c.Adversarial != nil {
		if err := c.Adversarial.Validate(); err != nil {
			return err
		}
	}
	if err := CheckSizes(c.Sizes(Inputs, Classes)); err != nil {
		return fmt.Errorf("layers %s: %v", strings.Trim(strings.Join(strings.Fields(fmt.Sprint(c.Layers)), ","), "[]"), err)
	}
	return nil
}

// EpochStats summarises one epoch. Train loss and accuracy are running
// means over the epoch's batches (as Keras reports them); the validation
// figures are measured after the epoch.
type EpochStats struct {
	Epoch         int     `json:"epoch"`
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	ValLoss       float64 `json:"val_loss,omitempty"`
	ValAccuracy   float64 `json:"val_accuracy,omitempty"`
}

// Distill is knowledge distillation (Hinton et al. 2015): the student is
// trained on α·T²·KL(teacher‖student at temperature T) + (1−α)·CE(labels),
// the teacher's probabilities at temperature T being the soft targets.
type Distill struct {
	Temperature float64 `json:"temperature"`
	Alpha       float64 `json:"alpha"`
	// Shifted, with Jitter, evaluates the teacher on each shifted image
	// as the student sees it (Hinton et al., whose teacher was trained
	// with jitter); otherwise its soft targets are those of the original
	// images, computed once — better for a teacher trained without
	// jitter, whose outputs on shifted digits are less accurate.
	Shifted bool `json:"shifted,omitempty"`
}

// Validate names the field out of range.
func (d Distill) Validate() error {
	switch {
	case !(d.Temperature > 0) || d.Temperature > 100:
		return fmt.Errorf("temperature %v out of range: want 0 < T ≤ 100", d.Temperature)
	case !(d.Alpha >= 0 && d.Alpha <= 1):
		return fmt.Errorf("alpha %v out of range: want 0 ≤ α ≤ 1", d.Alpha)
	}
	return nil
}
