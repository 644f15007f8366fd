// Package huffman is canonical Huffman coding over small integer alphabets
// (DEFLATE's construction): lengths are computed from symbol counts and
// limited to MaxLen bits, codes are assigned in order of (length, symbol),
// so storing the lengths alone is enough to rebuild the code.
package huffman

import (
	"container/heap"
	"fmt"
)

// MaxLen is the longest code this package builds or accepts.
const MaxLen = 24

// Lengths returns a code length per symbol (0 for a symbol of count 0) with
// no length above MaxLen. A single used symbol gets length 1.
func Lengths(freq []int) []uint8 {
	f := append([]int(nil), freq...)
	for {
		lens, longest := build(f)
		if longest <= MaxLen {
			return lens
		}
		// Flatten the distribution and retry: halving keeps the order of
		// counts and shortens the deepest leaves.
		for i, x := range f {
			if x > 0 {
				f[i] = (x + 1) / 2
			}
		}
	}
}

type node struct {
	weight, sym int // sym ≥ 0 for a leaf
	left, right *node
}

type nodeHeap []*node

func (h nodeHeap) Len() int { return len(h) }
func (h nodeHeap) Less(i, j int) bool {
	if h[i].weight != h[j].weight {
		return h[i].weight < h[j].weight
	}
	return h[i].sym < h[j].sym // deterministic ties
}
func (h nodeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)   { *h = append(*h, x.(*node)) }
func (h *nodeHeap) Pop() any     { o := *h; n := o[len(o)-1]; *h = o[:len(o)-1]; return n }

func build(freq []int) ([]uint8, int) {
	lens := make([]uint8, len(freq))
	h := &nodeHeap{}
	for s, f := range freq {
		if f > 0 {
			*h = append(*h, &node{weight: f, sym: s})
		}
	}
	switch h.Len() {
	case 0:
		return lens, 0
	case 1:
		lens[(*h)[0].sym] = 1
		return lens, 1
	}
	heap.Init(h)
	next := len(freq) // internal nodes get ids after the symbols, for tie order
	for h.Len() > 1 {
		a, b := heap.Pop(h).(*node), heap.Pop(h).(*node)
		heap.Push(h, &node{weight: a.weight + b.weight, sym: next, left: a, right: b})
		next++
	}
	longest := 0
	var walk func(n *node, d int)
	walk = func(n *node, d int) {
		if n.left == nil {
			if d > 255 {
				d = 255
			}
			lens[n.sym] = uint8(d)
			longest = max(longest, d)
			return
		}
		walk(n.left, d+1)
		walk(n.right, d+1)
	}
	walk((*h)[0], 0)
	return lens, longest
}

// Code is a canonical Huffman code.
type Code struct {
	lens    []uint8
	codes   []uint32
	count   [MaxLen + 1]int // symbols per length
	symbols []int           // symbols in (length, symbol) order
}

// New builds the canonical code of the given lengths. It refuses lengths
// above MaxLen and an over-subscribed set (Σ 2^−len > 1); an incomplete set
// is allowed (a lone symbol has length 1).
func New(lens []uint8) (*Code, error) {
	c := &Code{lens: lens, codes: make([]uint32, len(lens))}
	for s, l := range lens {
		if l > MaxLen {
			return nil, fmt.Errorf("huffman: symbol %d has length %d, more than %d", s, l, MaxLen)
		}
		c.count[l]++
	}
	c.count[0] = 0
	left := 1
	for l := 1; l <= MaxLen; l++ {
		left <<= 1
		left -= c.count[l]
		if left < 0 {
			return nil, fmt.Errorf("huffman: code lengths are over-subscribed")
		}
	}
	var next [MaxLen + 2]uint32
	code := uint32(0)
	for l := 1; l <= MaxLen; l++ {
		code = (code + uint32(c.count[l-1])) << 1
		next[l] = code
	}
	// symbols sorted by (length, symbol)
	offs := [MaxLen + 2]int{}
	for l := 1; l <= MaxLen; l++ {
		offs[l+1] = offs[l] + c.count[l]
	}
	c.symbols = make([]int, offs[MaxLen+1])
	for s, l := range lens {
		if l == 0 {
			continue
		}
		c.codes[s] = next[l]
		next[l]++
		c.symbols[offs[l]] = s
		offs[l]++
	}
	return c, nil
}

// Len returns the code length of symbol s (0 when unused).
func (c *Code) Len(s int) int { return int(c.lens[s]) }

// Encode appends symbol s, which must have a non-zero length.
func (c *Code) Encode(w *Writer, s int) {
	w.WriteBits(c.codes[s], uint(c.lens[s]))
}

// Decode reads one symbol.
func (c *Code) Decode(r *Reader) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l <= MaxLen; l++ {
		b, err := r.ReadBit()
		if err != nil {
			return 0, err
		}
		code |= int(b)
		n := c.count[l]
		if code-first < n {
			return c.symbols[index+code-first], nil
		}
		index += n
		first = (first + n) << 1
		code <<= 1
	}
	return 0, fmt.Errorf("huffman: invalid code")
}

// Bits returns the total bits of coding a stream with these symbol counts.
func (c *Code) Bits(freq []int) int {
	n := 0
	for s, f := range freq {
		n += f * int(c.lens[s])
	}
	return n
}
