/* plot_canvas.c - the loss plot's drawing primitives: blending into an RGB canvas, filled
 * rectangles, text, anti-aliased coverage for lines and discs, and the legend's rounded frame. */
#include "examples/babygpt/plot_internal.h"

#include <math.h>
#include <stddef.h>

/* ---- canvas ------------------------------------------------------------ */

static void blend(bg_canvas *c, int x, int y, unsigned rgb, double a) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || !(a > 0)) return;
    if (a > 1) a = 1;
    unsigned char *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    for (int k = 0; k < 3; k++) {
        double v = (rgb >> (16 - 8 * k)) & 0xFF;
        p[k] = (unsigned char)lround(p[k] + (v - p[k]) * a);
    }
}

void bg_canvas_fill(bg_canvas *c, int x0, int y0, int x1, int y1, unsigned rgb, double a) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            blend(c, x, y, rgb, a);
}

void bg_canvas_text(bg_canvas *c, const bg_font *f, const char *s, double px, double x, double y,
                    double align, int rot) {
    if (f) bg_text_draw(f, s, px, c->px, c->w, c->h, x, y, align, rot, 0x000000);
}

/* ---- anti-aliased coverage (lines, discs, rounded boxes) ---------------- */

static void cov_put(bg_cover *cv, int x, int y, double a) {
    if (x < 0 || y < 0 || x >= cv->w || y >= cv->h || !(a > 0)) return;
    float *p = cv->a + (size_t)y * (size_t)cv->w + (size_t)x;
    if (a > *p) *p = (float)(a > 1 ? 1 : a);
}

/* A round-capped segment of half-width hw (canvas coordinates, pixel centers at +.5). */
void bg_cover_segment(bg_cover *cv, double x0, double y0, double x1, double y1, double hw) {
    x0 -= cv->x0, x1 -= cv->x0, y0 -= cv->y0, y1 -= cv->y0;
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    int ix0 = (int)floor(fmin(x0, x1) - hw - 1), ix1 = (int)ceil(fmax(x0, x1) + hw + 1);
    int iy0 = (int)floor(fmin(y0, y1) - hw - 1), iy1 = (int)ceil(fmax(y0, y1) + hw + 1);
    if (ix0 < 0) ix0 = 0;
    if (iy0 < 0) iy0 = 0;
    if (ix1 >= cv->w) ix1 = cv->w - 1;
    if (iy1 >= cv->h) iy1 = cv->h - 1;
    for (int y = iy0; y <= iy1; y++)
        for (int x = ix0; x <= ix1; x++) {
            double px = x + 0.5 - x0, py = y + 0.5 - y0;
            double t = len2 > 0 ? (px * dx + py * dy) / len2 : 0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double ex = px - t * dx, ey = py - t * dy;
            cov_put(cv, x, y, hw + 0.5 - sqrt(ex * ex + ey * ey));
        }
}

void bg_cover_disc(bg_cover *cv, double cx, double cy, double r) { bg_cover_segment(cv, cx, cy, cx, cy, r); }

void bg_cover_composite(bg_canvas *c, bg_cover *cv, unsigned rgb, double alpha) {
    for (int y = 0; y < cv->h; y++)
        for (int x = 0; x < cv->w; x++) {
            float *p = cv->a + (size_t)y * (size_t)cv->w + (size_t)x;
            if (*p > 0) blend(c, cv->x0 + x, cv->y0 + y, rgb, *p * alpha);
            *p = 0;
        }
}

/* Signed distance from (px, py) to a rounded box (negative inside). */
static double rbox_dist(double px, double py, double x0, double y0, double x1, double y1, double r) {
    double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    double qx = fabs(px - cx) - ((x1 - x0) / 2 - r), qy = fabs(py - cy) - ((y1 - y0) / 2 - r);
    double ox = fmax(qx, 0), oy = fmax(qy, 0);
    return sqrt(ox * ox + oy * oy) + fmin(fmax(qx, qy), 0) - r;
}

/* Legend frame: white fill at 80% and a 1px light-gray edge, rounded. */
void bg_canvas_frame(bg_canvas *c, double x0, double y0, double x1, double y1, double r) {
    for (int y = (int)floor(y0) - 1; y <= (int)ceil(y1) + 1; y++)
        for (int x = (int)floor(x0) - 1; x <= (int)ceil(x1) + 1; x++) {
            double d = rbox_dist(x + 0.5, y + 0.5, x0, y0, x1, y1, r);
            double fill = fmin(fmax(0.5 - d, 0), 1), edge = fmin(fmax(1 - fabs(d + 0.5), 0), 1);
            blend(c, x, y, 0xffffff, 0.8 * fill);
            blend(c, x, y, 0xcccccc, edge);
        }
}
