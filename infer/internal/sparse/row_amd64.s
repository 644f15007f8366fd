#include "textflag.h"

// func rowAVX2(out, x *float32, cols *uint8, w *float32, n int)
//
// For k < n: o = out[cols[k]·16 …+16]; o += x · w[k] — multiply then add
// (never fused), as the Go loop computes it.
TEXT ·rowAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ cols+16(FP), R8
	MOVQ w+24(FP), R9
	MOVQ n+32(FP), CX
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1

loop:
	MOVBQZX (R8), AX
	SHLQ $6, AX
	ADDQ DI, AX
	VBROADCASTSS (R9), Y2
	VMULPS Y0, Y2, Y3
	VMULPS Y1, Y2, Y4
	VADDPS (AX), Y3, Y3
	VADDPS 32(AX), Y4, Y4
	VMOVUPS Y3, (AX)
	VMOVUPS Y4, 32(AX)
	INCQ R8
	ADDQ $4, R9
	DECQ CX
	JNZ loop
	VZEROUPPER
	RET

// func transposeAVX2(dst, src *float32, active *uint32, n int)
//
// 16 rows of n floats (n a multiple of 8) to n rows of 16, eight columns at
// a time: two 8×8 transposes (rows 0–7, 8–15), then the OR of the 16 rows'
// bits for the active mask.
TEXT ·transposeAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ active+16(FP), R10
	MOVQ n+24(FP), CX
	MOVQ CX, R11
	SHLQ $2, R11            // row stride in bytes
	SHRQ $3, CX             // groups of 8 columns

group:
	MOVQ SI, R8             // row pointer for this group, row 0
	MOVQ DI, R9             // dst + 0 (rows 0–7 half)
	MOVQ $2, DX

half:
	MOVQ R8, AX
	VMOVUPS (AX), Y0
	ADDQ R11, AX
	VMOVUPS (AX), Y1
	ADDQ R11, AX
	VMOVUPS (AX), Y2
	ADDQ R11, AX
	VMOVUPS (AX), Y3
	ADDQ R11, AX
	VMOVUPS (AX), Y4
	ADDQ R11, AX
	VMOVUPS (AX), Y5
	ADDQ R11, AX
	VMOVUPS (AX), Y6
	ADDQ R11, AX
	VMOVUPS (AX), Y7
	ADDQ R11, AX
	MOVQ AX, R8             // next half starts at row 8

	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15

	VMOVUPS Y8, 0(R9)
	VMOVUPS Y9, 64(R9)
	VMOVUPS Y10, 128(R9)
	VMOVUPS Y11, 192(R9)
	VMOVUPS Y12, 256(R9)
	VMOVUPS Y13, 320(R9)
	VMOVUPS Y14, 384(R9)
	VMOVUPS Y15, 448(R9)
	ADDQ $32, R9
	DECQ DX
	JNZ half

	// active[8 columns] = OR over the 16 rows
	MOVQ SI, AX
	VMOVUPS (AX), Y0
	MOVQ $15, DX

orrow:
	ADDQ R11, AX
	VORPS (AX), Y0, Y0
	DECQ DX
	JNZ orrow
	VMOVUPS Y0, (R10)

	ADDQ $32, SI            // next 8 columns
	ADDQ $512, DI           // 8 dst rows of 64 bytes
	ADDQ $32, R10
	DECQ CX
	JNZ group
	VZEROUPPER
	RET
