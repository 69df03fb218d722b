/* ops/elementwise_math.h - scalar helpers used by ops/elementwise.def, written once for both
 * backends. NB_EW_MATH_FUNCS(X) holds their text: X = NB_EW_EMIT compiles it here as C (the CPU
 * backend, NB_DEVFN "static inline"), X = NB_CU_CODE stringifies it into the CUDA kernel
 * sources (backends/cuda/cuda_sources.c; NB_DEVFN "__device__ __forceinline__" there). */
#ifndef NB_ELEMENTWISE_MATH_H
#define NB_ELEMENTWISE_MATH_H

#include <math.h>

#define NB_EW_EMIT(...) __VA_ARGS__

/* The exp of nb_gelu_f and nb_gelu_df: expf, unless the includer defines a vectorisable one
 * (backends/cpu/cpu_elementwise.c: nb_cpu_expf); the CUDA prelude defines it as expf. */
#ifndef NB_EW_EXPF
#define NB_EW_EXPF expf
#endif

/* nb_gelu_f: GELU, tanh approximation (GPT-2), 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3),
 * computed as x sigmoid(2u) (the same function) so that the negative tail does not cancel;
 * nb_gelu_df its derivative, sigmoid(2u) (1 + 2 x sigmoid(-2u) u'), sigmoid(-2u) as 1 / (1 + e^(2u)),
 * computed from e^(-2u) (1 at e = inf, 0 at e = 0), x clamped to [-16, 16] (where
 * it is exactly 0 or 1 in float; unclamped, x u' overflows), NaN at +-inf as torch. nb_remainder_f: a - b
 * floor(a / b), the sign of the divisor, as torch.remainder (fmod, then b added when the signs differ).
 * nb_floordiv_f: floor(a / b) as torch's div(rounding_mode="floor") computes it, exact where a / b would
 * round up across an integer (remainder's gradient in b is -g times it). nb_nan_f, nb_inf_f: NaN and +inf
 * without math.h's macros (NVRTC has none); nb_isinf_f: +-inf (x - x is NaN only there and at NaN).
 * nb_digamma_f: psi(x), by the recurrence up to x >= 10 and the asymptotic series (Cephes' psi,
 * the reflection formula below 0, as torch's calc_digamma: inf at 0 with the opposite sign, NaN at
 * the negative integers); nb_trigamma_f: psi'(x), the same way (torch's trigamma). nb_erfinv_f:
 * the inverse error function, a rational first guess and two Newton steps on erff (torch's
 * calc_erfinv). nb_sinc_f: sin(pi x) / (pi x), 1 at 0; nb_sinc_bw its gradient in torch's
 * arrangement (0 where pi x^2 is 0). nb_logit_f: log(x / (1 - x)), x first clamped to
 * [eps, 1 - eps] when eps >= 0; nb_logit_bw its gradient (NaN outside [0, 1] without eps, 0
 * outside the clamp or at NaN with it, as torch). nb_logaddexp_f, nb_logaddexp2_f: log(e^a + e^b) and
 * log2(2^a + 2^b) as max + log1p(exp(-|a - b|)) (the infinity itself when a = b = +-inf);
 * nb_xlogy_f: a log b, 0 where a is 0, NaN where b is. nb_log_add_exp_d: one step of
 * logcumsumexp, log(e^x + e^y) in double for the running value x and the next element y, as
 * torch's _log_add_exp_helper (x itself when both are the same infinity; NaN propagates). */
#define NB_EW_MATH_FUNCS(X)                                                                                  \
    X(                                                                                                       \
        NB_DEVFN float nb_gelu_f(float x) {                                                                  \
            const float z = 1.5957691216057308f * (x + 0.044715f * x * x * x);                               \
            return x * (1.0f / (1.0f + NB_EW_EXPF(-z)));                                                     \
        } NB_DEVFN float nb_gelu_df(float x) {                                                               \
            const float xc = x < -16.0f ? -16.0f : (x > 16.0f ? 16.0f : x);                                  \
            const float z = 1.5957691216057308f * (xc + 0.044715f * xc * xc * xc);                           \
            const float e = NB_EW_EXPF(-z), s = 1.0f / (1.0f + e);                                           \
            const float sn = 1.0f / (1.0f + 1.0f / e);                                                       \
            return s * (1.0f + xc * sn * 1.5957691216057308f * (1.0f + 3.0f * 0.044715f * xc * xc)) +        \
                   (x - x);                                                                                  \
        } NB_DEVFN float nb_remainder_f(float a, float b) {                                                  \
            float m = fmodf(a, b);                                                                           \
            if (m != 0.0f && (b < 0.0f) != (m < 0.0f)) m += b;                                               \
            return m;                                                                                        \
        } NB_DEVFN float nb_floordiv_f(float a, float b) {                                                   \
            if (b == 0.0f) return a / b;                                                                     \
            const float m = fmodf(a, b);                                                                     \
            float d = (a - m) / b;                                                                           \
            if (m != 0.0f && (b < 0.0f) != (m < 0.0f)) d -= 1.0f;                                            \
            if (d == 0.0f) return copysignf(0.0f, a / b);                                                    \
            float f = floorf(d);                                                                             \
            if (d - f > 0.5f) f += 1.0f;                                                                     \
            return f;                                                                                        \
        } NB_DEVFN float nb_nan_f(void) {                                                                    \
            float z = 0.0f;                                                                                  \
            return z / z;                                                                                    \
        } NB_DEVFN float nb_inf_f(void) {                                                                    \
            float z = 0.0f;                                                                                  \
            return 1.0f / z;                                                                                 \
        } NB_DEVFN int nb_isinf_f(float x) {                                                                 \
            return x == x && x - x != x - x;                                                                 \
        } NB_DEVFN float nb_digamma_f(float x) {                                                             \
            if (x == 0.0f) return 1.0f / x < 0.0f ? nb_inf_f() : -nb_inf_f();                                \
            float r = 0.0f;                                                                                  \
            if (x < 0.0f) {                                                                                  \
                if (x == truncf(x)) return nb_nan_f();                                                       \
                r = -(float)(3.14159265358979323846 /                                                        \
                             tan(3.14159265358979323846 * (double)(x - truncf(x))));                         \
                x = 1.0f - x;                                                                                \
            }                                                                                                \
            while (x < 10.0f) {                                                                              \
                r -= 1.0f / x;                                                                               \
                x += 1.0f;                                                                                   \
            }                                                                                                \
            if (x == 10.0f) return r + 2.25175258906672110764f;                                              \
            float t = 0.0f;                                                                                  \
            if (x < 1.0e17f) {                                                                               \
                const float z = 1.0f / (x * x);                                                              \
                t = ((((((8.33333333333333333333E-2f * z - 2.10927960927960927961E-2f) * z +                 \
                         7.57575757575757575758E-3f) *                                                       \
                            z -                                                                              \
                        4.16666666666666666667E-3f) *                                                        \
                           z +                                                                               \
                       3.96825396825396825397E-3f) *                                                         \
                          z -                                                                                \
                      8.33333333333333333333E-3f) *                                                          \
                         z +                                                                                 \
                     8.33333333333333333333E-2f) *                                                           \
                    z;                                                                                       \
            }                                                                                                \
            return r + logf(x) - 0.5f / x - t;                                                               \
        } NB_DEVFN float nb_trigamma_f(float x) {                                                            \
            float sign = 1.0f, r = 0.0f;                                                                     \
            if (x < 0.5f) {                                                                                  \
                const float s = sinf(3.14159265358979323846f * x);                                           \
                sign = -1.0f;                                                                                \
                r = -9.86960440108935861883f / (s * s);                                                      \
                x = 1.0f - x;                                                                                \
            }                                                                                                \
            for (int i = 0; i < 6; i++) {                                                                    \
                r += 1.0f / (x * x);                                                                         \
                x += 1.0f;                                                                                   \
            }                                                                                                \
            const float ixx = 1.0f / (x * x);                                                                \
            r += (1.0f + 1.0f / (2.0f * x) +                                                                 \
                  ixx * (1.0f / 6.0f - ixx * (1.0f / 30.0f - ixx * (1.0f / 42.0f)))) /                       \
                 x;                                                                                          \
            return sign * r;                                                                                 \
        } NB_DEVFN float nb_erfinv_f(float y) {                                                              \
            const float ay = fabsf(y);                                                                       \
            if (ay > 1.0f) return nb_nan_f();                                                                \
            if (ay == 1.0f) return copysignf(nb_inf_f(), y);                                                 \
            float x;                                                                                         \
            if (ay <= 0.7f) {                                                                                \
                const float z = y * y;                                                                       \
                const float num =                                                                            \
                    ((-0.140543331f * z + 0.914624893f) * z - 1.645349621f) * z + 0.886226899f;              \
                const float den =                                                                            \
                    (((0.012229801f * z - 0.329097515f) * z + 1.442710462f) * z - 2.118377725f) * z + 1.0f;  \
                x = y * num / den;                                                                           \
            } else {                                                                                         \
                const float z = sqrtf(-logf((1.0f - ay) / 2.0f));                                            \
                const float num = ((1.641345311f * z + 3.429567803f) * z - 1.624906493f) * z - 1.970840454f; \
                const float den = (1.637067800f * z + 3.543889200f) * z + 1.0f;                              \
                x = copysignf(num, y) / den;                                                                 \
            }                                                                                                \
            x = x - (erff(x) - y) / (1.12837916709551257f * expf(-x * x));                                   \
            x = x - (erff(x) - y) / (1.12837916709551257f * expf(-x * x));                                   \
            return x;                                                                                        \
        } NB_DEVFN float nb_sinc_f(float x) {                                                                \
            if (x == 0.0f) return 1.0f;                                                                      \
            const float px = 3.14159265358979323846f * x;                                                    \
            return sinf(px) / px;                                                                            \
        } NB_DEVFN float nb_sinc_bw(float g, float x) {                                                      \
            const float px = 3.14159265358979323846f * x, s = x * x * 3.14159265358979323846f;               \
            return s == 0.0f ? 0.0f : g * (px * cosf(px) - sinf(px)) / s;                                    \
        } NB_DEVFN float nb_logit_f(float x, float eps) {                                                    \
            if (eps >= 0.0f) x = x < eps ? eps : x > 1.0f - eps ? 1.0f - eps : x;                            \
            return logf(x / (1.0f - x));                                                                     \
        } NB_DEVFN float nb_logit_bw(float g, float x, float eps) {                                          \
            if (eps < 0.0f) return x < 0.0f || x > 1.0f ? nb_nan_f() : g / (x * (1.0f - x));                 \
            return x >= eps && x <= 1.0f - eps ? g / (x * (1.0f - x)) : 0.0f;                                \
        } NB_DEVFN float nb_logaddexp_f(float a, float b) {                                                  \
            if (nb_isinf_f(a) && a == b) return a;                                                           \
            return (a < b ? b : a) + log1pf(expf(-fabsf(a - b)));                                            \
        } NB_DEVFN float nb_logaddexp2_f(float a, float b) {                                                 \
            if (nb_isinf_f(a) && a == b) return a;                                                           \
            return (a < b ? b : a) + log1pf(exp2f(-fabsf(a - b))) * 1.44269504088896340736f;                 \
        } NB_DEVFN float nb_xlogy_f(float a, float b) {                                                      \
            if (b != b) return b;                                                                            \
            return a == 0.0f ? 0.0f : a * logf(b);                                                           \
        } NB_DEVFN double nb_log_add_exp_d(double x, double y) {                                             \
            const double mn = y != y ? y : (y < x ? y : x), mx = y != y ? y : (x < y ? y : x);               \
            if (mn != mx || mn - mn == mn - mn) return log1p(exp(mn - mx)) + mx;                             \
            return x;                                                                                        \
        })

#ifndef NB_EW_MATH_NO_EMIT
#define NB_DEVFN static inline
NB_EW_MATH_FUNCS(NB_EW_EMIT)
#undef NB_DEVFN
#endif

#endif
