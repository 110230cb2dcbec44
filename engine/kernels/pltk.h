/* Loop-aware mat-vec kernels: internal declarations shared by the instruction-set files.
 *
 * A kernel multiplies rows [0, n) of a quantized weight matrix with 1..PLTK_MAX_ROWS
 * activation rows in ONE pass over the weights: each weight block is loaded and unpacked
 * once, then dotted with every activation row.
 *
 * Activations are quantized once per graph step by ggml's own quantizer (Q8_K for the
 * K-quants, Q8_0 otherwise), then repacked by the kernel set into the layout its inner loop
 * wants ("pack"). Each instruction-set file owns its layouts; nothing outside it reads them.
 *
 * Block layouts are ggml's (ggml-common.h of ggml 0.25.3), written out here from the format
 * description; the structs are ours.
 */
#ifndef PLTK_H
#define PLTK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PLTK_MAX_ROWS 4

/* ggml type ids (enum ggml_type) */
enum {
    PLTK_F32 = 0,
    PLTK_F16 = 1,
    PLTK_Q4_0 = 2,
    PLTK_Q8_0 = 8,
    PLTK_Q4_K = 12,
    PLTK_Q6_K = 14,
    PLTK_Q8_K = 15,
    PLTK_I8 = 24,
};

#define QK_K 256

typedef struct { uint16_t d; uint8_t qs[16]; } blk_q4_0;                  /* 18 bytes */
typedef struct { uint16_t d; int8_t qs[32]; } blk_q8_0;                   /* 34 bytes */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } blk_q4_k; /* 144 */
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } blk_q6_k; /* 210 */
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[16]; } blk_q8_k; /* 292 bytes */

/* The activation rows of one multiplication, each in the kernel set's packed layout. */
typedef struct {
    int64_t k;    /* values per row (the weight matrix's ne0) */
    int rows;     /* 1 .. PLTK_MAX_ROWS */
    const uint8_t *act[PLTK_MAX_ROWS];
} pltk_acts;

/* dst[r][i] = dot(weight row i, activation row r) for i in [0, n). */
typedef void (*pltk_mv_fn)(const uint8_t *w, size_t row_bytes, int64_t n, const pltk_acts *a,
                           float *const dst[PLTK_MAX_ROWS]);
/* Repack blocks [b0, b1) of a row quantized by ggml (Q8_K or Q8_0 blocks at `src`, block b0
   first) into the packed activation row `dst` of k values. */
typedef void (*pltk_pack_fn)(const void *src, int64_t b0, int64_t b1, int64_t k, uint8_t *dst);

typedef struct {
    pltk_mv_fn mv;
    pltk_pack_fn pack;
    size_t (*act_bytes)(int64_t k); /* packed row size, a multiple of 64 */
    int act_type;                   /* PLTK_Q8_K or PLTK_Q8_0: what ggml quantizes to */
    int act_block;                  /* values per activation block (256 or 32) */
    /* NULL, or the pack of a row that shares its place with a partner: rows 2p and 2p + 1
       (both present) then lie interleaved in 32-byte units, row 2p + 1's first 32 bytes on,
       in the space of both (pltk_act_row) */
    pltk_pack_fn pack_pair;
} pltk_kernel;

/* whether activation row r of `rows` lies interleaved with a partner (pack_pair) */
static inline int pltk_paired(const pltk_kernel *kern, int r, int rows) { return kern->pack_pair && (r | 1) < rows; }

/* where activation row r of `rows` starts, row_bytes = act_bytes(k) apart */
static inline uint8_t *pltk_act_row(const pltk_kernel *kern, uint8_t *base, size_t row_bytes, int r, int rows) {
    if (pltk_paired(kern, r, rows)) return base + (size_t)(r & ~1) * row_bytes + (size_t)(r & 1) * 32;
    return base + (size_t)r * row_bytes;
}

/* Per instruction set: the kernel for a weight type, or NULL. */
const pltk_kernel *pltk_scalar_kernel(int type);
const pltk_kernel *pltk_avx2_kernel(int type);
const pltk_kernel *pltk_avx512_kernel(int type);
const pltk_kernel *pltk_avx512vnni_kernel(int type);

/* IEEE half -> float, portable (the SIMD files use F16C). */
static inline float pltk_h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalize */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    union { uint32_t u; float f; } v = {bits};
    return v.f;
}

/* Q4_K: the 8 six-bit scales and 8 six-bit mins of a block, as bytes. */
static inline void pltk_q4k_scales(const uint8_t s[12], uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 0x0f) | ((s[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

/* The same, packed 8 to a 64-bit word (scale j or min j in byte j), with word operations. */
static inline void pltk_q4k_scales64(const uint8_t s[12], uint64_t *sc, uint64_t *mn) {
    uint32_t u0, u1, u2;
    memcpy(&u0, s, 4);
    memcpy(&u1, s + 4, 4);
    memcpy(&u2, s + 8, 4);
    const uint32_t lo6 = 0x3f3f3f3fu, lo4 = 0x0f0f0f0fu, top2 = 0x03030303u;
    *sc = (uint64_t)((u2 & lo4) | (((u0 >> 6) & top2) << 4)) << 32 | (u0 & lo6);
    *mn = (uint64_t)(((u2 >> 4) & lo4) | (((u1 >> 6) & top2) << 4)) << 32 | (u1 & lo6);
}

/* Software prefetch of the weight stream, PLTK_PREFETCH bytes ahead (0: hardware only), into
   L2 (the T1 hint): the weights are read once, and fetched into L1 as well they crowd out the
   packed activation rows the kernels read again for every weight row. The multi-row kernels
   spend more time per weight byte than one-row ones, and the hardware prefetchers alone then
   leave the memory idle in between. Measured here (Zen 4, 2 threads, the model's 4 KB-page
   file mapping), the 1.5 GB Q8_0 model's decode steps, in processes timing the fused and the
   single-loop step alternately (ms, fused / single):
     none                  fused / single 1.20 (an earlier build)
     2 KB into L1 (T0)     61-66 / 50-55 ms, 1.09-1.19
     2 KB into L2          71-74 / 57 ms
     4 KB into L2          61-62 / 55-60 ms
     5-7 KB into L2        52-57 / 50-56 ms, 0.99-1.06 (6 KB as built)
   LoopCoder-V2's shape in Q4_K did not move (fused 161-167 ms, single 148-157). Used by the
   SIMD files. */
#ifndef PLTK_PREFETCH
#define PLTK_PREFETCH 6144
#endif
#define PLTK_PREFETCH_BLOCK(p, nbytes)                                                          \
    do {                                                                                        \
        if (PLTK_PREFETCH)                                                                      \
            for (int o_ = 0; o_ < (int)(nbytes); o_ += 64)                                      \
                _mm_prefetch((const char *)(p) + PLTK_PREFETCH + o_, _MM_HINT_T1);              \
    } while (0)

/* Activation prefetch. The kernels read the packed activation rows again for every weight
   row; once the L rows together outgrow L1 (32 KB here: the FFN down matrix's k of 27,648
   makes a Q4_K row 31.5 KB), every block of them comes from L2 and the loads wait. Fetching
   the next block of each row into L1 ahead of its use (PLTK_PREFETCH_L1) takes the wait away.
   A/B on LoopCoder-V2's down matrix (5120 x 27648, Q4_K, AVX-512, 2 threads, one process
   alternating two builds, median of 15 paired ratios), time with the prefetch over time
   without: 2 rows 0.91, 3 rows 0.84, one row (31.5 KB) 0.99; 2 or 3 blocks ahead instead of
   1: 1.04-1.08 of 1 block's time. At a k of 5120 with 3 rows (17.4 KB) it cost 8%, so only
   above PLTK_ACT_L1_BYTES. The AVX2 kernels do without: they spend longer on each block's
   arithmetic, and there it cost 1-8% (the same A/B, 1-3 rows). */
#define PLTK_ACT_L1_BYTES 24576
#define PLTK_ACT_PREFETCH_WANTED(rows, row_bytes) ((size_t)(rows) * (size_t)(row_bytes) > PLTK_ACT_L1_BYTES)
#define PLTK_PREFETCH_L1(p, nbytes)                                                             \
    do {                                                                                        \
        _Pragma("GCC unroll 8") for (int o_ = 0; o_ < (int)(nbytes); o_ += 64)                  \
            _mm_prefetch((const char *)(p) + o_, _MM_HINT_T0);                                  \
    } while (0)

static inline size_t pltk_round64(size_t n) { return (n + 63) & ~(size_t)63; }

/* ---- decode attention (attn_avx512.c) ---------------------------------------------------- */
/* One decode step's query rows against one layer's F16 or Q8_0 cache. q: F32 [d, H, L] (row of query
   head hq of loop row l at q + l q_nb2 + hq q_nb1); k: rows are positions, KV head h at
   element h d; v: the same; mask: F16, row l (mask_row values apart) for the query rows of
   loop row (or chunk position) l. part: per work item
   (KV head h = item / nchunks, span item % nchunks), m[cols], l[cols], o[cols][d]. */
#define PLTK_ATTN_SCRATCH 8192 /* floats: cols * d and cols * span (rounded to 16) at most */
#define PLTK_ATTN_MAX_D 256

typedef struct {
    const char *q, *k, *v;
    size_t q_nb1, q_nb2, k_nb1, v_nb1;
    const uint16_t *mask;
    size_t mask_row;
    int d, H, L, hkv, n_kv, nchunks;
    int q8; /* K and V are Q8_0 blocks (else F16) */
    float scale;
    char *part;
    size_t part_nb1;
} pltk_attn_args;

/* keys per work item: n_kv over nchunks, rounded up to 16 */
static inline int pltk_attn_span(int n_kv, int nchunks) { return ((n_kv + nchunks - 1) / nchunks + 15) & ~15; }

void pltk_attn_partial_avx512(const pltk_attn_args *a, int item);
/* out[0, d) = column c's partials merged: item i's (m, l, o) at item0 + i item_nb (cols
   floats of m, cols of l, then cols x d of o) for i in [0, nchunks) */
void pltk_attn_merge_avx512(float *out, const char *item0, size_t item_nb, int nchunks, int cols, int c, int d);

#endif
