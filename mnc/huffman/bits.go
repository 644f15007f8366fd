package huffman

import "errors"

// ErrShort is returned when a read runs past the end of the data.
var ErrShort = errors.New("bit stream ends early")

// Writer appends bits most-significant first.
type Writer struct {
	buf  []byte
	acc  uint64
	nacc uint
}

// WriteBits appends the low n bits of v (n ≤ 32), most significant first.
func (w *Writer) WriteBits(v uint32, n uint) {
	w.acc = w.acc<<n | uint64(v)&(1<<n-1)
	w.nacc += n
	for w.nacc >= 8 {
		w.nacc -= 8
		w.buf = append(w.buf, byte(w.acc>>w.nacc))
	}
}

// Bytes flushes the last partial byte (zero-padded) and returns the data.
func (w *Writer) Bytes() []byte {
	if w.nacc > 0 {
		w.buf = append(w.buf, byte(w.acc<<(8-w.nacc)))
		w.nacc = 0
	}
	w.acc = 0
	return w.buf
}

// Reader reads bits most-significant first.
type Reader struct {
	data []byte
	pos  int // bit position
}

// NewReader reads from b.
func NewReader(b []byte) *Reader { return &Reader{data: b} }

// Remaining returns the number of unread bits.
func (r *Reader) Remaining() int { return 8*len(r.data) - r.pos }

// ReadBits returns the next n bits (n ≤ 32).
func (r *Reader) ReadBits(n uint) (uint32, error) {
	if int(n) > r.Remaining() {
		return 0, ErrShort
	}
	var v uint32
	for i := uint(0); i < n; i++ {
		v = v<<1 | uint32(r.data[r.pos>>3]>>(7-r.pos&7))&1
		r.pos++
	}
	return v, nil
}

// ReadBit returns the next bit.
func (r *Reader) ReadBit() (uint32, error) {
	if r.pos >= 8*len(r.data) {
		return 0, ErrShort
	}
	b := uint32(r.data[r.pos>>3]>>(7-r.pos&7)) & 1
	r.pos++
	return b, nil
}
