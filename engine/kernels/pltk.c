/* libpltk: loop-aware mat-vec kernels as ggml custom ops (ggml_custom_4d).
 *
 * Two ops per weight multiplication, each run by ggml's own thread pool inside the graph:
 *   quantize: F32 activations [k, rows] -> one packed buffer (ggml's Q8_K / Q8_0 quantizer,
 *             then the kernel set's layout, see pack.h); the blocks are split over threads;
 *   matvec:   weight [k, n] x packed activations -> F32 [n, rows], in one pass over the
 *             weights; chunks of weight rows go to whichever thread is free (as ggml's
 *             mul_mat does), counted in the packed buffer's header: one counter per weight
 *             that reads the buffer (its "slot"), zeroed by the quantize op, which ggml's
 *             barrier between nodes completes before any matvec starts.
 * The op's userdata encodes the kernel set, weight type and slot (pltk_code), so a graph
 * keeps the kernels it was built with. The library holds no other state than the run-time
 * choice of instruction set and ggml's two quantizers, set once by pltk_init.
 *
 * The ggml_tensor struct below mirrors ggml 0.25.3; the Python side compares pltk_layout()
 * with its own declaration before using any op.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pltk.h"

#define PLTK_ABI 3
#define SLOTS 8       /* weights sharing one packed buffer with dynamic chunks (more: static) */
#define HEADER 64     /* bytes of counters before the packed rows */
/* Chunks of weight rows for the threads: CHUNKS_PER_THREAD of them per thread where that
   keeps them between CHUNK_MIN rows and CHUNK_BYTES of weights. Each chunk is a new stream for
   the prefetchers (the software prefetch reaches 6 KB past its end and misses its first
   6 KB), so long ones stream better, while a few per thread let a thread that the VM held up
   do less. The 1.5 GB Q8_0 model's single-loop step, ggml's step time / ours, 2 threads,
   paired steps: 0.94 and 0.98 with 64 KB chunks, 1.06-1.12 with 256 KB, 1.10-1.20 with 1 MB,
   1.11-1.14 with one chunk per thread (no hedge against a slow core), 1.08-1.12 as built. */
#define CHUNK_BYTES (1 << 20)
#define CHUNK_MIN 16
#define CHUNKS_PER_THREAD 4

struct ggml_tensor { /* ggml 0.25.3, include/ggml.h */
    int type;
    void *buffer;
    int64_t ne[4];
    size_t nb[4];
    int op;
    int32_t op_params[16];
    int32_t flags;
    struct ggml_tensor *src[10];
    struct ggml_tensor *view_src;
    size_t view_offs;
    void *data;
    char name[64];
    void *extra;
    char padding[8];
};

typedef void (*from_float_fn)(const float *x, void *y, int64_t k);

enum { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_AVX512VNNI = 3 };

static from_float_fn g_q8k, g_q80;
static int g_best = -1;

static int detect(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")) {
        return __builtin_cpu_supports("avx512vnni") ? ISA_AVX512VNNI : ISA_AVX512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        return ISA_AVX2;
    }
#endif
    return ISA_SCALAR;
}

static const pltk_kernel *kernel_for(int isa, int type) {
    switch (isa) {
#if PLTK_X86
    case ISA_AVX512VNNI: return pltk_avx512vnni_kernel(type);
    case ISA_AVX512: return pltk_avx512_kernel(type);
    case ISA_AVX2: return pltk_avx2_kernel(type);
#endif
    default: return pltk_scalar_kernel(type);
    }
}

/* ---- what Python calls ----------------------------------------------------------------- */

int pltk_abi(void) { return PLTK_ABI; }

/* sizeof(ggml_tensor), offsetof ne, nb, src, data: checked against the ctypes declaration */
void pltk_layout(size_t out[5]) {
    out[0] = sizeof(struct ggml_tensor);
    out[1] = offsetof(struct ggml_tensor, ne);
    out[2] = offsetof(struct ggml_tensor, nb);
    out[3] = offsetof(struct ggml_tensor, src);
    out[4] = offsetof(struct ggml_tensor, data);
}

/* ggml's activation quantizers (type traits of Q8_K and Q8_0); returns the best instruction
   set of this CPU that this build has: 0 scalar, 1 AVX2, 2 AVX-512, 3 AVX-512 VNNI */
int pltk_init(void *q8k_from_float, void *q80_from_float) {
    g_q8k = (from_float_fn)q8k_from_float;
    g_q80 = (from_float_fn)q80_from_float;
    if (g_best < 0) g_best = detect();
#if !PLTK_X86
    g_best = ISA_SCALAR;
#endif
    return g_best;
}

/* userdata of both ops for (instruction set, weight type, slot); 0 when there is no such
   kernel. `slot` numbers the weights that read one packed buffer (0 for the quantize op). */
intptr_t pltk_code(int isa, int type, int slot) {
    if (isa < 0 || isa > g_best || !kernel_for(isa, type) || slot < 0) return 0;
    return (intptr_t)(1 + isa * 256 + type + 65536 * (intptr_t)slot);
}

static const pltk_kernel *decode(void *userdata) {
    const intptr_t c = ((intptr_t)userdata - 1) % 65536;
    return kernel_for((int)(c / 256), (int)(c % 256));
}

static int slot_of(void *userdata) { return (int)(((intptr_t)userdata - 1) / 65536); }

/* bytes of the packed activation buffer for rows x k (with the header and alignment) */
int64_t pltk_act_bytes(intptr_t code, int64_t k, int rows) {
    const pltk_kernel *kern = decode((void *)code);
    return (int64_t)kern->act_bytes(k) * rows + HEADER + 64;
}

static uint8_t *aligned(void *data) { return (uint8_t *)(((uintptr_t)data + 63) & ~(uintptr_t)63); }

/* ggml_custom_op_t: dst = packed activations of dst->src[0] (F32 [k, rows]) */
void pltk_quantize_op(struct ggml_tensor *dst, int ith, int nth, void *userdata) {
    const pltk_kernel *kern = decode(userdata);
    const struct ggml_tensor *x = dst->src[0];
    const int64_t k = x->ne[0], rows = x->ne[1], bl = kern->act_block, nb = k / bl;
    const size_t row_bytes = kern->act_bytes(k);
    const from_float_fn quantize = kern->act_type == PLTK_Q8_K ? g_q8k : g_q80;
    const int64_t b0 = nb * ith / nth, b1 = nb * (ith + 1) / nth;
    enum { CHUNK = 16 };
    _Alignas(64) uint8_t tmp[CHUNK * sizeof(blk_q8_k)];
    if (ith == 0) {
        int64_t *counters = (int64_t *)aligned(dst->data);
        for (int s = 0; s < SLOTS; s++) __atomic_store_n(&counters[s], 0, __ATOMIC_RELAXED);
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)((const char *)x->data + r * x->nb[1]);
        uint8_t *out = pltk_act_row(kern, aligned(dst->data) + HEADER, row_bytes, (int)r, (int)rows);
        const pltk_pack_fn pack = pltk_paired(kern, (int)r, (int)rows) ? kern->pack_pair : kern->pack;
        for (int64_t b = b0; b < b1; b += CHUNK) {
            const int64_t e = b + CHUNK < b1 ? b + CHUNK : b1;
            quantize(xr + b * bl, tmp, (e - b) * bl);
            pack(tmp, b, e, k, out);
        }
    }
}

static void rows_of(const pltk_kernel *kern, const struct ggml_tensor *w, struct ggml_tensor *dst,
                    const pltk_acts *acts, int64_t i0, int64_t i1) {
    if (i1 <= i0) return;
    float *out[PLTK_MAX_ROWS];
    for (int r = 0; r < acts->rows; r++) out[r] = (float *)((char *)dst->data + r * dst->nb[1]) + i0;
    kern->mv((const uint8_t *)w->data + i0 * w->nb[1], w->nb[1], i1 - i0, acts, out);
}

/* ggml_custom_op_t: dst [n, rows] = weight dst->src[0] [k, n] x packed dst->src[1] */
void pltk_matvec_op(struct ggml_tensor *dst, int ith, int nth, void *userdata) {
    const pltk_kernel *kern = decode(userdata);
    const struct ggml_tensor *w = dst->src[0], *xq = dst->src[1];
    const int64_t k = w->ne[0], n = w->ne[1], rows = dst->ne[1];
    const size_t row_bytes = kern->act_bytes(k);
    pltk_acts acts = {k, (int)rows, {0}};
    for (int r = 0; r < rows; r++) acts.act[r] = pltk_act_row(kern, aligned(xq->data) + HEADER, row_bytes, r, (int)rows);
    const int slot = slot_of(userdata);
    if (slot >= SLOTS) { /* no counter: an even split */
        rows_of(kern, w, dst, &acts, n * ith / nth, n * (ith + 1) / nth);
        return;
    }
    int64_t *counter = (int64_t *)aligned(xq->data) + slot;
    const int64_t most = (int64_t)(CHUNK_BYTES / w->nb[1]);
    int64_t per = n / (CHUNKS_PER_THREAD * nth);
    per = per > most ? most : per;
    per = per < CHUNK_MIN ? CHUNK_MIN : per;
    const int64_t chunks = (n + per - 1) / per;
    /* thread ith starts with chunk ith; the counter hands out the rest (from nth on) */
    for (int64_t c = ith; c < chunks; c = nth + __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED)) {
        const int64_t i0 = c * per, i1 = i0 + per < n ? i0 + per : n;
        rows_of(kern, w, dst, &acts, i0, i1);
    }
}

/* ---- decode attention ---------------------------------------------------------------------- */
/* Two ops (attn_avx512.c has the algorithm): partial, dst = F32 [cols (d + 2), hkv nchunks]
   from q, k, v, mask (srcs 0-3); merge, dst = F32 [d, H, L] from the partial. Their userdata
   carries the softmax scale's bits; 0 when this CPU (or build) has no AVX-512. */

intptr_t pltk_attn_code(float scale) {
#if PLTK_X86
    if (g_best >= ISA_AVX512) {
        uint32_t bits;
        memcpy(&bits, &scale, 4);
        return (intptr_t)(((uint64_t)bits << 8) | 1);
    }
#endif
    (void)scale;
    return 0;
}

static float code_scale(void *userdata) {
    const uint32_t bits = (uint32_t)((uint64_t)(intptr_t)userdata >> 8);
    float scale;
    memcpy(&scale, &bits, 4);
    return scale;
}

void pltk_attn_partial_op(struct ggml_tensor *dst, int ith, int nth, void *userdata) {
#if PLTK_X86
    const struct ggml_tensor *q = dst->src[0], *k = dst->src[1], *v = dst->src[2], *mask = dst->src[3];
    pltk_attn_args a = {
        .q = q->data, .k = k->data, .v = v->data,
        .q_nb1 = q->nb[1], .q_nb2 = q->nb[2], .k_nb1 = k->nb[1], .v_nb1 = v->nb[1],
        .mask = mask->data, .mask_row = mask->ne[1] > 1 ? mask->nb[1] / 2 : 0,
        .d = (int)q->ne[0], .H = (int)q->ne[1], .L = (int)q->ne[2], .hkv = (int)(k->ne[0] / q->ne[0]),
        .n_kv = (int)mask->ne[0], .scale = code_scale(userdata),
        .part = dst->data, .part_nb1 = dst->nb[1], .q8 = k->type == PLTK_Q8_0,
    };
    a.nchunks = (int)(dst->ne[1] / a.hkv);
    for (int item = ith; item < (int)dst->ne[1]; item += nth) pltk_attn_partial_avx512(&a, item);
#else
    (void)dst, (void)ith, (void)nth, (void)userdata;
#endif
}

void pltk_attn_merge_op(struct ggml_tensor *dst, int ith, int nth, void *userdata) {
#if PLTK_X86
    (void)userdata;
    const struct ggml_tensor *part = dst->src[0];
    const int d = (int)dst->ne[0], H = (int)dst->ne[1], L = (int)dst->ne[2];
    const int cols = (int)(part->ne[0] / (d + 2)), group = cols / L, hkv = H / group;
    const int nchunks = (int)(part->ne[1] / hkv), pairs = hkv * cols;
    for (int t = ith; t < pairs; t += nth) {
        const int h = t / cols, c = t % cols, l = c / group, g = c % group;
        float *out = (float *)((char *)dst->data + (size_t)l * dst->nb[2] + (size_t)(h * group + g) * dst->nb[1]);
        const char *item0 = (const char *)part->data + (size_t)h * nchunks * part->nb[1];
        pltk_attn_merge_avx512(out, item0, part->nb[1], nchunks, cols, c, d);
    }
#else
    (void)dst, (void)ith, (void)nth, (void)userdata;
#endif
}
