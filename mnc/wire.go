package mnc

import (
	"encoding/binary"
	"fmt"
	"math"

	"mnistc/mnc/huffman"
)

// buf is an append-only little-endian writer.
type buf struct{ b []byte }

func (w *buf) u8(v uint8)     { w.b = append(w.b, v) }
func (w *buf) u32(v uint32)   { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *buf) f32(v float32)  { w.u32(math.Float32bits(v)) }
func (w *buf) uvar(v uint64)  { w.b = binary.AppendUvarint(w.b, v) }
func (w *buf) svar(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *buf) bytes(p []byte) { w.uvar(uint64(len(p))); w.b = append(w.b, p...) }
func (w *buf) str(s string)   { w.bytes([]byte(s)) }

// rd reads what buf writes; every read checks the bytes left and the first
// failure sticks, so a parser reads on and checks err once per step.
type rd struct {
	b   []byte
	err error
	ctx string
}

func (r *rd) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(r.ctx+": "+format, a...)
	}
}

func (r *rd) left() int { return len(r.b) }

func (r *rd) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("truncated: %s needs %d bytes, %d left", what, n, len(r.b))
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *rd) u8(what string) uint8 {
	p := r.take(1, what)
	if p == nil {
		return 0
	}
	return p[0]
}

func (r *rd) u32(what string) uint32 {
	p := r.take(4, what)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (r *rd) f32(what string) float32 { return math.Float32frombits(r.u32(what)) }

func (r *rd) uvar(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated or malformed %s", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rd) svar(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated or malformed %s", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a uvarint that must be at most limit.
func (r *rd) count(what string, limit int) int {
	v := r.uvar(what)
	if r.err == nil && v > uint64(limit) {
		r.fail("%s is %d, more than %d", what, v, limit)
		return 0
	}
	return int(v)
}

// writeStream appends count symbols of width bits each, Huffman-coded when
// that is smaller (table included), and returns the bits stored and whether
// Huffman was used.
func writeStream(w *buf, syms []uint16, width int) (stored int, huff bool) {
	var fixed huffman.Writer
	for _, s := range syms {
		fixed.WriteBits(uint32(s), uint(width))
	}
	fb := fixed.Bytes()
	hb, table, ok := huffmanStream(syms)
	start := len(w.b) + 1 // after the coding byte
	if ok && len(hb)+len(table) < len(fb) {
		w.u8(streamHuffman)
		w.b = append(w.b, table...)
		w.bytes(hb)
		return 8 * (len(w.b) - start), true
	}
	w.u8(streamFixed)
	w.bytes(fb)
	return 8 * (len(w.b) - start), false
}

// huffmanStream codes syms with a canonical code; the table is the alphabet
// size (largest symbol + 1) and 5 bits per symbol length.
func huffmanStream(syms []uint16) (data, table []byte, ok bool) {
	if len(syms) == 0 {
		return nil, nil, false
	}
	top := 0
	for _, s := range syms {
		top = max(top, int(s))
	}
	freq := make([]int, top+1)
	for _, s := range syms {
		freq[s]++
	}
	lens := huffman.Lengths(freq)
	code, err := huffman.New(lens)
	if err != nil {
		return nil, nil, false
	}
	var tw huffman.Writer
	for _, l := range lens {
		tw.WriteBits(uint32(l), 5)
	}
	var t buf
	t.bytes(tw.Bytes())
	t.b = append(binary.AppendUvarint(nil, uint64(len(lens))), t.b...)
	var dw huffman.Writer
	for _, s := range syms {
		code.Encode(&dw, int(s))
	}
	return dw.Bytes(), t.b, true
}

// readStream reads count symbols below 2^width written by writeStream and
// returns the bits the stream took (after its coding byte) and whether it
// was Huffman-coded.
func readStream(r *rd, count, width int, what string) ([]uint16, int, bool) {
	start := r.left() - 1
	mode := r.u8(what + " coding")
	syms := readSymbols(r, mode, count, width, what)
	return syms, 8 * (start - r.left()), mode == streamHuffman
}

func readSymbols(r *rd, mode uint8, count, width int, what string) []uint16 {
	if r.err != nil {
		return nil
	}
	switch mode {
	case streamFixed:
		data := r.take(r.count(what+" length", r.left()), what)
		if r.err != nil {
			return nil
		}
		if need := (count*width + 7) / 8; len(data) != need {
			r.fail("%s holds %d bytes, %d symbols of %d bits need %d", what, len(data), count, width, need)
			return nil
		}
		br := huffman.NewReader(data)
		out := make([]uint16, count)
		for i := range out {
			v, _ := br.ReadBits(uint(width))
			out[i] = uint16(v)
		}
		return out
	case streamHuffman:
		alpha := r.count(what+" alphabet", 1<<width)
		tbytes := r.take(r.count(what+" table length", r.left()), what+" table")
		if r.err != nil {
			return nil
		}
		if len(tbytes) != (alpha*5+7)/8 {
			r.fail("%s table holds %d bytes for %d symbols", what, len(tbytes), alpha)
			return nil
		}
		tr := huffman.NewReader(tbytes)
		lens := make([]uint8, alpha)
		for i := range lens {
			v, _ := tr.ReadBits(5)
			lens[i] = uint8(v)
		}
		code, err := huffman.New(lens)
		if err != nil {
			r.fail("%s: %v", what, err)
			return nil
		}
		data := r.take(r.count(what+" length", r.left()), what)
		if r.err != nil {
			return nil
		}
		if count > 8*len(data) { // every code is at least one bit
			r.fail("%s: %d symbols cannot fit in %d bytes", what, count, len(data))
			return nil
		}
		br := huffman.NewReader(data)
		out := make([]uint16, count)
		for i := range out {
			s, err := code.Decode(br)
			if err != nil {
				r.fail("%s symbol %d: %v", what, i, err)
				return nil
			}
			out[i] = uint16(s)
		}
		if br.Remaining() >= 8 {
			r.fail("%s has %d unused bytes", what, br.Remaining()/8)
			return nil
		}
		return out
	}
	r.fail("%s has unknown coding %d", what, mode)
	return nil
}
