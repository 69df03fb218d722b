/* nn/init.c - tensor initialisers with torch.nn.init's rules: the gain of a nonlinearity, fan-in
 * and fan-out of a weight (a Linear's [out, in], a convolution's [out, in / groups, k...]),
 * Xavier (Glorot) and Kaiming (He) uniform and normal, the truncated normal and the orthogonal
 * matrix. Each writes its tensor in place (any device: the values are drawn on the host or by
 * the tensor's backend from the given generator, so a seed gives the same tensor everywhere). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nabla/nn.h"
#include "ops/op_util.h"

double nb_init_gain(const char *nonlinearity, double param) {
    const char *n = nonlinearity ? nonlinearity : "";
    static const char *const one[] = {"linear",           "identity",         "sigmoid",
                                      "conv1d",           "conv2d",           "conv3d",
                                      "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"};
    for (size_t i = 0; i < sizeof one / sizeof *one; i++)
        if (strcmp(n, one[i]) == 0) return 1.0;
    if (strcmp(n, "tanh") == 0) return 5.0 / 3.0;
    if (strcmp(n, "relu") == 0) return sqrt(2.0);
    if (strcmp(n, "leaky_relu") == 0) {
        const double slope = isnan(param) ? 0.01 : param; /* NAN: torch's default slope */
        return sqrt(2.0 / (1.0 + slope * slope));
    }
    if (strcmp(n, "selu") == 0) return 0.75;
    nb_set_error("init_gain: unknown nonlinearity '%s' (linear, identity, sigmoid, conv*, tanh, relu, "
                 "leaky_relu, selu)",
                 n);
    return NAN;
}

int nb_init_fans(const nb_tensor *t, int64_t *fan_in, int64_t *fan_out) {
    if (!t) return nb_set_error("init_fans: NULL tensor"), -1;
    char s[96];
    if (t->ndim < 2)
        return nb_set_error("init_fans: fan in and fan out need a weight of at least 2 dims, got %s",
                            NB_SHP(t, s)),
               -1;
    int64_t field = 1; /* a convolution's window */
    for (int i = 2; i < t->ndim; i++)
        field *= t->shape[i];
    if (fan_in) *fan_in = t->shape[1] * field;
    if (fan_out) *fan_out = t->shape[0] * field;
    return 0;
}

static int check_f32(const char *op, const nb_tensor *t) {
    if (!t) return nb_set_error("%s: NULL tensor", op), -1;
    return nb_check_dtype(op, t, NB_F32, "tensor");
}

/* fan_in + fan_out, or the one `mode` names ("fan_in" / "fan_out"); 1 for a tensor with no
 * elements (nothing to initialise, as torch), -1 with an error */
static int fans_for(const char *op, const nb_tensor *t, const char *mode, double *fan) {
    int64_t fi, fo;
    if (check_f32(op, t) || nb_init_fans(t, &fi, &fo)) {
        nb_rename_error("init_fans", op);
        return -1;
    }
    if (!mode)
        *fan = (double)(fi + fo);
    else if (strcmp(mode, "fan_in") == 0)
        *fan = (double)fi;
    else if (strcmp(mode, "fan_out") == 0)
        *fan = (double)fo;
    else
        return nb_set_error("%s: mode '%s' is not fan_in or fan_out", op, mode), -1;
    return nb_numel(t) == 0 ? 1 : 0;
}

int nb_init_xavier_uniform_(nb_tensor *t, double gain, nb_rng *rng) {
    double fan;
    const int f = fans_for("init_xavier_uniform_", t, NULL, &fan);
    if (f) return f < 0 ? -1 : 0;
    const float a = (float)(gain * sqrt(6.0 / fan));
    return nb_rand_(t, -a, a, rng);
}

int nb_init_xavier_normal_(nb_tensor *t, double gain, nb_rng *rng) {
    double fan;
    const int f = fans_for("init_xavier_normal_", t, NULL, &fan);
    if (f) return f < 0 ? -1 : 0;
    return nb_randn_(t, 0.0f, (float)(gain * sqrt(2.0 / fan)), rng);
}

/* gain / sqrt(fan) for kaiming_*: 1 for a tensor with no elements, -1 with an error */
static int kaiming_std(const char *op, const nb_tensor *t, double a, const char *mode,
                       const char *nonlinearity, double *std) {
    double fan;
    const int f = fans_for(op, t, mode ? mode : "fan_in", &fan);
    if (f) return f; /* 1: no elements */
    const double gain = nb_init_gain(nonlinearity ? nonlinearity : "leaky_relu", a);
    if (isnan(gain)) {
        nb_rename_error("init_gain", op);
        return -1;
    }
    *std = gain / sqrt(fan);
    return 0;
}

int nb_init_kaiming_uniform_(nb_tensor *t, double a, const char *mode, const char *nonlinearity,
                             nb_rng *rng) {
    double std;
    const int f = kaiming_std("init_kaiming_uniform_", t, a, mode, nonlinearity, &std);
    if (f) return f < 0 ? -1 : 0;
    const float bound = (float)(sqrt(3.0) * std);
    return nb_rand_(t, -bound, bound, rng);
}

int nb_init_kaiming_normal_(nb_tensor *t, double a, const char *mode, const char *nonlinearity, nb_rng *rng) {
    double std;
    const int f = kaiming_std("init_kaiming_normal_", t, a, mode, nonlinearity, &std);
    if (f) return f < 0 ? -1 : 0;
    return nb_randn_(t, 0.0f, (float)std, rng);
}

/* ---- host-drawn initialisers ------------------------------------------------------------------- */

/* The inverse of erf on (-1, 1): Giles' single-precision polynomial as a start, then two Newton
 * steps on erf in double (erf' = 2/sqrt(pi) e^(-x^2)). */
static double erfinv(double y) {
    if (y <= -1.0) return -INFINITY;
    if (y >= 1.0) return INFINITY;
    double w = -log((1.0 - y) * (1.0 + y)), x;
    if (w < 5.0) {
        w -= 2.5;
        x = 2.81022636e-08;
        x = 3.43273939e-07 + x * w;
        x = -3.5233877e-06 + x * w;
        x = -4.39150654e-06 + x * w;
        x = 0.00021858087 + x * w;
        x = -0.00125372503 + x * w;
        x = -0.00417768164 + x * w;
        x = 0.246640727 + x * w;
        x = 1.50140941 + x * w;
    } else {
        w = sqrt(w) - 3.0;
        x = -0.000200214257;
        x = 0.000100950558 + x * w;
        x = 0.00134934322 + x * w;
        x = -0.00367342844 + x * w;
        x = 0.00573950773 + x * w;
        x = -0.0076224613 + x * w;
        x = 0.00943887047 + x * w;
        x = 1.00167406 + x * w;
        x = 2.83297682 + x * w;
    }
    x *= y;
    for (int i = 0; i < 2; i++)
        x -= (erf(x) - y) / (1.1283791670955126 * exp(-x * x));
    return x;
}

/* Writes n host values into t (any device, t's shape). */
static int write_host(nb_tensor *t, const float *v) {
    nb_ctx *c = nb_ctx_new(0);
    nb_tensor *h = c ? nb_from_data(c, NB_F32, t->ndim, t->shape, v) : NULL;
    int rc = h ? nb_copy_(t, h) : -1;
    nb_ctx_free(c);
    return rc;
}

int nb_init_trunc_normal_(nb_tensor *t, double mean, double std, double a, double b, nb_rng *rng) {
    const char *op = "init_trunc_normal_";
    if (check_f32(op, t)) return -1;
    if (!(std > 0) || !(a < b) || !isfinite(mean) || isnan(a) || isnan(b))
        return nb_set_error("%s: want std > 0 and a < b, got mean %g, std %g, [%g, %g]", op, mean, std, a, b),
               -1;
    /* torch's method: uniform between the bounds' normal CDFs, mapped back by the inverse CDF */
    const double lo = 0.5 * (1.0 + erf((a - mean) / std / sqrt(2.0)));
    const double hi = 0.5 * (1.0 + erf((b - mean) / std / sqrt(2.0)));
    const int64_t n = nb_numel(t);
    float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v) return nb_set_error("%s: out of memory for %lld values", op, (long long)n), -1;
    for (int64_t i = 0; i < n; i++) {
        const double u = lo + (hi - lo) * (double)nb_rng_uniform(rng);
        double x = mean + std * sqrt(2.0) * erfinv(2.0 * u - 1.0);
        x = x < a ? a : x > b ? b : x;
        v[i] = (float)x;
    }
    int rc = n ? write_host(t, v) : 0;
    free(v);
    return rc;
}

int nb_init_orthogonal_(nb_tensor *t, double gain, nb_rng *rng) {
    const char *op = "init_orthogonal_";
    if (check_f32(op, t)) return -1;
    char s[96];
    if (t->ndim < 2) return nb_set_error("%s: needs at least 2 dims, got %s", op, NB_SHP(t, s)), -1;
    const int64_t rows = t->shape[0], cols = nb_numel(t) / (rows ? rows : 1);
    if (rows == 0 || cols == 0) return 0;
    /* torch's method: a normal [rows, cols] matrix (transposed when it has more columns), Q of its
     * QR decomposition with R's diagonal made positive; here by modified Gram-Schmidt in double */
    const bool tr = rows < cols;
    const int64_t m = tr ? cols : rows, k = tr ? rows : cols; /* Q is m x k with m >= k */
    double *q = malloc((size_t)(m * k) * sizeof *q);
    float *v = malloc((size_t)(rows * cols) * sizeof *v);
    if (!q || !v) {
        free(q), free(v);
        return nb_set_error("%s: out of memory for a %lld x %lld matrix", op, (long long)rows,
                            (long long)cols),
               -1;
    }
    for (int64_t i = 0; i < m * k; i++) { /* column j of Q is q[j*m .. j*m + m) */
        const float u1 = nb_rng_uniform(rng), u2 = nb_rng_uniform(rng);
        q[i] = sqrt(-2.0 * log(u1 > 0 ? u1 : 1e-30f)) * cos(6.283185307179586 * u2);
    }
    for (int64_t j = 0; j < k; j++) {
        double *qj = q + j * m;
        for (int pass = 0; pass < 2; pass++) /* twice: orthogonal to float precision even for m >> k */
            for (int64_t p = 0; p < j; p++) {
                const double *qp = q + p * m;
                double d = 0;
                for (int64_t i = 0; i < m; i++)
                    d += qp[i] * qj[i];
                for (int64_t i = 0; i < m; i++)
                    qj[i] -= d * qp[i];
            }
        double nrm = 0;
        for (int64_t i = 0; i < m; i++)
            nrm += qj[i] * qj[i];
        nrm = sqrt(nrm);
        for (int64_t i = 0; i < m; i++)
            qj[i] = nrm > 0 ? qj[i] / nrm : 0.0;
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            v[r * cols + c] = (float)(gain * (tr ? q[r * m + c] : q[c * m + r]));
    int rc = write_host(t, v);
    free(q), free(v);
    return rc;
}
