package retrain

import (
	"math/rand"
	"testing"

	"mnistc/model"
	"mnistc/training"
)

// benchProject times one projection of the article's network (and, for a
// learned quantizer, one Learn): what a quantizer in the loop adds to every
// optimizer step.
func benchProject(b *testing.B, pass string) {
	shadow := model.InitGlorot([]int{784, 128, 10}, rand.New(rand.NewSource(1)))
	dst := shadow.Clone()
	c, _, err := Constraints([]string{pass}, 1000)
	if err != nil {
		b.Fatal(err)
	}
	grads := make([][]float32, 0)
	for _, t := range shadow.Tensors() {
		g := make([]float32, len(t.Data))
		for i := range g {
			g[i] = 1e-3
		}
		grads = append(grads, g)
	}
	c.Project(&shadow, &dst, 0)
	l, learns := c.(training.Learner)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Project(&shadow, &dst, i+1)
		if learns {
			l.Learn(&shadow, grads)
		}
	}
}

func BenchmarkProjectMinMax2(b *testing.B) {
	benchProject(b, "quantize:bits=2,granularity=channel,learn=none")
}
func BenchmarkProjectLSQ2(b *testing.B) { benchProject(b, "quantize:bits=2,granularity=channel") }
func BenchmarkProjectTTQ(b *testing.B)  { benchProject(b, "quantize:scheme=ternary") }
