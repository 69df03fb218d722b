/* examples/cnn/main.c - a small convolutional network in nabla: it learns to tell four kinds of
 * 12x12 pictures apart (a horizontal bar, a vertical bar, a diagonal, a hollow square, each at
 * a random place, with noise), drawn here from a fixed seed. Conv2d -> BatchNorm -> ReLU ->
 * MaxPool2d -> Conv2d -> ReLU -> MaxPool2d -> Flatten -> Linear, trained with AdamW and
 * cross-entropy on 1024 pictures, then measured in eval mode (BatchNorm's running statistics) on
 * 512 it never saw; then saved as safetensors (running statistics included) and reloaded.
 * Exits non-zero when the held-out accuracy is below 95% or anything fails. No arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "nabla.h"

#define SIDE    12
#define CLASSES 4
#define N_TRAIN 1024
#define N_TEST  512
#define BATCH   64
#define STEPS   300

static const char *const names[CLASSES] = {"horizontal bar", "vertical bar", "diagonal", "hollow square"};

/* n pictures [n,1,12,12] and their classes [n] (i32): a class's shape at a random place, on
 * noise of +-0.3 */
static int draw(nb_ctx *ctx, int n, nb_rng *rng, nb_tensor **x, nb_tensor **y) {
    *x = nb_rand(ctx, NB_SHAPE(n, 1, SIDE, SIDE), -0.3f, 0.3f, rng);
    *y = nb_empty(ctx, NB_I32, NB_SHAPE(n));
    if (!*x || !*y) return -1;
    float *p = nb_data_f32(*x);
    int32_t *c = nb_data(*y);
    for (int i = 0; i < n; i++, p += SIDE * SIDE) {
        const int k = (int)(nb_rng_uniform(rng) * CLASSES) % CLASSES,
                  len = 5 + (int)(nb_rng_uniform(rng) * 4);
        const int r = (int)(nb_rng_uniform(rng) * (SIDE - len)),
                  q = (int)(nb_rng_uniform(rng) * (SIDE - len));
        c[i] = k;
        for (int t = 0; t < len; t++) {
            if (k == 0) p[r * SIDE + q + t] += 1;
            if (k == 1) p[(r + t) * SIDE + q] += 1;
            if (k == 2) p[(r + t) * SIDE + q + t] += 1;
            if (k == 3) {
                p[r * SIDE + q + t] += 1, p[(r + len - 1) * SIDE + q + t] += 1;
                if (t > 0 && t < len - 1) p[(r + t) * SIDE + q] += 1, p[(r + t) * SIDE + q + len - 1] += 1;
            }
        }
    }
    return 0;
}

static nb_module *make_model(nb_ctx *params, uint64_t seed) {
    nb_rng rng;
    nb_rng_init(&rng, seed);
    const nb_conv_opts same = {.padding = {1, 1}};
    nb_module *m = nb_sequential_new();
    if (nb_sequential_append(m, nb_conv2d_new(params, 1, 8, 3, 3, &same, false, &rng)) ||
        nb_sequential_append(m, nb_batchnorm_new(params, 8, 1e-5f, 0.1f)) ||
        nb_sequential_append(m, nb_relu_new()) || nb_sequential_append(m, nb_max_pool2d_new(2, 2, NULL)) ||
        nb_sequential_append(m, nb_conv2d_new(params, 8, 16, 3, 3, &same, true, &rng)) ||
        nb_sequential_append(m, nb_relu_new()) || nb_sequential_append(m, nb_max_pool2d_new(2, 2, NULL)) ||
        nb_sequential_append(m, nb_flatten_new()) ||
        nb_sequential_append(m, nb_linear_new(params, 16 * 3 * 3, CLASSES, true, &rng))) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

/* the share of pictures the model classifies right, in eval mode, without recording a graph */
static double accuracy(nb_module *m, nb_ctx *step, nb_tensor *x, nb_tensor *y) {
    nb_ctx_reset(step);
    nb_module_train(m, false);
    bool g = nb_no_grad_begin();
    nb_tensor *pred = nb_argmax(nb_module_forward(m, x), 1, false);
    nb_no_grad_end(g);
    nb_module_train(m, true);
    if (!pred) return -1;
    int right = 0;
    for (int64_t i = 0; i < nb_numel(y); i++)
        right += ((int32_t *)nb_data(pred))[i] == ((int32_t *)nb_data(y))[i];
    return (double)right / (double)nb_numel(y);
}

int main(void) {
    int rc = EXIT_FAILURE;
    nb_ctx *params = nb_ctx_new(1 << 20), *data = nb_ctx_new(8 << 20), *step = nb_ctx_new(16 << 20);
    nb_module *model = NULL, *reloaded = NULL;
    nb_optim *opt = NULL;
    char dir[] = "/tmp/nabla_cnn_XXXXXX", path[64] = "";
    if (!params || !data || !step || !mkdtemp(dir)) goto fail;
    snprintf(path, sizeof path, "%s/cnn.safetensors", dir);

    nb_rng rng;
    nb_rng_init(&rng, 2026);
    nb_tensor *xtr, *ytr, *xte, *yte;
    if (draw(data, N_TRAIN, &rng, &xtr, &ytr) || draw(data, N_TEST, &rng, &xte, &yte)) goto fail;
    model = make_model(params, 1);
    opt = nb_adamw_new(params, 3e-3f, 0.9f, 0.999f, 1e-8f);
    if (!model || !opt || nb_optim_add_module(opt, model, 1e-4f)) goto fail;
    if (nb_module_summary(model, NB_F32, NB_SHAPE(BATCH, 1, SIDE, SIDE), stdout)) goto fail;
    printf("classes: %s, %s, %s, %s\n", names[0], names[1], names[2], names[3]);

    nb_ctx_use(step); /* activations go to the step context, reset every step */
    for (int it = 0; it < STEPS; it++) {
        nb_ctx_reset(step);
        const int64_t at = (int64_t)(it * BATCH) % N_TRAIN;
        nb_tensor *xb = nb_narrow(xtr, 0, at, BATCH), *yb = nb_narrow(ytr, 0, at, BATCH);
        nb_tensor *l = nb_cross_entropy(nb_module_forward(model, xb), yb, -100);
        if (!l || nb_backward(l)) goto fail;
        const double loss = nb_item(l);
        if (nb_optim_step(opt)) goto fail;
        nb_optim_zero_grad(opt);
        if (it % 50 == 0 || it == STEPS - 1) printf("step %3d  loss %.4f\n", it, loss);
    }
    const double train_acc = accuracy(model, step, xtr, ytr), test_acc = accuracy(model, step, xte, yte);
    printf("accuracy: %.1f%% on the %d training pictures, %.1f%% on %d held-out ones\n", 100 * train_acc,
           N_TRAIN, 100 * test_acc, N_TEST);

    /* save, reload into a model with other weights, compare */
    if (nb_module_save(model, path, NULL, NULL, 0)) goto fail;
    reloaded = make_model(params, 99);
    if (!reloaded || nb_module_load(reloaded, path)) goto fail;
    const double again = accuracy(reloaded, step, xte, yte);
    printf("reloaded model: %.1f%% held out\n", 100 * again);
    if (again != test_acc) {
        fprintf(stderr, "cnn: the reloaded model's accuracy differs\n");
        goto out;
    }
    if (!(test_acc >= 0.95)) {
        fprintf(stderr, "cnn: held-out accuracy %.3f is below 0.95\n", test_acc);
        goto out;
    }
    printf("ok\n");
    rc = EXIT_SUCCESS;
    goto out;
fail:
    fprintf(stderr, "cnn: %s\n", nb_last_error());
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
