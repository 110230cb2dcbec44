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

/* ---- Q8_0: quads of 32-value blocks ------------------------------------------------------ */
/* Four blocks j = 0..3 (A, B, C, D) are gathered by two 16-bit word permutations (vpermt2w)
   so that 32-bit lane 4m + j holds block j's values 4m .. 4m+3 of its first half (W1) or of
   its second half (W2). Two vpdpbusd into one accumulator then leave each block's sum spread
   over lanes j, 4 + j, 8 + j and 12 + j: a block's scale sits in the same lane of every
   128-bit group, so a row's four scales are one 16-byte broadcast. Per row and 128 weights
   that is two dot-product instructions, one conversion, one multiply of the weight scales
   with the row's scales and one multiply-add; the permutations, the weight scales and (with
   VNNI) the sign flip are shared by the rows.
   Packed row, nq = ceil(k/128) quads, 160 bytes per quad for every k:
     [0, 128 nq)            per quad, 128 bytes: W1's order, then W2's (the values as int8)
     [128 nq, 160 nq)       per quad, 32 bytes: 4 int32 (-128 times each block's sum of
                            values; VNNI only, else 0), then the 4 block scales as floats
   Blocks past the row's end are zero with scale 0. vpdpbusd multiplies unsigned by signed
   bytes: with VNNI the weights are made unsigned (plus 128, one xor shared by the rows) and
   the row's 128 * sum of a block's values is taken off by starting the accumulator at the
   packed int32s (a load); without VNNI (255 * 127 * 2 would saturate vpmaddubsw) the weights'
   signs move onto the activations: |W| . (a sign W).
   The layout before (blocks per 128-bit group, each scale stored 4 times: 192 bytes a quad,
   144 for rows of 4096+ values with a permutation per row, and 128 * sum(W) worked out per
   quad by two more vpdpbusd) cost more once the weights come from cache: 2 or 3 rows over 1
   of a 6912 x 2560 or 2560 x 6912 matrix, 2 threads, 1.23-1.32 and 1.50-1.68 before, 1.17-1.22
   and 1.39-1.53 now. */

static int64_t q80_quads(int64_t k) { return (k / 32 + 3) / 4; }
static size_t q80_bytes(int64_t k) { return pltk_round64((size_t)q80_quads(k) * 160); }

static void q80_block(uint8_t *quad, uint8_t *meta, int j, const int8_t *xs, float d) {
    int32_t sum = 0;
    for (int m = 0; m < 4; m++)
        for (int t = 0; t < 4; t++) {
            const int8_t lo = xs ? xs[4 * m + t] : 0, hi = xs ? xs[16 + 4 * m + t] : 0;
            quad[16 * m + 4 * j + t] = (uint8_t)lo;
            quad[64 + 16 * m + 4 * j + t] = (uint8_t)hi;
            sum += lo + hi;
        }
    const int32_t corr = PLTK_VNNI ? -128 * sum : 0;
    memcpy(meta + 4 * j, &corr, 4);
    memcpy(meta + 16 + 4 * j, &d, 4);
}

static void pack_q80(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst) {
    const int64_t nb = k / 32, nq = q80_quads(k);
    const blk_q8_0 *y = src;
    for (int64_t b = b0; b < b1; b++, y++) {
        uint8_t *quad = dst + 128 * (b / 4), *meta = dst + 128 * nq + 32 * (b / 4);
        q80_block(quad, meta, (int)(b % 4), y->qs, h2f(y->d));
        if (b == nb - 1)
            for (int j = (int)(b % 4) + 1; j < 4; j++) q80_block(quad, meta, j, NULL, 0.0f);
    }
}

/* 16-bit word i of W1 (from the quad's bytes [0, 128)) and of W2 (from [8, 136)): lane
   4m + j, word h is block j's values 4m + 2h, +1 (W1) or 16 + 4m + 2h, +1 (W2); a block is an
   F16 scale and 32 values, 34 bytes, so every piece starts at an even byte */
#define Q80_W(i, half) (17 * (((i) / 2) % 4) + 1 + 4 * (half) + 2 * ((i) / 8) + (i) % 2)
#define Q80_W8(i, h) Q80_W(i, h), Q80_W(i + 1, h), Q80_W(i + 2, h), Q80_W(i + 3, h), \
                     Q80_W(i + 4, h), Q80_W(i + 5, h), Q80_W(i + 6, h), Q80_W(i + 7, h)
static const int16_t Q80_W1[32] = {Q80_W8(0, 0), Q80_W8(8, 0), Q80_W8(16, 0), Q80_W8(24, 0)};
static const int16_t Q80_W2[32] = {Q80_W8(0, 1), Q80_W8(8, 1), Q80_W8(16, 1), Q80_W8(24, 1)};
/* the four F16 scales are 16-bit words 0, 17, 34 and 51 of the quad's first 128 bytes */
static const int16_t Q80_D[32] = {0, 17, 34, 51, 0, 17, 34, 51, 0, 17, 34, 51, 0, 17, 34, 51};

/* the rows' products with the quad of weight blocks at x0 (4 whole blocks, 136 bytes), into
   accf; the rows' values at aq[r], their int32s and scales at am[r] */
ALWAYS void q80_quad(const uint8_t *x0, const uint8_t *const aq[PLTK_MAX_ROWS], const uint8_t *const am[PLTK_MAX_ROWS],
                     __m512 accf[PLTK_MAX_ROWS], const int L) {
    const __m512i lo = _mm512_loadu_si512(x0), hi = _mm512_loadu_si512(x0 + 64);
    const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(lo, _mm512_loadu_si512(Q80_D), hi)));
    const __m512i w1 = _mm512_permutex2var_epi16(lo, _mm512_loadu_si512(Q80_W1), hi);
    const __m512i w2 = _mm512_permutex2var_epi16(_mm512_loadu_si512(x0 + 8), _mm512_loadu_si512(Q80_W2),
                                                _mm512_loadu_si512(x0 + 72));
#if PLTK_VNNI
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    const __m512i u1 = _mm512_xor_si512(w1, bias), u2 = _mm512_xor_si512(w2, bias);
#else
    const __m512i zero = _mm512_setzero_si512();
    const __m512i aw1 = _mm512_abs_epi8(w1), aw2 = _mm512_abs_epi8(w2);
    const __mmask64 n1 = _mm512_movepi8_mask(w1), n2 = _mm512_movepi8_mask(w2);
#endif
    ROWS (int r = 0; r < L; r++) {
        const __m512i a1 = _mm512_load_si512(aq[r]), a2 = _mm512_load_si512(aq[r] + 64);
#if PLTK_VNNI
        const __m512i init = _mm512_zextsi128_si512(_mm_load_si128((const __m128i *)am[r]));
        const __m512i acc = dpbusd(dpbusd(init, u1, a1), u2, a2);
#else
        const __m512i acc = dpbusd(dpbusd(zero, aw1, _mm512_mask_sub_epi8(a1, n1, zero, a1)), aw2,
                                   _mm512_mask_sub_epi8(a2, n2, zero, a2));
#endif
        const __m512 sa = _mm512_broadcast_f32x4(_mm_load_ps((const float *)(am[r] + 16)));
        accf[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), _mm512_mul_ps(dw, sa), accf[r]);
    }
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
    const int64_t nb = a->k / 32, nq = nb / 4, nqt = q80_quads(a->k);
    const int tail = (int)(nb % 4);
    const size_t bsz = sizeof(blk_q8_0);
    const int apf = PLTK_ACT_PREFETCH_WANTED(L, q80_bytes(a->k));
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *x = w + i * row_bytes;
        const uint8_t *aq[PLTK_MAX_ROWS], *am[PLTK_MAX_ROWS];
        __m512 accf[PLTK_MAX_ROWS];
        ROWS (int r = 0; r < L; r++) {
            accf[r] = _mm512_setzero_ps();
            aq[r] = a->act[r];
            am[r] = a->act[r] + 128 * nqt;
        }
        for (int64_t q = 0; q < nq; q++) {
            if (L > 1 || apf) /* one row: see above */
                PLTK_PREFETCH_BLOCK(x, 4 * bsz);
            if (apf)
                ROWS (int r = 0; r < L; r++) PLTK_PREFETCH_L1(aq[r] + 128, 128);
            q80_quad(x, aq, am, accf, L);
            x += 4 * bsz;
            ROWS (int r = 0; r < L; r++) {
                aq[r] += 128;
                am[r] += 32;
            }
        }
        if (tail) { /* the last 1-3 blocks beside zero ones (scale 0) */
            uint8_t last[4 * sizeof(blk_q8_0)] = {0};
            memcpy(last, x, tail * bsz);
            q80_quad(last, aq, am, accf, L);
        }
        ROWS (int r = 0; r < L; r++) dst[r][i] = _mm512_reduce_add_ps(accf[r]);
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

static const pltk_kernel K_Q4K = {mv_q4k, pack_q4k_units, kq_bytes, PLTK_Q8_K, QK_K};
static const pltk_kernel K_Q6K = {mv_q6k, pack_q6k, kq_bytes, PLTK_Q8_K, QK_K};
static const pltk_kernel K_Q80 = {mv_q80, pack_q80, q80_bytes, PLTK_Q8_0, 32};
static const pltk_kernel K_Q40 = {mv_q40, pack_q40, p_bytes, PLTK_Q8_0, 32};

const pltk_kernel *ENTRY(int type) {
    switch (type) {
    case PLTK_Q4_K: return &K_Q4K;
    case PLTK_Q6_K: return &K_Q6K;
    case PLTK_Q8_0: return &K_Q80;
    case PLTK_Q4_0: return &K_Q40;
    default: return NULL;
    }
}
