/* font.c - TrueType text rendering for the loss plot, via stb_truetype. */
#include "examples/babygpt/plot.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STB_TRUETYPE_IMPLEMENTATION
#define STBTT_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wcast-qual"
#include <stb/stb_truetype.h>
#pragma GCC diagnostic pop

#define FONT_MAX_BYTES (64L << 20)
#define TEXT_MAX_GLYPHS 2000 /* longer text is cut, keeping masks bounded */

struct bg_font {
    unsigned char *data;
    long size;
    stbtt_fontinfo info;
    char *path;
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b) {
    if (!err || errlen == 0) return;
    snprintf(err, errlen, fmt, a, b);
}

bg_font *bg_font_load(const char *path, char *err, size_t errlen) {
    if (!path || !*path) {
        set_err(err, errlen, "font: %s%s", "no font path given", "");
        return NULL;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        set_err(err, errlen, "font: cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    long size = -1;
    if (fseek(fp, 0, SEEK_END) == 0) size = ftell(fp);
    if (size < 12 || size > FONT_MAX_BYTES || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        set_err(err, errlen, "font: '%s': %s", path,
                size < 0 ? "cannot determine size" : "implausible size for a font file");
        return NULL;
    }
    bg_font *f = calloc(1, sizeof *f);
    unsigned char *data = malloc((size_t)size);
    char *p = malloc(strlen(path) + 1);
    if (!f || !data || !p) {
        fclose(fp);
        free(f), free(data), free(p);
        set_err(err, errlen, "font: '%s': %s", path, "out of memory");
        return NULL;
    }
    size_t got = fread(data, 1, (size_t)size, fp);
    fclose(fp);
    f->data = data, f->size = size, f->path = strcpy(p, path);
    if (got != (size_t)size) {
        bg_font_free(f);
        set_err(err, errlen, "font: '%s': %s", path, "short read");
        return NULL;
    }
    /* sfnt version: TrueType 1.0, 'true', 'OTTO' (CFF) or a 'ttcf' collection. */
    uint32_t tag = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 |
                   (uint32_t)data[3];
    int known = tag == 0x00010000u || tag == 0x74727565u || tag == 0x4F54544Fu ||
                tag == 0x74746366u;
    int off = known ? stbtt_GetFontOffsetForIndex(data, 0) : -1;
    if (off < 0 || off >= size - 12 || !stbtt_InitFont(&f->info, data, off)) {
        bg_font_free(f);
        set_err(err, errlen, "font: '%s': %s", path, "not a TrueType/OpenType font");
        return NULL;
    }
    if (err && errlen) err[0] = '\0';
    return f;
}

bg_font *bg_font_load_default(char *err, size_t errlen) {
    static const char *paths[] = {
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
        "/usr/local/share/fonts/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
        "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
        "/usr/share/fonts/noto/NotoSans-Regular.ttf",
        "/Library/Fonts/Arial.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
    };
    char envmsg[512] = "";
    const char *env = getenv("NABLA_FONT");
    if (env && strcmp(env, "none") == 0) {
        set_err(err, errlen, "font: text disabled (NABLA_FONT=none)%s%s", "", "");
        return NULL;
    }
    if (env && *env) {
        bg_font *f = bg_font_load(env, envmsg, sizeof envmsg);
        if (f) {
            if (err && errlen) err[0] = '\0';
            return f;
        }
    }
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        bg_font *f = bg_font_load(paths[i], NULL, 0);
        if (f) {
            if (envmsg[0])
                set_err(err, errlen, "%s (NABLA_FONT); using %s instead", envmsg, paths[i]);
            else if (err && errlen)
                err[0] = '\0';
            return f;
        }
    }
    if (envmsg[0])
        set_err(err, errlen, "%s (NABLA_FONT); no system font found either%s", envmsg, "");
    else
        set_err(err, errlen, "font: no usable font (set NABLA_FONT or install %s)%s",
                "fonts-dejavu-core", "");
    return NULL;
}

void bg_font_free(bg_font *f) {
    if (!f) return;
    free(f->data);
    free(f->path);
    free(f);
}

const char *bg_font_path(const bg_font *f) { return f ? f->path : NULL; }

static float font_scale(const bg_font *f, double px) {
    return stbtt_ScaleForMappingEmToPixels(&f->info, (float)px);
}

void bg_font_vmetrics(const bg_font *f, double px, double *ascent, double *descent) {
    int a = 0, d = 0, gap = 0;
    if (f) stbtt_GetFontVMetrics(&f->info, &a, &d, &gap);
    double sc = f ? font_scale(f, px) : 0.0;
    if (ascent) *ascent = a * sc;
    if (descent) *descent = d * sc;
}

/* Decodes one UTF-8 code point from *s and advances it; bad bytes give U+FFFD. */
static int utf8_next(const unsigned char **s) {
    const unsigned char *p = *s;
    int c = p[0], n = 0, cp;
    if (c < 0x80) {
        *s = p + 1;
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF) n = 1, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 2, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 3, cp = c & 0x07;
    else {
        *s = p + 1;
        return 0xFFFD;
    }
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *s = p + i;
            return 0xFFFD;
        }
        cp = cp << 6 | (p[i] & 0x3F);
    }
    *s = p + n + 1;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return 0xFFFD;
    return cp;
}

/* Glyph for a code point; unknown ones fall back to U+FFFD, then '?'. */
static int glyph_of(const bg_font *f, int cp) {
    int g = stbtt_FindGlyphIndex(&f->info, cp);
    if (g == 0 && cp != 0xFFFD && cp >= 0x20) g = stbtt_FindGlyphIndex(&f->info, 0xFFFD);
    if (g == 0 && cp >= 0x20) g = stbtt_FindGlyphIndex(&f->info, '?');
    return g;
}

/* Walks the text; calls fn for each printable glyph with its pen position. */
typedef void (*glyph_fn)(const bg_font *f, int g, double pen, float sc, void *ctx);

static double layout(const bg_font *f, const char *s, double px, glyph_fn fn, void *ctx) {
    if (!f || !s) return 0.0;
    float sc = font_scale(f, px);
    const unsigned char *p = (const unsigned char *)s;
    double pen = 0.0;
    int prev = -1, count = 0;
    while (*p && count++ < TEXT_MAX_GLYPHS) {
        int cp = utf8_next(&p);
        if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) continue; /* control chars */
        int g = glyph_of(f, cp);
        if (prev >= 0) pen += sc * stbtt_GetGlyphKernAdvance(&f->info, prev, g);
        if (fn) fn(f, g, pen, sc, ctx);
        int adv = 0, lsb = 0;
        stbtt_GetGlyphHMetrics(&f->info, g, &adv, &lsb);
        pen += sc * adv;
        prev = g;
    }
    return pen;
}

double bg_text_width(const bg_font *f, const char *s, double px) {
    return layout(f, s, px, NULL, NULL);
}

typedef struct {
    int x0, x1, y0, y1; /* ink bounds relative to pen origin / baseline */
    int any;
    bg_text_mask *m;
    unsigned char *tmp;
    size_t tmpcap;
    int oom;
} text_ctx;

static void glyph_box(const bg_font *f, int g, double pen, float sc, int *x0, int *y0, int *x1,
                      int *y1) {
    double ipen = floor(pen);
    stbtt_GetGlyphBitmapBoxSubpixel(&f->info, g, sc, sc, (float)(pen - ipen), 0.0f, x0, y0, x1, y1);
    *x0 += (int)ipen, *x1 += (int)ipen;
}

static void measure_fn(const bg_font *f, int g, double pen, float sc, void *ctx) {
    text_ctx *t = ctx;
    int x0, y0, x1, y1;
    glyph_box(f, g, pen, sc, &x0, &y0, &x1, &y1);
    if (x1 <= x0 || y1 <= y0) return;
    if (!t->any || x0 < t->x0) t->x0 = x0;
    if (!t->any || y0 < t->y0) t->y0 = y0;
    if (!t->any || x1 > t->x1) t->x1 = x1;
    if (!t->any || y1 > t->y1) t->y1 = y1;
    t->any = 1;
}

static void draw_fn(const bg_font *f, int g, double pen, float sc, void *ctx) {
    text_ctx *t = ctx;
    int x0, y0, x1, y1;
    glyph_box(f, g, pen, sc, &x0, &y0, &x1, &y1);
    int gw = x1 - x0, gh = y1 - y0;
    if (gw <= 0 || gh <= 0 || t->oom) return;
    size_t need = (size_t)gw * (size_t)gh;
    if (need > t->tmpcap) {
        unsigned char *n = realloc(t->tmp, need);
        if (!n) {
            t->oom = 1;
            return;
        }
        t->tmp = n, t->tmpcap = need;
    }
    double ipen = floor(pen);
    stbtt_MakeGlyphBitmapSubpixel(&f->info, t->tmp, gw, gh, gw, sc, sc, (float)(pen - ipen), 0.0f,
                                  g);
    bg_text_mask *m = t->m;
    for (int y = 0; y < gh; y++) {
        int my = m->baseline + y0 + y;
        if (my < 0 || my >= m->h) continue;
        for (int x = 0; x < gw; x++) {
            int mx = m->ox + x0 + x;
            if (mx < 0 || mx >= m->w) continue;
            int v = m->a[(size_t)my * (size_t)m->w + (size_t)mx] + t->tmp[(size_t)y * gw + x];
            m->a[(size_t)my * (size_t)m->w + (size_t)mx] = (unsigned char)(v > 255 ? 255 : v);
        }
    }
}

int bg_text_render(const bg_font *f, const char *s, double px, bg_text_mask *m) {
    if (!m) return -1;
    memset(m, 0, sizeof *m);
    if (!f || !s || !(px > 0.5 && px < 2000.0)) return -1;
    text_ctx t = {0};
    m->advance = layout(f, s, px, measure_fn, &t);
    if (!t.any) return 0;
    double asc = 0, desc = 0;
    bg_font_vmetrics(f, px, &asc, &desc);
    /* Rows span the font's full ascent..descent so masks of one size align. */
    int top = (int)ceil(asc), bot = (int)ceil(-desc);
    if (-t.y0 > top) top = -t.y0;
    if (t.y1 > bot) bot = t.y1;
    int left = t.x0 < 0 ? -t.x0 : 0;
    int right = t.x1 > (int)ceil(m->advance) ? t.x1 : (int)ceil(m->advance);
    m->w = left + right + 1;
    m->h = top + bot + 1;
    m->ox = left;
    m->baseline = top;
    m->a = calloc((size_t)m->w * (size_t)m->h, 1);
    if (!m->a) {
        memset(m, 0, sizeof *m);
        return -1;
    }
    t.m = m;
    layout(f, s, px, draw_fn, &t);
    free(t.tmp);
    if (t.oom) {
        free(m->a);
        memset(m, 0, sizeof *m);
        return -1;
    }
    return 0;
}

/* Blends one coverage value of color rgb into pixel (x, y) of an RGB image. */
static void put_px(unsigned char *img, int w, int h, int x, int y, unsigned rgb, double a) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    unsigned char *p = img + ((size_t)y * (size_t)w + (size_t)x) * 3;
    for (int k = 0; k < 3; k++) {
        double v = (rgb >> (16 - 8 * k)) & 0xFF;
        p[k] = (unsigned char)lround(p[k] + (v - p[k]) * a);
    }
}

int bg_text_draw(const bg_font *f, const char *s, double px, unsigned char *img, int w, int h,
                 double x, double y, double align, int rot, unsigned rgb) {
    bg_text_mask m;
    if (!img || w <= 0 || h <= 0) return -1;
    if (!s || !*s) return 0;
    if (bg_text_render(f, s, px, &m) != 0) return -1;
    if (!m.a) return 0;
    /* Pen origin, rounded to whole pixels so that stems stay crisp. */
    int ox = (int)lround(rot ? x : x - align * m.advance);
    int oy = (int)lround(rot ? y + align * m.advance : y);
    for (int my = 0; my < m.h; my++)
        for (int mx = 0; mx < m.w; mx++) {
            unsigned char v = m.a[(size_t)my * (size_t)m.w + (size_t)mx];
            if (!v) continue;
            double a = pow(v / 255.0, 0.85); /* a touch darker, like hinted text */
            if (rot)
                put_px(img, w, h, ox + (my - m.baseline), oy - (mx - m.ox), rgb, a);
            else
                put_px(img, w, h, ox + (mx - m.ox), oy + (my - m.baseline), rgb, a);
        }
    free(m.a);
    return 0;
}
