#include "textflag.h"

// The float ends of the integer path, eight values at a time, in the
// operations and order of the Go loops of int8.go (multiply and add never
// fused; VMAXPS/VMINPS return their second source when the first is NaN,
// as the Go loops' !(x > lo) tests do; conversions round to nearest even,
// the MXCSR default Go keeps).

// func codesAVX2(dst *uint8, src *float32, blocks int, k *CodeRule)
//
// dst[i] = 0 where !(x > lo), else roundEven(min((min(x, hi) − lo)/step, top)),
// for 8·blocks values; a block of eight with none above lo is stored as
// zeros without dividing (the blank pixels of a digit).
TEXT ·codesAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ k+24(FP), AX
	VBROADCASTSS 0(AX), Y8
	VBROADCASTSS 4(AX), Y9
	VBROADCASTSS 8(AX), Y10
	VBROADCASTSS 12(AX), Y11
	TESTQ CX, CX
	JZ codesdone

codesloop:
	VMOVUPS (SI), Y0
	VCMPPS $0x1e, Y8, Y0, Y1 // x > lo (ordered: false for NaN)
	VMOVMSKPS Y1, AX
	TESTL AX, AX
	JNZ codessome
	MOVQ $0, (DI)
	JMP codesnext

codessome:
	VMAXPS Y8, Y0, Y0 // x > lo ? x : lo
	VMINPS Y9, Y0, Y0 // x < hi ? x : hi
	VSUBPS Y8, Y0, Y0
	VDIVPS Y10, Y0, Y0
	VMINPS Y11, Y0, Y0
	VCVTPS2DQ Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKUSDW X1, X0, X0
	VPACKUSWB X0, X0, X0
	MOVQ X0, (DI)

codesnext:
	ADDQ $32, SI
	ADDQ $8, DI
	DECQ CX
	JNZ codesloop

codesdone:
	VZEROUPPER
	RET

// func requantAVX2(dst *uint8, acc *int32, a, b *float32, blocks int, lo, hi float32)
//
// dst[j] = roundEven(min(max(float32(acc[j])·a[j] + b[j], lo), hi)) for
// 8·blocks values; 0 ≤ lo ≤ hi ≤ 255.
TEXT ·requantAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ acc+8(FP), SI
	MOVQ a+16(FP), R8
	MOVQ b+24(FP), R9
	MOVQ blocks+32(FP), CX
	VBROADCASTSS lo+40(FP), Y8
	VBROADCASTSS hi+44(FP), Y9
	TESTQ CX, CX
	JZ requantdone

requantloop:
	VCVTDQ2PS (SI), Y0
	VMULPS (R8), Y0, Y0
	VADDPS (R9), Y0, Y0
	VMAXPS Y8, Y0, Y0
	VMINPS Y9, Y0, Y0
	VCVTPS2DQ Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKUSDW X1, X0, X0
	VPACKUSWB X0, X0, X0
	MOVQ X0, (DI)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $8, DI
	DECQ CX
	JNZ requantloop

requantdone:
	VZEROUPPER
	RET

// func rescaleAVX2(dst *float32, acc *int32, a, b *float32, blocks int)
//
// dst[j] = float32(acc[j])·a[j] + b[j] for 8·blocks values.
TEXT ·rescaleAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ acc+8(FP), SI
	MOVQ a+16(FP), R8
	MOVQ b+24(FP), R9
	MOVQ blocks+32(FP), CX
	TESTQ CX, CX
	JZ rescaledone

rescaleloop:
	VCVTDQ2PS (SI), Y0
	VMULPS (R8), Y0, Y0
	VADDPS (R9), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, DI
	DECQ CX
	JNZ rescaleloop

rescaledone:
	VZEROUPPER
	RET

// func codesAVX512(dst *uint8, src *float32, blocks int, k *CodeRule)
//
// codesAVX2 sixteen values at a time.
TEXT ·codesAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ k+24(FP), AX
	VBROADCASTSS 0(AX), Z8
	VBROADCASTSS 4(AX), Z9
	VBROADCASTSS 8(AX), Z10
	VBROADCASTSS 12(AX), Z11
	VPXOR X12, X12, X12
	TESTQ CX, CX
	JZ codes512done

codes512loop:
	VMOVUPS (SI), Z0
	VCMPPS $0x1e, Z8, Z0, K1 // x > lo (ordered: false for NaN)
	KORTESTW K1, K1
	JNZ codes512some
	VMOVDQU X12, (DI)
	JMP codes512next

codes512some:
	VMAXPS Z8, Z0, Z0
	VMINPS Z9, Z0, Z0
	VSUBPS Z8, Z0, Z0
	VDIVPS Z10, Z0, Z0
	VMINPS Z11, Z0, Z0
	VCVTPS2DQ Z0, Z0
	VPMOVDB Z0, X1
	VMOVDQU X1, (DI)

codes512next:
	ADDQ $64, SI
	ADDQ $16, DI
	DECQ CX
	JNZ codes512loop

codes512done:
	VZEROUPPER
	RET
