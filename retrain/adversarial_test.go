package retrain

import (
	"testing"

	"mnistc/model"
	"mnistc/robust"
	"mnistc/training"
)

// TestAdversarialFineTuning: fine-tuning a 4-bit network with FGSM
// examples in half of every batch (Ye et al.'s robust fine-tuning of a
// compressed model) leaves it more accurate under FGSM at the same ε than
// the same fine-tuning on clean images, and still a working network.
func TestAdversarialFineTuning(t *testing.T) {
	ck, tr, va, te := small(t)
	te = te.Slice(0, 1000)
	cfg := DefaultTrain()
	cfg.Epochs, cfg.LR = 1, 1e-3
	passes := []string{"quantize:bits=4,granularity=channel"}
	fgsmAcc := func(out model.Checkpoint) float64 {
		adv := robust.FGSM(out.Params, out.Meta.ActQuant, te.X, te.Y, te.Len(), 0.1)
		s := te
		s.X = adv
		return model.Evaluate(out.Params, s, out.Meta.ActQuant).Accuracy
	}
	clean, crec, err := Run(ck, Config{Train: cfg, Passes: passes}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Adversarial = &model.Adversarial{Attack: "fgsm", Eps: 0.1, Mix: 0.5}
	adv, arec, err := Run(ck, Config{Train: cfg, Passes: passes}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	ca, aa := fgsmAcc(clean), fgsmAcc(adv)
	if aa <= ca+0.05 || arec.AccAfter < 0.7 {
		t.Errorf("FGSM ε 0.1 accuracy %.4f after clean fine-tuning, %.4f after adversarial (clean accuracy %.4f → %.4f); want a clear gain and a working net", ca, aa, crec.AccAfter, arec.AccAfter)
	}
	if arec.Train.Adversarial == nil {
		t.Error("the record's recipe does not say it was adversarial")
	}
	t.Logf("FGSM ε 0.1: %.4f clean-tuned, %.4f adversarially tuned; clean accuracy %.4f, %.4f", ca, aa, crec.AccAfter, arec.AccAfter)
}
