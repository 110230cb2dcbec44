/* AVX-512 kernels (F, BW, VL; with PLTK_VNNI also AVX512-VNNI).
 *
 * Built twice: with -DPLTK_VNNI=1 -mavx512vnni (vpdpbusd / vpdpwssd), and without, where the
 * same two steps are done with vpmaddubsw + vpmaddwd. Every product sum that goes through
 * the 16-bit emulation is bounded below 2^15 (see each kernel), so both builds are exact.
 *
 * Packed activation layouts: pack.h (Q4_0 activations carry +128), and the Q8_0 layout below
 * (with VNNI, plus 128).
 */
#include <immintrin.h>
#include <string.h>

#include "pack.h"
#include "pltk.h"

#ifndef PLTK_VNNI
#define PLTK_VNNI 0
#endif

#if PLTK_VNNI
#define ENTRY pltk_avx512vnni_kernel
#else
#define ENTRY pltk_avx512_kernel
#endif

#define ALWAYS static inline __attribute__((always_inline))
#define ROWS _Pragma("GCC unroll 4") for

/* acc + sum of 4 products u8 x s8 per 32-bit lane */
ALWAYS __m512i dpbusd(__m512i acc, __m512i u, __m512i s) {
#if PLTK_VNNI
    return _mm512_dpbusd_epi32(acc, u, s);
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
#endif
}

/* the same on 256 bits */
ALWAYS __m256i dpbusd256(__m256i acc, __m256i u, __m256i s) {
#if PLTK_VNNI
    return _mm256_dpbusd_epi32(acc, u, s);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

/* acc + sum of 2 products s16 x s16 per 32-bit lane */
ALWAYS __m512i dpwssd(__m512i acc, __m512i a, __m512i b) {
#if PLTK_VNNI
    return _mm512_dpwssd_epi32(acc, a, b);
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
#endif
}

ALWAYS float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* ---- Q4_K ------------------------------------------------------------------------------ */
/* Per block, the 128 nibble bytes are taken as 16-byte units, even units into P0 and odd
   ones into P1 (two 128-bit shuffles). Then 32-bit lane group m (16 bytes) of lo(P0) and
   lo(P1) holds sub-block 2m only, and of hi(P0), hi(P1) sub-block 2m+1 only: two vpdpbusd
   per parity accumulate whole sub-block sums per lane (< 8*15*127 < 2^15), one pack to 16
   bits puts both parities side by side and one vpdpwssd applies the eight 6-bit scales.
   The mins meet the activations' sums of 32. */

static const int16_t Q4K_IDX[32] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
                                    4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7};

ALWAYS void q4k_scales16(const uint8_t s[12], __m128i *sc, __m128i *mn) {
    uint64_t s64, m64;
    pltk_q4k_scales64(s, &s64, &m64);
    *sc = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)s64));
    *mn = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)m64));
}

ALWAYS float hsum128(__m128 v) {
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    v = _mm_add_ss(v, _mm_movehdup_ps(v));
    return _mm_cvtss_f32(v);
}

/* Rows in pairs. The two rows' parities are packed together, packs(even of row 0, even of
   row 1), so one vpdpwssd with the even sub-blocks' scales and one with the odd ones' leave
   both rows in one register: in each 128-bit group, lanes 0-1 row 0 and lanes 2-3 row 1.
   That halves the conversions and multiply-adds per row, and the mins of both rows take one
   256-bit vpmaddwd. Per pair and block, the activations' scales [d0, d0, d1, d1] and their
   sums of 32 in the same order are gathered once per call into a table on the stack
   (q4k_pair, 48 bytes a block; pairs only where the rows fit L1, so at most 8 KB).
   LoopCoder-V2's shape, its 14 FFN gate matrices (27648 x 5120), 2 rows, one process
   alternating builds: 0.91-0.93 of the time with rows one by one; all its layers' mat-vecs,
   2 rows over 1: 1.22-1.27 one by one, 1.14-1.18 in pairs. */
static const int16_t Q4K_EVEN[32] = {0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2,
                                     4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6};
static const int16_t Q4K_ODD[32] = {1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3,
                                    5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7};
static const int16_t Q4K_MIN2[16] = {0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7};

typedef struct {
    float da[4];    /* d0, d0, d1, d1 */
    int16_t bs[16]; /* sums of 32: row 0's 0-3, row 1's 0-3, row 0's 4-7, row 1's 4-7 */
} q4k_pair;

static void q4k_pair_fill(const krow *r0, const krow *r1, int64_t nb, q4k_pair *pm) {
    for (int64_t b = 0; b < nb; b++) {
        const float d0 = r0->d[b], d1 = r1->d[b];
        pm[b].da[0] = pm[b].da[1] = d0;
        pm[b].da[2] = pm[b].da[3] = d1;
        memcpy(pm[b].bs, r0->bs + 16 * b, 8);
        memcpy(pm[b].bs + 4, r1->bs + 16 * b, 8);
        memcpy(pm[b].bs + 8, r0->bs + 16 * b + 4, 8);
        memcpy(pm[b].bs + 12, r1->bs + 16 * b + 4, 8);
    }
}

/* One weight block, unpacked for every row it meets: the scales in the one-row order
   (`scales`) and the pair order (`se`, `so`, `mn2`) as the caller wants them */
typedef struct {
    __m512i scales, se, so, e0, e1, o0, o1;
    __m256i mn2;
    __m512 dv;
    __m128i mn;
    __m128 dminv;
} q4k_blk;

ALWAYS void q4k_unpack(const blk_q4_k *x, __m512i m4, q4k_blk *u, const int one, const int pairs) {
    __m128i sc;
    q4k_scales16(x->scales, &sc, &u->mn);
    const __m512i sc512 = _mm512_castsi128_si512(sc);
    if (one) u->scales = _mm512_permutexvar_epi16(_mm512_loadu_si512(Q4K_IDX), sc512);
    if (pairs) {
        u->se = _mm512_permutexvar_epi16(_mm512_loadu_si512(Q4K_EVEN), sc512);
        u->so = _mm512_permutexvar_epi16(_mm512_loadu_si512(Q4K_ODD), sc512);
        u->mn2 = _mm256_permutexvar_epi16(_mm256_loadu_si256((const __m256i *)Q4K_MIN2), _mm256_castsi128_si256(u->mn));
    }
    const __m512i raw0 = _mm512_loadu_si512(x->qs), raw1 = _mm512_loadu_si512(x->qs + 64);
    const __m512i p0 = _mm512_shuffle_i64x2(raw0, raw1, 0x88), p1 = _mm512_shuffle_i64x2(raw0, raw1, 0xdd);
    u->e0 = _mm512_and_si512(p0, m4);
    u->e1 = _mm512_and_si512(p1, m4);
    u->o0 = _mm512_and_si512(_mm512_srli_epi16(p0, 4), m4);
    u->o1 = _mm512_and_si512(_mm512_srli_epi16(p1, 4), m4);
    u->dv = _mm512_set1_ps(h2f(x->d));
    u->dminv = _mm_set1_ps(h2f(x->dmin));
}

/* one activation block's sums per sub-block and parity: lanes of group m hold sub-block
   2m (even) or 2m+1 (odd) */
ALWAYS void q4k_parities(const q4k_blk *u, const int8_t *q, __m512i *even, __m512i *odd) {
    const __m512i zero = _mm512_setzero_si512();
    *even = dpbusd(dpbusd(zero, u->e0, _mm512_load_si512(q)), u->e1, _mm512_load_si512(q + 64));
    *odd = dpbusd(dpbusd(zero, u->o0, _mm512_load_si512(q + 128)), u->o1, _mm512_load_si512(q + 192));
}

/* block b of one activation row against an unpacked weight block */
ALWAYS void q4k_dot(const q4k_blk *u, const krow *row, int64_t b, __m512 *accf, __m128 *accm) {
    __m512i even, odd;
    q4k_parities(u, row->q + 256 * b, &even, &odd);
    const __m512i acc = dpwssd(_mm512_setzero_si512(), _mm512_packs_epi32(even, odd), u->scales);
    const float da = row->d[b];
    *accf = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), u->dv), _mm512_set1_ps(da), *accf);
    const __m128i bs = _mm_load_si128((const __m128i *)(row->bs + 16 * b));
    const __m128 m = _mm_mul_ps(_mm_cvtepi32_ps(_mm_madd_epi16(u->mn, bs)), u->dminv);
    *accm = _mm_fmadd_ps(m, _mm_set1_ps(da), *accm);
}

/* block b of a pair of activation rows */
ALWAYS void q4k_dot2(const q4k_blk *u, const krow *r0, const krow *r1, const q4k_pair *pm, int64_t b,
                     __m512 *accf, __m256 *accm) {
    __m512i e0, o0, e1, o1;
    q4k_parities(u, r0->q + 256 * b, &e0, &o0);
    q4k_parities(u, r1->q + 256 * b, &e1, &o1);
    const __m512i acc = dpwssd(dpwssd(_mm512_setzero_si512(), _mm512_packs_epi32(e0, e1), u->se),
                               _mm512_packs_epi32(o0, o1), u->so);
    const __m128 da = _mm_loadu_ps(pm->da);
    const __m256i bsv = _mm256_loadu_si256((const __m256i *)pm->bs);
    const __m256 sm = _mm256_broadcast_ps((const __m128 *)pm->da);
    const __m512 s = _mm512_broadcast_f32x4(_mm_mul_ps(da, _mm512_castps512_ps128(u->dv)));
    *accf = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), s, *accf);
    const __m256i m = _mm256_madd_epi16(u->mn2, bsv);
    *accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), _mm256_mul_ps(sm, _mm256_broadcastss_ps(u->dminv)), *accm);
}

/* PAIRED: rows 2p and 2p+1 go through q4k_dot2, else (and a last odd row) through q4k_dot */
ALWAYS void q4k_rows(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                     float *const dst[PLTK_MAX_ROWS], const int L, const int PAIRED) {
    const int64_t nb = a->k / QK_K;
    const int P = PAIRED ? L / 2 : 0, S = L - 2 * P; /* pairs of rows, then single rows */
    krow rows[PLTK_MAX_ROWS];
    ROWS (int r = 0; r < L; r++) rows[r] = kq_row(a->act[r], a->k);
    q4k_pair pm[P ? P : 1][P ? nb : 1];
    for (int p = 0; p < P; p++) q4k_pair_fill(&rows[2 * p], &rows[2 * p + 1], nb, pm[p]);
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const int apf = PLTK_ACT_PREFETCH_WANTED(L, kq_bytes(a->k));
    for (int64_t i = 0; i < n; i++) {
        const blk_q4_k *x = (const blk_q4_k *)(w + i * row_bytes);
        __m512 accf[PLTK_MAX_ROWS];
        __m256 acc2[2];
        __m128 accm[PLTK_MAX_ROWS];
        ROWS (int r = 0; r < P + S; r++) accf[r] = _mm512_setzero_ps();
        ROWS (int p = 0; p < P; p++) acc2[p] = _mm256_setzero_ps();
        ROWS (int r = 0; r < S; r++) accm[r] = _mm_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            PLTK_PREFETCH_BLOCK(x + b, sizeof(blk_q4_k));
            if (apf)
                ROWS (int r = 0; r < L; r++) PLTK_PREFETCH_L1(rows[r].q + 256 * (b + 1), 256);
            q4k_blk u;
            q4k_unpack(x + b, m4, &u, S, P);
            ROWS (int p = 0; p < P; p++) q4k_dot2(&u, &rows[2 * p], &rows[2 * p + 1], &pm[p][b], b, &accf[p], &acc2[p]);
            ROWS (int r = 0; r < S; r++) q4k_dot(&u, &rows[2 * P + r], b, &accf[P + r], &accm[r]);
        }
        ROWS (int p = 0; p < P; p++) { /* lanes 0-1 of each 128-bit group row 2p, lanes 2-3 row 2p+1 */
            const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(accf[p]), 1));
            const __m256 f = _mm256_add_ps(_mm512_castps512_ps256(accf[p]), hi);
            const __m128 t = _mm_sub_ps(_mm_add_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1)),
                                        _mm_add_ps(_mm256_castps256_ps128(acc2[p]), _mm256_extractf128_ps(acc2[p], 1)));
            float v[4];
            _mm_storeu_ps(v, t);
            dst[2 * p][i] = v[0] + v[1];
            dst[2 * p + 1][i] = v[2] + v[3];
        }
        ROWS (int r = 0; r < S; r++) dst[2 * P + r][i] = _mm512_reduce_add_ps(accf[P + r]) - hsum128(accm[r]);
    }
}

/* Rows in pairs where the packed rows fit L1 together. Where they do not (the FFN down
   matrix), pairs gained nothing in LoopCoder-V2's shape (its 14 down matrices, 2 rows, one
   process alternating builds: 0.99 of the time with rows one by one), and with the pair
   table beside the rows in L1 they lost 5%. */
static void mv_q4k(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                   float *const dst[PLTK_MAX_ROWS]) {
    const int paired = !PLTK_ACT_PREFETCH_WANTED(a->rows, kq_bytes(a->k));
    switch (a->rows) {
    case 1: q4k_rows(w, row_bytes, n, a, dst, 1, 0); break;
    case 2: paired ? q4k_rows(w, row_bytes, n, a, dst, 2, 1) : q4k_rows(w, row_bytes, n, a, dst, 2, 0); break;
    case 3: paired ? q4k_rows(w, row_bytes, n, a, dst, 3, 1) : q4k_rows(w, row_bytes, n, a, dst, 3, 0); break;
    default: paired ? q4k_rows(w, row_bytes, n, a, dst, 4, 1) : q4k_rows(w, row_bytes, n, a, dst, 4, 0); break;
    }
}

/* ---- Q6_K ------------------------------------------------------------------------------ */
/* Per half block of 128: two registers of 64 unsigned 6-bit values (0..63, the stored code;
   the true value is code - 32). Lanes of 4 products stay below 4*63*127 < 2^15, so two
   registers pack to 16 bits and meet the int8 sub-block scales in one vpdpwssd. The -32
   offset is taken back with the activation sums of 16: -32 * sum(scale * bsum). */

static const int16_t Q6K_IDX[2][32] = {
    {0, 0, 0, 0, 4, 4, 4, 4, 1, 1, 1, 1, 5, 5, 5, 5, 2, 2, 2, 2, 6, 6, 6, 6, 3, 3, 3, 3, 7, 7, 7, 7},
    {8, 8, 8, 8, 12, 12, 12, 12, 9, 9, 9, 9, 13, 13, 13, 13, 10, 10, 10, 10, 14, 14, 14, 14, 11, 11, 11, 11, 15, 15, 15, 15},
};

ALWAYS void q6k_rows(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                     float *const dst[PLTK_MAX_ROWS], const int L) {
    const int64_t nb = a->k / QK_K;
    krow rows[PLTK_MAX_ROWS];
    ROWS (int r = 0; r < L; r++) rows[r] = kq_row(a->act[r], a->k);
    const __m512i idx0 = _mm512_loadu_si512(Q6K_IDX[0]), idx1 = _mm512_loadu_si512(Q6K_IDX[1]);
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30), zero = _mm512_setzero_si512();
    const int apf = PLTK_ACT_PREFETCH_WANTED(L, kq_bytes(a->k));
    for (int64_t i = 0; i < n; i++) {
        const blk_q6_k *x = (const blk_q6_k *)(w + i * row_bytes);
        __m512 accf[PLTK_MAX_ROWS];
        ROWS (int r = 0; r < L; r++) accf[r] = _mm512_setzero_ps();
        for (int64_t b = 0; b < nb; b++, x++) {
            PLTK_PREFETCH_BLOCK(x, sizeof(blk_q6_k));
            if (apf)
                ROWS (int r = 0; r < L; r++) PLTK_PREFETCH_L1(rows[r].q + 256 * (b + 1), 256);
            const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
            const __m512i vsc = _mm512_castsi256_si512(sc16);
            const __m512i s0 = _mm512_permutexvar_epi16(idx0, vsc), s1 = _mm512_permutexvar_epi16(idx1, vsc);
            const __m512i neg = _mm512_zextsi256_si512(_mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc16, 5)));
            __m512i wv[4];
            for (int h = 0; h < 2; h++) {
                const __m512i lq = _mm512_loadu_si512(x->ql + 64 * h);
                const __m256i hq = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
                const __m512i hz = _mm512_inserti64x4(_mm512_castsi256_si512(hq), _mm256_srli_epi16(hq, 2), 1);
                wv[2 * h] = _mm512_or_si512(_mm512_and_si512(lq, m4), _mm512_and_si512(_mm512_slli_epi16(hz, 4), m30));
                wv[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(lq, 4), m4), _mm512_and_si512(hz, m30));
            }
            const float d = h2f(x->d);
            ROWS (int r = 0; r < L; r++) {
                const int8_t *q = rows[r].q + 256 * b;
                const __m512i t0 = dpbusd(zero, wv[0], _mm512_load_si512(q));
                const __m512i t1 = dpbusd(zero, wv[1], _mm512_load_si512(q + 64));
                const __m512i t2 = dpbusd(zero, wv[2], _mm512_load_si512(q + 128));
                const __m512i t3 = dpbusd(zero, wv[3], _mm512_load_si512(q + 192));
                const __m512i bs = _mm512_zextsi256_si512(_mm256_load_si256((const __m256i *)(rows[r].bs + 16 * b)));
                __m512i acc = dpwssd(zero, bs, neg);
                acc = dpwssd(acc, _mm512_packs_epi32(t0, t1), s0);
                acc = dpwssd(acc, _mm512_packs_epi32(t2, t3), s1);
                accf[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(d * rows[r].d[b]), accf[r]);
            }
        }
        ROWS (int r = 0; r < L; r++) dst[r][i] = _mm512_reduce_add_ps(accf[r]);
    }
}

static void mv_q6k(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                   float *const dst[PLTK_MAX_ROWS]) {
    switch (a->rows) {
    case 1: q6k_rows(w, row_bytes, n, a, dst, 1); break;
    case 2: q6k_rows(w, row_bytes, n, a, dst, 2); break;
    case 3: q6k_rows(w, row_bytes, n, a, dst, 3); break;
    default: q6k_rows(w, row_bytes, n, a, dst, 4); break;
    }
}

/* ---- Q4_0: pairs of 32-value blocks ------------------------------------------------------ */
/* A pair of blocks is unpacked into one register of 64 signed weight bytes W = nibble - 8 and
   a vector of the two weight scales per 32-bit lane; the rows then share one code path.
   Activations stored plus 128 (unsigned, pack.h) give vpdpbusd(a + 128, W) = a.W + 128 sum(W);
   the second term depends on the weights only and is taken off once per pair for all rows.
   Pairs of products are at most 255 * 8 * 2 < 2^15, exact in the 16-bit emulation too. The
   activations' per-block scales are spread over the lanes with two broadcasts. */

static void pack_q40(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst) {
    pack_pairs(src, b0, b1, k, dst, 1, 0x80);
}

/* quarters of 4 lanes alternate between the pair's two blocks */
static const int16_t PAIR_IDX[16] = {0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1};

ALWAYS void q40_rows(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                     float *const dst[PLTK_MAX_ROWS], const int L) {
    const int64_t nb = a->k / 32, np = nb / 2;
    const int odd = (int)(nb % 2);
    const size_t bsz = sizeof(blk_q4_0);
    const __mmask16 lanes1 = 0xf0f0;
    prow rows[PLTK_MAX_ROWS];
    ROWS (int r = 0; r < L; r++) rows[r] = p_row(a->act[r], a->k);
    const __m256i m4 = _mm256_set1_epi8(0x0f), idx = _mm256_loadu_si256((const __m256i *)PAIR_IDX);
    const __m512i zero = _mm512_setzero_si512(), bias = _mm512_set1_epi8((char)0x80), eight = _mm512_set1_epi8(8);
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *x = w + i * row_bytes;
        __m512 accf[PLTK_MAX_ROWS];
        ROWS (int r = 0; r < L; r++) accf[r] = _mm512_setzero_ps();
        for (int64_t p = 0; p < np + odd; p++) {
            const uint8_t *x0 = x + 2 * p * bsz, *x1 = x0 + bsz;
            PLTK_PREFETCH_BLOCK(x0, 2 * bsz);
            const int full = p < np;
            uint16_t d0, d1 = 0;
            memcpy(&d0, x0, 2);
            if (full) memcpy(&d1, x1, 2);
            const __m128i halves = _mm_cvtsi32_si128((int)((uint32_t)d1 << 16 | d0));
            const __m512 dw = _mm512_cvtph_ps(_mm256_permutexvar_epi16(idx, _mm256_castsi128_si256(halves)));
            const __m128i lo0 = _mm_loadu_si128((const __m128i *)(x0 + 2));
            const __m128i lo1 = full ? _mm_loadu_si128((const __m128i *)(x1 + 2)) : _mm_set1_epi8((char)0x88);
            const __m256i raw = _mm256_inserti128_si256(_mm256_castsi128_si256(lo0), lo1, 1);
            const __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
            const __m512i wv = _mm512_sub_epi8(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), eight);
            const __m512i init = _mm512_sub_epi32(zero, dpbusd(zero, bias, wv));
            ROWS (int r = 0; r < L; r++) {
                const __m512i acc = dpbusd(init, _mm512_load_si512(rows[r].q + 64 * p), wv);
                const float *da = rows[r].d + 2 * p;
                const __m512 dav = _mm512_mask_broadcastss_ps(_mm512_set1_ps(da[0]), lanes1, _mm_load_ss(da + 1));
                accf[r] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), dav), dw, accf[r]);
            }
        }
        ROWS (int r = 0; r < L; r++) dst[r][i] = _mm512_reduce_add_ps(accf[r]);
    }
}

static void mv_q40(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                   float *const dst[PLTK_MAX_ROWS]) {
    switch (a->rows) {
    case 1: q40_rows(w, row_bytes, n, a, dst, 1); break;
    case 2: q40_rows(w, row_bytes, n, a, dst, 2); break;
    case 3: q40_rows(w, row_bytes, n, a, dst, 3); break;
    default: q40_rows(w, row_bytes, n, a, dst, 4); break;
    }
}

/* ---- Q8_0: quads of 32-value blocks, two rows a register --------------------------------- */
/* Past the weight stream, a dot product costs the float work per 32-bit lane of int32 sums
   (conversion, scale product, multiply-add), so each lane should sum as many values as it can
   before it meets the scales. A quad of four weight blocks (j = 0..3) is arranged by 16-bit
   word permutations (vpermt2w, shared by the rows) into four 256-bit units X_t, t = 0..3, in
   which lane 2j + h holds block j's values 16h + 4t .. 16h + 4t + 3. With 2+ rows each unit
   is duplicated into both halves of a register and a pair of rows packs its units side by
   side (row 0 low, row 1 high): four vpdpbusd leave in every lane the sum of 16 values of one
   block and one row, and one conversion, one multiply and one multiply-add per quad serve
   both rows (1.5 float instructions per row and 128 weights; one row a register, the layout
   before, needed 3). A third row does the same on the low halves. One row alone takes the
   weights as [X_0 | X_1] and [X_2 | X_3] (two permutations) and adds the halves' sums before
   the float work.
   Packed row, 160 bytes per quad for every k (ceil(k/128) quads), in 32-byte units, five a
   quad: its values as int8 in the orders X_0 .. X_3, then eight lanes of which 2j holds block
   j's int32 -128 x (sum of its 32 values) (VNNI only, else 0) and 2j + 1 its scale as a
   float. The accumulator starts at the meta loaded with the odd lanes masked off, and the
   scales come from the same unit by one in-lane shuffle (vmovshdup). The rows of a pair have
   their units 64 bytes apart, the partner's in between (pack_q80_pair); a row alone has them
   32 bytes apart. Blocks past the row's end are zero with scale 0.
   What the layout cost, measured (A/B in one process; the 1.5 GB model's mat-vecs with its
   own weights, fast-mode processes, time over the layout before): with the starts and scales
   in lanes of their own (192 bytes a quad) 1 and 2 rows took 0.86-0.93 and 0.91-0.92, but
   where the rows outgrow L1 and the weights come from memory (a 2560 x 27648 matrix) 2 and 3
   rows took 1.28-1.37 and 1.41-1.48; with the meta after all of a row's values, 1 row took
   0.96-1.05. As built: 0.87-0.95, 0.92-0.94, 0.99-1.00, and 1.01 for the long rows.
   vpdpbusd multiplies unsigned by signed bytes: with VNNI the weights are made unsigned (plus
   128, one xor shared by the rows) and each block's 128 * sum of values is taken off by the
   accumulator's start; without VNNI (255 * 127 * 2 would saturate vpmaddubsw) the weights'
   signs move onto the activations: |W| . (a sign W). */

static int64_t q80_quads(int64_t k) { return (k / 32 + 3) / 4; }
static size_t q80_bytes(int64_t k) { return pltk_round64((size_t)q80_quads(k) * 160); }

/* block j of the quad whose first unit is at qd, units `stride` bytes apart: values
   16h + 4t .. 16h + 4t + 3 go to unit t, lane 2j + h */
static void q80_block(uint8_t *qd, size_t stride, int j, const int8_t *xs, float d) {
    static const int8_t zeros[32];
    const int8_t *v = xs ? xs : zeros;
    int32_t sum = 0;
    for (int i = 0; i < 32; i++) sum += v[i];
    for (int h = 0; h < 2; h++)
        for (int t = 0; t < 4; t++) memcpy(qd + t * stride + 4 * (2 * j + h), v + 16 * h + 4 * t, 4);
    const int32_t init = PLTK_VNNI ? -128 * sum : 0;
    memcpy(qd + 4 * stride + 8 * j, &init, 4);
    memcpy(qd + 4 * stride + 8 * j + 4, &d, 4);
}

static void pack_q80_units(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst, size_t stride) {
    const int64_t nb = k / 32;
    const blk_q8_0 *y = src;
    for (int64_t b = b0; b < b1; b++, y++) {
        uint8_t *qd = dst + 5 * stride * (size_t)(b / 4);
        q80_block(qd, stride, (int)(b % 4), y->qs, h2f(y->d));
        if (b == nb - 1)
            for (int j = (int)(b % 4) + 1; j < 4; j++) q80_block(qd, stride, j, NULL, 0.0f);
    }
}

static void pack_q80(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst) {
    pack_q80_units(src, b0, b1, k, dst, 32);
}

static void pack_q80_pair(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst) {
    pack_q80_units(src, b0, b1, k, dst, 64);
}

/* 16-bit word i of X_t: lane l = (i / 2) % 8 = 2j + h, word w = i % 2, values 16h + 4t + 2w,
   +1 of block j; a block is an F16 scale and 32 values, 34 bytes, so value v of block j is
   word 17j + 1 + v / 2 of the quad. X_0, X_1 come from the quad's bytes [0, 128), X_2, X_3
   from [8, 136) (their words 4 further on). */
#define Q80_X(i, t) (17 * ((((i) / 2) % 8) / 2) + 1 + 8 * ((((i) / 2) % 8) % 2) + 2 * (t) + (i) % 2 - 4 * ((t) / 2))
#define Q80_X8(i, t) Q80_X(i, t), Q80_X(i + 1, t), Q80_X(i + 2, t), Q80_X(i + 3, t), \
                     Q80_X(i + 4, t), Q80_X(i + 5, t), Q80_X(i + 6, t), Q80_X(i + 7, t)
#define Q80_XT(t) {Q80_X8(0, t), Q80_X8(8, t), Q80_X8(16, t), Q80_X8(24, t)}
static const int16_t Q80_XS[4][32] = {Q80_XT(0), Q80_XT(1), Q80_XT(2), Q80_XT(3)};
/* [X_t | X_t+1] for t = 0, 2 (a row alone: its units t and t + 1 are one 64-byte load) */
#define Q80_XX(t) {Q80_X8(0, t), Q80_X8(8, t), Q80_X8(0, t + 1), Q80_X8(8, t + 1)}
static const int16_t Q80_XH[2][32] = {Q80_XX(0), Q80_XX(2)};
/* the four F16 scales are words 0, 17, 34 and 51 of the quad: lane 2j + h gets block j's */
static const int16_t Q80_D[32] = {0, 0, 17, 17, 34, 34, 51, 51, 0, 0, 17, 17, 34, 34, 51, 51};

/* a quad's weights, shared by the rows: four units (unsigned with VNNI, else |W| with the
   sign masks) and the block scales as floats, both halves alike */
typedef struct {
    __m512i u[4];
#if !PLTK_VNNI
    __mmask64 neg[4];
#endif
    __m512 dw;
} q80_w;

ALWAYS void q80_weights(const uint8_t *x0, q80_w *q, const int L) {
    /* four loads, kept in registers (the empty asm): left to itself GCC 12 loaded the quad
       again for each permutation, ten loads of 64 bytes, and the kernel took 1.3-1.5x longer */
    __m512i lo = _mm512_loadu_si512(x0), hi = _mm512_loadu_si512(x0 + 64);
    __m512i lo8 = _mm512_loadu_si512(x0 + 8), hi8 = _mm512_loadu_si512(x0 + 72);
    __asm__("" : "+v"(lo), "+v"(hi), "+v"(lo8), "+v"(hi8));
    q->dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(lo, _mm512_loadu_si512(Q80_D), hi)));
    ROWS (int t = 0; t < 4; t++) {
        if (L == 1 && t >= 2) break; /* [X_0 | X_1], [X_2 | X_3] */
        const __m512i idx = _mm512_loadu_si512(L == 1 ? Q80_XH[t] : Q80_XS[t]);
        const __m512i x = (L == 1 ? t < 1 : t < 2) ? _mm512_permutex2var_epi16(lo, idx, hi)
                                                    : _mm512_permutex2var_epi16(lo8, idx, hi8);
#if PLTK_VNNI
        q->u[t] = _mm512_xor_si512(x, _mm512_set1_epi8((char)0x80));
#else
        q->u[t] = _mm512_abs_epi8(x);
        q->neg[t] = _mm512_movepi8_mask(x);
#endif
    }
}

/* the quad's meta unit at m: the block scales in both lanes of a block, and the accumulator's
   start (the even lanes) */
#define Q80_SCALE(m, V) _mm##V##_movehdup_ps(_mm##V##_load_ps((const float *)(m)))
#define Q80_INIT(m, V, EVEN) (PLTK_VNNI ? _mm##V##_maskz_load_epi32(EVEN, m) : _mm##V##_setzero_si##V())

/* s + weight unit t . activations a (without VNNI the weights' signs move onto a) */
ALWAYS __m512i q80_dot(const q80_w *q, int t, __m512i s, __m512i a) {
#if !PLTK_VNNI
    a = _mm512_mask_sub_epi8(a, q->neg[t], _mm512_setzero_si512(), a);
#endif
    return dpbusd(s, q->u[t], a);
}

/* the same on the unit's low half */
ALWAYS __m256i q80_dot256(const q80_w *q, int t, __m256i s, __m256i a) {
#if !PLTK_VNNI
    a = _mm256_mask_sub_epi8(a, (__mmask32)q->neg[t], _mm256_setzero_si256(), a);
#endif
    return dpbusd256(s, _mm512_castsi512_si256(q->u[t]), a);
}

/* a pair of rows (their quad's units at ap, 64 bytes apart) times the quad */
ALWAYS __m512 q80_pair(const q80_w *q, const uint8_t *ap, __m512 acc) {
    __m512i s = Q80_INIT(ap + 4 * 64, 512, 0x5555);
    ROWS (int t = 0; t < 4; t++) s = q80_dot(q, t, s, _mm512_load_si512(ap + 64 * t));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(q->dw, Q80_SCALE(ap + 4 * 64, 512)), acc);
}

/* the third of three rows (units at ap, 32 bytes apart), on the low halves */
ALWAYS __m256 q80_third(const q80_w *q, const uint8_t *ap, __m256 acc) {
    __m256i s = Q80_INIT(ap + 4 * 32, 256, 0x55);
    ROWS (int t = 0; t < 4; t++) s = q80_dot256(q, t, s, _mm256_load_si256((const __m256i *)(ap + 32 * t)));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(_mm512_castps512_ps256(q->dw), Q80_SCALE(ap + 4 * 32, 256)), acc);
}

/* one row (L = 1; units at ap, 32 bytes apart, so units t, t + 1 are one load), with the
   weights as [X_0 | X_1], [X_2 | X_3]: the halves' sums meet before the float work */
ALWAYS __m256 q80_single(const q80_w *q, const uint8_t *ap, __m256 acc) {
    __m512i s = _mm512_zextsi256_si512(Q80_INIT(ap + 4 * 32, 256, 0x55));
    ROWS (int t = 0; t < 2; t++) s = q80_dot(q, t, s, _mm512_loadu_si512(ap + 64 * t));
    const __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s8), _mm256_mul_ps(_mm512_castps512_ps256(q->dw), Q80_SCALE(ap + 4 * 32, 256)), acc);
}

ALWAYS float hsum256(__m256 v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    return _mm_cvtss_f32(_mm_add_ss(_mm_hadd_ps(s, s), _mm_movehdup_ps(_mm_hadd_ps(s, s))));
}

/* Software prefetch of the weights only with 2+ rows, or with one row whose packed
   activations outgrow L1 (PLTK_ACT_PREFETCH_WANTED). With one short row the hardware prefetchers
   keep up alone, and the prefetches cost: the single-loop step of the 1.5 GB model 4-7% (into
   L1, 2 KB ahead, an earlier build), SmolLM2-135M's Q8_0 decode 6-15% (into L2, 6 KB ahead:
   ours / ggml's speed 1.00 and 1.06 with them, 1.10 and 1.03 without), its 49152 x 576 output
   matrix alone 22%. With a row of 27,648 values (LoopCoder-V2's FFN down matrix, 2560 rows here)
   the one-row mat-vec took 2.84 ms without them and 1.70 ms with them (A/B in one process). */
ALWAYS void q80_rows(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                     float *const dst[PLTK_MAX_ROWS], const int L) {
    const int64_t nb = a->k / 32, nq = nb / 4;
    const int tail = (int)(nb % 4), P = L / 2; /* pairs, and a row alone when L is odd */
    const size_t bsz = sizeof(blk_q8_0);
    const int apf = PLTK_ACT_PREFETCH_WANTED(L, q80_bytes(a->k));
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *x = w + i * row_bytes;
        const uint8_t *ap[2], *a1 = L % 2 ? a->act[L - 1] : NULL;
        __m512 accp[2];
        __m256 acc1 = _mm256_setzero_ps();
        ROWS (int p = 0; p < P; p++) {
            accp[p] = _mm512_setzero_ps();
            ap[p] = a->act[2 * p];
        }
        q80_w q;
        for (int64_t c = 0; c <= nq; c++) {
            if (c == nq) { /* the last 1-3 blocks beside zero ones (scale 0) */
                if (!tail) break;
                uint8_t last[4 * sizeof(blk_q8_0)] = {0};
                memcpy(last, x, tail * bsz);
                q80_weights(last, &q, L);
            } else {
                if (L > 1 || apf) /* one row: see above */
                    PLTK_PREFETCH_BLOCK(x, 4 * bsz);
                if (apf) {
                    ROWS (int p = 0; p < P; p++) PLTK_PREFETCH_L1(ap[p] + 320, 320);
                    if (L % 2) PLTK_PREFETCH_L1(a1 + 160, 160);
                }
                q80_weights(x, &q, L);
            }
            ROWS (int p = 0; p < P; p++) {
                accp[p] = q80_pair(&q, ap[p], accp[p]);
                ap[p] += 320;
            }
            if (L % 2) {
                acc1 = L == 1 ? q80_single(&q, a1, acc1) : q80_third(&q, a1, acc1);
                a1 += 160;
            }
            x += 4 * bsz;
        }
        ROWS (int p = 0; p < P; p++) {
            dst[2 * p][i] = hsum256(_mm512_castps512_ps256(accp[p]));
            dst[2 * p + 1][i] = hsum256(_mm512_extractf32x8_ps(accp[p], 1));
        }
        if (L % 2) dst[L - 1][i] = hsum256(acc1);
    }
}

static void mv_q80(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                   float *const dst[PLTK_MAX_ROWS]) {
    switch (a->rows) {
    case 1: q80_rows(w, row_bytes, n, a, dst, 1); break;
    case 2: q80_rows(w, row_bytes, n, a, dst, 2); break;
    case 3: q80_rows(w, row_bytes, n, a, dst, 3); break;
    default: q80_rows(w, row_bytes, n, a, dst, 4); break;
    }
}

static void pack_q4k_units(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst) {
    pack_q4k(src, b0, b1, k, dst, 1);
}

static const pltk_kernel K_Q4K = {mv_q4k, pack_q4k_units, kq_bytes, PLTK_Q8_K, QK_K, NULL};
static const pltk_kernel K_Q6K = {mv_q6k, pack_q6k, kq_bytes, PLTK_Q8_K, QK_K, NULL};
static const pltk_kernel K_Q80 = {mv_q80, pack_q80, q80_bytes, PLTK_Q8_0, 32, pack_q80_pair};
static const pltk_kernel K_Q40 = {mv_q40, pack_q40, p_bytes, PLTK_Q8_0, 32, NULL};

const pltk_kernel *ENTRY(int type) {
    switch (type) {
    case PLTK_Q4_K: return &K_Q4K;
    case PLTK_Q6_K: return &K_Q6K;
    case PLTK_Q8_0: return &K_Q80;
    case PLTK_Q4_0: return &K_Q40;
    default: return NULL;
    }
}
