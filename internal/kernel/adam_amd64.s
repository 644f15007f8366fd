#include "textflag.h"

// func adamAVX2(wp, gp, mp, vp *float32, blocks int, k *Consts)
//
// Eight parameters per iteration, the same operations in the same order
// as the scalar Go kernel (multiply and add separately, never fused), so
// the results are bit-identical:
//   m' = b1·m + c1·g;  v' = b2·v + (c2·g)·g
//   m' = 0 where |m'| < tiny;  v' = 0 where v' < tiny
//   w' = w − (lrT·m') / (sqrt(v') + eps)
// Consts: B1 C1 B2 C2 LR Eps Tiny at offsets 0, 4, … 24.
TEXT ·adamAVX2(SB), NOSPLIT, $0-48
	MOVQ wp+0(FP), DI
	MOVQ gp+8(FP), SI
	MOVQ mp+16(FP), R8
	MOVQ vp+24(FP), R9
	MOVQ blocks+32(FP), CX
	MOVQ k+40(FP), AX
	VBROADCASTSS 0(AX), Y8
	VBROADCASTSS 4(AX), Y9
	VBROADCASTSS 8(AX), Y10
	VBROADCASTSS 12(AX), Y11
	VBROADCASTSS 16(AX), Y12
	VBROADCASTSS 20(AX), Y13
	VBROADCASTSS 24(AX), Y14
	MOVL $0x7fffffff, DX
	MOVL DX, X15
	VPBROADCASTD X15, Y15
	TESTQ CX, CX
	JZ done

loop:
	VMOVUPS (SI), Y0
	VMULPS (R8), Y8, Y1
	VMULPS Y0, Y9, Y2
	VADDPS Y2, Y1, Y1
	VMULPS (R9), Y10, Y3
	VMULPS Y0, Y11, Y4
	VMULPS Y0, Y4, Y4
	VADDPS Y4, Y3, Y3
	VANDPS Y15, Y1, Y2
	VCMPPS $1, Y14, Y2, Y2
	VANDNPS Y1, Y2, Y1
	VCMPPS $1, Y14, Y3, Y4
	VANDNPS Y3, Y4, Y3
	VMOVUPS Y1, (R8)
	VMOVUPS Y3, (R9)
	VSQRTPS Y3, Y5
	VADDPS Y13, Y5, Y5
	VMULPS Y1, Y12, Y6
	VDIVPS Y5, Y6, Y6
	VMOVUPS (DI), Y7
	VSUBPS Y6, Y7, Y7
	VMOVUPS Y7, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET

// func accum64AVX2(out, w *float32, strideBytes int, idx *int32, x *float32, n int)
//
// out[0:64] += x[k]·w[idx[k]·stride + 0:64] for k < n, eight accumulators
// in registers; multiply, then add (never fused).
TEXT ·accum64AVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ strideBytes+16(FP), DX
	MOVQ idx+24(FP), R8
	MOVQ x+32(FP), R9
	MOVQ n+40(FP), CX
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7

row64:
	MOVLQSX (R8), AX
	IMULQ DX, AX
	ADDQ SI, AX
	VBROADCASTSS (R9), Y8
	VMULPS 0(AX), Y8, Y9
	VADDPS Y9, Y0, Y0
	VMULPS 32(AX), Y8, Y10
	VADDPS Y10, Y1, Y1
	VMULPS 64(AX), Y8, Y11
	VADDPS Y11, Y2, Y2
	VMULPS 96(AX), Y8, Y12
	VADDPS Y12, Y3, Y3
	VMULPS 128(AX), Y8, Y13
	VADDPS Y13, Y4, Y4
	VMULPS 160(AX), Y8, Y14
	VADDPS Y14, Y5, Y5
	VMULPS 192(AX), Y8, Y15
	VADDPS Y15, Y6, Y6
	VMULPS 224(AX), Y8, Y9
	VADDPS Y9, Y7, Y7
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ row64

	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	VZEROUPPER
	RET

// func accum8AVX2(out, w *float32, strideBytes int, idx *int32, x *float32, n int)
TEXT ·accum8AVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ strideBytes+16(FP), DX
	MOVQ idx+24(FP), R8
	MOVQ x+32(FP), R9
	MOVQ n+40(FP), CX
	VMOVUPS 0(DI), Y0

row8:
	MOVLQSX (R8), AX
	IMULQ DX, AX
	ADDQ SI, AX
	VBROADCASTSS (R9), Y8
	VMULPS 0(AX), Y8, Y9
	VADDPS Y9, Y0, Y0
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ row8

	VMOVUPS Y0, 0(DI)
	VZEROUPPER
	RET

// func nonZeroAVX2(row *float32, blocks int, idx *int32, vals *float32, lut *[256][8]int32) int
//
// Eight entries at a time: compare with zero (−0 == 0), take the mask,
// permute the non-zero lanes to the front with lut[mask] and store all
// eight (the next block overwrites the unused tail), advance by popcount.
TEXT ·nonZeroAVX2(SB), NOSPLIT, $0-48
	MOVQ row+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ idx+16(FP), DI
	MOVQ vals+24(FP), R8
	MOVQ lut+32(FP), R9
	XORQ R10, R10           // n
	VXORPS Y7, Y7, Y7       // zeros
	MOVL $8, AX
	VMOVD AX, X6
	VPBROADCASTD X6, Y6     // +8 per block
	MOVQ $0x0706050403020100, AX
	VMOVQ AX, X5
	VPMOVZXBD X5, Y5        // base indices 0..7

block:
	VMOVUPS (SI), Y0
	VCMPPS $4, Y7, Y0, Y1   // NEQ_UQ: non-zero lanes
	VMOVMSKPS Y1, AX
	MOVQ AX, BX
	SHLQ $5, BX
	VMOVDQU (R9)(BX*1), Y2  // lut[mask]
	VPERMPS Y0, Y2, Y3
	VPERMD Y5, Y2, Y4
	VMOVUPS Y3, (R8)(R10*4)
	VMOVDQU Y4, (DI)(R10*4)
	POPCNTL AX, AX
	ADDQ AX, R10
	VPADDD Y6, Y5, Y5
	ADDQ $32, SI
	DECQ CX
	JNZ block

	VZEROUPPER
	MOVQ R10, ret+40(FP)
	RET

// out[0:64] += x[k]·float32(w[idx[k] row][0:64]) for k < n: int16 levels widened,
// converted, multiplied, then added (never fused).
// func levels64AVX2(out *float32, w *int16, strideBytes int, idx *int32, x *float32, n int)
TEXT ·levels64AVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ strideBytes+16(FP), DX
	MOVQ idx+24(FP), R8
	MOVQ x+32(FP), R9
	MOVQ n+40(FP), CX
	VMOVDQU 0(DI), Y0
	VMOVDQU 32(DI), Y1
	VMOVDQU 64(DI), Y2
	VMOVDQU 96(DI), Y3
	VMOVDQU 128(DI), Y4
	VMOVDQU 160(DI), Y5
	VMOVDQU 192(DI), Y6
	VMOVDQU 224(DI), Y7

levels64AVX2row:
	MOVLQSX (R8), AX
	IMULQ DX, AX
	ADDQ SI, AX
	VBROADCASTSS (R9), Y8
	VPMOVSXWD 0(AX), Y9
	VCVTDQ2PS Y9, Y9
	VMULPS Y9, Y8, Y9
	VADDPS Y9, Y0, Y0
	VPMOVSXWD 16(AX), Y9
	VCVTDQ2PS Y9, Y9
	VMULPS Y9, Y8, Y9
	VADDPS Y9, Y1, Y1
	VPMOVSXWD 32(AX), Y9
	VCVTDQ2PS Y9, Y9
	VMULPS Y9, Y8, Y9
	VADDPS Y9, Y2, Y2
	VPMOVSXWD 48(AX), Y9
	VCVTDQ2PS Y9, Y9
	VMULPS Y9, Y8, Y9
	VADDPS Y9, Y3, Y3
	VPMOVSXWD 64(AX), Y9
	VCVTDQ2PS Y9, Y9
	VMULPS Y9, Y8, Y9
	VADDPS Y9, Y4, Y4
	VPMOVSXWD 80(AX), Y9
	VCVTDQ2PS Y9, Y9
	VMULPS Y9, Y8, Y9
	VADDPS Y9, Y5, Y5
	VPMOVSXWD 96(AX), Y9
	VCVTDQ2PS Y9, Y9
	VMULPS Y9, Y8, Y9
	VADDPS Y9, Y6, Y6
	VPMOVSXWD 112(AX), Y9
	VCVTDQ2PS Y9, Y9
	VMULPS Y9, Y8, Y9
	VADDPS Y9, Y7, Y7
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ levels64AVX2row

	VMOVDQU Y0, 0(DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	VMOVDQU Y4, 128(DI)
	VMOVDQU Y5, 160(DI)
	VMOVDQU Y6, 192(DI)
	VMOVDQU Y7, 224(DI)
	VZEROUPPER
	RET

// acc[0:64] += q[k]·w[idx[k] row][0:64] in int32 for k < n.
// func levelsInt64AVX2(acc *int32, w *int16, strideBytes int, idx *int32, q *int32, n int)
TEXT ·levelsInt64AVX2(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ strideBytes+16(FP), DX
	MOVQ idx+24(FP), R8
	MOVQ q+32(FP), R9
	MOVQ n+40(FP), CX
	VMOVDQU 0(DI), Y0
	VMOVDQU 32(DI), Y1
	VMOVDQU 64(DI), Y2
	VMOVDQU 96(DI), Y3
	VMOVDQU 128(DI), Y4
	VMOVDQU 160(DI), Y5
	VMOVDQU 192(DI), Y6
	VMOVDQU 224(DI), Y7

levelsInt64AVX2row:
	MOVLQSX (R8), AX
	IMULQ DX, AX
	ADDQ SI, AX
	VPBROADCASTD (R9), Y8
	VPMOVSXWD 0(AX), Y9
	VPMULLD Y9, Y8, Y9
	VPADDD Y9, Y0, Y0
	VPMOVSXWD 16(AX), Y9
	VPMULLD Y9, Y8, Y9
	VPADDD Y9, Y1, Y1
	VPMOVSXWD 32(AX), Y9
	VPMULLD Y9, Y8, Y9
	VPADDD Y9, Y2, Y2
	VPMOVSXWD 48(AX), Y9
	VPMULLD Y9, Y8, Y9
	VPADDD Y9, Y3, Y3
	VPMOVSXWD 64(AX), Y9
	VPMULLD Y9, Y8, Y9
	VPADDD Y9, Y4, Y4
	VPMOVSXWD 80(AX), Y9
	VPMULLD Y9, Y8, Y9
	VPADDD Y9, Y5, Y5
	VPMOVSXWD 96(AX), Y9
	VPMULLD Y9, Y8, Y9
	VPADDD Y9, Y6, Y6
	VPMOVSXWD 112(AX), Y9
	VPMULLD Y9, Y8, Y9
	VPADDD Y9, Y7, Y7
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ levelsInt64AVX2row

	VMOVDQU Y0, 0(DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	VMOVDQU Y4, 128(DI)
	VMOVDQU Y5, 160(DI)
	VMOVDQU Y6, 192(DI)
	VMOVDQU Y7, 224(DI)
	VZEROUPPER
	RET

// func accum32AVX2(out, w *float32, strideBytes int, idx *int32, x *float32, n int)
//
// accum64AVX2 for 32 columns (four registers): the tail of widths such as
// 300 (= 4·64 + 32 + 8 + 4) and 100 (= 64 + 32 + 4) in one pass over the
// rows instead of four 8-column ones.
TEXT ·accum32AVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ strideBytes+16(FP), DX
	MOVQ idx+24(FP), R8
	MOVQ x+32(FP), R9
	MOVQ n+40(FP), CX
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3

row32:
	MOVLQSX (R8), AX
	IMULQ DX, AX
	ADDQ SI, AX
	VBROADCASTSS (R9), Y8
	VMULPS 0(AX), Y8, Y9
	VADDPS Y9, Y0, Y0
	VMULPS 32(AX), Y8, Y10
	VADDPS Y10, Y1, Y1
	VMULPS 64(AX), Y8, Y11
	VADDPS Y11, Y2, Y2
	VMULPS 96(AX), Y8, Y12
	VADDPS Y12, Y3, Y3
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ row32

	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VZEROUPPER
	RET

// func accum4AVX(out, w *float32, strideBytes int, idx *int32, x *float32, n int)
//
// Four columns in one 128-bit register: multiply, then add, as the others.
TEXT ·accum4AVX(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ strideBytes+16(FP), DX
	MOVQ idx+24(FP), R8
	MOVQ x+32(FP), R9
	MOVQ n+40(FP), CX
	VMOVUPS 0(DI), X0

row4:
	MOVLQSX (R8), AX
	IMULQ DX, AX
	ADDQ SI, AX
	VBROADCASTSS (R9), X8
	VMULPS 0(AX), X8, X9
	VADDPS X9, X0, X0
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ row4

	VMOVUPS X0, 0(DI)
	VZEROUPPER
	RET
