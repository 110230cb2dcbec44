/* Packed activation rows for the SIMD kernel sets (AVX2 and AVX-512 share them, except the
 * AVX-512 Q8_0 kernel, whose quad layout is in mv_avx512.c).
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
 *   q  [64 np]  uint8  Q8_0: block 2p then 2p+1; Q4_0: 2p[0:16], 2p+1[0:16], 2p[16:32],
 *                      2p+1[16:32] (the order of an unpacked pair of Q4_0 blocks); each value
 *                      plus `bias` (128: unsigned, for the kernels that want it so)
 *   d  [2 np]   float  the Q8_0 scale of each block
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
    const uint8_t *q;
    const float *d;
} prow;

static inline size_t p_bytes(int64_t k) {
    const size_t np = (size_t)((k + 63) / 64);
    return 64 * np + pltk_round64(8 * np);
}

static inline prow p_row(const uint8_t *act, int64_t k) {
    const size_t np = (size_t)((k + 63) / 64);
    prow r = {act, (const float *)(act + 64 * np)};
    return r;
}

/* Block `half` (0/1) of pair q: values xs (or zeros when xs is NULL). */
static inline void pack_half(uint8_t *q, const int8_t *xs, int half, int q4, uint8_t bias) {
    if (q4) { /* values 0..15 then 16..31, each beside the partner's */
        for (int j = 0; j < 16; j++) {
            q[16 * half + j] = (uint8_t)((xs ? xs[j] : 0) ^ bias);
            q[32 + 16 * half + j] = (uint8_t)((xs ? xs[16 + j] : 0) ^ bias);
        }
    } else {
        for (int j = 0; j < 32; j++) q[32 * half + j] = (uint8_t)((xs ? xs[j] : 0) ^ bias);
    }
}

static inline void pack_pairs(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst, int q4,
                              uint8_t bias) {
    const int64_t nb = k / 32;
    prow r = p_row(dst, k);
    const blk_q8_0 *y = src;
    for (int64_t b = b0; b < b1; b++, y++) {
        uint8_t *q = (uint8_t *)r.q + 64 * (b / 2);
        pack_half(q, y->qs, (int)(b % 2), q4, bias);
        ((float *)r.d)[b] = pltk_h2f(y->d);
        if (b == nb - 1 && b % 2 == 0) { /* odd count: a zero partner */
            pack_half(q, NULL, 1, q4, bias);
            ((float *)r.d)[b + 1] = 0.0f;
        }
    }
}

#endif
