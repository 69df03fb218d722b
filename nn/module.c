/* nn/module.c - the module tree: names, parameters, children, modes, lookup. */
#include <stdlib.h>
#include <string.h>

#include "nabla/nn.h"
#include "nn/nn_internal.h"
#include "tensor/internal.h"

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

nb_module *nb_module_new(const char *type, nb_ctx *ctx, nb_forward_fn forward, size_t impl_size) {
    nb_module *m = calloc(1, sizeof *m);
    if (!m) return nb_set_error("module_new: out of memory");
    m->type = type ? type : "Module";
    m->name = dup_str("");
    m->impl = impl_size ? calloc(1, impl_size) : NULL;
    if (!m->name || (impl_size && !m->impl)) {
        free(m->name);
        free(m->impl);
        free(m);
        return nb_set_error("module_new: out of memory");
    }
    m->ctx = ctx;
    m->forward = forward;
    m->training = true;
    m->out_ndim = -1;
    nb_rng_init(&m->rng, 0);
    return m;
}

void nb_module_free(nb_module *m) {
    if (!m) return;
    for (int i = 0; i < m->n_children; i++)
        nb_module_free(m->children[i]);
    for (int i = 0; i < m->n_params; i++)
        free(m->params[i].name);
    free(m->children);
    free(m->params);
    free(m->name);
    free(m->impl);
    free(m);
}

static int check_local_name(const char *op, const char *name) {
    if (!name || !*name) return nb_set_error("%s: empty name", op), -1;
    if (strchr(name, '.')) return nb_set_error("%s: name '%s' contains a dot", op, name), -1;
    if (strlen(name) > 200) return nb_set_error("%s: name '%.40s...' too long", op, name), -1;
    return 0;
}

static bool name_taken(const nb_module *m, const char *name) {
    for (int i = 0; i < m->n_children; i++)
        if (strcmp(m->children[i]->name, name) == 0) return true;
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0) return true;
    return false;
}

/* Whether a is m or one of m's parents. */
static bool is_ancestor(const nb_module *a, const nb_module *m) {
    for (; m; m = m->parent)
        if (m == a) return true;
    return false;
}

int nb_module_add(nb_module *parent, const char *name, nb_module *child) {
    if (!child) { /* the constructor that failed set the message; else say so */
        if (!nb_last_error()[0]) nb_set_error("module_add: NULL child '%s'", name ? name : "(null)");
        return -1;
    }
    int rc = -1;
    if (!parent) {
        nb_set_error("module_add: NULL parent");
    } else if (child->parent) {
        nb_set_error("module_add: module '%s' already has a parent", child->name);
        child = NULL; /* not ours to free */
    } else if (is_ancestor(child, parent)) {
        nb_set_error("module_add: adding %s '%s' under %s '%s' would make a cycle (it is that module or one "
                     "of its parents)",
                     child->type, child->name ? child->name : "", parent->type,
                     parent->name ? parent->name : "");
        child = NULL; /* still in use: not ours to free */
    } else if (check_local_name("module_add", name) == 0) {
        if (name_taken(parent, name)) {
            nb_set_error("module_add: %s already has a member named '%s'", parent->type, name);
        } else if (parent->n_children == parent->cap_children) {
            int cap = parent->cap_children ? parent->cap_children * 2 : 4;
            nb_module **c = realloc(parent->children, sizeof *c * (size_t)cap);
            if (!c)
                nb_set_error("module_add: out of memory");
            else {
                parent->children = c;
                parent->cap_children = cap;
                rc = 0;
            }
        } else {
            rc = 0;
        }
        char *nm = rc == 0 ? dup_str(name) : NULL;
        if (rc == 0 && !nm) {
            nb_set_error("module_add: out of memory");
            rc = -1;
        }
        if (rc == 0) {
            free(child->name);
            child->name = nm;
            child->parent = parent;
            child->training = parent->training;
            parent->children[parent->n_children++] = child;
            return 0;
        }
    }
    nb_module_free(child);
    return rc;
}

nb_tensor *nb_module_add_param(nb_module *m, const char *name, nb_tensor *t) {
    if (!t) {
        if (!nb_last_error()[0]) nb_set_error("module_add_param: NULL tensor '%s'", name ? name : "(null)");
        return NULL;
    }
    if (!m) return nb_set_error("module_add_param: NULL module");
    if (check_local_name("module_add_param", name)) return NULL;
    if (t->dtype != NB_F32)
        return nb_set_error("module_add_param: parameter '%s' must be f32, got %s", name,
                            nb_dtype_name(t->dtype));
    if (t->node) return nb_set_error("module_add_param: parameter '%s' is not a leaf", name);
    if (name_taken(m, name))
        return nb_set_error("module_add_param: %s already has a member named '%s'", m->type, name);
    if (m->n_params == m->cap_params) {
        int cap = m->cap_params ? m->cap_params * 2 : 4;
        nb_param *p = realloc(m->params, sizeof *p * (size_t)cap);
        if (!p) return nb_set_error("module_add_param: out of memory");
        m->params = p;
        m->cap_params = cap;
    }
    char *nm = dup_str(name);
    if (!nm) return nb_set_error("module_add_param: out of memory");
    nb_requires_grad_(t, true);
    if (!t->grad) {
        t->grad = nb_tensor_new(t->ctx, NB_F32, t->device, t->ndim, t->shape);
        if (!t->grad || nb_fill_(t->grad, 0.0)) {
            t->grad = NULL;
            free(nm);
            return NULL;
        }
    }
    m->params[m->n_params].name = nm;
    m->params[m->n_params].t = t;
    m->n_params++;
    return t;
}

int nb_module_set_param(nb_module *m, const char *name, nb_tensor *t) {
    if (!m || !name || !t) return nb_set_error("module_set_param: NULL argument"), -1;
    for (int i = 0; i < m->n_params; i++) {
        if (strcmp(m->params[i].name, name) != 0) continue;
        nb_tensor *old = m->params[i].t;
        if (t->dtype != NB_F32 || !nb_same_shape(old, t)) {
            char a[96], b[96];
            return nb_set_error("module_set_param: %s.%s is %s, the new tensor is %s %s", m->type, name,
                                nb_shape_str(old, a, sizeof a), nb_dtype_name(t->dtype),
                                nb_shape_str(t, b, sizeof b)),
                   -1;
        }
        if (!t->grad) {
            t->grad = nb_tensor_new(t->ctx, NB_F32, t->device, t->ndim, t->shape);
            if (!t->grad || nb_fill_(t->grad, 0.0)) return t->grad = NULL, -1;
        }
        nb_requires_grad_(t, old->requires_grad); /* a running statistic stays untrained */
        m->params[i].t = t;
        return 0;
    }
    return nb_set_error("module_set_param: %s has no parameter '%s'", m->type, name), -1;
}

nb_module *nb_module_child(const nb_module *m, const char *name) {
    if (!m || !name) return NULL;
    for (int i = 0; i < m->n_children; i++)
        if (strcmp(m->children[i]->name, name) == 0) return m->children[i];
    return NULL;
}

/* Walks `path` down from m; the last component is returned in *last when
 * `last` is non-NULL (then it is not walked). */
static nb_module *walk(const nb_module *m, const char *path, const char **last) {
    char part[256];
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        if (!dot && last) {
            *last = p;
            return (nb_module *)m;
        }
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || len >= sizeof part) return NULL;
        memcpy(part, p, len);
        part[len] = '\0';
        m = nb_module_child(m, part);
        if (!m || !dot) return (nb_module *)m;
        p = dot + 1;
    }
}

nb_module *nb_module_find(const nb_module *m, const char *path) {
    if (!m || !path) return nb_set_error("module_find: NULL argument");
    if (!*path) return (nb_module *)m;
    nb_module *r = walk(m, path, NULL);
    return r ? r : nb_set_error("module_find: no module '%s' in %s", path, m->type);
}

nb_tensor *nb_module_param(const nb_module *m, const char *path) {
    if (!m || !path) return nb_set_error("module_param: NULL argument");
    const char *last = NULL;
    nb_module *o = walk(m, path, &last);
    if (o && last)
        for (int i = 0; i < o->n_params; i++)
            if (strcmp(o->params[i].name, last) == 0) return o->params[i].t;
    return nb_set_error("module_param: no parameter '%s' in %s", path, m->type);
}

static _Thread_local bool record_shapes;

bool nb_module_record_shapes(bool on) {
    bool prev = record_shapes;
    record_shapes = on;
    return prev;
}

nb_tensor *nb_module_forward(nb_module *m, nb_tensor *x) {
    if (!x) {
        if (!nb_last_error()[0]) nb_set_error("module_forward: NULL input");
        return NULL;
    }
    if (!m) return nb_set_error("module_forward: NULL module");
    if (!m->forward) return nb_set_error("module_forward: %s '%s' has no forward", m->type, m->name);
    nb_tensor *y = m->forward(m, x);
    if (y && record_shapes) {
        m->out_ndim = y->ndim;
        memcpy(m->out_shape, y->shape, sizeof y->shape);
    }
    return y;
}

void nb_module_train(nb_module *m, bool on) {
    if (!m) return;
    m->training = on;
    for (int i = 0; i < m->n_children; i++)
        nb_module_train(m->children[i], on);
}

static nb_module *root_of(nb_module *m) {
    while (m->parent)
        m = m->parent;
    return m;
}

nb_rng *nb_module_rng(nb_module *m) { return m ? &root_of(m)->rng : nb_rng_global(); }

void nb_module_seed(nb_module *m, uint64_t seed) {
    if (m) nb_rng_init(&root_of(m)->rng, seed);
}

char *nb_module_path(const nb_module *m, char *buf, size_t len) {
    if (!buf || !len) return buf;
    buf[0] = '\0';
    if (!m || !m->parent) return buf;
    const nb_module *chain[64];
    int n = 0;
    for (const nb_module *c = m; c->parent && n < 64; c = c->parent)
        chain[n++] = c;
    size_t o = 0;
    for (int i = n - 1; i >= 0 && o < len; i--)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i == n - 1 ? "" : ".", chain[i]->name);
    return buf;
}

/* ---- parameter lists -------------------------------------------------- */

typedef struct {
    nb_param_list *l;
    int cap;
    bool keep_shared; /* list every registration, tied tensors under each name */
} collector;

static int list_push(collector *c, const char *prefix, const char *name, nb_tensor *t) {
    nb_param_list *l = c->l;
    for (int i = 0; i < l->n && !c->keep_shared; i++)
        if (l->tensors[i] == t) {
            l->n_shared++;
            return 0;
        }
    if (l->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        char **nm = realloc(l->names, sizeof *nm * (size_t)cap);
        if (!nm) return nb_set_error("module_parameters: out of memory"), -1;
        l->names = nm;
        nb_tensor **ts = realloc(l->tensors, sizeof *ts * (size_t)cap);
        if (!ts) return nb_set_error("module_parameters: out of memory"), -1;
        l->tensors = ts;
        c->cap = cap;
    }
    size_t len = strlen(prefix) + strlen(name) + 2;
    char *full = malloc(len);
    if (!full) return nb_set_error("module_parameters: out of memory"), -1;
    snprintf(full, len, "%s%s%s", prefix, *prefix ? "." : "", name);
    l->names[l->n] = full;
    l->tensors[l->n] = t;
    l->n++;
    return 0;
}

static int collect(collector *c, const nb_module *m, const char *prefix) {
    for (int i = 0; i < m->n_params; i++)
        if (list_push(c, prefix, m->params[i].name, m->params[i].t)) return -1;
    for (int i = 0; i < m->n_children; i++) {
        const nb_module *ch = m->children[i];
        size_t len = strlen(prefix) + strlen(ch->name) + 2;
        char *p = malloc(len);
        if (!p) return nb_set_error("module_parameters: out of memory"), -1;
        snprintf(p, len, "%s%s%s", prefix, *prefix ? "." : "", ch->name);
        int rc = collect(c, ch, p);
        free(p);
        if (rc) return -1;
    }
    return 0;
}

int nb_module_parameters(const nb_module *m, nb_param_list *out) {
    if (!out) return nb_set_error("module_parameters: NULL list"), -1;
    memset(out, 0, sizeof *out);
    if (!m) return nb_set_error("module_parameters: NULL module"), -1;
    collector c = {out, 0, false};
    if (collect(&c, m, "")) {
        nb_param_list_free(out);
        return -1;
    }
    return 0;
}

int nb_nn_all_params(const nb_module *m, nb_param_list *out) {
    memset(out, 0, sizeof *out);
    if (!m) return nb_set_error("module_parameters: NULL module"), -1;
    collector c = {out, 0, true};
    if (collect(&c, m, "")) {
        nb_param_list_free(out);
        return -1;
    }
    return 0;
}

void nb_param_list_free(nb_param_list *l) {
    if (!l) return;
    for (int i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->tensors);
    memset(l, 0, sizeof *l);
}

int64_t nb_module_num_params(const nb_module *m) {
    nb_param_list l;
    if (nb_module_parameters(m, &l)) return -1;
    int64_t n = 0;
    for (int i = 0; i < l.n; i++)
        n += nb_numel(l.tensors[i]);
    nb_param_list_free(&l);
    return n;
}

void nb_module_zero_grad(nb_module *m) {
    if (!m) return;
    for (int i = 0; i < m->n_params; i++)
        nb_zero_grad(m->params[i].t);
    for (int i = 0; i < m->n_children; i++)
        nb_module_zero_grad(m->children[i]);
}

/* Moves one tensor's data to dev, keeping the handle. */
int nb_nn_move_tensor(nb_tensor *t, nb_device dev) {
    if (!t || t->device == dev) return 0;
    nb_tensor *n = nb_to_device(t->ctx, t, dev);
    if (!n) return -1;
    t->storage = n->storage;
    t->device = n->device;
    t->offset = 0;
    memcpy(t->stride, n->stride, sizeof t->stride);
    return 0;
}

int nb_module_to(nb_module *m, nb_device dev) {
    nb_param_list l;
    if (nb_module_parameters(m, &l)) return -1;
    int rc = 0;
    for (int i = 0; i < l.n && rc == 0; i++) {
        if (nb_nn_move_tensor(l.tensors[i], dev) || nb_nn_move_tensor(l.tensors[i]->grad, dev)) {
            char msg[768];
            snprintf(msg, sizeof msg, "%s", nb_last_error());
            nb_set_error("module_to %s: parameter '%s': %s", nb_device_name(dev), l.names[i], msg);
            rc = -1;
        }
    }
    nb_param_list_free(&l);
    return rc;
}

void nb_nn_wrap_error(const char *prefix) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", nb_last_error());
    nb_set_error("%s: %s", prefix, msg);
}
