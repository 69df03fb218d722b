/* autograd/dot.c - the recorded graph as Graphviz DOT, for learners. */
#include <stdlib.h>

#include "ops/op_util.h"

static void tensor_box(FILE *f, const nb_tensor *t) {
    char b[96];
    fprintf(f, "  t%llu [shape=box, style=filled, fillcolor=\"%s\", label=\"%s%s%s\\n%s\"];\n",
            (unsigned long long)t->id, t->requires_grad ? (t->node ? "#dbe9f6" : "#ffe6b3") : "#eeeeee",
            t->name ? t->name : "", t->name ? " " : "", nb_shape_str(t, b, sizeof b),
            t->requires_grad ? (t->node ? "requires grad" : "leaf, requires grad") : "no grad");
}

int nb_graph_dot(const nb_tensor *t, FILE *f) {
    if (!t || !f) return nb_set_error("graph_dot: NULL argument"), -1;
    fprintf(f, "digraph nabla {\n  rankdir=BT;\n  node [fontname=\"DejaVu Sans\", fontsize=10];\n");
    tensor_box(f, t);
    if (t->node) {
        /* iterative walk with a small malloc'd stack (not a hot path) */
        size_t cap = 64, top = 0;
        const nb_node **stack = malloc(cap * sizeof *stack);
        if (!stack) return nb_set_error("graph_dot: out of memory"), -1;
        static _Thread_local uint64_t epoch = 0x8000000000000000ULL;
        epoch++;
        stack[top++] = t->node;
        ((nb_node *)t->node)->mark = epoch;
        while (top) {
            const nb_node *n = stack[--top];
            fprintf(f, "  n%llu [shape=ellipse, label=\"%s\"];\n", (unsigned long long)n->seq, n->op);
            fprintf(f, "  n%llu -> t%llu;\n", (unsigned long long)n->seq, (unsigned long long)n->out->id);
            for (int i = 0; i < n->n_in; i++) {
                const nb_tensor *x = n->in[i];
                if (!x) continue;
                tensor_box(f, x);
                fprintf(f, "  t%llu -> n%llu;\n", (unsigned long long)x->id, (unsigned long long)n->seq);
                if (x->node && x->node->mark != epoch) {
                    x->node->mark = epoch;
                    if (top == cap) {
                        const nb_node **s2 = realloc(stack, 2 * cap * sizeof *stack);
                        if (!s2) {
                            free(stack);
                            return nb_set_error("graph_dot: out of memory"), -1;
                        }
                        stack = s2;
                        cap *= 2;
                    }
                    stack[top++] = x->node;
                }
            }
        }
        free(stack);
    }
    fprintf(f, "}\n");
    return ferror(f) ? (nb_set_error("graph_dot: write error"), -1) : 0;
}
