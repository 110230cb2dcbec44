/* AVX2 kernels (with FMA and F16C). Packed activation layouts: pack.h, without the +128.
 *
 * Products go through vpmaddubsw (unsigned x signed bytes, pairs summed to 16 bits) and
 * vpmaddwd; every pair sum stays below 2^15 (Q4_K 2*15*127, Q6_K 2*63*127, Q8_0/Q4_0 with
 * the weight sign moved to the activations 2*128*127), so the results are exact integers.
 */
#include <immintrin.h>
#include <string.h>

#include "pack.h"
#include "pltk.h"

#define ALWAYS static inline __attribute__((always_inline))
#define ROWS _Pragma("GCC unroll 4") for

ALWAYS float h2f(uint16_t h) { return _cvtsh_ss(h); }

ALWAYS float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

ALWAYS __m256i dot_scaled(__m256i u, __m256i s, __m256i scale) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale);
}

/* ---- Q4_K ------------------------------------------------------------------------------ */
/* Per 32 nibble bytes (sub-blocks 2j and 2j+1) the unpacked values and their two scale
   vectors are made once and used for every row; the rows' sums stay in registers. */

ALWAYS void q4k_rows(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                     float *const dst[PLTK_MAX_ROWS], const int L) {
    const int64_t nb = a->k / QK_K;
    krow rows[PLTK_MAX_ROWS];
    ROWS (int r = 0; r < L; r++) rows[r] = kq_row(a->act[r], a->k);
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < n; i++) {
        const blk_q4_k *x = (const blk_q4_k *)(w + i * row_bytes);
        __m256 accf[PLTK_MAX_ROWS];
        __m128 accm[PLTK_MAX_ROWS];
        ROWS (int r = 0; r < L; r++) {
            accf[r] = _mm256_setzero_ps();
            accm[r] = _mm_setzero_ps();
        }
        for (int64_t b = 0; b < nb; b++, x++) {
            PLTK_PREFETCH_BLOCK(x, sizeof(blk_q4_k));
            uint64_t s64, m64;
            pltk_q4k_scales64(x->scales, &s64, &m64);
            const __m128i mn = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)m64));
            /* each scale twice in both lanes: element s of `sc2` as 16-bit words */
            const __m256i sc2 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)s64)));
            __m256i acc[PLTK_MAX_ROWS];
            ROWS (int r = 0; r < L; r++) acc[r] = _mm256_setzero_si256();
            for (int j = 0; j < 4; j++) {
                const __m256i raw = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * j));
                const __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
                const __m256i slo = _mm256_shuffle_epi8(sc2, _mm256_set1_epi16((short)(0x0100 + 0x0202 * 2 * j)));
                const __m256i shi = _mm256_shuffle_epi8(sc2, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j + 1))));
                ROWS (int r = 0; r < L; r++) {
                    const int8_t *q = rows[r].q + 256 * b + 64 * j;
                    const __m256i p = _mm256_add_epi32(dot_scaled(lo, _mm256_load_si256((const __m256i *)q), slo),
                                                       dot_scaled(hi, _mm256_load_si256((const __m256i *)(q + 32)), shi));
                    acc[r] = _mm256_add_epi32(acc[r], p);
                }
            }
            const float d = h2f(x->d), dmin = h2f(x->dmin);
            ROWS (int r = 0; r < L; r++) {
                const float da = rows[r].d[b];
                accf[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r]), _mm256_set1_ps(d * da), accf[r]);
                const __m128i bs = _mm_load_si128((const __m128i *)(rows[r].bs + 16 * b));
                accm[r] = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_madd_epi16(mn, bs)), _mm_set1_ps(dmin * da), accm[r]);
            }
        }
        ROWS (int r = 0; r < L; r++) {
            dst[r][i] = hsum256(accf[r]) - hsum256(_mm256_castps128_ps256(accm[r]));
        }
    }
}

/* ---- Q6_K ------------------------------------------------------------------------------ */

ALWAYS void q6k_rows(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                     float *const dst[PLTK_MAX_ROWS], const int L) {
    const int64_t nb = a->k / QK_K;
    krow rows[PLTK_MAX_ROWS];
    ROWS (int r = 0; r < L; r++) rows[r] = kq_row(a->act[r], a->k);
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    /* per 32 values (two sub-blocks of 16): broadcast scale s in the low lane, s+1 high */
    const __m256i pick = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
                                          2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
    for (int64_t i = 0; i < n; i++) {
        const blk_q6_k *x = (const blk_q6_k *)(w + i * row_bytes);
        __m256 accf[PLTK_MAX_ROWS];
        ROWS (int r = 0; r < L; r++) accf[r] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++, x++) {
            PLTK_PREFETCH_BLOCK(x, sizeof(blk_q6_k));
            const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
            const __m256i neg = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc16, 5));
            __m256i wv[8], sv[8];
            for (int h = 0; h < 2; h++) {
                const __m256i l0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h));
                const __m256i l1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32));
                const __m256i hq = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
                wv[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hq, 4), m30));
                wv[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hq, 2), m30));
                wv[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hq, m30));
                wv[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                                _mm256_and_si256(_mm256_srli_epi16(hq, 2), m30));
            }
            for (int c = 0; c < 8; c++) { /* 32 values = sub-blocks 2c, 2c+1 */
                const __m256i pair = _mm256_permutevar8x32_epi32(sc16, _mm256_set1_epi32(c));
                sv[c] = _mm256_shuffle_epi8(pair, pick);
            }
            const float d = h2f(x->d);
            ROWS (int r = 0; r < L; r++) {
                const int8_t *q = rows[r].q + 256 * b;
                const __m256i bs = _mm256_load_si256((const __m256i *)(rows[r].bs + 16 * b));
                __m256i acc = _mm256_madd_epi16(bs, neg);
                for (int c = 0; c < 8; c++) {
                    const __m256i av = _mm256_load_si256((const __m256i *)(q + 32 * c));
                    acc = _mm256_add_epi32(acc, dot_scaled(wv[c], av, sv[c]));
                }
                accf[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(d * rows[r].d[b]), accf[r]);
            }
        }
        ROWS (int r = 0; r < L; r++) dst[r][i] = hsum256(accf[r]);
    }
}

/* ---- Q8_0 and Q4_0: pairs of 32-value blocks (see pack.h) --------------------------------- */
/* Each pair becomes two registers of 32 signed weight bytes (wv[0] against packed bytes
   0..31, wv[1] against 32..63). Q8_0: the weight sign moves onto the activations
   (|w| . a sign w, pairs <= 128*127*2). Q4_0: w = nibble - 8 against activations stored plus
   128 (unsigned): (a + 128).w = a.w + 128 sum(w), the second term taken off once per pair
   (pairs <= 255*8*2). */

ALWAYS void pairs_rows(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                       float *const dst[PLTK_MAX_ROWS], const int L, const int q4) {
    const int64_t nb = a->k / 32, np = nb / 2;
    const int odd = (int)(nb % 2);
    const size_t bsz = q4 ? sizeof(blk_q4_0) : sizeof(blk_q8_0);
    prow rows[PLTK_MAX_ROWS];
    ROWS (int r = 0; r < L; r++) rows[r] = p_row(a->act[r], a->k);
    const __m256i m4 = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8), ones = _mm256_set1_epi16(1);
    const __m256i bias = _mm256_set1_epi8((char)0x80), zero = _mm256_setzero_si256();
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *x = w + i * row_bytes;
        __m256 accf[PLTK_MAX_ROWS];
        ROWS (int r = 0; r < L; r++) accf[r] = _mm256_setzero_ps();
        for (int64_t p = 0; p < np + odd; p++) {
            const uint8_t *x0 = x + 2 * p * bsz, *x1 = x0 + bsz;
            PLTK_PREFETCH_BLOCK(x0, 2 * bsz);
            const int full = p < np;
            uint16_t h0, h1 = 0;
            memcpy(&h0, x0, 2);
            if (full) memcpy(&h1, x1, 2);
            const float d0 = h2f(h0), d1 = h2f(h1);
            __m256i wv[2], aw[2], init[2] = {zero, zero};
            __m256 dw[2];
            if (q4) {
                const __m128i lo0 = _mm_loadu_si128((const __m128i *)(x0 + 2));
                const __m128i lo1 = full ? _mm_loadu_si128((const __m128i *)(x1 + 2)) : _mm_set1_epi8((char)0x88);
                const __m256i raw = _mm256_inserti128_si256(_mm256_castsi128_si256(lo0), lo1, 1);
                wv[0] = _mm256_sub_epi8(_mm256_and_si256(raw, m4), eight);
                wv[1] = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(raw, 4), m4), eight);
                dw[0] = dw[1] = _mm256_setr_ps(d0, d0, d0, d0, d1, d1, d1, d1);
                for (int h = 0; h < 2; h++) {
                    init[h] = _mm256_sub_epi32(zero, _mm256_madd_epi16(_mm256_maddubs_epi16(bias, wv[h]), ones));
                    aw[h] = wv[h];
                }
            } else {
                wv[0] = _mm256_loadu_si256((const __m256i *)(x0 + 2));
                wv[1] = full ? _mm256_loadu_si256((const __m256i *)(x1 + 2)) : zero;
                dw[0] = _mm256_set1_ps(d0);
                dw[1] = _mm256_set1_ps(d1);
                aw[0] = _mm256_sign_epi8(wv[0], wv[0]);
                aw[1] = _mm256_sign_epi8(wv[1], wv[1]);
            }
            ROWS (int r = 0; r < L; r++) {
                const uint8_t *q = rows[r].q + 64 * p;
                const float *da = rows[r].d + 2 * p;
                __m256 dav[2];
                if (q4) {
                    dav[0] = dav[1] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_broadcast_ss(da)), _mm_broadcast_ss(da + 1), 1);
                } else {
                    dav[0] = _mm256_broadcast_ss(da);
                    dav[1] = _mm256_broadcast_ss(da + 1);
                }
                for (int h = 0; h < 2; h++) {
                    __m256i av = _mm256_load_si256((const __m256i *)(q + 32 * h));
                    __m256i u = av;
                    if (q4) {
                        u = av;  /* unsigned (a + 128) against signed w */
                        av = wv[h];
                    } else {
                        u = aw[h]; /* |w| against a * sign(w) */
                        av = _mm256_sign_epi8(av, wv[h]);
                    }
                    const __m256i acc = _mm256_add_epi32(init[h], _mm256_madd_epi16(_mm256_maddubs_epi16(u, av), ones));
                    accf[r] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), dav[h]), dw[h], accf[r]);
                }
            }
        }
        ROWS (int r = 0; r < L; r++) dst[r][i] = hsum256(accf[r]);
    }
}

#define ROWS_MV(name, body)                                                                         \
    static void name(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,            \
                     float *const dst[PLTK_MAX_ROWS]) {                                            \
        switch (a->rows) {                                                                          \
        case 1: body(1); break;                                                                     \
        case 2: body(2); break;                                                                     \
        case 3: body(3); break;                                                                     \
        default: body(4); break;                                                                    \
        }                                                                                           \
    }
#define Q4K_BODY(L) q4k_rows(w, row_bytes, n, a, dst, L)
#define Q6K_BODY(L) q6k_rows(w, row_bytes, n, a, dst, L)
#define Q80_BODY(L) pairs_rows(w, row_bytes, n, a, dst, L, 0)
#define Q40_BODY(L) pairs_rows(w, row_bytes, n, a, dst, L, 1)
ROWS_MV(mv_q4k, Q4K_BODY)
ROWS_MV(mv_q6k, Q6K_BODY)
ROWS_MV(mv_q80, Q80_BODY)
ROWS_MV(mv_q40, Q40_BODY)

static void pack_q80(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst) {
    pack_pairs(src, b0, b1, k, dst, 0, 0);
}

static void pack_q40(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst) {
    pack_pairs(src, b0, b1, k, dst, 1, 0x80);
}

static void pack_q4k_natural(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst) {
    pack_q4k(src, b0, b1, k, dst, 0);
}

static const pltk_kernel K_Q4K = {mv_q4k, pack_q4k_natural, kq_bytes, PLTK_Q8_K, QK_K, NULL};
static const pltk_kernel K_Q6K = {mv_q6k, pack_q6k, kq_bytes, PLTK_Q8_K, QK_K, NULL};
static const pltk_kernel K_Q80 = {mv_q80, pack_q80, p_bytes, PLTK_Q8_0, 32, NULL};
static const pltk_kernel K_Q40 = {mv_q40, pack_q40, p_bytes, PLTK_Q8_0, 32, NULL};

const pltk_kernel *pltk_avx2_kernel(int type) {
    switch (type) {
    case PLTK_Q4_K: return &K_Q4K;
    case PLTK_Q6_K: return &K_Q6K;
    case PLTK_Q8_0: return &K_Q80;
    case PLTK_Q4_0: return &K_Q40;
    default: return NULL;
    }
}
