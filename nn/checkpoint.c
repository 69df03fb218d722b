/* nn/checkpoint.c - saving and loading modules and training checkpoints as
 * safetensors files. A load first matches every tensor by name, dtype and
 * shape and reports every problem in one message; only when there is none
 * does it copy data, so a failed load leaves the model unchanged. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "nabla/nn.h"
#include "nn/nn_internal.h"

#define CKPT_FORMAT "nabla.checkpoint.v1"

/* ---- a load plan: (name in file, destination) pairs + problems ---------------- */

typedef struct {
    const nb_safetensors *f;
    const char **src;
    nb_tensor **dst;
    int n, cap;
    bool *matched; /* per file entry */
    char msg[800];
    size_t len;
    int problems;
} plan;

static void problem(plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(plan *p, const char *fmt, ...) {
    p->problems++;
    if (p->len >= sizeof p->msg - 1) return;
    if (p->problems > 1) p->len += (size_t)snprintf(p->msg + p->len, sizeof p->msg - p->len, "; ");
    if (p->len >= sizeof p->msg - 1) return;
    va_list ap;
    va_start(ap, fmt);
    p->len += (size_t)vsnprintf(p->msg + p->len, sizeof p->msg - p->len, fmt, ap);
    va_end(ap);
}

static int plan_init(plan *p, const nb_safetensors *f) {
    memset(p, 0, sizeof *p);
    p->f = f;
    p->matched = calloc((size_t)nb_safetensors_count(f) + 1, sizeof(bool));
    return p->matched ? 0 : (nb_set_error("load: out of memory"), -1);
}

static void plan_free(plan *p) {
    free(p->src);
    free(p->dst);
    free(p->matched);
}

/* Adds `dst` to be read from the first of names[0..k-1] present in the file. */
static int plan_add(plan *p, const char *const *names, int k, nb_tensor *dst) {
    int idx = -1, which = 0;
    for (int j = 0; j < k && idx < 0; j++)
        if ((idx = nb_safetensors_find(p->f, names[j])) >= 0) which = j;
    for (int j = 0; j < k; j++) { /* aliases present in the file are expected too */
        int a = nb_safetensors_find(p->f, names[j]);
        if (a >= 0) p->matched[a] = true;
    }
    char a[128], b[128];
    if (idx < 0) {
        problem(p, "missing tensor '%s' %s", names[0], nb_shape_str(dst, b, sizeof b));
        return 0;
    }
    nb_dtype dt;
    int nd;
    int64_t shape[NB_MAX_DIMS];
    nb_safetensors_info(p->f, idx, &dt, &nd, shape);
    if (dt != dst->dtype || nd != dst->ndim || memcmp(shape, dst->shape, sizeof(int64_t) * (size_t)nd)) {
        problem(p, "'%s' is %s %s in the file but %s %s in the model", names[which], nb_dtype_name(dt),
                nb_fmt_shape(nd, shape, a, sizeof a), nb_dtype_name(dst->dtype),
                nb_shape_str(dst, b, sizeof b));
        return 0;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 32;
        const char **s = realloc(p->src, sizeof *s * (size_t)cap);
        if (!s) return nb_set_error("load: out of memory"), -1;
        p->src = s;
        nb_tensor **d = realloc(p->dst, sizeof *d * (size_t)cap);
        if (!d) return nb_set_error("load: out of memory"), -1;
        p->dst = d;
        p->cap = cap;
    }
    p->src[p->n] = nb_safetensors_name(p->f, idx);
    p->dst[p->n++] = dst;
    return 0;
}

/* Plans every parameter of m (each tensor once, accepting any of its names). */
static int plan_module(plan *p, nb_module *m) {
    nb_param_list uniq, all;
    if (nb_module_parameters(m, &uniq)) return -1;
    if (nb_nn_all_params(m, &all)) {
        nb_param_list_free(&uniq);
        return -1;
    }
    int rc = 0;
    const char **names = malloc(sizeof *names * (size_t)(all.n + 1));
    if (!names) rc = -1, nb_set_error("load: out of memory");
    for (int i = 0; i < uniq.n && rc == 0; i++) {
        int k = 0;
        names[k++] = uniq.names[i];
        for (int j = 0; j < all.n; j++)
            if (all.tensors[j] == uniq.tensors[i] && strcmp(all.names[j], uniq.names[i]) != 0)
                names[k++] = all.names[j];
        rc = plan_add(p, names, k, uniq.tensors[i]);
    }
    free(names);
    nb_param_list_free(&uniq);
    nb_param_list_free(&all);
    return rc;
}

/* torch's BatchNorm counter, which nabla's BatchNorm does not keep: ignored when loading */
static bool torch_counter(const char *nm) {
    const size_t n = strlen(nm), k = strlen("num_batches_tracked");
    return n >= k && strcmp(nm + n - k, "num_batches_tracked") == 0 && (n == k || nm[n - k - 1] == '.');
}

/* Reports unexpected file tensors (not matched; optim.* only when `optim`; never torch's
 * num_batches_tracked). */
static void plan_unexpected(plan *p, bool optim_expected) {
    for (int i = 0; i < nb_safetensors_count(p->f); i++) {
        const char *nm = nb_safetensors_name(p->f, i);
        if (p->matched[i] || (!optim_expected && strncmp(nm, "optim.", 6) == 0) || torch_counter(nm))
            continue;
        problem(p, "unexpected tensor '%s'", nm);
    }
}

static int plan_finish(plan *p, const char *op, const char *path) {
    if (p->problems) {
        nb_set_error("%s %s: %d problem%s: %s%s", op, path, p->problems, p->problems > 1 ? "s" : "", p->msg,
                     p->len >= sizeof p->msg - 1 ? "..." : "");
        return -1;
    }
    bool prev = nb_no_grad_begin();
    int rc = 0;
    for (int i = 0; i < p->n && rc == 0; i++)
        rc = nb_safetensors_read_into(p->f, p->src[i], p->dst[i]);
    nb_no_grad_end(prev);
    return rc;
}

/* ---- modules ------------------------------------------------------------------ */

int nb_module_save(nb_module *m, const char *path, const char *const *meta_keys, const char *const *meta_vals,
                   int n_meta) {
    nb_param_list l;
    if (nb_module_parameters(m, &l)) return -1;
    int rc =
        nb_safetensors_save(path, (const char *const *)l.names, l.tensors, l.n, meta_keys, meta_vals, n_meta);
    nb_param_list_free(&l);
    return rc;
}

int nb_module_load(nb_module *m, const char *path) {
    if (!m) return nb_set_error("module_load: NULL module"), -1;
    nb_safetensors *f = nb_safetensors_open(path);
    if (!f) return -1;
    plan p;
    int rc = plan_init(&p, f);
    if (rc == 0) rc = plan_module(&p, m);
    if (rc == 0) {
        plan_unexpected(&p, false);
        rc = plan_finish(&p, "module_load", path);
    }
    plan_free(&p);
    nb_safetensors_close(f);
    return rc;
}

/* ---- training checkpoints -------------------------------------------------------- */

typedef struct {
    int n, cap;
    char **names;
    nb_tensor **ts;
} name_list;

static int nl_push(name_list *l, const char *a, const char *b, nb_tensor *t) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **nm = realloc(l->names, sizeof *nm * (size_t)cap);
        if (!nm) return -1;
        l->names = nm;
        nb_tensor **ts = realloc(l->ts, sizeof *ts * (size_t)cap);
        if (!ts) return -1;
        l->ts = ts;
        l->cap = cap;
    }
    size_t len = strlen(a) + strlen(b) + 1;
    if (!(l->names[l->n] = malloc(len))) return -1;
    snprintf(l->names[l->n], len, "%s%s", a, b);
    l->ts[l->n++] = t;
    return 0;
}

static void nl_free(name_list *l) {
    for (int i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->ts);
}

/* "optim.<name>.m" etc. for state slot s (0: m, 1: v, 2: s; nb_optim_slot_name), and the
 * slot's tensor; NULL when the optimiser keeps nothing there. */
static nb_tensor *state_slot(char *buf, size_t len, const nb_optim *o, int g, int i, int s) {
    const char *slot = nb_optim_slot_name(o, s);
    if (!slot) return NULL;
    snprintf(buf, len, "optim.%s.%s", o->groups[g].names[i], slot);
    return s == 0 ? o->groups[g].m[i] : s == 1 ? o->groups[g].v[i] : o->groups[g].s[i];
}

int nb_checkpoint_save(const char *path, nb_module *m, const nb_optim *opt, int64_t step, const char *config,
                       const char *const *extra_keys, const char *const *extra_vals, int n_extra) {
    if (!m || !path) return nb_set_error("checkpoint_save: NULL module or path"), -1;
    if (step < 0) return nb_set_error("checkpoint_save %s: negative step %lld", path, (long long)step), -1;
    if (n_extra < 0 || (n_extra > 0 && (!extra_keys || !extra_vals)))
        return nb_set_error("checkpoint_save %s: invalid extra metadata", path), -1;
    nb_param_list l;
    if (nb_module_parameters(m, &l)) return -1;
    name_list nl = {0};
    int rc = 0;
    for (int i = 0; i < l.n && rc == 0; i++)
        rc = nl_push(&nl, l.names[i], "", l.tensors[i]);
    for (int g = 0; opt && g < opt->n_groups && rc == 0; g++)
        for (int i = 0; i < opt->groups[g].n && rc == 0; i++)
            for (int s = 0; s < 3 && rc == 0; s++) {
                char nm[512];
                nb_tensor *t = state_slot(nm, sizeof nm, opt, g, i, s);
                if (t) rc = nl_push(&nl, nm, "", t);
            }
    nb_param_list_free(&l);
    enum { NK = 9 };
    char vals[NK][64];
    const char *keys[NK] = {
        "format",     "step",       "rng.seed", "rng.offset", "rng_global.seed", "rng_global.offset",
        "optim.kind", "optim.step", "optim.lr"};
    const nb_rng *r = nb_module_rng(m), *gr = nb_rng_global();
    snprintf(vals[0], 64, "%s", CKPT_FORMAT);
    snprintf(vals[1], 64, "%" PRId64, step);
    snprintf(vals[2], 64, "%" PRIu64, r->seed);
    snprintf(vals[3], 64, "%" PRIu64, r->offset);
    snprintf(vals[4], 64, "%" PRIu64, gr->seed);
    snprintf(vals[5], 64, "%" PRIu64, gr->offset);
    snprintf(vals[6], 64, "%s", !opt ? "none" : nb_optim_kind_name(opt->kind));
    snprintf(vals[7], 64, "%" PRId64, opt ? opt->step : 0);
    snprintf(vals[8], 64, "%.9g", opt ? (double)opt->lr : 0.0);
    int nm = NK + (config ? 1 : 0) + n_extra;
    const char **mk = malloc(sizeof *mk * (size_t)nm), **mv = malloc(sizeof *mv * (size_t)nm);
    if (rc || !mk || !mv) {
        nb_set_error("checkpoint_save %s: out of memory", path);
        rc = -1;
    } else {
        int k = 0;
        for (; k < NK; k++)
            mk[k] = keys[k], mv[k] = vals[k];
        if (config) mk[k] = "config", mv[k++] = config;
        for (int i = 0; i < n_extra; i++)
            mk[k] = extra_keys[i], mv[k++] = extra_vals[i];
        rc = nb_safetensors_save(path, (const char *const *)nl.names, nl.ts, nl.n, mk, mv, nm);
    }
    free(mk);
    free(mv);
    nl_free(&nl);
    return rc;
}

/* Parses a decimal u64 metadata value; reports a problem when absent/invalid. */
static uint64_t meta_u64(plan *p, const char *key, bool *ok) {
    const char *s = nb_safetensors_meta(p->f, key);
    char *end = NULL;
    errno = 0;
    uint64_t v = s && *s && *s != '-' ? strtoull(s, &end, 10) : 0;
    if (!s || !end || *end || errno) {
        problem(p, "metadata '%s' is %s", key, s ? "not a number" : "missing");
        *ok = false;
    }
    return v;
}

/* A step count: a u64 that fits int64 with room to count one more. */
static uint64_t meta_step(plan *p, const char *key, bool *ok) {
    bool good = true;
    uint64_t v = meta_u64(p, key, &good);
    if (good && v >= (uint64_t)INT64_MAX) {
        problem(p, "metadata '%s' is out of range (%llu)", key, (unsigned long long)v);
        good = false;
    }
    if (!good) *ok = false;
    return good ? v : 0;
}

int nb_checkpoint_load(const char *path, nb_module *m, nb_optim *opt, int64_t *step) {
    if (!m || !path) return nb_set_error("checkpoint_load: NULL module or path"), -1;
    nb_safetensors *f = nb_safetensors_open(path);
    if (!f) return -1;
    plan p;
    int rc = plan_init(&p, f);
    if (rc == 0) rc = plan_module(&p, m);
    const char *fmt = nb_safetensors_meta(f, "format");
    bool ok = true;
    uint64_t st = 0, rs = 0, ro = 0, gs = 0, go = 0, ostep = 0;
    if (rc == 0) {
        if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0)
            problem(&p, "not a nabla training checkpoint (format '%s')", fmt ? fmt : "missing");
        st = meta_step(&p, "step", &ok);
        rs = meta_u64(&p, "rng.seed", &ok);
        ro = meta_u64(&p, "rng.offset", &ok);
        gs = meta_u64(&p, "rng_global.seed", &ok);
        go = meta_u64(&p, "rng_global.offset", &ok);
        const char *kind = nb_safetensors_meta(f, "optim.kind");
        if (opt) {
            const char *want = nb_optim_kind_name(opt->kind);
            if (!kind || strcmp(kind, want) != 0)
                problem(&p, "optimiser is '%s' in the file but '%s' here", kind ? kind : "missing", want);
            ostep = meta_step(&p, "optim.step", &ok);
        }
        for (int g = 0; opt && g < opt->n_groups && rc == 0; g++)
            for (int i = 0; i < opt->groups[g].n && rc == 0; i++)
                for (int s = 0; s < 3 && rc == 0; s++) {
                    char nm[512];
                    const char *names[1] = {nm};
                    nb_tensor *t = state_slot(nm, sizeof nm, opt, g, i, s);
                    if (t) rc = plan_add(&p, names, 1, t);
                }
    }
    if (rc == 0) {
        plan_unexpected(&p, opt != NULL);
        rc = plan_finish(&p, "checkpoint_load", path);
    }
    if (rc == 0) {
        nb_rng *r = nb_module_rng(m), *gr = nb_rng_global();
        r->seed = rs, r->offset = ro;
        gr->seed = gs, gr->offset = go;
        if (opt) opt->step = (int64_t)ostep;
        if (step) *step = (int64_t)st;
    }
    plan_free(&p);
    nb_safetensors_close(f);
    return rc;
}
