/* autograd/engine.c - recording nodes and running the backward pass.
 *
 * The whole engine, in the spirit of micrograd: ops record a node on their
 * output; nb_backward collects the nodes behind the loss, orders them by
 * creation (newest first) and calls each node's rule, adding (+=) the input
 * gradients into the inputs' nodes, or into the grad of a leaf. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

static _Thread_local bool nb_grad_off; /* grad mode is on unless turned off */
static atomic_bool nb_anomaly;
static atomic_uint_fast64_t nb_seq = 1;
static atomic_uint_fast64_t nb_epoch = 1;

bool nb_set_grad_enabled(bool on) {
    bool prev = !nb_grad_off;
    nb_grad_off = !on;
    return prev;
}
bool nb_grad_enabled(void) { return !nb_grad_off; }
bool nb_no_grad_begin(void) { return nb_set_grad_enabled(false); }
void nb_no_grad_end(bool prev) { nb_set_grad_enabled(prev); }

bool nb_set_anomaly(bool on) { return atomic_exchange(&nb_anomaly, on); }
bool nb_anomaly_enabled(void) { return atomic_load(&nb_anomaly); }

nb_tensor *nb_requires_grad_(nb_tensor *t, bool on) {
    if (!t) return NULL;
    if (on && t->dtype != NB_F32) return nb_set_error("requires_grad: only f32 tensors can require grad");
    if (!on && t->node) /* as PyTorch: clearing the flag would silently cut the graph behind t */
        return nb_set_error("requires_grad: cannot turn it off for the result of %s (not a leaf); use "
                            "nb_detach for a copy without history",
                            t->node->op);
    t->requires_grad = on;
    return t;
}

bool nb_any_requires_grad(int n_in, nb_tensor *const *in) {
    if (nb_grad_off) return false;
    for (int i = 0; i < n_in; i++)
        if (in[i] && in[i]->requires_grad) return true;
    return false;
}

/* Returns 1 when t holds a NaN or Inf. */
static int has_nonfinite(const nb_tensor *t) {
    if (t->dtype != NB_F32) return 0;
    int64_t n = nb_numel(t);
    if (t->device == NB_CPU && nb_is_contiguous(t)) {
        const float *p = nb_data_f32(t);
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(p[i])) return 1;
        return 0;
    }
    float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!buf || nb_to_array(t, NB_F32, buf)) {
        free(buf);
        return 0;
    }
    int bad = 0;
    for (int64_t i = 0; i < n && !bad; i++)
        bad = !isfinite(buf[i]);
    free(buf);
    return bad;
}

nb_tensor *nb_op_finish(nb_tensor *out, const char *op, nb_backward_fn bw, int n_in, nb_tensor *const *in,
                        nb_node **node) {
    if (node) *node = NULL;
    if (!out) return NULL;
    if (atomic_load_explicit(&nb_anomaly, memory_order_relaxed) && has_nonfinite(out)) {
        char msg[512];
        size_t o = (size_t)snprintf(msg, sizeof msg, "anomaly: op '%s' produced NaN/Inf; inputs:", op);
        for (int i = 0; i < n_in && o < sizeof msg; i++) {
            char b[96];
            o += (size_t)snprintf(msg + o, sizeof msg - o, " %s", in[i] ? NB_SHP(in[i], b) : "NULL");
        }
        nb_set_error("%s", msg);
        return NULL;
    }
    if (!bw || !nb_any_requires_grad(n_in, in)) return out;
    nb_ctx *ctx = out->ctx;
    nb_node *n = nb_ctx_alloc(ctx, sizeof *n, 8);
    nb_tensor **ins = n ? nb_ctx_alloc(ctx, sizeof(nb_tensor *) * (size_t)(n_in ? n_in : 1), 8) : NULL;
    if (!ins) return NULL;
    uint32_t *ver = nb_ctx_alloc(ctx, sizeof(uint32_t) * (size_t)(n_in + 1), 4);
    if (!ver) return NULL;
    memcpy(ins, in, sizeof(nb_tensor *) * (size_t)n_in);
    for (int i = 0; i < n_in; i++)
        ver[i] = in[i] && in[i]->storage ? in[i]->storage->version : 0;
    ver[n_in] = out->storage ? out->storage->version : 0;
    n->version = ver;
    n->op = op;
    n->backward = bw;
    n->n_in = n_in;
    n->in = ins;
    n->out = out;
    n->seq = atomic_fetch_add(&nb_seq, 1);
    out->node = n;
    out->requires_grad = true;
    if (node) *node = n;
    return out;
}

nb_tensor *nb_sum_to(nb_tensor *g, int ndim, const int64_t *shape) {
    if (!g) return NULL;
    if (g->ndim == ndim && memcmp(g->shape, shape, sizeof(int64_t) * (size_t)ndim) == 0) return g;
    int axes[NB_MAX_DIMS], na = 0, lead = g->ndim - ndim;
    if (lead < 0) return nb_set_error("backward: gradient has fewer dims than its input");
    for (int i = 0; i < g->ndim; i++) {
        int j = i - lead;
        if (j < 0 || (shape[j] == 1 && g->shape[i] != 1))
            axes[na++] = i;
        else if (shape[j] != g->shape[i]) {
            char a[96], b[96];
            return nb_set_error("backward: gradient %s cannot be reduced to %s", NB_SHP(g, a),
                                nb_fmt_shape(ndim, shape, b, sizeof b));
        }
    }
    nb_tensor *s = na ? nb_sum(g, na, axes, true) : g;
    return nb_reshape(s, ndim, shape);
}

void nb_zero_grad(nb_tensor *t) {
    if (t && t->grad) nb_fill_(t->grad, 0.0);
}

/* ---- gradient recycling --------------------------------------------------------------------
 * Every storage made while a pass runs carries the pass's stamp. The engine counts, per stamped
 * storage, the holders among the gradients it still has to use (the gout of pending nodes and
 * the gins it is distributing) and gives the storage back to its context when the count drops
 * to zero. Storages from before the pass (forward values, seeds, saved tensors) and leaf grads
 * (unstamped when made) are never given back. */

static atomic_int nb_recycle = -1;         /* -1: not read from the environment yet */
static _Thread_local uint64_t nb_cur_pass; /* the pass this thread runs, 0 outside one */
static _Thread_local bool nb_cur_recycle;  /* whether it recycles */

static bool recycling(void) {
    int r = atomic_load(&nb_recycle);
    if (r < 0) {
        const char *e = getenv("NABLA_NO_RECYCLE");
        int want = e && *e && *e != '0' ? 0 : 1;
        atomic_compare_exchange_strong(&nb_recycle, &r, want);
        r = atomic_load(&nb_recycle);
    }
    return r != 0;
}

bool nb_set_grad_recycling(bool on) {
    bool prev = recycling();
    atomic_store(&nb_recycle, on ? 1 : 0);
    return prev;
}

bool nb_grad_recycling(void) { return recycling(); }

nb_tensor nb_gin_accumulated_;

static bool tracked(const nb_tensor *t) {
    return nb_cur_recycle && t && t != NB_GIN_ACCUMULATED && t->storage && t->storage->pass == nb_cur_pass &&
           !t->storage->released;
}
static void hold(nb_tensor *t) {
    if (tracked(t)) t->storage->refs++;
}
static void drop(nb_tensor *t) {
    if (tracked(t) && --t->storage->refs <= 0) nb_storage_release(t->storage);
}
/* Gives back t's storage when nothing holds it (a gradient computed but not needed). */
static void drop_unheld(nb_tensor *t) {
    if (tracked(t) && t->storage->refs <= 0) nb_storage_release(t->storage);
}

/* The grad of a leaf, allocated zeroed in the leaf's context on first use and never recycled. */
static nb_tensor *leaf_grad(nb_tensor *leaf) {
    if (!leaf->grad) {
        nb_tensor *g = nb_tensor_new(leaf->ctx, NB_F32, leaf->device, leaf->ndim, leaf->shape);
        if (!g || nb_fill_(g, 0.0)) return NULL;
        g->storage->pass = 0;
        leaf->grad = g;
    }
    return leaf->grad;
}

/* nb_grad's capture: while set, gradients reaching inputs[i] are added into out[i] (allocated
 * zeroed on first use, in ctx, never recycled) and no leaf's ->grad is touched. */
typedef struct {
    int n;
    nb_tensor *const *inputs;
    nb_tensor **out;
    nb_ctx *ctx;
} grad_capture;
static _Thread_local grad_capture *nb_capture;

/* Adds g into the capture slot of input i. */
static int capture_add(int i, nb_tensor *g) {
    nb_tensor **slot = &nb_capture->out[i], *x = nb_capture->inputs[i];
    if (!*slot) {
        nb_tensor *z = nb_tensor_new(nb_capture->ctx, NB_F32, x->device, x->ndim, x->shape);
        if (!z || nb_fill_(z, 0.0)) return -1;
        z->storage->pass = 0;
        *slot = z;
    }
    return nb_axpy_(*slot, 1.0f, g);
}

/* Adds gradient g into a leaf's grad, allocating it (zeroed) in the leaf's context; under
 * nb_grad, into the leaf's capture slot instead (or nowhere when it is not one of the inputs). */
static int accumulate_leaf(nb_tensor *leaf, nb_tensor *g) {
    if (nb_capture) { /* every slot that names the leaf (it may be asked for twice) */
        for (int i = 0; i < nb_capture->n; i++)
            if (nb_capture->inputs[i] == leaf && capture_add(i, g)) return -1;
        return 0;
    }
    nb_tensor *lg = leaf_grad(leaf);
    return lg ? nb_axpy_(lg, 1.0f, g) : -1;
}

nb_tensor *nb_node_leaf_grad(nb_node *n, int i) {
    if (!n || i < 0 || i >= n->n_in || !nb_cur_pass || !nb_cur_recycle || nb_capture) return NULL;
    nb_tensor *x = n->in[i];
    if (!x || !x->requires_grad || x->node || x->dtype != NB_F32) return NULL;
    return leaf_grad(x);
}

/* Adds g into the pending gradient `old` of a node in place when nothing else can see old's
 * storage (same values as nb_add(old, g)). 1 when it cannot, 0, or -1 on error. */
static int add_in_place(nb_tensor *old, const nb_tensor *g) {
    if (!tracked(old) || old->storage->refs != 1 || !nb_is_contiguous(old) || !nb_same_shape(old, g) ||
        old->device != g->device || old->dtype != NB_F32 || g->dtype != NB_F32)
        return 1;
    const nb_backend *be = nb_be(old);
    if (!be || !be->binary) return 1;
    return be->binary(NB_BIN_ADD, old, old, g) ? -1 : 0;
}

/* Hands the gradients a rule returned to the inputs' nodes or leaves; releases what is no longer
 * held. 0, or -1 with error. */
static int distribute(nb_node *n, nb_tensor **gin) {
    for (int i = 0; i < n->n_in; i++) {
        nb_tensor *x = n->in[i];
        if (gin[i] && gin[i] != NB_GIN_ACCUMULATED && x && x->requires_grad) hold(gin[i]);
    }
    for (int i = 0; i < n->n_in; i++) {
        nb_tensor *x = n->in[i];
        if (gin[i] && gin[i] != NB_GIN_ACCUMULATED && !(x && x->requires_grad)) drop_unheld(gin[i]);
    }
    for (int i = 0; i < n->n_in; i++) {
        nb_tensor *x = n->in[i];
        if (!x || !x->requires_grad || !gin[i] || gin[i] == NB_GIN_ACCUMULATED) continue;
        nb_tensor *g = nb_sum_to(gin[i], x->ndim, x->shape);
        if (!g) return -1;
        if (g != gin[i]) {
            hold(g);
            drop(gin[i]);
        }
        if (x->node) {
            nb_tensor *old = x->node->gout;
            if (!old) {
                x->node->gout = g; /* g's hold passes to the node */
                continue;
            }
            int rc = add_in_place(old, g);
            if (rc < 0) return -1;
            if (rc > 0) {
                nb_tensor *sum = nb_add(old, g);
                if (!sum) return -1;
                hold(sum);
                drop(old);
                x->node->gout = sum;
            }
            drop(g);
        } else {
            if (accumulate_leaf(x, g)) return -1;
            drop(g);
        }
    }
    return 0;
}

/* 0 when no tensor the node recorded was written in place since; else -1 with an error saying
 * which one (its gradient would be computed from the new values, silently wrong). */
static int check_versions(const nb_node *n) {
    /* inputs 0..n_in-1, then the output, then the saved tensors (those are always read) */
    for (int i = 0; i <= n->n_in + 4; i++) {
        int k = i - n->n_in - 1; /* index into saved[] */
        if (i < n->n_in && (i < 31 ? (n->unread >> i) & 1u : n->unread == NB_UNREAD_ALL)) continue;
        if (i == n->n_in && (n->unread & NB_UNREAD_OUT)) continue;
        const nb_tensor *t = i < n->n_in ? n->in[i] : k < 0 ? n->out : n->saved[k];
        uint32_t v = k < 0 ? n->version[i] : n->saved_version[k];
        if (!t || !t->storage || t->storage->version == v) continue;
        char b[96], what[48];
        if (i < n->n_in)
            snprintf(what, sizeof what, "input %d", i);
        else if (k < 0)
            snprintf(what, sizeof what, "output");
        else
            snprintf(what, sizeof what, "saved tensor %d", k);
        return nb_set_error("backward of %s: its %s (%s %s) was changed in place after %s used it "
                            "(version %u, recorded at %u), so its gradient would be wrong; change a "
                            "copy (nb_clone), or make the change before the op",
                            n->op, what, nb_dtype_name(t->dtype), NB_SHP(t, b), n->op,
                            (unsigned)t->storage->version, (unsigned)v),
               -1;
    }
    return 0;
}

static int cmp_seq_desc(const void *a, const void *b) {
    uint64_t x = (*(nb_node *const *)a)->seq, y = (*(nb_node *const *)b)->seq;
    return x < y ? 1 : x > y ? -1 : 0;
}

int nb_backward_with(nb_tensor *t, nb_tensor *seed) {
    if (!t || !seed) {
        if (!nb_last_error()[0]) nb_set_error("backward: NULL %s", t ? "seed gradient" : "tensor");
        return -1;
    }
    if (seed->dtype != NB_F32)
        return nb_set_error("backward: the seed gradient must be f32, got %s", nb_dtype_name(seed->dtype)),
               -1;
    if (!t->requires_grad)
        return nb_set_error("backward: the tensor does not require grad (no input of its graph does)"), -1;
    if (!nb_same_shape(t, seed)) {
        char a[96], b[96];
        return nb_set_error("backward: seed gradient %s does not match tensor %s", NB_SHP(seed, a),
                            NB_SHP(t, b)),
               -1;
    }
    if (!t->node) return accumulate_leaf(t, seed);

    nb_ctx *prev_ctx = nb_ctx_current();
    if (!prev_ctx) nb_ctx_use(t->ctx);
    bool prev_grad = nb_set_grad_enabled(false);
    int rc = -1;

    /* collect the nodes behind t with an intrusive stack (no allocation) */
    uint64_t epoch = atomic_fetch_add(&nb_epoch, 1);
    uint64_t outer_pass = nb_cur_pass;
    bool outer_recycle = nb_cur_recycle;
    nb_cur_pass = epoch;
    nb_cur_recycle = recycling();
    uint64_t prev_stamp = nb_storage_set_pass(epoch);
    size_t count = 0;
    nb_node *stack = t->node, *list = NULL;
    t->node->mark = epoch;
    t->node->link = NULL;
    nb_node *visited = NULL;
    while (stack) {
        nb_node *n = stack;
        stack = n->link;
        n->link = visited;
        visited = n;
        n->gout = NULL;
        count++;
        for (int i = 0; i < n->n_in; i++) {
            nb_node *m = n->in[i] ? n->in[i]->node : NULL;
            if (m && m->mark != epoch) {
                m->mark = epoch;
                m->link = stack;
                stack = m;
            }
        }
    }
    (void)list;
    nb_node **order = nb_ctx_alloc(nb_ctx_current(), sizeof(nb_node *) * count, 8);
    if (!order) goto done;
    size_t k = 0;
    for (nb_node *n = visited; n; n = n->link)
        order[k++] = n;
    qsort(order, count, sizeof *order, cmp_seq_desc);

    t->node->gout = seed;
    hold(seed);
    for (size_t oi = 0; oi < count; oi++) {
        nb_node *n = order[oi];
        if (!n->gout) continue; /* not on a path from t */
        nb_tensor *gin_buf[8], **gin = gin_buf;
        if (n->n_in > 8) {
            gin = nb_ctx_alloc(nb_ctx_current(), sizeof(nb_tensor *) * (size_t)n->n_in, 8);
            if (!gin) goto done;
        }
        memset(gin, 0, sizeof(nb_tensor *) * (size_t)(n->n_in < 8 ? 8 : n->n_in));
        if (check_versions(n)) goto done;
        for (int i = 0; nb_capture && i < nb_capture->n; i++) /* an intermediate input's gradient */
            if (nb_capture->inputs[i]->node == n && capture_add(i, n->gout)) goto done;
        if (n->backward(n, n->gout, gin)) {
            char msg[768];
            snprintf(msg, sizeof msg, "%s", nb_last_error());
            nb_set_error("backward of %s: %s", n->op, msg);
            goto done;
        }
        if (nb_anomaly_enabled()) {
            for (int i = 0; i < n->n_in; i++)
                if (gin[i] && gin[i] != NB_GIN_ACCUMULATED && has_nonfinite(gin[i])) {
                    nb_set_error("anomaly: backward of '%s' produced NaN/Inf for input %d", n->op, i);
                    goto done;
                }
        }
        if (distribute(n, gin)) goto done;
        nb_tensor *used = n->gout;
        n->gout = NULL;
        drop(used);
    }
    rc = 0;
done:
    nb_storage_set_pass(prev_stamp);
    nb_cur_pass = outer_pass;
    nb_cur_recycle = outer_recycle;
    nb_set_grad_enabled(prev_grad);
    if (!prev_ctx) nb_ctx_use(NULL);
    return rc;
}

int nb_grad(nb_tensor *t, nb_tensor *seed, int n, nb_tensor *const *inputs, nb_tensor **out) {
    if (!t || n < 0 || (n > 0 && (!inputs || !out))) {
        if (!nb_last_error()[0])
            nb_set_error("grad: NULL %s", !t ? "tensor" : !inputs ? "inputs" : "outputs");
        return -1;
    }
    if (nb_capture) return nb_set_error("grad: called from inside another nb_grad's backward pass"), -1;
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    for (int i = 0; i < n; i++) {
        if (!inputs[i]) return nb_set_error("grad: NULL input %d", i), -1;
        if (!inputs[i]->requires_grad)
            return nb_set_error("grad: input %d does not require grad (nothing is recorded for it)", i), -1;
    }
    nb_ctx *c = nb_ctx_current() ? nb_ctx_current() : t->ctx;
    if (!seed) {
        if (nb_numel(t) != 1) {
            char b[96];
            return nb_set_error("grad: needs a one-element tensor without a seed, got %s", NB_SHP(t, b)), -1;
        }
        seed = nb_tensor_new(c, NB_F32, t->device, t->ndim, t->shape);
        if (!seed || nb_fill_(seed, 1.0)) return -1;
    }
    grad_capture cap = {n, inputs, out, c};
    nb_capture = &cap;
    int rc = nb_backward_with(t, seed);
    nb_capture = NULL;
    for (int i = 0; rc == 0 && i < n; i++) /* an input t does not depend on: zeros */
        if (!out[i]) {
            out[i] = nb_tensor_new(c, NB_F32, inputs[i]->device, inputs[i]->ndim, inputs[i]->shape);
            if (!out[i] || nb_fill_(out[i], 0.0)) rc = -1;
        }
    if (rc)
        for (int i = 0; i < n; i++)
            out[i] = NULL;
    return rc;
}

int nb_backward(nb_tensor *loss) {
    if (!loss) {
        if (!nb_last_error()[0]) nb_set_error("backward: NULL tensor");
        return -1;
    }
    if (nb_numel(loss) != 1) {
        char b[96];
        return nb_set_error("backward: needs a one-element tensor, got %s (use nb_backward_with)",
                            NB_SHP(loss, b)),
               -1;
    }
    nb_ctx *c = nb_ctx_current() ? nb_ctx_current() : loss->ctx;
    nb_tensor *seed = nb_tensor_new(c, NB_F32, loss->device, loss->ndim, loss->shape);
    if (!seed || nb_fill_(seed, 1.0)) return -1;
    return nb_backward_with(loss, seed);
}
