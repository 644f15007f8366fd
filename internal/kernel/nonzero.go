package kernel

import "math"

// NonZero writes the positions and values of the non-zero entries of row
// (−0 counts as zero) to idx and vals and returns their count. idx and vals
// need len(row)+8 entries: the vector path stores eight at a time.
func NonZero(row []float32, idx []int32, vals []float32) int {
	if len(idx) < len(row)+8 || len(vals) < len(row)+8 {
		panic("kernel: NonZero needs len(row)+8 entries of room")
	}
	n, done := nonZeroVector(row, idx, vals)
	for i := done; i < len(row); i++ {
		v := row[i]
		idx[n], vals[n] = int32(i), v
		u := math.Float32bits(v) << 1 // drop the sign: −0 is zero
		n += int((u | -u) >> 31)
	}
	return n
}

// packLUT[m] lists the set bits of the 8-bit mask m in order, then zeros:
// the permutation that packs the selected lanes to the front.
var packLUT = func() (t [256][8]int32) {
	for m := range t {
		k := 0
		for b := 0; b < 8; b++ {
			if m&(1<<b) != 0 {
				t[m][k] = int32(b)
				k++
			}
		}
	}
	return
}()
