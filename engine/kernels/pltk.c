/* libpltk: loop-aware mat-vec kernels as ggml custom ops (ggml_custom_4d).
 *
 * Two ops per weight multiplication, each run by ggml's own thread pool inside the graph:
 *   quantize: F32 activations [k, rows] -> one packed buffer (ggml's Q8_K / Q8_0 quantizer,
 *             then the kernel set's layout, see pack.h); the blocks are split over threads;
 *   matvec:   weight [k, n] x packed activations -> F32 [n, rows], in one pass over the
 *             weights; the weight rows are split over threads.
 * The op's userdata encodes the kernel set and weight type (PLTK_CODE), so a graph keeps
 * the kernels it was built with. The library holds no other state than the run-time choice
 * of instruction set and ggml's two quantizers, set once by pltk_init.
 *
 * The ggml_tensor struct below mirrors ggml 0.25.3; the Python side compares pltk_layout()
 * with its own declaration before using any op.
 */
#include <stddef.h>
#include <stdint.h>

#include "pltk.h"

#define PLTK_ABI 1

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

/* userdata of both ops for (instruction set, weight type); 0 when there is no such kernel */
intptr_t pltk_code(int isa, int type) {
    if (isa < 0 || isa > g_best || !kernel_for(isa, type)) return 0;
    return (intptr_t)(1 + isa * 256 + type);
}

static const pltk_kernel *decode(void *userdata) {
    const intptr_t c = (intptr_t)userdata - 1;
    return kernel_for((int)(c / 256), (int)(c % 256));
}

/* bytes of the packed activation buffer for rows x k (including 64 for alignment) */
int64_t pltk_act_bytes(intptr_t code, int64_t k, int rows) {
    const pltk_kernel *kern = decode((void *)code);
    return (int64_t)kern->act_bytes(k) * rows + 64;
}

static uint8_t *aligned_rows(void *data) { return (uint8_t *)(((uintptr_t)data + 63) & ~(uintptr_t)63); }

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
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)((const char *)x->data + r * x->nb[1]);
        uint8_t *out = aligned_rows(dst->data) + r * row_bytes;
        for (int64_t b = b0; b < b1; b += CHUNK) {
            const int64_t e = b + CHUNK < b1 ? b + CHUNK : b1;
            quantize(xr + b * bl, tmp, (e - b) * bl);
            kern->pack(tmp, b, e, k, out);
        }
    }
}

/* ggml_custom_op_t: dst [n, rows] = weight dst->src[0] [k, n] x packed dst->src[1] */
void pltk_matvec_op(struct ggml_tensor *dst, int ith, int nth, void *userdata) {
    const pltk_kernel *kern = decode(userdata);
    const struct ggml_tensor *w = dst->src[0], *xq = dst->src[1];
    const int64_t k = w->ne[0], n = w->ne[1], rows = dst->ne[1];
    const size_t row_bytes = kern->act_bytes(k);
    pltk_acts acts = {k, (int)rows, {0}};
    float *out[PLTK_MAX_ROWS];
    const int64_t i0 = n * ith / nth, i1 = n * (ith + 1) / nth;
    for (int r = 0; r < rows; r++) {
        acts.act[r] = aligned_rows(xq->data) + r * row_bytes;
        out[r] = (float *)((char *)dst->data + r * dst->nb[1]) + i0;
    }
    if (i1 > i0) kern->mv((const uint8_t *)w->data + i0 * w->nb[1], w->nb[1], i1 - i0, &acts, out);
}
