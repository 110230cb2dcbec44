/* Portable kernels: plain C, no instruction-set assumptions.
 *
 * Packed activations are ggml's blocks copied verbatim (Q8_K or Q8_0), 64-byte padded.
 * Each weight block is unpacked once into signed bytes and then dotted with every row.
 */
#include <string.h>

#include "pltk.h"

/* ---- activation packing: ggml's blocks, unchanged ---------------------------------- */

static size_t bytes_q8k(int64_t k) { return pltk_round64((size_t)(k / QK_K) * sizeof(blk_q8_k)); }
static size_t bytes_q80(int64_t k) { return pltk_round64((size_t)(k / 32) * sizeof(blk_q8_0)); }

static void pack_q8k(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst) {
    (void)k;
    memcpy(dst + b0 * sizeof(blk_q8_k), src, (size_t)(b1 - b0) * sizeof(blk_q8_k));
}

static void pack_q80(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst) {
    (void)k;
    memcpy(dst + b0 * sizeof(blk_q8_0), src, (size_t)(b1 - b0) * sizeof(blk_q8_0));
}

/* ---- weight unpacking ---------------------------------------------------------------- */

static int32_t dot_i8(const int8_t *a, const int8_t *b, int n) {
    int32_t s = 0;
    for (int i = 0; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

/* Q4_K: values 0..15 in sub-blocks of 32; 64 values per 32 bytes (low nibbles, then high). */
static void unpack_q4k(const blk_q4_k *b, int8_t q[QK_K]) {
    for (int j = 0; j < 4; j++) {
        for (int l = 0; l < 32; l++) {
            q[64 * j + l] = (int8_t)(b->qs[32 * j + l] & 0x0f);
            q[64 * j + 32 + l] = (int8_t)(b->qs[32 * j + l] >> 4);
        }
    }
}

/* Q6_K: 6-bit values minus 32, in two halves of 128 (ggml's layout). */
static void unpack_q6k(const blk_q6_k *b, int8_t q[QK_K]) {
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        int8_t *o = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            o[l] = (int8_t)(((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) - 32);
            o[l + 32] = (int8_t)(((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32);
            o[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
            o[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
    }
}

/* ---- kernels --------------------------------------------------------------------------- */

static void mv_q4k(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                   float *const dst[PLTK_MAX_ROWS]) {
    const int64_t nb = a->k / QK_K;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n; i++) {
        const blk_q4_k *x = (const blk_q4_k *)(w + i * row_bytes);
        float sum[PLTK_MAX_ROWS] = {0};
        for (int64_t b = 0; b < nb; b++) {
            uint8_t sc[8], mn[8];
            pltk_q4k_scales(x[b].scales, sc, mn);
            unpack_q4k(&x[b], q);
            const float d = pltk_h2f(x[b].d), dmin = pltk_h2f(x[b].dmin);
            for (int r = 0; r < a->rows; r++) {
                const blk_q8_k *y = (const blk_q8_k *)a->act[r] + b;
                int32_t is = 0, im = 0;
                for (int s = 0; s < 8; s++) {
                    is += sc[s] * dot_i8(q + 32 * s, y->qs + 32 * s, 32);
                    im += mn[s] * (y->bsums[2 * s] + y->bsums[2 * s + 1]);
                }
                sum[r] += y->d * (d * (float)is - dmin * (float)im);
            }
        }
        for (int r = 0; r < a->rows; r++) dst[r][i] = sum[r];
    }
}

static void mv_q6k(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                   float *const dst[PLTK_MAX_ROWS]) {
    const int64_t nb = a->k / QK_K;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n; i++) {
        const blk_q6_k *x = (const blk_q6_k *)(w + i * row_bytes);
        float sum[PLTK_MAX_ROWS] = {0};
        for (int64_t b = 0; b < nb; b++) {
            unpack_q6k(&x[b], q);
            const float d = pltk_h2f(x[b].d);
            for (int r = 0; r < a->rows; r++) {
                const blk_q8_k *y = (const blk_q8_k *)a->act[r] + b;
                int32_t is = 0;
                for (int s = 0; s < 16; s++) is += x[b].scales[s] * dot_i8(q + 16 * s, y->qs + 16 * s, 16);
                sum[r] += d * y->d * (float)is;
            }
        }
        for (int r = 0; r < a->rows; r++) dst[r][i] = sum[r];
    }
}

static void mv_q80(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                   float *const dst[PLTK_MAX_ROWS]) {
    const int64_t nb = a->k / 32;
    for (int64_t i = 0; i < n; i++) {
        const blk_q8_0 *x = (const blk_q8_0 *)(w + i * row_bytes);
        float sum[PLTK_MAX_ROWS] = {0};
        for (int64_t b = 0; b < nb; b++) {
            const float d = pltk_h2f(x[b].d);
            for (int r = 0; r < a->rows; r++) {
                const blk_q8_0 *y = (const blk_q8_0 *)a->act[r] + b;
                sum[r] += d * pltk_h2f(y->d) * (float)dot_i8(x[b].qs, y->qs, 32);
            }
        }
        for (int r = 0; r < a->rows; r++) dst[r][i] = sum[r];
    }
}

static void mv_q40(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                   float *const dst[PLTK_MAX_ROWS]) {
    const int64_t nb = a->k / 32;
    int8_t q[32];
    for (int64_t i = 0; i < n; i++) {
        const blk_q4_0 *x = (const blk_q4_0 *)(w + i * row_bytes);
        float sum[PLTK_MAX_ROWS] = {0};
        for (int64_t b = 0; b < nb; b++) {
            for (int l = 0; l < 16; l++) {
                q[l] = (int8_t)((x[b].qs[l] & 0x0f) - 8);
                q[l + 16] = (int8_t)((x[b].qs[l] >> 4) - 8);
            }
            const float d = pltk_h2f(x[b].d);
            for (int r = 0; r < a->rows; r++) {
                const blk_q8_0 *y = (const blk_q8_0 *)a->act[r] + b;
                sum[r] += d * pltk_h2f(y->d) * (float)dot_i8(q, y->qs, 32);
            }
        }
        for (int r = 0; r < a->rows; r++) dst[r][i] = sum[r];
    }
}

static const pltk_kernel K_Q4K = {mv_q4k, pack_q8k, bytes_q8k, PLTK_Q8_K, QK_K, NULL};
static const pltk_kernel K_Q6K = {mv_q6k, pack_q8k, bytes_q8k, PLTK_Q8_K, QK_K, NULL};
static const pltk_kernel K_Q80 = {mv_q80, pack_q80, bytes_q80, PLTK_Q8_0, 32, NULL};
static const pltk_kernel K_Q40 = {mv_q40, pack_q80, bytes_q80, PLTK_Q8_0, 32, NULL};

const pltk_kernel *pltk_scalar_kernel(int type) {
    switch (type) {
    case PLTK_Q4_K: return &K_Q4K;
    case PLTK_Q6_K: return &K_Q6K;
    case PLTK_Q8_0: return &K_Q80;
    case PLTK_Q4_0: return &K_Q40;
    default: return NULL;
    }
}
