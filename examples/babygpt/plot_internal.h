/* plot_internal.h - internal: what the loss plot's files share.
 *
 * plot.c lays the chart out and draws it (bg_plot_rgb, bg_plot_png); it draws with the canvas
 * and coverage primitives of plot_canvas.c and places its axis ticks with plot_ticks.c. Text
 * goes through font.c (declared in plot.h). */
#ifndef BG_PLOT_INTERNAL_H
#define BG_PLOT_INTERNAL_H

#include "examples/babygpt/plot.h"

#define BG_MAX_TICKS 64

/* ---- canvas and coverage (plot_canvas.c) ------------------------------- */

/* An RGB image, w*h*3 bytes, row major. */
typedef struct {
    unsigned char *px;
    int w, h;
} bg_canvas;

/* A float coverage buffer (0..1 per pixel) that shapes are drawn into, then composited. */
typedef struct {
    float *a;
    int x0, y0, w, h; /* canvas position of the coverage buffer */
} bg_cover;

/* Blends rgb at opacity a over the pixels x0..x1, y0..y1 (inclusive, clipped). */
void bg_canvas_fill(bg_canvas *c, int x0, int y0, int x1, int y1, unsigned rgb, double a);

/* Draws black text s as bg_text_draw does; a NULL font draws nothing. */
void bg_canvas_text(bg_canvas *c, const bg_font *f, const char *s, double px, double x, double y,
                    double align, int rot);

/* Legend frame: white fill at 80% and a 1px light-gray edge, rounded with radius r. */
void bg_canvas_frame(bg_canvas *c, double x0, double y0, double x1, double y1, double r);

/* A round-capped segment of half-width hw (canvas coordinates, pixel centers at +.5). */
void bg_cover_segment(bg_cover *cv, double x0, double y0, double x1, double y1, double hw);

/* A disc of radius r centered on (cx, cy). */
void bg_cover_disc(bg_cover *cv, double cx, double cy, double r);

/* Blends rgb over the canvas by the coverage (times alpha), then clears the coverage. */
void bg_cover_composite(bg_canvas *c, bg_cover *cv, unsigned rgb, double alpha);

/* ---- axis ticks (plot_ticks.c) ----------------------------------------- */

typedef struct {
    double v[BG_MAX_TICKS]; /* tick values (data units) */
    double pos[BG_MAX_TICKS];
    char lab[BG_MAX_TICKS][32];
    int n;
} bg_ticks;

/* matplotlib's MaxNLocator: at most nbins+1 ticks at multiples of 1/2/2.5/5 x 10^k, with
 * their labels (pos is left to the caller). */
void bg_ticks_linear(bg_ticks *t, double lo, double hi, int nbins);

/* Log axis ticks; lo/hi are log10 limits, values are stored as log10 too. */
void bg_ticks_log(bg_ticks *t, double lo, double hi, int nbins);

#endif
