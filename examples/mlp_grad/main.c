/* mlp_grad - a two-layer MLP with a broadcast bias, softmax cross-entropy and
 * one backward pass, written only against <nabla.h>. With a path argument it
 * also writes the inputs, weights, loss and gradients as a safetensors file,
 * which tools/reference/mlp_grad_check.py compares against PyTorch.
 * Build against an installed nabla:  cc main.c $(pkg-config --cflags --libs nabla) */
#include <nabla.h>
#include <stdio.h>

int main(int argc, char **argv) {
    nb_ctx *params = nb_ctx_new(0), *step = nb_ctx_new(0);
    nb_rng rng;
    nb_rng_init(&rng, 42);
    nb_tensor *w1 = nb_requires_grad_(nb_randn(params, NB_SHAPE(4, 16), 0, 0.5f, &rng), true);
    nb_tensor *b1 = nb_requires_grad_(nb_randn(params, NB_SHAPE(16), 0, 0.1f, &rng), true);
    nb_tensor *w2 = nb_requires_grad_(nb_randn(params, NB_SHAPE(16, 3), 0, 0.5f, &rng), true);
    nb_tensor *b2 = nb_requires_grad_(nb_zeros(params, NB_F32, NB_SHAPE(3)), true);
    int32_t labels[8] = {0, 1, 2, 0, 1, 2, 0, 1};
    nb_ctx_use(step);
    nb_tensor *x = nb_randn(step, NB_SHAPE(8, 4), 0, 1, &rng);
    nb_tensor *y = nb_from_data(step, NB_I32, NB_SHAPE(8), labels);
    nb_tensor *h = nb_tanh(nb_add(nb_matmul(x, w1), b1));            /* [8,16] + [16] broadcasts */
    nb_tensor *logits = nb_add(nb_matmul(h, w2), b2);
    nb_tensor *loss = nb_cross_entropy(logits, y, -1);                /* softmax + NLL, fused */
    if (!loss || nb_backward(loss)) {
        fprintf(stderr, "mlp_grad: %s\n", nb_last_error());
        return 1;
    }
    printf("loss %.6f  dL/dw1[0,0] %.6f  dL/db1[0] %.6f  dL/dw2[0,0] %.6f\n", nb_item(loss),
           nb_data_f32(w1->grad)[0], nb_data_f32(b1->grad)[0], nb_data_f32(w2->grad)[0]);
    int rc = 0;
    if (argc > 1) {
        const char *names[] = {"x", "y", "w1", "b1", "w2", "b2", "loss", "w1.grad", "b1.grad", "w2.grad", "b2.grad"};
        nb_tensor *ts[] = {x, y, w1, b1, w2, b2, loss, w1->grad, b1->grad, w2->grad, b2->grad};
        rc = nb_safetensors_save(argv[1], names, ts, 11, NULL, NULL, 0);
        if (rc) fprintf(stderr, "mlp_grad: %s\n", nb_last_error());
    }
    nb_ctx_free(step);
    nb_ctx_free(params);
    return rc ? 1 : 0;
}
