#include "textflag.h"

// func adamAVX2(wp, gp, mp, vp *float32, blocks int, k *adamConsts)
//
// Eight parameters per iteration, the same operations in the same order
// as the scalar Go kernel (multiply and add separately, never fused), so
// the results are bit-identical:
//   m' = b1·m + c1·g;  v' = b2·v + (c2·g)·g;  g = 0
//   w' = w − (lrT·m') / (sqrt(v') + eps)
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
	VXORPS Y14, Y14, Y14
	TESTQ CX, CX
	JZ done

loop:
	VMOVUPS (SI), Y0
	VMOVUPS Y14, (SI)
	VMULPS (R8), Y8, Y1
	VMULPS Y0, Y9, Y2
	VADDPS Y2, Y1, Y1
	VMULPS (R9), Y10, Y3
	VMULPS Y0, Y11, Y4
	VMULPS Y0, Y4, Y4
	VADDPS Y4, Y3, Y3
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
