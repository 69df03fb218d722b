/* backends/cpu/gemm_block.c - one thread's blocked GEMM: a rectangle of C computed K block by K
 * block from packed (or, where it pays, in-place) micro-panels with the ISA path's micro-kernel,
 * the next operand blocks prefetched while the current one computes. gemm.c picks the path and
 * splits C between the threads. */
#include "backends/cpu/gemm_internal.h"

#include <string.h>

/* Few rows times B^T (any op(A)): dot products over K blocks, no B packing. */
static void gemm_rect_dot(const nb_gemm_impl *im, const gemm_args *g, nb_gemm_ws *w, int64_t i0, int64_t i1,
                          int64_t j0, int64_t j1) {
    const int64_t M = i1 - i0, K = g->K, kc = k_block(im, K);
    for (int64_t pc = 0; pc < K; pc += kc) {
        const int64_t kb = imin(kc, K - pc);
        const float *ap = a_at(g, i0, pc);
        int64_t ldap = g->lda;
        if (g->ta) { /* gather the M columns of A into rows */
            for (int64_t p = 0; p < kb; p++)
                for (int64_t i = 0; i < M; i++)
                    w->a[i * kb + p] = ap[p * g->lda + i];
            ap = w->a;
            ldap = kb;
        }
        im->dot_nt(M, j1 - j0, kb, ap, ldap, b_at(g, pc, j0), g->ldb, g->C + i0 * g->ldc + j0, g->ldc,
                   g->alpha, pc == 0 ? g->beta : 1.0f);
    }
}

/* op(B) spanning at least this many bytes per K block gets its next panel (read in place) or
 * the source of its next packed block prefetched, a slice per register tile (prefetch_slice). */
#define B_PREFETCH_MIN (256 * 1024)

/* Slice `part` of `parts` of the rows x cols floats at x (row stride ldx) fetched towards L2
 * (prefetcht2). The B operands of the fused loss are the 77 MB vocabulary weight, streamed from
 * memory: fetching the next panel (read in place, dX) or the next block's source (packed,
 * logits) while the current one computes, instead of stalling on its first touch, made those
 * GEMMs 2-3% faster. Only a hint: no value changes. */
static void prefetch_slice(const float *x, int64_t ldx, int64_t rows, int64_t cols, int64_t part,
                           int64_t parts) {
    const int64_t r0 = rows * part / parts, r1 = rows * (part + 1) / parts;
    const int64_t bytes = cols * (int64_t)sizeof(float);
    for (int64_t p = r0; p < r1; p++) {
        const char *row = (const char *)(x + p * ldx);
        for (int64_t q = 0; q < bytes; q += 64)
            __builtin_prefetch(row + q, 0, 1);
        __builtin_prefetch(row + bytes - 1, 0, 1);
    }
}

/* One K block (depth kb from pc) of rows [i0, i1) x columns [j0, j1) of C with workspace w
 * (already grown). `apk`, when not NULL, holds op(A) rows [i0, i1) of this K block already
 * packed (panel r at apk + r*mr*kb); `bpk` likewise op(B) columns [j0, j1). Packed or not, every
 * element of C gets the same operations in the same order. */
void nb_gemm_rect_kblock(const nb_gemm_impl *im, const gemm_args *g, nb_gemm_ws *w, int64_t i0, int64_t i1,
                         int64_t j0, int64_t j1, int64_t pc, int64_t kb, const float *apk, const float *bpk) {
    const int64_t M = i1 - i0, N = j1 - j0;
    const int64_t mc = even_block(M, im->mc, im->mr), nc = even_block(N, im->nc, im->nr);
    const int mr = im->mr, nr = im->nr;
    const float beta = pc == 0 ? g->beta : 1.0f;
    const int direct_b = !bpk && !g->tb && M <= DIRECT_B_MAX_M;
    /* One block of columns (a tall, narrow C such as dW of the vocabulary): B is packed once per
     * K block and kept for every block of rows. */
    const int b_once = !bpk && !direct_b && N <= im->nc;
    const int prefetch = (double)kb * (double)(direct_b ? g->ldb : g->N) * sizeof(float) >= B_PREFETCH_MIN;
    if (b_once) im->pack_b(g->tb, b_at(g, pc, j0), g->ldb, kb, N, w->b);
    for (int64_t ic = 0; ic < M; ic += mc) {
        const int64_t mb = imin(mc, M - ic);
        /* With B in place, op(A) = A is read in place too (the packed copy cost more than it
         * saved); the kernels do the same operations either way. */
        const int direct_a = direct_b && !apk && !g->ta && im->kernel_ad;
        const float *ablk = apk ? apk + ic * kb : w->a;
        if (!apk && !direct_a) im->pack_a(g->ta, a_at(g, i0 + ic, pc), g->lda, mb, kb, w->a);
        for (int64_t jc = 0; jc < N; jc += nc) {
            const int64_t nb = imin(nc, N - jc);
            float *cblk = g->C + (i0 + ic) * g->ldc + j0 + jc;
            if (!direct_b) {
                const float *bblk = bpk ? bpk + jc * kb : w->b;
                if (!bpk && !b_once) im->pack_b(g->tb, b_at(g, pc, j0 + jc), g->ldb, kb, nb, w->b);
                /* the source of the next block of B (the next columns), packed after this one */
                const int64_t nbn = bpk || b_once ? 0 : imin(nc, N - jc - nc);
                const float *next = nbn > 0 && prefetch ? b_at(g, pc, j0 + jc + nc) : NULL;
                const int64_t tn = cdiv(nb, nr), tiles = cdiv(mb, mr) * tn;
                for (int64_t ir = 0; ir < mb; ir += mr)
                    for (int64_t jr = 0; jr < nb; jr += nr) {
                        if (next)
                            prefetch_slice(next, g->ldb, g->tb ? nbn : kb, g->tb ? kb : nbn,
                                           ir / mr * tn + jr / nr, tiles);
                        im->kernel(kb, ablk + ir * kb, bblk + jr * kb, nr, cblk + ir * g->ldc + jr, g->ldc,
                                   (int)imin(mr, mb - ir), (int)imin(nr, nb - jr), g->alpha, beta);
                    }
                continue;
            }
            /* B in place; only a last, narrower panel is packed (zero-padded). */
            const int64_t nfull = nb / nr * nr, tiles = cdiv(mb, mr);
            if (nfull < nb) im->pack_b(0, b_at(g, pc, j0 + jc + nfull), g->ldb, kb, nb - nfull, w->b);
            for (int64_t jr = 0; jr < nb; jr += nr) {
                const float *bp = jr < nfull ? b_at(g, pc, j0 + jc + jr) : w->b;
                const int64_t ldbp = jr < nfull ? g->ldb : nr;
                /* the panel after this one: the next columns, else the next block of columns,
                 * else the first columns of the next K block */
                const float *next = NULL;
                int64_t next_rows = kb, next_cols = nr;
                if (prefetch && jr + nr < nfull) {
                    next = b_at(g, pc, j0 + jc + jr + nr);
                } else if (prefetch && jc + nc < N) {
                    next = b_at(g, pc, j0 + jc + nc);
                    next_cols = imin(nr, N - jc - nc);
                } else if (prefetch && ic + mc >= M && pc + kb < g->K) {
                    next = b_at(g, pc + kb, j0);
                    next_rows = imin(k_block(im, g->K), g->K - pc - kb);
                    next_cols = imin(nr, N);
                }
                for (int64_t ir = 0; ir < mb; ir += mr) {
                    const int tm = (int)imin(mr, mb - ir), tn = (int)imin(nr, nb - jr);
                    if (next) prefetch_slice(next, g->ldb, next_rows, next_cols, ir / mr, tiles);
                    if (direct_a)
                        im->kernel_ad(kb, a_at(g, i0 + ic + ir, pc), g->lda, bp, ldbp,
                                      cblk + ir * g->ldc + jr, g->ldc, tm, tn, g->alpha, beta);
                    else
                        im->kernel(kb, ablk + ir * kb, bp, ldbp, cblk + ir * g->ldc + jr, g->ldc, tm, tn,
                                   g->alpha, beta);
                }
            }
        }
    }
}

/* nb_gemm_rect keeps a block of C in cache across the K blocks when its rectangle of C is larger
 * than this (bytes; well past the L2 of one core) and all of its op(A) packs into at most
 * A_ALL_MAX floats. */
#define C_RESIDENT_MIN (8.0 * 1048576.0)
#define A_ALL_MAX      ((size_t)4 << 20)

/* Computes rows [i0, i1) x columns [j0, j1) of C with workspace w (already grown). */
void nb_gemm_rect(const nb_gemm_impl *im, const gemm_args *g, nb_gemm_ws *w, int64_t i0, int64_t i1,
                  int64_t j0, int64_t j1) {
    /* Chosen by the whole M, so every thread sums in the same order. */
    if (g->tb && im->dot_nt && g->M <= NB_GEMM_DOT_MAX_M) {
        gemm_rect_dot(im, g, w, i0, i1, j0, j1);
        return;
    }
    if (!g->tb && im->axpy_nn && g->M <= NB_GEMM_DOT_MAX_M) {
        im->axpy_nn(i1 - i0, j1 - j0, g->K, a_at(g, i0, 0), g->ta ? 1 : g->lda, g->ta ? g->lda : 1,
                    b_at(g, 0, j0), g->ldb, g->C + i0 * g->ldc + j0, g->ldc, g->alpha, g->beta);
        return;
    }
    const int64_t K = g->K, kc = k_block(im, K), M = i1 - i0, mp = cdiv(M, im->mr) * im->mr;
    /* Several K blocks and a C too big for the caches (dW of the unfused lm_head: 384 x 50257
     * over K 1536): the K blocks go innermost, block of columns by block of columns, so each
     * block of C stays in cache while its K blocks add up (one pass over C instead of one per
     * K block). op(A) is then packed once, all K blocks of it. Every element of C still gets
     * its K blocks in order: bit-identical to the loop below. */
    if (K > kc && M <= im->mc && (double)M * (double)(j1 - j0) * sizeof(float) > C_RESIDENT_MIN &&
        (size_t)(mp * K) <= A_ALL_MAX && nb_gemm_ws_grow(&w->a, &w->acap, (size_t)(mp * K)) == 0) {
        for (int64_t pc = 0; pc < K; pc += kc)
            im->pack_a(g->ta, a_at(g, i0, pc), g->lda, M, imin(kc, K - pc), w->a + pc * mp);
        const int64_t nc = even_block(j1 - j0, im->nc, im->nr);
        for (int64_t jc = j0; jc < j1; jc += nc)
            for (int64_t pc = 0; pc < K; pc += kc)
                nb_gemm_rect_kblock(im, g, w, i0, i1, jc, imin(jc + nc, j1), pc, imin(kc, K - pc),
                                    w->a + pc * mp, NULL);
        return;
    }
    for (int64_t pc = 0; pc < K; pc += kc)
        nb_gemm_rect_kblock(im, g, w, i0, i1, j0, j1, pc, imin(kc, K - pc), NULL, NULL);
}

/* Last resort when a packing buffer cannot be allocated: the plain triple loop. */
void nb_gemm_rect_naive(const gemm_args *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    for (int64_t i = i0; i < i1; i++) {
        for (int64_t j = j0; j < j1; j++) {
            float acc = 0.0f;
            for (int64_t p = 0; p < g->K; p++)
                acc += *a_at(g, i, p) * *b_at(g, p, j);
            float *c = g->C + i * g->ldc + j;
            *c = g->beta == 0.0f ? g->alpha * acc : g->alpha * acc + g->beta * *c;
        }
    }
}

/* C = beta * C, for K == 0 or alpha == 0 (A and B are not read). */
void nb_gemm_scale_c(const gemm_args *g) {
    for (int64_t i = 0; i < g->M; i++) {
        float *c = g->C + i * g->ldc;
        if (g->beta == 0.0f)
            memset(c, 0, (size_t)g->N * sizeof(float));
        else if (g->beta != 1.0f)
            for (int64_t j = 0; j < g->N; j++)
                c[j] *= g->beta;
    }
}
