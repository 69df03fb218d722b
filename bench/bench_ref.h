/* bench/bench_ref.h - the PyTorch side of the benchmarks that compare one layer at a time
 * (bench_conv, bench_seq): run the reference script in the same program, read its times back,
 * print the table with the ratios. Header-only: each benchmark is one program. */
#ifndef NB_BENCH_REF_H
#define NB_BENCH_REF_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla.h>

/* Runs `$PYTHON script reps threads` (default /usr/bin/python3) and reads its lines "name
 * forward_ms both_ms" into tf[i], tb[i] for names[i] (-1 where none came); the script's last
 * other line goes to why. */
static void bench_reference(const char *script, int reps, int threads, const char *const *names, int n,
                            double *tf, double *tb, char *why, size_t why_len) {
    for (int i = 0; i < n; i++)
        tf[i] = tb[i] = -1;
    const char *py = getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
    char cmd[512], line[256];
    snprintf(cmd, sizeof cmd, "%s %s %d %d 2>&1", py, script, reps, threads);
    snprintf(why, why_len, "%s did not run", script);
    FILE *p = popen(cmd, "r");
    while (p && fgets(line, sizeof line, p)) {
        char name[32];
        double f, b;
        if (sscanf(line, "%31s %lf %lf", name, &f, &b) == 3) {
            for (int i = 0; i < n; i++)
                if (strcmp(name, names[i]) == 0) tf[i] = f, tb[i] = b;
        } else {
            snprintf(why, why_len, "%s", line);
            why[strcspn(why, "\n")] = 0;
        }
    }
    if (p) pclose(p);
}

/* The table: nabla's and PyTorch's forward and forward+backward ms, and PyTorch / nabla. */
static void bench_print(const char *first_col, const char *const *names, int n, const double *nf,
                        const double *nb, const double *tf, const double *tb, int reps, const char *why) {
    printf("%d threads, best of %d; ms (ratio: PyTorch / nabla, above 1 is faster)\n", nb_get_num_threads(),
           reps);
    printf("%-10s %9s %9s %7s %9s %9s %7s\n", first_col, "nabla fwd", "torch fwd", "ratio", "nabla f+b",
           "torch f+b", "ratio");
    bool any = false;
    for (int i = 0; i < n; i++) {
        if (tf[i] < 0) {
            printf("%-10s %9.2f %9s %7s %9.2f %9s %7s\n", names[i], nf[i], "-", "-", nb[i], "-", "-");
            continue;
        }
        any = true;
        printf("%-10s %9.2f %9.2f %6.2fx %9.2f %9.2f %6.2fx\n", names[i], nf[i], tf[i], tf[i] / nf[i], nb[i],
               tb[i], tb[i] / nb[i]);
    }
    if (!any) printf("SKIP: the PyTorch reference: %s\n", why);
}

#endif
