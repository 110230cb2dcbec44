/* Attention of a few query rows over an F16 or Q8_0 KV cache (AVX-512): every query row of a decode
 * step (the L loops' rows at one position) or of a short chunk, each KV head's group of query
 * heads, against one layer's cache, reading each cached key and value ONCE for all of them.
 *
 * Split as flash-decoding does: a work item is (KV head, span of keys). For its span an item
 * computes, per query column c, the scores s = scale q.k + mask, their maximum m, the
 * exponentials e = exp(s - m), their sum l and o = sum e v, and stores (m, l, o) (the
 * "partial"). The merge then weighs the items of a column by exp(m_i - M), M their maximum:
 * out = sum_i exp(m_i - M) o_i / sum_i exp(m_i - M) l_i. Keys that every row masks (-inf)
 * are skipped. K and V are both position rows: q.k is a sum across a vector's lanes (four
 * keys are reduced together), e v needs none (the channels are the lanes).
 *
 * Query columns of KV head h: c = l * group + g for loop row l and query head h * group + g
 * (ggml's broadcast of a KV head over its query heads). Layouts: pltk.h (pltk_attn_args).
 */
#include <immintrin.h>
#include <math.h>

#include "pltk.h"

#define ALWAYS static inline __attribute__((always_inline))
#define UNROLLED _Pragma("GCC unroll 8") for
#define V_COLS 6 /* columns x 4 vectors of channels: the accumulators of the e v sums */

/* exp(x) for x <= 0, x = -inf included (0). Cephes' single-precision range reduction and
   polynomial (relative error about 1e-7); below -87 the result is taken as 0. */
ALWAYS __m512 exp_neg(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-87.0f);
    const __mmask16 keep = _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ);
    x = _mm512_max_ps(x, lo);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    return _mm512_maskz_mov_ps(keep, _mm512_scalef_ps(y, n));
}

/* the sums of four vectors' lanes, as four floats */
ALWAYS __m128 hsum4(const __m512 v[4]) {
    const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(v[0], v[1]), _mm512_unpackhi_ps(v[0], v[1]));
    const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(v[2], v[3]), _mm512_unpackhi_ps(v[2], v[3]));
    /* per 128-bit lane: ab = [a02 b02 a13 b13], cd = [c02 d02 c13 d13] */
    const __m512 u = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, 0x44), _mm512_shuffle_ps(ab, cd, 0xee));
    const __m256 w = _mm256_add_ps(_mm512_castps512_ps256(u), _mm512_extractf32x8_ps(u, 1));
    return _mm_add_ps(_mm256_castps256_ps128(w), _mm256_extractf128_ps(w, 1));
}

ALWAYS __mmask16 tail_mask(int left) { return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1); }

ALWAYS __m512 ld_h(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

/* values 16 j .. 16 j + 15 of a head's row of the cache: F16, or (Q8) Q8_0 blocks */
ALWAYS __m512 ld16(const char *row, int j, const int Q8) {
    if (!Q8) return ld_h((const uint16_t *)row + 16 * j);
    const blk_q8_0 *b = (const blk_q8_0 *)row + j / 2;
    const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b->qs + 16 * (j & 1)))));
    return _mm512_mul_ps(v, _mm512_set1_ps(_cvtsh_ss(b->d)));
}

/* bytes of d values of a cache row, and where KV head h starts in it */
ALWAYS size_t head_bytes(int d, const int Q8) { return Q8 ? (size_t)(d / 32) * sizeof(blk_q8_0) : (size_t)2 * d; }

/* o[t][16 (b0 + b)] for b < NB = sum over live keys p of e[t][p] v_p, for NC columns; v is
   the head's start in the row of the span's first key */
ALWAYS void ev_tile(const char *v, size_t v_nb1, const uint8_t *live, int n, const float *e, int stride, float *o,
                    int d, int b0, const int NC, const int NB, const int Q8) {
    __m512 acc[V_COLS][4];
    UNROLLED (int t = 0; t < NC; t++) UNROLLED (int b = 0; b < NB; b++) acc[t][b] = _mm512_setzero_ps();
    for (int p = 0; p < n; p++) {
        if (!live[p]) continue;
        const char *vr = v + (size_t)p * v_nb1;
        UNROLLED (int b = 0; b < NB; b += 2) _mm_prefetch(vr + head_bytes(16 * (b0 + b), Q8) + 4 * v_nb1, _MM_HINT_T0);
        __m512 vv[4];
        UNROLLED (int b = 0; b < NB; b++) vv[b] = ld16(vr, b0 + b, Q8);
        UNROLLED (int t = 0; t < NC; t++) {
            const __m512 w = _mm512_set1_ps(e[t * stride + p]);
            UNROLLED (int b = 0; b < NB; b++) acc[t][b] = _mm512_fmadd_ps(w, vv[b], acc[t][b]);
        }
    }
    UNROLLED (int t = 0; t < NC; t++) UNROLLED (int b = 0; b < NB; b++) _mm512_storeu_ps(o + t * d + 16 * (b0 + b), acc[t][b]);
}

ALWAYS void ev_some(const char *v, size_t v_nb1, const uint8_t *live, int n, const float *e, int stride, float *o,
                    int d, int b0, int nc, int nb, const int Q8) {
    switch (nc * 4 + nb - 1) {
#define EV(NC, NB) case NC * 4 + NB - 1: ev_tile(v, v_nb1, live, n, e, stride, o, d, b0, NC, NB, Q8); break;
#define EV4(NC) EV(NC, 1) EV(NC, 2) EV(NC, 3) EV(NC, 4)
    EV4(1) EV4(2) EV4(3) EV4(4) EV4(5) EV4(6)
#undef EV4
#undef EV
    default: break;
    }
}

ALWAYS void partial(const pltk_attn_args *a, int item, const int Q8) {
    const int d = a->d, group = a->H / a->hkv, cols = group * a->L, dv = d / 16;
    const int h = item / a->nchunks, ci = item % a->nchunks;
    const int span = pltk_attn_span(a->n_kv, a->nchunks);
    const int p0 = ci * span, p1 = p0 + span < a->n_kv ? p0 + span : a->n_kv, n = p1 > p0 ? p1 - p0 : 0;
    const size_t hb = head_bytes(d, Q8), h0 = (size_t)h * hb; /* a head's bytes in a row, its start */
    float *mo = (float *)(a->part + (size_t)item * a->part_nb1), *lo = mo + cols, *o = lo + cols;
    _Alignas(64) float qs[PLTK_ATTN_SCRATCH];
    _Alignas(64) float s[PLTK_ATTN_SCRATCH];
    _Alignas(64) float kf[4 * PLTK_ATTN_MAX_D];
    uint8_t live[PLTK_ATTN_SCRATCH];
    const int stride = (span + 15) & ~15; /* floats per column of s */
    if (cols * d > PLTK_ATTN_SCRATCH || cols * stride > PLTK_ATTN_SCRATCH || d > PLTK_ATTN_MAX_D) return;
    for (int l = 0; l < a->L; l++) /* the columns' queries, times the softmax scale */
        for (int g = 0; g < group; g++) {
            const float *q = (const float *)(a->q + (size_t)l * a->q_nb2 + (size_t)(h * group + g) * a->q_nb1);
            float *dst = qs + (l * group + g) * d;
            for (int j = 0; j < dv; j++)
                _mm512_store_ps(dst + 16 * j, _mm512_mul_ps(_mm512_loadu_ps(q + 16 * j), _mm512_set1_ps(a->scale)));
        }
    /* scores, four keys at a time (four independent sums per column, reduced together) */
    for (int p = 0; p < n; p += 4) {
        const int nk = n - p < 4 ? n - p : 4;
        for (int t = 8; t < 12 && p + t < n; t++) /* rows two blocks ahead (rows are far apart): */
            for (size_t j = 0; j < hb; j += 64) { /* their K now, their V for the pass below */
                _mm_prefetch(a->k + (size_t)(p0 + p + t) * a->k_nb1 + h0 + j, _MM_HINT_T0);
                _mm_prefetch(a->v + (size_t)(p0 + p + t) * a->v_nb1 + h0 + j, _MM_HINT_T1);
            }
        _Alignas(16) float mask[PLTK_ATTN_SCRATCH / 16][4]; /* per row */
        int any = 0;
        for (int t = 0; t < 4; t++) {
            int on = 0;
            for (int l = 0; l < a->L; l++) {
                mask[l][t] = t < nk ? _cvtsh_ss(a->mask[(size_t)l * a->mask_row + p0 + p + t]) : -INFINITY;
                on |= mask[l][t] != -INFINITY;
            }
            if (t < nk) live[p + t] = (uint8_t)on;
            any |= on;
            const char *kr = a->k + (size_t)(p0 + p + t) * a->k_nb1 + h0;
            for (int j = 0; j < dv; j++)
                _mm512_store_ps(kf + t * PLTK_ATTN_MAX_D + 16 * j, on ? ld16(kr, j, Q8) : _mm512_setzero_ps());
        }
        if (!any) {
            for (int c = 0; c < cols; c++) _mm_storeu_ps(s + c * stride + p, _mm_set1_ps(-INFINITY));
            continue;
        }
        for (int c = 0; c < cols; c++) {
            const float *qc = qs + c * d;
            __m512 acc[4];
            UNROLLED (int t = 0; t < 4; t++) acc[t] = _mm512_setzero_ps();
            for (int j = 0; j < dv; j++) {
                const __m512 qv = _mm512_load_ps(qc + 16 * j);
                UNROLLED (int t = 0; t < 4; t++) acc[t] = _mm512_fmadd_ps(_mm512_load_ps(kf + t * PLTK_ATTN_MAX_D + 16 * j), qv, acc[t]);
            }
            /* -inf past the span's end */
            _mm_storeu_ps(s + c * stride + p, _mm_add_ps(hsum4(acc), _mm_load_ps(mask[c / group])));
        }
    }
    /* per column: maximum, exponentials in place, their sum */
    for (int c = 0; c < cols; c++) {
        float *sc = s + c * stride;
        __m512 mx = _mm512_set1_ps(-INFINITY);
        for (int p = 0; p < n; p += 16) mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(n - p), sc + p));
        const float m = _mm512_reduce_max_ps(mx);
        __m512 sum = _mm512_setzero_ps();
        for (int p = 0; p < n; p += 16) {
            const __mmask16 t = tail_mask(n - p);
            const __m512 e = m == -INFINITY ? _mm512_setzero_ps()
                                            : exp_neg(_mm512_sub_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), t, sc + p), _mm512_set1_ps(m)));
            _mm512_mask_storeu_ps(sc + p, t, e);
            sum = _mm512_add_ps(sum, e);
        }
        mo[c] = m;
        lo[c] = _mm512_reduce_add_ps(sum);
    }
    /* values: tiles of up to V_COLS columns x 64 channels, the span's V rows in cache */
    const char *v = a->v + (size_t)p0 * a->v_nb1 + h0;
    const int passes = (cols + V_COLS - 1) / V_COLS;
    for (int i = 0, c = 0; i < passes; i++) {
        const int nc = (cols - c) / (passes - i);
        for (int b = 0; b < dv; b += 4)
            ev_some(v, a->v_nb1, live, n, s + c * stride, stride, o + c * d, d, b, nc, dv - b < 4 ? dv - b : 4, Q8);
        c += nc;
    }
}

void pltk_attn_partial_avx512(const pltk_attn_args *a, int item) {
    if (a->q8)
        partial(a, item, 1);
    else
        partial(a, item, 0);
}

void pltk_attn_merge_avx512(float *out, const char *item0, size_t item_nb, int nchunks, int cols, int c, int d) {
    float m = -INFINITY, sum = 0.0f;
    for (int i = 0; i < nchunks; i++) {
        const float mi = ((const float *)(item0 + (size_t)i * item_nb))[c];
        m = mi > m ? mi : m;
    }
    for (int ch = 0; ch < d; ch += 16) _mm512_storeu_ps(out + ch, _mm512_setzero_ps());
    if (m == -INFINITY) return;
    for (int i = 0; i < nchunks; i++) {
        const float *it = (const float *)(item0 + (size_t)i * item_nb);
        if (it[c] == -INFINITY) continue;
        const float w = expf(it[c] - m), *o = it + 2 * cols + (size_t)c * d;
        const __m512 wv = _mm512_set1_ps(w);
        sum += w * it[cols + c];
        for (int ch = 0; ch < d; ch += 16)
            _mm512_storeu_ps(out + ch, _mm512_fmadd_ps(wv, _mm512_loadu_ps(o + ch), _mm512_loadu_ps(out + ch)));
    }
    const __m512 inv = _mm512_set1_ps(1.0f / sum);
    for (int ch = 0; ch < d; ch += 16) _mm512_storeu_ps(out + ch, _mm512_mul_ps(_mm512_loadu_ps(out + ch), inv));
}
