/* plot_ticks.c - the loss plot's axis ticks: matplotlib-like "nice" values (1-2-2.5-5 x 10^k)
 * on linear and log axes, and their labels. */
#include "examples/babygpt/plot_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Decimals needed to print multiples of step exactly (0..9). */
static int step_decimals(double step) {
    for (int d = 0; d < 10; d++) {
        double s = step * pow(10, d);
        if (fabs(s - round(s)) < 1e-6 * fmax(1.0, s)) return d;
    }
    return 9;
}

/* Formats a linear tick value; big values get k/M/G/T suffixes, tiny or huge
 * ones one shared exponent (1.25e-5). */
static void fmt_linear(char *buf, size_t n, double v, double step, double maxabs) {
    static const char *suf[] = {"k", "M", "G", "T"};
    if (fabs(v) < step * 1e-6) v = 0;
    if (maxabs >= 1e5 && maxabs < 1e15) {
        int e = 0;
        double unit = 1e3;
        while (e < 3 && maxabs >= unit * 1e3)
            unit *= 1e3, e++;
        if (v == 0)
            snprintf(buf, n, "0");
        else
            snprintf(buf, n, "%.*f%s", step_decimals(step / unit), v / unit, suf[e]);
    } else if ((maxabs > 0 && maxabs < 1e-4) || maxabs >= 1e15 || step_decimals(step) > 6) {
        int e = maxabs > 0 ? (int)floor(log10(maxabs)) : 0; /* one exponent for the axis */
        double unit = pow(10, e);
        snprintf(buf, n, "%.*fe%d", step_decimals(step / unit), v / unit, e);
    } else {
        snprintf(buf, n, "%.*f", step_decimals(step), v);
    }
}

static void fmt_log(char *buf, size_t n, double v) {
    if (v >= 1e-4 && v < 1e6) {
        snprintf(buf, n, "%g", v);
        return;
    }
    int e = (int)floor(log10(v) + 1e-9);
    double mant = v / pow(10, e);
    if (fabs(mant - 1) < 1e-6)
        snprintf(buf, n, "1e%d", e);
    else
        snprintf(buf, n, "%.3ge%d", mant, e);
}

/* matplotlib's MaxNLocator: at most nbins+1 ticks at multiples of 1/2/2.5/5 x 10^k. */
void bg_ticks_linear(bg_ticks *t, double lo, double hi, int nbins) {
    static const double mult[] = {1, 2, 2.5, 5, 10};
    t->n = 0;
    if (nbins < 1) nbins = 1;
    double raw = (hi - lo) / nbins;
    if (!(raw > 0) || !isfinite(raw)) return;
    double scale = pow(10, floor(log10(raw)));
    double maxabs = fmax(fabs(lo), fabs(hi));
    for (int i = 0; i < 5; i++) {
        double step = mult[i] * scale;
        double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
        if (k1 - k0 + 1 > nbins + 1 || k1 - k0 + 1 > BG_MAX_TICKS) continue;
        for (double k = k0; k <= k1 && t->n < BG_MAX_TICKS; k++) {
            double v = k * step;
            maxabs = fmax(maxabs, fabs(v));
            t->v[t->n++] = v;
        }
        for (int j = 0; j < t->n; j++)
            fmt_linear(t->lab[j], sizeof t->lab[j], t->v[j], step, maxabs);
        return;
    }
}

/* Log axis ticks; lo/hi are log10 limits, values are stored as log10 too. */
void bg_ticks_log(bg_ticks *t, double lo, double hi, int nbins) {
    static const int sets[5][10] = {{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 5, 7}, {1, 2, 5}, {1, 3}, {1}};
    t->n = 0;
    int d0 = (int)ceil(lo - 1e-9), d1 = (int)floor(hi + 1e-9);
    if (d1 - d0 + 1 >= 3) { /* decades, every stride-th */
        int stride = 1;
        while ((d1 - d0) / stride + 1 > nbins + 1)
            stride++;
        for (int d = (int)(ceil(d0 / (double)stride) * stride); d <= d1 && t->n < BG_MAX_TICKS; d += stride) {
            t->v[t->n] = d;
            fmt_log(t->lab[t->n], sizeof t->lab[t->n], pow(10, d));
            t->n++;
        }
        return;
    }
    for (int s = 0; s < 5; s++) {
        double tmp[BG_MAX_TICKS];
        int n = 0;
        for (int d = (int)floor(lo) - 1; d <= (int)ceil(hi) && n < BG_MAX_TICKS; d++)
            for (int i = 0; i < 10 && sets[s][i] && n < BG_MAX_TICKS; i++) {
                double lv = log10(sets[s][i]) + d;
                if (lv >= lo - 1e-9 && lv <= hi + 1e-9) tmp[n++] = lv;
            }
        if (n > nbins + 1 || n < 3) continue;
        for (int i = 0; i < n; i++) {
            t->v[i] = tmp[i];
            fmt_log(t->lab[i], sizeof t->lab[i], pow(10, tmp[i]));
        }
        t->n = n;
        return;
    }
    /* Under half a decade: plain nice ticks, placed logarithmically. */
    bg_ticks_linear(t, pow(10, lo), pow(10, hi), nbins);
    int k = 0;
    for (int i = 0; i < t->n; i++)
        if (t->v[i] > 0) {
            t->v[k] = log10(t->v[i]);
            memmove(t->lab[k], t->lab[i], sizeof t->lab[i]);
            k++;
        }
    t->n = k;
}
