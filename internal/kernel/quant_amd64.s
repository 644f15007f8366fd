#include "textflag.h"

// func symmetricAVX2(v, s *float32, blocks int, qmax float64)
//
// Eight entries per iteration, as SymmetricRowScalar: widen v and s to
// float64, divide, round to nearest even, clamp to ±qmax, truncate to
// int32 (exact: the value is integral), back to float32, multiply by s;
// where s = 0 the entry is left as it was.
TEXT ·symmetricAVX2(SB), NOSPLIT, $0-32
	MOVQ v+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ blocks+16(FP), CX
	VBROADCASTSD qmax+24(FP), Y14
	VXORPD Y13, Y13, Y13
	VSUBPD Y14, Y13, Y13          // −qmax
	VXORPS Y12, Y12, Y12          // 0
	TESTQ CX, CX
	JZ done

loop:
	VMOVUPS (DI), Y0              // x
	VMOVUPS (SI), Y1              // s
	VCMPPS $0, Y12, Y1, Y2        // s == 0
	VCVTPS2PD X0, Y3
	VCVTPS2PD X1, Y4
	VDIVPD Y4, Y3, Y3             // x/s, entries 0–3
	VROUNDPD $0, Y3, Y3
	VMINPD Y14, Y3, Y3
	VMAXPD Y13, Y3, Y3
	VCVTTPD2DQY Y3, X3
	VEXTRACTF128 $1, Y0, X5
	VEXTRACTF128 $1, Y1, X6
	VCVTPS2PD X5, Y5
	VCVTPS2PD X6, Y6
	VDIVPD Y6, Y5, Y5             // entries 4–7
	VROUNDPD $0, Y5, Y5
	VMINPD Y14, Y5, Y5
	VMAXPD Y13, Y5, Y5
	VCVTTPD2DQY Y5, X5
	VINSERTF128 $1, X5, Y3, Y3
	VCVTDQ2PS Y3, Y3              // float32(k)
	VMULPS Y3, Y1, Y3             // s·k
	VBLENDVPS Y2, Y0, Y3, Y3      // x where s == 0
	VMOVUPS Y3, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET
