/* tests/cuda_edge_menu.h - the menu of ops that tests/test_cuda_edge.c and test_cuda_edge_nn.c
 * pick cases from by number (one function for all, so that a case is one line of a table), and
 * the runner of such tables. Include after tests/cuda_compare.h. */
#ifndef NB_TESTS_CUDA_EDGE_MENU_H
#define NB_TESTS_CUDA_EDGE_MENU_H

/* clang-format off */
enum {
    M_EXP, M_ADD, M_MUL, M_DIV, M_MAXIMUM, M_SUM_LAST, M_SUM_FIRST, M_SUM_ALL, M_MAX_ALL, M_MM, M_MM_BT,
    M_MM_AT, M_MM_EXPAND, M_MM_SLICED, M_SOFTMAX, M_LOG_SOFTMAX, M_LN, M_LN_NOW, M_XENT, M_EMB, M_EMB_NONLEAF,
    M_ISEL, M_ISEL0, M_ISEL_STEP, M_GATHER, M_GATHER_T, M_ATT, M_ATT_VIEWS, M_ATT_SUMT, M_ARGMAX, M_ARGMAX0,
    M_MAX_LAST, M_MIN_FIRST, M_CAST, M_TRIL
};
/* clang-format on */
#define OP(k) (&(int){k})

NB_TEST_FN nb_tensor *f_menu(nb_tensor **in, void *u) {
    nb_tensor *a = in[0];
    switch (*(const int *)u) {
    case M_EXP: return nb_exp(a);
    case M_ADD: return nb_add(a, in[1]);
    case M_MUL: return nb_mul(a, in[1]);
    case M_DIV: return nb_div(a, in[1]);
    case M_MAXIMUM: return nb_maximum(a, in[1]);
    case M_SUM_LAST: return nb_sum(a, 1, (const int[]){-1}, false);
    case M_SUM_FIRST: return nb_sum(a, 1, (const int[]){0}, true);
    case M_SUM_ALL: return nb_sum_all(a);
    case M_MAX_ALL: return nb_max(a, 0, NULL, false);
    case M_MM: return nb_matmul(a, in[1]);
    case M_MM_BT: return nb_matmul(a, nb_transpose(in[1], -1, -2));
    case M_MM_AT: return nb_matmul(nb_transpose(a, -1, -2), nb_transpose(in[1], -1, -2));
    case M_MM_EXPAND: /* b [1,K,N] shared by the batch through stride 0 */
        return nb_matmul(a, nb_expand(in[1], 3, (const int64_t[]){a->shape[0], -1, -1}));
    case M_MM_SLICED: /* every other row of a (in place) and every other column (a copy) */
        return nb_matmul(nb_slice(nb_slice(a, 0, 0, a->shape[0], 2), 1, 1, a->shape[1], 2), in[1]);
    case M_SOFTMAX: return nb_softmax(a, -1);
    case M_LOG_SOFTMAX: return nb_log_softmax(a, -1);
    case M_LN: return nb_layer_norm(a, in[1], in[2], 1e-5f);
    case M_LN_NOW: return nb_layer_norm(a, NULL, in[1], 1e-5f);
    case M_XENT: return nb_cross_entropy(a, in[1], -100);
    case M_EMB: return nb_embedding(a, in[1]);
    case M_EMB_NONLEAF: return nb_embedding(nb_mul_scalar(a, 2.0f), in[1]);
    case M_ISEL: return nb_index_select(a, -1, in[1]);
    case M_ISEL0: return nb_index_select(nb_transpose(a, 0, 1), 1, in[1]);
    case M_ISEL_STEP: return nb_index_select(a, 0, nb_slice(in[1], 0, 1, in[1]->shape[0], 3));
    case M_GATHER: return nb_gather(a, -1, in[1]);
    case M_GATHER_T: return nb_gather(a, 1, nb_transpose(in[1], 0, 1));
    case M_ATT: return nb_attention(a, in[1], in[2]);
    case M_ATT_VIEWS: { /* q, v: [B,T,H,D] seen as [B,H,T,D]; k: [B,1,1,D] expanded */
        nb_tensor *q = nb_permute(a, (const int[]){0, 2, 1, 3}),
                  *v = nb_permute(in[2], (const int[]){0, 2, 1, 3});
        return nb_attention(q, nb_expand(in[1], 4, q->shape), v);
    }
    case M_ATT_SUMT: /* its gradient: stride 0 over T, read in place */
        return nb_sum(nb_attention(a, in[1], in[2]), 1, (const int[]){2}, false);
    case M_ARGMAX: return nb_cast(nb_argmax(a, -1, false), NB_F32);
    case M_ARGMAX0: return nb_cast(nb_argmax(a, 0, true), NB_F32);
    case M_MAX_LAST: return nb_max(a, 1, (const int[]){-1}, true);
    case M_MIN_FIRST: return nb_min(a, 1, (const int[]){0}, false);
    case M_CAST: return nb_cast(nb_cast(nb_transpose(a, 0, -1), NB_I32), NB_F32);
    default: return nb_tril(a, 0);
    }
}

/* A case of the menu: its inputs are f32 in [-1, 1) of the given shapes, but those marked in ix
 * are i32 ids in [0, hi); grad: the inputs whose gradients are compared. */
typedef struct {
    const char *name;
    int op, n, grad, ix, hi;
    double tol;
    int nd[3];
    int64_t sh[3][4];
} mcase;

NB_TEST_FN void run_cases(const mcase *cs, size_t n) {
    nb_ctx *c = nb_ctx_new(0);
    for (size_t k = 0; k < n; k++) {
        nb_tensor *in[3];
        for (int i = 0; i < cs[k].n; i++)
            in[i] = cs[k].ix >> i & 1 ? ids(c, cs[k].nd[i], cs[k].sh[i], cs[k].hi, 3 * k + (uint64_t)i)
                                      : rnd(c, cs[k].nd[i], cs[k].sh[i], -1, 1, 3 * k + (uint64_t)i);
        compare(cs[k].name, f_menu, in, cs[k].n, (void *)&cs[k].op, cs[k].tol, (unsigned)cs[k].grad);
    }
    nb_ctx_free(c);
}
#define RUN_CASES(cs) run_cases(cs, sizeof cs / sizeof *cs)
/* clang-format off */
#define ATT3(b, h, t, d) {4, 4, 4}, {{b, h, t, d}, {b, h, t, d}, {b, h, t, d}}
/* clang-format on */

#endif
