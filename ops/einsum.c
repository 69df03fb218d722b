/* ops/einsum.c - Einstein summation (torch.einsum), composed of views, sums and batched matmuls,
 * so autograd differentiates it through those ops.
 *
 * An equation names each operand's dims with letters ("bij,bjk->bik"); "..." stands for the
 * dims no letter names, aligned right across operands and broadcast. Each operand first takes
 * the diagonal of a repeated letter ("ii->i") and sums out the letters nothing else needs; then
 * the operands are contracted left to right, two at a time, as one batched matmul: the shared
 * letters still needed later are the batch, the shared ones not needed any more are summed by
 * the product (K), and each side's own letters are its rows (M) or columns (N). Without "->",
 * the output is the ellipsis dims followed by the letters that occur once, in ASCII order
 * (upper case first), as torch. */
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

enum { NB_LETTERS = 52, NB_EIN_LABELS = NB_LETTERS + NB_MAX_DIMS, NB_EIN_MAX_OPS = 16 };

/* A tensor with a label per dim: letters 0..51 ('A'..'Z', 'a'..'z'), ellipsis dims 52.. */
typedef struct {
    nb_tensor *t;
    int n, lab[NB_MAX_DIMS];
} labelled;

static int letter_id(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return 26 + c - 'a';
    return -1;
}

static char label_char(int l) {
    return l < 26 ? (char)('A' + l) : l < NB_LETTERS ? (char)('a' + l - 26) : '.';
}

/* One side's subscripts: letters and at most one "..." (ell set to its position among the
 * subscripts, else -1). Returns the number of letters, or -1 with an error. */
static int parse_term(const char *s, const char *e, int *ids, int *ell, const char *what) {
    int n = 0;
    *ell = -1;
    for (const char *p = s; p < e; p++) {
        if (*p == ' ') continue;
        if (*p == '.') {
            if (e - p < 3 || p[1] != '.' || p[2] != '.')
                return nb_set_error("einsum: a '.' in %s that is not part of \"...\"", what), -1;
            if (*ell >= 0) return nb_set_error("einsum: more than one \"...\" in %s", what), -1;
            *ell = n;
            p += 2;
            continue;
        }
        const int id = letter_id(*p);
        if (id < 0) return nb_set_error("einsum: '%c' in %s is not a letter", *p, what), -1;
        if (n == NB_MAX_DIMS)
            return nb_set_error("einsum: more than %d subscripts in %s", NB_MAX_DIMS, what), -1;
        ids[n++] = id;
    }
    return n;
}

/* Sums out the labels of l that `keep` does not hold. */
static int sum_unneeded(labelled *l, const bool *keep) {
    int axes[NB_MAX_DIMS], na = 0, m = 0;
    for (int i = 0; i < l->n; i++)
        if (!keep[l->lab[i]])
            axes[na++] = i;
        else
            l->lab[m++] = l->lab[i];
    if (!na) return 0;
    l->t = nb_sum(l->t, na, axes, false);
    l->n = m;
    return l->t ? 0 : -1;
}

static int find(const labelled *l, int lab) {
    for (int i = 0; i < l->n; i++)
        if (l->lab[i] == lab) return i;
    return -1;
}

/* a and b contracted over their shared labels not in `keep`; the result's labels are the
 * batch (shared, kept), then a's own, then b's own. */
static int contract(labelled *a, labelled *b, const bool *keep, labelled *out) {
    int bat[NB_MAX_DIMS], con[NB_MAX_DIMS], mo[NB_MAX_DIMS], no[NB_MAX_DIMS], nbat = 0, ncon = 0, nm = 0,
                                                                              nn = 0;
    for (int i = 0; i < a->n; i++) {
        const int l = a->lab[i];
        if (find(b, l) >= 0) {
            if (keep[l])
                bat[nbat++] = l;
            else
                con[ncon++] = l;
        } else {
            mo[nm++] = l;
        }
    }
    for (int i = 0; i < b->n; i++)
        if (find(a, b->lab[i]) < 0) no[nn++] = b->lab[i];
    if (nbat + nm + nn > NB_MAX_DIMS)
        return nb_set_error("einsum: an intermediate result would have %d dims (at most %d)", nbat + nm + nn,
                            NB_MAX_DIMS),
               -1;
    /* a as [batch, M, K], b as [batch, K, N], shared sizes broadcast */
    int pa[NB_MAX_DIMS], pb[NB_MAX_DIMS], k = 0;
    int64_t sa[NB_MAX_DIMS], sb[NB_MAX_DIMS], Bt = 1, M = 1, N = 1, K = 1;
    for (int i = 0; i < nbat; i++) {
        pa[k] = find(a, bat[i]), pb[k] = find(b, bat[i]);
        const int64_t x = a->t->shape[pa[k]], y = b->t->shape[pb[k]], s = x == 1 ? y : x;
        sa[k] = sb[k] = s, Bt *= s, k++;
    }
    const int kb = k;
    for (int i = 0; i < nm; i++)
        pa[k] = find(a, mo[i]), sa[k] = a->t->shape[pa[k]], M *= sa[k], k++;
    int kk = kb;
    for (int i = 0; i < ncon; i++) {
        pa[k] = find(a, con[i]), pb[kk] = find(b, con[i]);
        const int64_t x = a->t->shape[pa[k]], y = b->t->shape[pb[kk]], s = x == 1 ? y : x;
        sa[k] = sb[kk] = s, K *= s, k++, kk++;
    }
    for (int i = 0; i < nn; i++)
        pb[kk] = find(b, no[i]), sb[kk] = b->t->shape[pb[kk]], N *= sb[kk], kk++;
    nb_tensor *ta = nb_expand(nb_permute(a->t, pa), a->n, sa);
    nb_tensor *tb = nb_expand(nb_permute(b->t, pb), b->n, sb);
    ta = ta ? nb_reshape(ta, NB_SHAPE(Bt, M, K)) : NULL;
    tb = tb ? nb_reshape(tb, NB_SHAPE(Bt, K, N)) : NULL;
    nb_tensor *y = ta && tb ? nb_matmul(ta, tb) : NULL;
    int64_t so[NB_MAX_DIMS];
    out->n = 0;
    for (int i = 0; i < nbat; i++)
        out->lab[out->n] = bat[i], so[out->n++] = sa[i];
    for (int i = 0; i < nm; i++)
        out->lab[out->n] = mo[i], so[out->n++] = sa[kb + i];
    for (int i = 0; i < nn; i++)
        out->lab[out->n] = no[i], so[out->n++] = sb[kb + ncon + i];
    out->t = y ? nb_reshape(y, out->n, so) : NULL;
    return out->t ? 0 : -1;
}

/* The equation's operands with their labels (diagonals taken), and the output's labels. */
static int parse(const char *eq, int n, nb_tensor *const *ops, labelled *in, int *olab, int *on) {
    const char *arrow = strstr(eq, "->"), *end = arrow ? arrow : eq + strlen(eq);
    int ells[NB_EIN_MAX_OPS], nl[NB_EIN_MAX_OPS], ids[NB_EIN_MAX_OPS][NB_MAX_DIMS], max_ell = 0;
    const char *s = eq;
    for (int i = 0; i < n; i++) {
        const char *e = memchr(s, ',', (size_t)(end - s));
        if (!e && i < n - 1)
            return nb_set_error("einsum: \"%s\" has subscripts for %d operand(s), %d given", eq, i + 1, n),
                   -1;
        if (e && i == n - 1)
            return nb_set_error("einsum: \"%s\" has subscripts for more than the %d operand(s) given", eq, n),
                   -1;
        if (!e) e = end;
        char what[32];
        snprintf(what, sizeof what, "operand %d", i);
        if ((nl[i] = parse_term(s, e, ids[i], &ells[i], what)) < 0) return -1;
        const int nd = ops[i]->ndim, extra = nd - nl[i];
        if (extra < 0 || (ells[i] < 0 && extra > 0))
            return nb_set_error("einsum: operand %d has %d dims but %d subscripts%s", i, nd, nl[i],
                                ells[i] < 0 ? " and no \"...\"" : ""),
                   -1;
        if (ells[i] >= 0 && extra > max_ell) max_ell = extra;
        s = e + 1;
    }
    int64_t size[NB_EIN_LABELS];
    int count[NB_EIN_LABELS] = {0};
    for (int l = 0; l < NB_EIN_LABELS; l++)
        size[l] = -1;
    for (int i = 0; i < n; i++) {
        labelled *L = &in[i];
        const int extra = ops[i]->ndim - nl[i];
        L->t = ops[i], L->n = 0;
        for (int j = 0, d = 0; j <= nl[i]; j++) {
            if (j == ells[i]) /* the ellipsis dims, right-aligned to the widest */
                for (int e = 0; e < extra; e++)
                    L->lab[L->n++] = NB_LETTERS + max_ell - extra + e, d++;
            if (j < nl[i]) L->lab[L->n++] = ids[i][j], d++;
        }
        for (int d = 0; d < L->n; d++) {
            const int l = L->lab[d];
            const int64_t sz = ops[i]->shape[d];
            count[l]++; /* a letter twice in one operand counts twice: implicitly summed, as torch */
            for (int q = 0; q < d; q++) /* a repeat is a diagonal: equal sizes, no broadcasting */
                if (L->lab[q] == l && ops[i]->shape[q] != sz)
                    return nb_set_error(
                               "einsum: subscript '%c' repeats in operand %d over sizes %lld and %lld",
                               label_char(l), i, (long long)ops[i]->shape[q], (long long)sz),
                           -1;
            if (size[l] >= 0 && size[l] != sz && size[l] != 1 && sz != 1) {
                if (l < NB_LETTERS)
                    return nb_set_error("einsum: subscript '%c' is %lld in operand %d but %lld before",
                                        label_char(l), (long long)sz, i, (long long)size[l]),
                           -1;
                return nb_set_error(
                           "einsum: the \"...\" dims of operand %d do not broadcast with the others'", i),
                       -1;
            }
            if (size[l] < 0 || size[l] == 1) size[l] = sz;
        }
        /* a letter twice in one operand: its diagonal (sizes equal, no broadcasting) */
        for (int p = 0; p < L->n; p++)
            for (int q = p + 1; q < L->n; q++) {
                if (L->lab[p] != L->lab[q]) continue;
                const int l = L->lab[p];
                if (!(L->t = nb_diagonal(L->t, 0, p, q))) return -1; /* the diagonal is now the last dim */
                int m = 0;
                for (int r = 0; r < L->n; r++)
                    if (r != p && r != q) L->lab[m++] = L->lab[r];
                L->lab[m++] = l;
                L->n = m;
                p = -1; /* rescan the new order */
                break;
            }
    }
    *on = 0;
    if (arrow) {
        int oe, oids[NB_MAX_DIMS];
        const int no = parse_term(arrow + 2, arrow + strlen(arrow), oids, &oe, "the output");
        if (no < 0) return -1;
        for (int j = 0; j <= no; j++) {
            if (j == oe) {
                if (*on + max_ell > NB_MAX_DIMS)
                    return nb_set_error("einsum: more than %d output dims", NB_MAX_DIMS), -1;
                for (int e = 0; e < max_ell; e++)
                    olab[(*on)++] = NB_LETTERS + e;
            }
            if (j == no) break;
            const int l = oids[j];
            if (!count[l])
                return nb_set_error("einsum: output subscript '%c' is in no operand", label_char(l)), -1;
            for (int k = 0; k < *on; k++)
                if (olab[k] == l)
                    return nb_set_error("einsum: output subscript '%c' appears more than once",
                                        label_char(l)),
                           -1;
            if (*on >= NB_MAX_DIMS) return nb_set_error("einsum: more than %d output dims", NB_MAX_DIMS), -1;
            olab[(*on)++] = l;
        }
    } else { /* implicit: the ellipsis dims, then the letters used once, in ASCII order */
        for (int e = 0; e < max_ell; e++)
            olab[(*on)++] = NB_LETTERS + e;
        for (int l = 0; l < NB_LETTERS; l++)
            if (count[l] == 1) {
                if (*on == NB_MAX_DIMS)
                    return nb_set_error("einsum: more than %d output dims", NB_MAX_DIMS), -1;
                olab[(*on)++] = l;
            }
    }
    return 0;
}

static nb_tensor *einsum(const char *eq, int n, nb_tensor *const *ops) {
    labelled in[NB_EIN_MAX_OPS];
    int olab[NB_MAX_DIMS], on;
    if (parse(eq, n, ops, in, olab, &on)) return NULL;
    bool in_out[NB_EIN_LABELS] = {false};
    for (int i = 0; i < on; i++)
        in_out[olab[i]] = true;
    /* contract left to right; before each step, each side sums out the labels that neither the
     * other side, the operands after it nor the output need */
    labelled acc = in[0];
    for (int i = 1; i < n; i++) {
        bool keep[NB_EIN_LABELS], keep_a[NB_EIN_LABELS], keep_b[NB_EIN_LABELS];
        memcpy(keep, in_out, sizeof keep);
        for (int j = i + 1; j < n; j++)
            for (int d = 0; d < in[j].n; d++)
                keep[in[j].lab[d]] = true;
        memcpy(keep_a, keep, sizeof keep_a);
        memcpy(keep_b, keep, sizeof keep_b);
        for (int d = 0; d < in[i].n; d++)
            keep_a[in[i].lab[d]] = true;
        if (sum_unneeded(&acc, keep_a)) return NULL;
        for (int d = 0; d < acc.n; d++)
            keep_b[acc.lab[d]] = true;
        if (sum_unneeded(&in[i], keep_b)) return NULL;
        labelled next;
        if (contract(&acc, &in[i], keep, &next)) return NULL;
        acc = next;
    }
    if (sum_unneeded(&acc, in_out)) return NULL;
    int perm[NB_MAX_DIMS]; /* the output's order */
    for (int i = 0; i < on; i++)
        perm[i] = find(&acc, olab[i]);
    return nb_permute(acc.t, perm);
}

nb_tensor *nb_einsum(const char *eq, int n, nb_tensor *const *ops) {
    if (!eq) return nb_set_error("einsum: NULL equation");
    if (n < 1 || n > NB_EIN_MAX_OPS) return nb_set_error("einsum: %d operands (1 to %d)", n, NB_EIN_MAX_OPS);
    if (!ops) return nb_set_error("einsum: NULL operand list");
    for (int i = 0; i < n; i++) {
        if (!ops[i]) {
            if (!nb_last_error()[0]) nb_set_error("einsum: NULL operand %d", i);
            return NULL;
        }
        if (nb_check_dtype("einsum", ops[i], NB_F32, "operand") || nb_same_device("einsum", ops[0], ops[i]))
            return NULL;
    }
    return nb_as_op(einsum(eq, n, ops), "einsum");
}
