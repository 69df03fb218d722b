/* ops_edge.h - what the two halves of the op edge-case harness share: ops_edge.c runs and
 * records the cases, ops_edge_cases.c lists them (see README.md in this folder). */
#ifndef OPS_EDGE_H
#define OPS_EDGE_H

#include <nabla.h>
#include <stdbool.h>

enum { OE_MAXIN = 8, OE_NIP = 16, OE_NFP = 8 };

/* One case: an op of ops_edge.c's table applied to inputs, with integer and float parameters
 * whose meaning is the op's (see apply() in ops_edge.c). Written as a compound literal:
 *   oe_run((oe_case){.op = "cat", .ip = {1}, .in = {a, b}}, "cat(a,b dim1)"); */
typedef struct {
    const char *op;
    nb_tensor *in[OE_MAXIN]; /* the inputs; the list ends at the first NULL */
    int ip[OE_NIP];
    float fp[OE_NFP];
    unsigned nograd; /* bit i set: input i is a constant (a mask, a condition), never differentiated */
} oe_case;

/* Runs one case in a child process (a crash or hang is recorded, not fatal) and writes its JSON
 * record; the name is printf-formatted. */
void oe_run(oe_case c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Inputs, in the harness's context: f32 or i32 data (zeros when data is NULL), N(0,1) values. */
nb_tensor *oe_f32(int ndim, const int64_t *shape, const float *data);
nb_tensor *oe_i32(int ndim, const int64_t *shape, const int32_t *data);
nb_tensor *oe_randn(int ndim, const int64_t *shape, uint64_t seed);
nb_tensor *oe_scalar(float v);

#define SH(...)  ((const int64_t[]){__VA_ARGS__})
#define FV(...)  ((const float[]){__VA_ARGS__})
#define IV(...)  ((const int32_t[]){__VA_ARGS__})
#define COUNT(a) ((int)(sizeof(a) / sizeof *(a)))

/* The special values (ops_edge_cases.c): zeros of both signs, ones, halves, NaN, infinities,
 * FLT_MAX, subnormals, FLT_MIN, huge, exp's overflow edge and ordinary values. */
#define NSV 28
extern const float oe_sv[NSV];

/* einsum's equations (ops_edge_more.c); a case's ip[0] picks one, and its name holds it in
 * brackets, einsum[...], for the torch side. */
#define OE_NEINSUM 20
extern const char *const oe_einsum_eqs[OE_NEINSUM];

/* The case lists (ops_edge_cases.c, ops_edge_layers.c, ops_edge_more.c, ops_edge_special.c, then
 * ops_edge_linalg.c), run in this order. */
void oe_unary_cases(void);
void oe_binary_cases(void);
void oe_reduce_cases(void);
void oe_nn_cases(void);
void oe_index_cases(void);
void oe_offset_cases(void);
void oe_newer_cases(void);
void oe_layer_cases(void);
void oe_more_cases(void);
void oe_special_cases(void);
void oe_linalg_cases(void);
/* The ops of ops_edge_special.c: sets *known and returns the op's result when c->op is one. */
nb_tensor *oe_special_apply(const oe_case *c, bool *known);
/* The linear-algebra ops of ops_edge_linalg.c, likewise. */
nb_tensor *oe_linalg_apply(const oe_case *c, bool *known);

#endif
