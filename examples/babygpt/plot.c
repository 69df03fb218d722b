/* plot.c - the loss plot: a matplotlib-like line chart rendered to PNG. The data limits, the
 * layout (axes box, grid, spines, series, legend, title and axis labels) and the PNG file; the
 * drawing primitives are in plot_canvas.c and the tick values in plot_ticks.c. */
#include "examples/babygpt/plot_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wpedantic"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#define MARKER_MAX_POINTS 60

/* matplotlib's default color cycle (tab10). */
static const unsigned tab10[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                   0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};

static void seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- data -------------------------------------------------------------- */

typedef struct {
    double xlo, xhi, ylo, yhi; /* axis limits; y in log10 units on a log axis */
} limits;

static int point_ok(const bg_series *s, size_t i, int log_y, double *x, double *y) {
    *x = s->x ? s->x[i] : (double)i;
    *y = s->y[i];
    if (!isfinite(*x) || !isfinite(*y)) return 0;
    if (log_y) {
        if (!(*y > 0)) return 0;
        *y = log10(*y);
    }
    return 1;
}

/* matplotlib's nonsingular + 5% margins. */
static void widen(double *lo, double *hi) {
    if (*hi - *lo <= 1e-12 * fmax(fabs(*lo), fabs(*hi))) {
        double d = *lo == 0 ? 0.05 : fabs(*lo) * 0.05;
        *lo -= d, *hi += d;
    }
    double m = (*hi - *lo) * 0.05;
    *lo -= m, *hi += m;
}

static int data_limits(const bg_series *s, size_t ns, int log_y, limits *L) {
    int any = 0;
    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            double x, y;
            if (!point_ok(&s[k], i, log_y, &x, &y)) continue;
            if (!any || x < L->xlo) L->xlo = x;
            if (!any || x > L->xhi) L->xhi = x;
            if (!any || y < L->ylo) L->ylo = y;
            if (!any || y > L->yhi) L->yhi = y;
            any = 1;
        }
    if (!any) *L = (limits){0, 1, 0, 1};
    widen(&L->xlo, &L->xhi);
    widen(&L->ylo, &L->yhi);
    return isfinite(L->xhi - L->xlo) && isfinite(L->yhi - L->ylo);
}

/* ---- layout and drawing ------------------------------------------------ */

typedef struct {
    const bg_font *font;
    double fs_tick, fs_title, lw, ticklen, tickpad, labelpad, titlepad, margin;
    int thick;              /* spine / tick / grid width in pixels */
    int ax0, ay0, ax1, ay1; /* axes box, inclusive pixel bounds */
    limits L;
    int log_y;
} frame;

static double text_w(const frame *F, const char *s, double px) {
    return F->font && s ? bg_text_width(F->font, s, px) : 0.0;
}

static double text_h(const frame *F, double px) {
    double a = 0, d = 0;
    if (F->font) bg_font_vmetrics(F->font, px, &a, &d);
    return a - d;
}

static double ascent(const frame *F, double px) {
    double a = 0;
    if (F->font) bg_font_vmetrics(F->font, px, &a, NULL);
    return a;
}

static double map_x(const frame *F, double x) {
    return F->ax0 + 0.5 + (x - F->L.xlo) / (F->L.xhi - F->L.xlo) * (F->ax1 - F->ax0);
}

static double map_y(const frame *F, double y) {
    return F->ay0 + 0.5 + (F->L.yhi - y) / (F->L.yhi - F->L.ylo) * (F->ay1 - F->ay0);
}

static double max_label_w(const frame *F, const bg_ticks *t) {
    double m = 0;
    for (int i = 0; i < t->n; i++)
        m = fmax(m, text_w(F, t->lab[i], F->fs_tick));
    return m;
}

/* Picks tick counts like matplotlib ('auto' nbins, at most 9) that do not overlap. */
static void make_yticks(const frame *F, bg_ticks *t) {
    double ph = F->ay1 - F->ay0, lh = fmax(text_h(F, F->fs_tick), 8);
    int nb = (int)fmin(9, fmax(1, ph / (F->fs_tick * 2)));
    for (; nb >= 1; nb--) {
        if (F->log_y)
            bg_ticks_log(t, F->L.ylo, F->L.yhi, nb);
        else
            bg_ticks_linear(t, F->L.ylo, F->L.yhi, nb);
        if (t->n < 2 || fabs(map_y(F, t->v[1]) - map_y(F, t->v[0])) > lh * 1.3) break;
    }
    for (int i = 0; i < t->n; i++)
        t->pos[i] = map_y(F, t->v[i]);
}

static void make_xticks(const frame *F, bg_ticks *t) {
    double pw = F->ax1 - F->ax0;
    int nb = (int)fmin(9, fmax(1, pw / (F->fs_tick * 3)));
    for (; nb >= 1; nb--) {
        bg_ticks_linear(t, F->L.xlo, F->L.xhi, nb);
        if (t->n < 2 || map_x(F, t->v[1]) - map_x(F, t->v[0]) > max_label_w(F, t) + F->fs_tick) break;
    }
    for (int i = 0; i < t->n; i++)
        t->pos[i] = map_x(F, t->v[i]);
}

/* Places the axes box around the text, like matplotlib's tight_layout. */
static int place_axes(frame *F, const bg_plot_opts *o, int W, int H, bg_ticks *xt, bg_ticks *yt) {
    int has_title = o->title && *o->title && F->font;
    F->ay0 = (int)lround(F->margin +
                         (has_title ? text_h(F, F->fs_title) + F->titlepad : text_h(F, F->fs_tick) / 2));
    F->ay1 = (int)lround(H - 1 - F->margin - text_h(F, F->fs_tick) - F->tickpad - F->ticklen -
                         (F->font ? text_h(F, F->fs_tick) + F->labelpad : 0));
    F->ax0 = 0, F->ax1 = W - 1;
    if (F->ay1 - F->ay0 < 20) return -1;
    make_yticks(F, yt);
    F->ax0 = (int)lround(F->margin + (F->font ? text_h(F, F->fs_tick) + F->labelpad : 0) +
                         max_label_w(F, yt) + F->tickpad + F->ticklen);
    F->ax1 = (int)lround(W - 1 - F->margin - text_w(F, "0000", F->fs_tick) / 2);
    if (F->ax1 - F->ax0 < 20) return -1;
    make_xticks(F, xt);
    if (xt->n > 0) { /* keep the last x tick label inside the image */
        double over =
            xt->pos[xt->n - 1] + text_w(F, xt->lab[xt->n - 1], F->fs_tick) / 2 - (W - 1 - F->margin);
        if (over > 0 && F->ax1 - over - F->ax0 >= 20) {
            F->ax1 -= (int)ceil(over);
            make_xticks(F, xt);
        }
    }
    return 0;
}

static void draw_grid(bg_canvas *c, const frame *F, const bg_ticks *xt, const bg_ticks *yt) {
    int t = F->thick;
    for (int i = 0; i < xt->n; i++) { /* grid */
        int x = (int)floor(xt->pos[i]);
        if (x > F->ax0 && x < F->ax1) bg_canvas_fill(c, x, F->ay0, x + t - 1, F->ay1, 0xb0b0b0, 0.35);
    }
    for (int i = 0; i < yt->n; i++) {
        int y = (int)floor(yt->pos[i]);
        if (y > F->ay0 && y < F->ay1) bg_canvas_fill(c, F->ax0, y, F->ax1, y + t - 1, 0xb0b0b0, 0.35);
    }
}

static void draw_spines(bg_canvas *c, const frame *F, const bg_ticks *xt, const bg_ticks *yt) {
    int t = F->thick, tl = (int)lround(F->ticklen);
    bg_canvas_fill(c, F->ax0, F->ay0, F->ax1 + t - 1, F->ay0 + t - 1, 0, 1);
    bg_canvas_fill(c, F->ax0, F->ay1, F->ax1 + t - 1, F->ay1 + t - 1, 0, 1);
    bg_canvas_fill(c, F->ax0, F->ay0, F->ax0 + t - 1, F->ay1 + t - 1, 0, 1);
    bg_canvas_fill(c, F->ax1, F->ay0, F->ax1 + t - 1, F->ay1 + t - 1, 0, 1);
    double base = F->ay1 + t + F->ticklen + F->tickpad + ascent(F, F->fs_tick);
    for (int i = 0; i < xt->n; i++) {
        int x = (int)floor(xt->pos[i]);
        bg_canvas_fill(c, x, F->ay1 + t, x + t - 1, F->ay1 + t - 1 + tl, 0, 1);
        bg_canvas_text(c, F->font, xt->lab[i], F->fs_tick, xt->pos[i], base, 0.5, 0);
    }
    double mid = ascent(F, F->fs_tick) * 0.36; /* ~ half the digit height */
    for (int i = 0; i < yt->n; i++) {
        int y = (int)floor(yt->pos[i]);
        bg_canvas_fill(c, F->ax0 - tl, y, F->ax0 - 1, y + t - 1, 0, 1);
        bg_canvas_text(c, F->font, yt->lab[i], F->fs_tick, F->ax0 - tl - F->tickpad, yt->pos[i] + mid, 1.0,
                       0);
    }
}

static int series_markers(const bg_series *s, int log_y) {
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        double x, y;
        n += (size_t)point_ok(s, i, log_y, &x, &y);
    }
    return n <= MARKER_MAX_POINTS;
}

static void draw_series(bg_canvas *c, const frame *F, bg_cover *cv, const bg_series *s, unsigned rgb) {
    int markers = series_markers(s, F->log_y);
    double hw = F->lw / 2, r = F->lw * 1.6;
    for (size_t i = 0; i < s->n; i++) {
        double x, y, px, py;
        if (!point_ok(s, i, F->log_y, &x, &y)) continue;
        double cx = map_x(F, x), cy = map_y(F, y);
        int prev = i > 0 && point_ok(s, i - 1, F->log_y, &px, &py);
        int next = i + 1 < s->n && point_ok(s, i + 1, F->log_y, &px, &py);
        if (prev) {
            point_ok(s, i - 1, F->log_y, &px, &py);
            bg_cover_segment(cv, map_x(F, px), map_y(F, py), cx, cy, hw);
        }
        if (markers || (!prev && !next)) bg_cover_disc(cv, cx, cy, r);
    }
    bg_cover_composite(c, cv, rgb, 1.0);
}

static void draw_legend(bg_canvas *c, const frame *F, bg_cover *cv, const bg_series *s, size_t ns,
                        const unsigned *col) {
    double fs = F->fs_tick, bp = 0.4 * fs, hl = 2.0 * fs, tp = 0.8 * fs, ls = 0.5 * fs;
    double rowh = text_h(F, fs), wmax = 0;
    int n = 0;
    for (size_t k = 0; k < ns; k++)
        if (s[k].label && *s[k].label) wmax = fmax(wmax, text_w(F, s[k].label, fs)), n++;
    if (!F->font || n == 0) return;
    double bw = 2 * bp + hl + tp + wmax, bh = 2 * bp + n * rowh + (n - 1) * ls;
    double x1 = F->ax1 + 0.5 - 0.5 * fs, y0 = F->ay0 + 0.5 + 0.5 * fs, x0 = x1 - bw;
    bg_canvas_frame(c, x0, y0, x1, y0 + bh, 0.2 * fs);
    double y = y0 + bp;
    for (size_t k = 0; k < ns; k++) {
        if (!s[k].label || !*s[k].label) continue;
        double base = y + ascent(F, fs), yc = base - 0.36 * ascent(F, fs);
        double lx = x0 + bp;
        bg_cover_segment(cv, lx, yc, lx + hl, yc, F->lw / 2);
        if (series_markers(&s[k], F->log_y)) bg_cover_disc(cv, lx + hl / 2, yc, F->lw * 1.6);
        bg_cover_composite(c, cv, col[k], 1.0);
        bg_canvas_text(c, F->font, s[k].label, fs, lx + hl + tp, base, 0.0, 0);
        y += rowh + ls;
    }
}

static int check_args(const bg_plot_opts *o, const bg_series *s, size_t ns, char *err, size_t errlen) {
    if (o->width && (o->width < 160 || o->width > 8192)) {
        seterr(err, errlen, "plot: width %d out of range 160..8192", o->width);
        return -1;
    }
    if (o->height && (o->height < 160 || o->height > 8192)) {
        seterr(err, errlen, "plot: height %d out of range 160..8192", o->height);
        return -1;
    }
    if (ns > 0 && !s) {
        seterr(err, errlen, "plot: %zu series given but the series array is NULL", ns);
        return -1;
    }
    for (size_t k = 0; k < ns; k++)
        if (s[k].n > 0 && !s[k].y) {
            seterr(err, errlen, "plot: series %zu ('%s') has %zu points but y is NULL", k,
                   s[k].label ? s[k].label : "", s[k].n);
            return -1;
        }
    return 0;
}

unsigned char *bg_plot_rgb(const bg_plot_opts *opts, const bg_series *s, size_t ns, int *w, int *h, char *err,
                           size_t errlen) {
    bg_plot_opts o = opts ? *opts : (bg_plot_opts){0};
    if (!w || !h) {
        seterr(err, errlen, "plot: NULL width/height output pointer");
        return NULL;
    }
    if (check_args(&o, s, ns, err, errlen) != 0) return NULL;
    if (!o.width) o.width = 960;
    if (!o.height) o.height = 600;
    if (!o.xlabel) o.xlabel = "step";
    if (!o.ylabel) o.ylabel = "loss";
    int W = o.width, H = o.height;
    frame F = {0};
    F.log_y = o.log_y != 0;
    if (!data_limits(s, ns, F.log_y, &F.L)) {
        seterr(err, errlen, "plot: data range too large to draw");
        return NULL;
    }
    char fwarn[600] = "";
    bg_font *font = bg_font_load_default(fwarn, sizeof fwarn);
    F.font = font;
    double k = fmin(fmax(sqrt((double)W * H / (960.0 * 600.0)), 0.5), 4.0), pt = 100.0 / 72 * k;
    F.fs_tick = 10 * pt, F.fs_title = 12 * pt, F.lw = 1.5 * pt;
    F.ticklen = 3.5 * pt, F.tickpad = 3.5 * pt, F.labelpad = 4 * pt, F.titlepad = 6 * pt;
    F.margin = 8 * pt;
    F.thick = (int)fmax(1, lround(0.8 * pt));
    bg_canvas c = {malloc((size_t)W * (size_t)H * 3), W, H};
    bg_cover cv = {0};
    unsigned *col = malloc((ns ? ns : 1) * sizeof *col);
    bg_ticks *tk = malloc(2 * sizeof *tk);
    if (!c.px || !col || !tk) {
        seterr(err, errlen, "plot: out of memory for a %dx%d image", W, H);
        goto fail;
    }
    memset(c.px, 255, (size_t)W * (size_t)H * 3);
    if (place_axes(&F, &o, W, H, &tk[0], &tk[1]) != 0) {
        seterr(err, errlen, "plot: %dx%d is too small for the chart layout", W, H);
        goto fail;
    }
    cv = (bg_cover){calloc((size_t)W * (size_t)H, sizeof(float)), 0, 0, W, H};
    if (!cv.a) {
        seterr(err, errlen, "plot: out of memory for a %dx%d image", W, H);
        goto fail;
    }
    draw_grid(&c, &F, &tk[0], &tk[1]);
    /* Series are clipped to the axes box (the spines' inner half included). */
    bg_cover clip = {cv.a, F.ax0, F.ay0, F.ax1 - F.ax0 + F.thick, F.ay1 - F.ay0 + F.thick};
    for (size_t i = 0; i < ns; i++) {
        col[i] = s[i].rgb ? s[i].rgb & 0xFFFFFFu : tab10[i % 10];
        draw_series(&c, &F, &clip, &s[i], col[i]);
    }
    draw_spines(&c, &F, &tk[0], &tk[1]);
    draw_legend(&c, &F, &cv, s, ns, col);
    double cxm = (F.ax0 + F.ax1 + 1) / 2.0, cym = (F.ay0 + F.ay1 + 1) / 2.0;
    if (font && o.title && *o.title) {
        double fs = F.fs_title, tw = text_w(&F, o.title, fs);
        if (tw > W - 2 * F.margin) fs = fmax(6, fs * (W - 2 * F.margin) / tw);
        tw = text_w(&F, o.title, fs);
        double x = fmin(fmax(cxm, F.margin + tw / 2), W - F.margin - tw / 2);
        bg_canvas_text(&c, font, o.title, fs, x, F.ay0 - F.titlepad - (text_h(&F, fs) - ascent(&F, fs)), 0.5,
                       0);
    }
    double xb =
        F.ay1 + F.thick + F.ticklen + F.tickpad + text_h(&F, F.fs_tick) + F.labelpad + ascent(&F, F.fs_tick);
    bg_canvas_text(&c, font, o.xlabel, F.fs_tick, cxm, xb, 0.5, 0);
    bg_canvas_text(&c, font, o.ylabel, F.fs_tick, F.margin + ascent(&F, F.fs_tick), cym, 0.5, 1);
    if (!font)
        seterr(err, errlen, "plot: drew the chart without text: %s", fwarn);
    else if (fwarn[0])
        seterr(err, errlen, "plot: %s", fwarn);
    else if (err && errlen)
        err[0] = '\0';
    bg_font_free(font);
    free(cv.a), free(col), free(tk);
    *w = W, *h = H;
    return c.px;
fail:
    bg_font_free(font);
    free(c.px), free(cv.a), free(col), free(tk);
    return NULL;
}

typedef struct {
    FILE *fp;
    int bad;
} sink;

static void sink_write(void *ctx, void *data, int size) {
    sink *k = ctx;
    if (!k->bad && size > 0 && fwrite(data, 1, (size_t)size, k->fp) != (size_t)size) k->bad = 1;
}

int bg_plot_png(const char *path, const bg_plot_opts *o, const bg_series *s, size_t n_series, char *err,
                size_t errlen) {
    if (!path || !*path) {
        seterr(err, errlen, "plot: no output path given");
        return -1;
    }
    int w = 0, h = 0;
    unsigned char *px = bg_plot_rgb(o, s, n_series, &w, &h, err, errlen);
    if (!px) return -1;
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) {
        free(px);
        seterr(err, errlen, "plot: out of memory writing '%s'", path);
        return -1;
    }
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        seterr(err, errlen, "plot: cannot create '%s': %s", tmp, strerror(errno));
        free(tmp), free(px);
        return -1;
    }
    (void)fchmod(fd, 0644);
    sink k = {fdopen(fd, "wb"), 0};
    if (!k.fp) {
        int e = errno;
        close(fd), unlink(tmp);
        seterr(err, errlen, "plot: cannot open '%s': %s", tmp, strerror(e));
        free(tmp), free(px);
        return -1;
    }
    int ok = stbi_write_png_to_func(sink_write, &k, w, h, 3, px, w * 3);
    int e = k.bad ? errno : 0;
    if (fflush(k.fp) != 0 && !e) e = errno;
    if (fclose(k.fp) != 0 && !e) e = errno;
    free(px);
    if (!ok || k.bad || e) {
        seterr(err, errlen, "plot: cannot write '%s': %s", tmp, e ? strerror(e) : "PNG encoder failed");
        unlink(tmp), free(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        seterr(err, errlen, "plot: cannot rename '%s' to '%s': %s", tmp, path, strerror(e));
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
