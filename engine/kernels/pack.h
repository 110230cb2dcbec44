/* Packed activation rows for the SIMD kernel sets (AVX2 and AVX-512 share them).
 *
 * A packed row holds one activation row of k values, quantized by ggml (Q8_K or Q8_0), in
 * the order the kernels' inner loops load it. Every piece starts 64-byte aligned when the
 * row does.
 *
 * K-quants (Q4_K, Q6_K), nb = k/256 blocks:
 *   q  [256 nb] int8   ggml's order; for the AVX-512 Q4_K kernel in the order of its
 *                      unpacked nibbles (see pack_q4k)
 *   d  [nb]     float  the Q8_K scales
 *   bs [16 nb]  int16  Q6_K: ggml's 16 sums of 16; Q4_K: the 8 sums of 32, then 8 zeros
 * Q8_0 / Q4_0, 32-value blocks taken in pairs, np = ceil(k/64) pairs:
 *   q  [64 np]  int8   Q8_0: block 2p then 2p+1; Q4_0: 2p[0:16], 2p+1[0:16], 2p[16:32],
 *                      2p+1[16:32] (the order of an unpacked pair of Q4_0 blocks); Q8_0
 *                      plus `bias` (128 for the VNNI kernels, which want it unsigned)
 *   dx [16 np]  float  the activation scale of each 32-bit lane of the 64 bytes
 *   c  [16 np]  int32  Q4_0: -8 x the sum of each lane's 4 values (the nibbles' offset of 8
 *                      taken back on the activation side; the weights stay unsigned)
 *   The partner of an odd last block is zero with scale 0.
 */
#ifndef PLTK_PACK_H
#define PLTK_PACK_H

#include <string.h>

#include "pltk.h"

typedef struct {
    const int8_t *q;
    const float *d;
    const int16_t *bs;
} krow;

static inline size_t kq_bytes(int64_t k) {
    const size_t nb = (size_t)(k / QK_K);
    return 256 * nb + pltk_round64(4 * nb) + pltk_round64(32 * nb);
}

static inline krow kq_row(const uint8_t *act, int64_t k) {
    const size_t nb = (size_t)(k / QK_K);
    krow r = {(const int8_t *)act, (const float *)(act + 256 * nb),
              (const int16_t *)(act + 256 * nb + pltk_round64(4 * nb))};
    return r;
}

/* Q4_K activations in 16-byte units. `units` = 0: ggml's order (AVX2). `units` = 1
   (AVX-512): unit 4g + m of a packed block holds values 32 (2m + g/2) + 16 (g%2) .. +16,
   i.e. g = 0: first halves of sub-blocks 0,2,4,6; g = 1: their second halves; g = 2, 3: the
   same for sub-blocks 1,3,5,7 -- the order of the low and high nibbles of the block's
   nibble bytes taken 16 at a time, even 16-byte units first, then odd ones. */
static inline void pack_q4k(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst, int units) {
    krow r = kq_row(dst, k);
    const blk_q8_k *y = src;
    for (int64_t b = b0; b < b1; b++, y++) {
        int8_t *q = (int8_t *)r.q + 256 * b;
        int16_t *bs = (int16_t *)r.bs + 16 * b;
        if (units) {
            for (int u = 0; u < 16; u++) memcpy(q + 16 * u, y->qs + 32 * (2 * (u % 4) + u / 8) + 16 * ((u / 4) % 2), 16);
        } else {
            memcpy(q, y->qs, 256);
        }
        for (int s = 0; s < 8; s++) {
            bs[s] = (int16_t)(y->bsums[2 * s] + y->bsums[2 * s + 1]);
            bs[s + 8] = 0;
        }
        ((float *)r.d)[b] = y->d;
    }
}

static inline void pack_q6k(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst) {
    krow r = kq_row(dst, k);
    const blk_q8_k *y = src;
    for (int64_t b = b0; b < b1; b++, y++) {
        memcpy((int8_t *)r.q + 256 * b, y->qs, 256);
        memcpy((int16_t *)r.bs + 16 * b, y->bsums, 32);
        ((float *)r.d)[b] = y->d;
    }
}

typedef struct {
    const int8_t *q;
    const float *dx;
    const int32_t *c;
} prow;

static inline size_t p_bytes(int64_t k) {
    const size_t np = (size_t)((k + 63) / 64);
    return 3 * 64 * np;
}

static inline prow p_row(const uint8_t *act, int64_t k) {
    const size_t np = (size_t)((k + 63) / 64);
    prow r = {(const int8_t *)act, (const float *)(act + 64 * np), (const int32_t *)(act + 128 * np)};
    return r;
}

/* Block `half` (0/1) of pair q/dx/c: values xs (or zeros when xs is NULL) with scale d. */
static inline void pack_half(uint8_t *q, float *dx, int32_t *c, const int8_t *xs, float d, int half, int q4,
                             uint8_t bias) {
    if (q4) { /* values 0..15 then 16..31, each beside the partner's */
        for (int j = 0; j < 16; j++) {
            q[16 * half + j] = (uint8_t)(xs ? xs[j] : 0);
            q[32 + 16 * half + j] = (uint8_t)(xs ? xs[16 + j] : 0);
        }
        for (int l = 0; l < 4; l++) {
            int32_t s0 = 0, s1 = 0;
            for (int j = 0; j < 4; j++) {
                s0 += xs ? xs[4 * l + j] : 0;
                s1 += xs ? xs[16 + 4 * l + j] : 0;
            }
            dx[4 * half + l] = dx[8 + 4 * half + l] = d;
            c[4 * half + l] = -8 * s0;
            c[8 + 4 * half + l] = -8 * s1;
        }
    } else {
        for (int j = 0; j < 32; j++) q[32 * half + j] = (uint8_t)((xs ? xs[j] : 0) ^ bias);
        for (int l = 0; l < 8; l++) {
            dx[8 * half + l] = d;
            c[8 * half + l] = 0;
        }
    }
}

static inline void pack_pairs(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst, int q4,
                              uint8_t bias) {
    const int64_t nb = k / 32;
    prow r = p_row(dst, k);
    const blk_q8_0 *y = src;
    for (int64_t b = b0; b < b1; b++, y++) {
        uint8_t *q = (uint8_t *)r.q + 64 * (b / 2);
        float *dx = (float *)r.dx + 16 * (b / 2);
        int32_t *c = (int32_t *)r.c + 16 * (b / 2);
        pack_half(q, dx, c, y->qs, pltk_h2f(y->d), (int)(b % 2), q4, bias);
        if (b == nb - 1 && b % 2 == 0) pack_half(q, dx, c, NULL, 0.0f, 1, q4, bias); /* odd count */
    }
}

#endif
