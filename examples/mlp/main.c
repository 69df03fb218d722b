/* examples/mlp/main.c - a complete small nabla program: a 2-layer MLP fits
 * y = sin(x) on [-3, 3] with AdamW (warm-up + cosine schedule), then saves
 * the model as safetensors, reloads it into a fresh model and checks that the
 * reloaded model's loss is identical. Exits non-zero when the final loss is
 * not below the threshold or anything fails. No arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nabla.h"

#define N_POINTS  256
#define HIDDEN    64
#define STEPS     600
#define THRESHOLD 1e-3

/* Linear(1, HIDDEN) -> GELU -> Linear(HIDDEN, 1), weights drawn from `seed`. */
static nb_module *make_model(nb_ctx *params, uint64_t seed) {
    nb_rng rng;
    nb_rng_init(&rng, seed);
    nb_module *m = nb_sequential_new();
    if (nb_sequential_append(m, nb_linear_new(params, 1, HIDDEN, true, &rng)) ||
        nb_sequential_append(m, nb_gelu_new()) ||
        nb_sequential_append(m, nb_linear_new(params, HIDDEN, 1, true, &rng))) {
        nb_module_free(m);
        return NULL;
    }
    /* a wider first layer than GPT-2's 0.02 so the features span [-3, 3] */
    nb_randn_(nb_module_param(m, "0.weight"), 0.0f, 1.0f, &rng);
    nb_randn_(nb_module_param(m, "0.bias"), 0.0f, 1.0f, &rng);
    return m;
}

/* Mean squared error of the model on (x, y); NULL on error. */
static nb_tensor *mse(nb_module *m, nb_tensor *x, nb_tensor *y) {
    nb_tensor *d = nb_sub(nb_module_forward(m, x), y);
    return nb_mean_all(nb_mul(d, d));
}

/* Loss of m on the data in a scratch context, without recording a graph. */
static double eval_loss(nb_module *m, nb_ctx *step, nb_tensor *x, nb_tensor *y) {
    nb_ctx_reset(step);
    bool g = nb_no_grad_begin();
    double l = nb_item(mse(m, x, y));
    nb_no_grad_end(g);
    return l;
}

int main(void) {
    int rc = EXIT_FAILURE;
    nb_ctx *params = nb_ctx_new(1 << 20), *data = nb_ctx_new(1 << 20), *step = nb_ctx_new(4 << 20);
    nb_module *model = NULL, *reloaded = NULL;
    nb_optim *opt = NULL;
    char dir[] = "/tmp/nabla_mlp_XXXXXX", path[64] = "";
    if (!params || !data || !step || !mkdtemp(dir)) goto fail;
    snprintf(path, sizeof path, "%s/mlp.safetensors", dir);

    /* the data: N_POINTS points of sin on [-3, 3], as [N, 1] columns */
    float xs[N_POINTS], ys[N_POINTS];
    for (int i = 0; i < N_POINTS; i++) {
        xs[i] = -3.0f + 6.0f * (float)i / (N_POINTS - 1);
        ys[i] = sinf(xs[i]);
    }
    nb_tensor *x = nb_from_data(data, NB_F32, NB_SHAPE(N_POINTS, 1), xs);
    nb_tensor *y = nb_from_data(data, NB_F32, NB_SHAPE(N_POINTS, 1), ys);

    model = make_model(params, 1);
    opt = nb_adamw_new(params, 1e-2f, 0.9f, 0.999f, 1e-8f);
    if (!x || !y || !model || !opt || nb_optim_add_module(opt, model, 1e-4f)) goto fail;
    nb_module_summary(model, NB_F32, NB_SHAPE(N_POINTS, 1), stdout);
    nb_lr_schedule sched = nb_lr_warmup_cosine(1e-2f, 1e-4f, 100, STEPS);

    nb_ctx_use(step); /* activations go to the step context, reset every step */
    double loss = 0;
    for (int it = 0; it < STEPS; it++) {
        nb_ctx_reset(step);
        nb_tensor *l = mse(model, x, y);
        if (!l || nb_backward(l)) goto fail;
        loss = nb_item(l);
        nb_optim_set_lr(opt, nb_lr_at(&sched, it));
        if (nb_optim_clip_grad_norm(opt, 1.0) < 0 || nb_optim_step(opt)) goto fail;
        nb_optim_zero_grad(opt);
        if (it % 100 == 0 || it == STEPS - 1)
            printf("step %4d  lr %.5f  loss %.6f\n", it, (double)nb_lr_at(&sched, it), loss);
    }
    double final = eval_loss(model, step, x, y);
    printf("final loss %.6f (threshold %g)\n", final, THRESHOLD);

    /* save, reload into a model with other weights, compare */
    const char *keys[1] = {"example"}, *vals[1] = {"mlp sin(x)"};
    if (nb_module_save(model, path, keys, vals, 1)) goto fail;
    reloaded = make_model(params, 12345);
    if (!reloaded) goto fail;
    double before = eval_loss(reloaded, step, x, y);
    if (nb_module_load(reloaded, path)) goto fail;
    double after = eval_loss(reloaded, step, x, y);
    printf("reloaded model: loss %.6f before loading, %.6f after (trained: %.6f)\n", before, after, final);
    if (after != final) {
        fprintf(stderr, "mlp: the reloaded model's loss differs\n");
        goto out;
    }
    if (!(final < THRESHOLD)) {
        fprintf(stderr, "mlp: final loss %g is not below %g\n", final, THRESHOLD);
        goto out;
    }
    printf("ok\n");
    rc = EXIT_SUCCESS;
    goto out;
fail:
    fprintf(stderr, "mlp: %s\n", nb_last_error());
out:
    nb_ctx_use(NULL);
    if (path[0]) unlink(path);
    rmdir(dir);
    nb_module_free(model);
    nb_module_free(reloaded);
    nb_optim_free(opt);
    nb_ctx_free(step);
    nb_ctx_free(data);
    nb_ctx_free(params);
    return rc;
}
