/* plot.h - Baby GPT's loss plot: a matplotlib-like line chart written as PNG.
 *
 * bg_plot_png() draws one or more (x, y) series as anti-aliased lines with
 * axes, "nice" 1-2-2.5-5 tick values, a light grid, tick labels, axis labels
 * (the y label rotated), a title and a legend in the upper right, then writes
 * the image atomically (temp file + rename) with stb_image_write.
 *
 * Text is drawn with stb_truetype from a TrueType font: $NABLA_FONT if set
 * ("none" turns text off), else DejaVu Sans (fonts-dejavu-core) or another
 * common system font.  With no usable font the chart is still drawn, without
 * text, and a warning is left in the caller's error buffer; the call succeeds.
 *
 * The chart is drawn in plot.c (layout), plot_canvas.c (drawing primitives) and
 * plot_ticks.c (tick values), which share plot_internal.h.  The text rendering
 * helpers (font.c) are declared at the end of this file. */
#ifndef BG_PLOT_H
#define BG_PLOT_H

#include <stddef.h>

/* One line on the chart.  x may be NULL (then x[i] = i); y holds n values.
 * NaN / Inf points (and y <= 0 on a log axis) are skipped, breaking the line.
 * rgb is 0xRRGGBB; 0 picks the next matplotlib default color (tab:blue,
 * tab:orange, tab:green, ...).  label NULL or "" leaves it out of the legend.
 * Series with at most 60 finite points also get round markers. */
typedef struct {
    const char *label;
    const double *x;
    const double *y;
    size_t n;
    unsigned rgb;
} bg_series;

/* Chart options; every 0/NULL field takes its default: width 960, height
 * 600, title none, xlabel "step", ylabel "loss", linear y axis.  log_y != 0
 * draws the y axis on a log10 scale. */
typedef struct {
    const char *title, *xlabel, *ylabel;
    int width, height;
    int log_y;
} bg_plot_opts;

/* Renders the series into a PNG at path (written to a temp file in the same
 * folder, then renamed over path).  o may be NULL for all defaults.
 * Returns 0 on success, with err set to "" or to a warning (e.g. no font found,
 * so no text); returns -1 on bad arguments or I/O failure with one message in
 * err (naming the path).  err may be NULL / errlen 0.  Sizes: 160..8192 px. */
int bg_plot_png(const char *path, const bg_plot_opts *o, const bg_series *s, size_t n_series, char *err,
                size_t errlen);

/* Renders the same chart into a newly malloc'd RGB buffer (w*h*3 bytes, row
 * major, caller frees) instead of a file; *w, *h receive the size.  Returns
 * NULL on error with a message in err; warnings as for bg_plot_png. */
unsigned char *bg_plot_rgb(const bg_plot_opts *o, const bg_series *s, size_t n_series, int *w, int *h,
                           char *err, size_t errlen);

/* ---- Text rendering (font.c) ------------------------------------------ */

/* A loaded TrueType font (opaque). */
typedef struct bg_font bg_font;

/* An 8-bit coverage mask of rendered text.  The pen starts at column ox on
 * row baseline; advance is the pen's travel in pixels.  a is malloc'd. */
typedef struct {
    unsigned char *a;
    int w, h;
    int ox, baseline;
    double advance;
} bg_text_mask;

/* Loads a TrueType/OpenType font file.  Returns a new font (free with
 * bg_font_free), or NULL with a message naming the file in err. */
bg_font *bg_font_load(const char *path, char *err, size_t errlen);

/* Loads $NABLA_FONT if set, else the first of DejaVu Sans and a few other
 * common system fonts that loads.  Returns NULL with a message in err if none
 * does (or if NABLA_FONT=none, which turns text off); if $NABLA_FONT is set but
 * unusable and a fallback loads, the font is returned and err holds a warning
 * (else err is set to ""). */
bg_font *bg_font_load_default(char *err, size_t errlen);

/* Frees a font from bg_font_load*; NULL is a no-op. */
void bg_font_free(bg_font *f);

/* The file the font was loaded from (owned by the font). */
const char *bg_font_path(const bg_font *f);

/* Ascent (> 0) and descent (< 0) in pixels for a font size of px pixels per em. */
void bg_font_vmetrics(const bg_font *f, double px, double *ascent, double *descent);

/* Advance width in pixels of UTF-8 text s at px pixels per em (invalid bytes
 * count as U+FFFD).  Returns 0 for NULL/empty input. */
double bg_text_width(const bg_font *f, const char *s, double px);

/* Renders UTF-8 text s at px pixels per em into *m (anti-aliased, subpixel
 * positioned, kerned).  Returns 0 (m->a NULL and w 0 for empty text) or -1 on
 * out-of-memory / bad arguments.  The caller frees m->a. */
int bg_text_render(const bg_font *f, const char *s, double px, bg_text_mask *m);

/* Draws UTF-8 text s at px pixels per em in color rgb (0xRRGGBB) onto an RGB
 * image (w*h*3 bytes, clipped).  rot == 0: baseline at y, the advance aligned
 * at x by align (0 left, 0.5 centered, 1 right).  rot != 0: turned 90 degrees
 * counter-clockwise (reads bottom to top), baseline on column x, aligned at y.
 * Returns 0, or -1 on bad arguments / out of memory (nothing drawn). */
int bg_text_draw(const bg_font *f, const char *s, double px, unsigned char *img, int w, int h, double x,
                 double y, double align, int rot, unsigned rgb);

#endif
