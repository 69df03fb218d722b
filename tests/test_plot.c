/* test_plot.c - the Baby GPT loss plot: PNG output, colors, text, edge cases. */
#include "tests/nb_check.h"

#include "examples/babygpt/plot.h"

#include <dirent.h>
#include <math.h>
#include <unistd.h>

/* Static, so it cannot clash with an stb_image elsewhere in libbabygpt.a; GCC
 * reports one of its unused static declarations at the end of the file, so
 * -Wunused-function stays off for this whole test program. */
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wpedantic"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

#define BLUE 0x1f77b4u
#define ORANGE 0xff7f0eu

static char tmpdir[256];

static void setup(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nb_plot_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) {
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char p[600];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
                unlink(p);
                rmdir(p);
            }
        closedir(d);
    }
    rmdir(tmpdir);
}

static void tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

typedef struct {
    unsigned char *px;
    int w, h;
    int x0, y0, x1, y1; /* axes box (spines), found from the image */
} image;

static int is_color(const image *im, int x, int y, unsigned rgb, int tol) {
    const unsigned char *p = im->px + ((size_t)y * im->w + x) * 3;
    for (int k = 0; k < 3; k++)
        if (abs((int)p[k] - (int)((rgb >> (16 - 8 * k)) & 0xFF)) > tol) return 0;
    return 1;
}

static int is_dark(const image *im, int x, int y) {
    const unsigned char *p = im->px + ((size_t)y * im->w + x) * 3;
    return p[0] < 110 && p[1] < 110 && p[2] < 110;
}

/* Loads a PNG and finds the axes box: the outermost rows / columns that are
 * black for more than half the image. */
static void load_image(const char *path, image *im) {
    int comp = 0;
    memset(im, 0, sizeof *im);
    im->px = stbi_load(path, &im->w, &im->h, &comp, 3);
    ck_assert_msg(im->px != NULL, "cannot read back %s: %s", path, stbi_failure_reason());
    im->x0 = im->y0 = -1;
    for (int x = 0; x < im->w; x++) {
        int n = 0;
        for (int y = 0; y < im->h; y++) n += is_color(im, x, y, 0, 10);
        if (n > im->h / 2) {
            if (im->x0 < 0) im->x0 = x;
            im->x1 = x;
        }
    }
    for (int y = 0; y < im->h; y++) {
        int n = 0;
        for (int x = 0; x < im->w; x++) n += is_color(im, x, y, 0, 10);
        if (n > im->w / 2) {
            if (im->y0 < 0) im->y0 = y;
            im->y1 = y;
        }
    }
}

/* Pixels of a color inside the axes box in columns xa..xb, skipping the upper
 * right corner where the legend goes; optional mean row of them. */
static int count_inside(const image *im, unsigned rgb, int xa, int xb, double *mean_y) {
    int n = 0;
    double sy = 0;
    int lx = im->x1 - (im->x1 - im->x0) / 3, ly = im->y0 + (im->y1 - im->y0) / 4;
    for (int y = im->y0 + 1; y < im->y1; y++)
        for (int x = xa; x <= xb && x < (y < ly ? lx : im->x1); x++)
            if (is_color(im, x, y, rgb, 8)) n++, sy += y;
    if (mean_y) *mean_y = n ? sy / n : -1;
    return n;
}

static int count_outside(const image *im, unsigned rgb) {
    int n = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++)
            if ((x < im->x0 || x > im->x1 || y < im->y0 || y > im->y1) &&
                is_color(im, x, y, rgb, 8))
                n++;
    return n;
}

static void check_valid_png(const char *path, int w, int h) {
    image im;
    load_image(path, &im);
    ck_assert_int_eq(im.w, w);
    ck_assert_int_eq(im.h, h);
    ck_assert_msg(im.x0 >= 0 && im.y0 >= 0 && im.x1 > im.x0 + 100 && im.y1 > im.y0 + 100,
                  "no axes box found in %s", path);
    stbi_image_free(im.px);
}

/* A loss-like curve: 10.8 falling to ~2 with deterministic noise. */
static void loss_curve(double *x, double *y, size_t n, double x_step, double noise) {
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)i * x_step;
        y[i] = 2.0 + 8.8 * exp(-(double)i / (n / 6.0)) + noise * sin((double)i * 12.9898);
    }
}

START_TEST(two_series_png) {
    enum { N = 2000, NV = 9 };
    static double x[N], y[N], vx[NV], vy[NV];
    loss_curve(x, y, N, 1.0, 0.15);
    for (int j = 0; j < NV; j++) vx[j] = j * 250.0, vy[j] = 2.3 + 8.5 * exp(-vx[j] / 333.0);
    bg_series s[2] = {{"train", x, y, N, 0}, {"val", vx, vy, NV, 0}};
    bg_plot_opts o = {"Baby GPT d_model=64 n_layer=2", NULL, NULL, 800, 500, 0};
    char path[512], err[256] = "x";
    tmp_path(path, sizeof path, "loss.png");
    ck_assert_int_eq(bg_plot_png(path, &o, s, 2, err, sizeof err), 0);
    ck_assert_int_eq(count_entries(tmpdir), 1); /* the temp file was renamed */
    image im;
    load_image(path, &im);
    ck_assert_int_eq(im.w, 800);
    ck_assert_int_eq(im.h, 500);
    ck_assert_msg(im.x0 > 20 && im.x1 < 800 - 5 && im.y0 > 5 && im.y1 < 500 - 20,
                  "axes box %d,%d-%d,%d leaves no room for labels", im.x0, im.y0, im.x1, im.y1);
    int third = (im.x1 - im.x0) / 3;
    double y_left, y_right;
    ck_assert_int_gt(count_inside(&im, BLUE, im.x0 + 1, im.x0 + third, &y_left), 200);
    ck_assert_int_gt(count_inside(&im, BLUE, im.x1 - third, im.x1 - 1, &y_right), 200);
    ck_assert_msg(y_left < y_right, "falling loss should be drawn higher on the left");
    ck_assert_int_gt(count_inside(&im, ORANGE, im.x0 + 1, im.x1 - 1, NULL), 100);
    ck_assert_int_eq(count_outside(&im, BLUE), 0); /* clipped to the axes */
    ck_assert_int_eq(count_outside(&im, ORANGE), 0);
    /* Anti-aliasing: intermediate shades of blue next to full blue. */
    int partial = 0;
    for (int yy = im.y0 + 1; yy < im.y1; yy++)
        for (int xx = im.x0 + 1; xx < im.x1; xx++) {
            const unsigned char *p = im.px + ((size_t)yy * im.w + xx) * 3;
            double a = (255.0 - p[0]) / (255.0 - 0x1f); /* coverage, from red */
            partial += a > 0.2 && a < 0.8 && fabs(255 - (255 - 0x77) * a - p[1]) < 4 &&
                       fabs(255 - (255 - 0xb4) * a - p[2]) < 4;
        }
    ck_assert_int_gt(partial, 50);
    if (err[0] == '\0') { /* a font was found: text above the axes and below it */
        int title = 0, below = 0, left = 0;
        for (int yy = 0; yy < im.y0 - 2; yy++)
            for (int xx = 0; xx < im.w; xx++) title += is_dark(&im, xx, yy);
        for (int yy = im.y1 + 3; yy < im.h; yy++)
            for (int xx = 0; xx < im.w; xx++) below += is_dark(&im, xx, yy);
        for (int yy = 0; yy < im.h; yy++)
            for (int xx = 0; xx < im.x0 - 2; xx++) left += is_dark(&im, xx, yy);
        ck_assert_int_gt(title, 100);
        ck_assert_int_gt(below, 100);
        ck_assert_int_gt(left, 60);
    }
    stbi_image_free(im.px);
}
END_TEST

START_TEST(flat_series_is_thin_band) {
    enum { N = 100 };
    double x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = 1000 + 10 * i, y[i] = 3.0;
    bg_series s = {NULL, x, y, N, 0x2ca02c}; /* no label: no legend */
    char path[512], err[256];
    tmp_path(path, sizeof path, "flat.png");
    ck_assert_int_eq(bg_plot_png(path, NULL, &s, 1, err, sizeof err), 0);
    image im;
    load_image(path, &im);
    ck_assert_int_eq(im.w, 960);
    ck_assert_int_eq(im.h, 600);
    int ymin = im.h, ymax = -1, n = 0;
    for (int yy = im.y0 + 1; yy < im.y1; yy++)
        for (int xx = im.x0 + 1; xx < im.x1; xx++)
            if (is_color(&im, xx, yy, 0x2ca02c, 8)) {
                n++;
                if (yy < ymin) ymin = yy;
                if (yy > ymax) ymax = yy;
            }
    ck_assert_int_gt(n, (im.x1 - im.x0) / 2);
    ck_assert_int_le(ymax - ymin, 3);
    double mid = (im.y0 + im.y1) / 2.0; /* a flat line sits in the middle */
    ck_assert_msg(fabs((ymin + ymax) / 2.0 - mid) < 3, "flat line at %d..%d, mid %.1f", ymin,
                  ymax, mid);
    ck_assert_int_eq(count_inside(&im, BLUE, im.x0 + 1, im.x1 - 1, NULL), 0);
    stbi_image_free(im.px);
}
END_TEST

START_TEST(edge_cases_make_valid_files) {
    double one_x[1] = {7}, one_y[1] = {2.5};
    double nan_x[6] = {0, 1, 2, 3, 4, 5};
    double nan_y[6] = {5, NAN, 4, INFINITY, 3, -INFINITY};
    double all_nan[3] = {NAN, NAN, NAN};
    double big_x[3] = {100000, 250000, 400000}, big_y[3] = {1e-5, 3e-5, 2e-5};
    double neg_y[4] = {-1, 0, 2, 10};
    struct {
        const char *name;
        bg_series s;
        int log_y, blue_min;
    } cases[] = {
        {"one.png", {"one", one_x, one_y, 1, 0}, 0, 5},
        {"nan.png", {"nan", nan_x, nan_y, 6, 0}, 0, 5},
        {"allnan.png", {"allnan", nan_x, all_nan, 3, 0}, 0, 0},
        {"empty.png", {"empty", NULL, NULL, 0, 0}, 0, 0},
        {"big.png", {"big", big_x, big_y, 3, 0}, 0, 20},
        {"xnull.png", {"idx", NULL, one_y, 1, 0}, 0, 5},
        {"logneg.png", {"logneg", nan_x, neg_y, 4, 0}, 1, 20},
        {"logone.png", {"logone", one_x, one_y, 1, 0}, 1, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[512], err[256];
        tmp_path(path, sizeof path, cases[i].name);
        bg_plot_opts o = {cases[i].name, "x", "y", 640, 400, cases[i].log_y};
        ck_assert_msg(bg_plot_png(path, &o, &cases[i].s, 1, err, sizeof err) == 0, "%s: %s",
                      cases[i].name, err);
        image im;
        load_image(path, &im);
        ck_assert_int_eq(im.w, 640);
        ck_assert_int_eq(im.h, 400);
        ck_assert_msg(im.x0 >= 0 && im.x1 > im.x0 + 100, "%s: no axes", cases[i].name);
        int blue = count_inside(&im, BLUE, im.x0 + 1, im.x1 - 1, NULL);
        ck_assert_msg(blue >= cases[i].blue_min, "%s: %d blue pixels", cases[i].name, blue);
        if (cases[i].blue_min == 0) ck_assert_int_eq(blue, 0);
        stbi_image_free(im.px);
    }
    char path[512], err[256];
    tmp_path(path, sizeof path, "none.png"); /* no series at all */
    ck_assert_int_eq(bg_plot_png(path, NULL, NULL, 0, err, sizeof err), 0);
    check_valid_png(path, 960, 600);
    ck_assert_int_eq(count_entries(tmpdir), 9);
}
END_TEST

START_TEST(rewrite_is_atomic_and_replaces) {
    double x[3] = {0, 1, 2}, y1[3] = {3, 2, 1}, y2[3] = {1, 2, 3};
    bg_series s = {"a", x, y1, 3, 0xd62728};
    char path[512], err[256];
    tmp_path(path, sizeof path, "loss.png");
    bg_plot_opts o = {NULL, NULL, NULL, 400, 300, 0};
    ck_assert_int_eq(bg_plot_png(path, &o, &s, 1, err, sizeof err), 0);
    s.y = y2, o.width = 500;
    ck_assert_int_eq(bg_plot_png(path, &o, &s, 1, err, sizeof err), 0);
    check_valid_png(path, 500, 300);
    ck_assert_int_eq(count_entries(tmpdir), 1);
}
END_TEST

START_TEST(bad_arguments_fail_cleanly) {
    double x[2] = {0, 1}, y[2] = {1, 2};
    bg_series s = {"a", x, y, 2, 0};
    char err[256] = "";
    ck_assert_int_eq(bg_plot_png("/nonexistent_nb_dir/sub/loss.png", NULL, &s, 1, err, sizeof err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent_nb_dir/sub/loss.png"));
    char dir[512];
    tmp_path(dir, sizeof dir, "adir.png");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    err[0] = '\0';
    ck_assert_int_eq(bg_plot_png(dir, NULL, &s, 1, err, sizeof err), -1); /* a directory */
    ck_assert_ptr_nonnull(strstr(err, dir));
    ck_assert_int_eq(count_entries(tmpdir), 1); /* the temp file was removed */
    err[0] = '\0';
    ck_assert_int_eq(bg_plot_png(NULL, NULL, &s, 1, err, sizeof err), -1);
    ck_assert_int_gt((int)strlen(err), 0);
    char path[512];
    tmp_path(path, sizeof path, "bad.png");
    bg_plot_opts o = {NULL, NULL, NULL, 50, 0, 0};
    err[0] = '\0';
    ck_assert_int_eq(bg_plot_png(path, &o, &s, 1, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "width"));
    bg_series bad = {"nul", x, NULL, 2, 0};
    err[0] = '\0';
    ck_assert_int_eq(bg_plot_png(path, NULL, &bad, 1, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "nul"));
    ck_assert_int_eq(bg_plot_png(path, NULL, NULL, 2, err, sizeof err), -1);
    double huge_x[2] = {-1e308, 1e308};
    bg_series huge = {"huge", huge_x, y, 2, 0};
    ck_assert_int_eq(bg_plot_png(path, NULL, &huge, 1, NULL, 0), -1); /* NULL err is fine */
    ck_assert_int_eq(count_entries(tmpdir), 1);
}
END_TEST

START_TEST(no_font_still_draws_with_warning) {
    const char *old = getenv("NABLA_FONT");
    char *saved = old ? strdup(old) : NULL;
    setenv("NABLA_FONT", "none", 1);
    double x[3] = {0, 1, 2}, y[3] = {3, 2, 1};
    bg_series s = {"train", x, y, 3, 0};
    bg_plot_opts o = {"A title", NULL, NULL, 400, 300, 0};
    char path[512], err[256] = "";
    tmp_path(path, sizeof path, "nofont.png");
    int rc = bg_plot_png(path, &o, &s, 1, err, sizeof err);
    if (saved) setenv("NABLA_FONT", saved, 1);
    else unsetenv("NABLA_FONT");
    free(saved);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(err, "without text") != NULL, "warning expected, got '%s'", err);
    image im;
    load_image(path, &im);
    ck_assert_int_eq(im.w, 400);
    int title = 0;
    for (int yy = 0; yy < im.y0 - 1; yy++)
        for (int xx = 0; xx < im.w; xx++) title += is_dark(&im, xx, yy);
    ck_assert_int_eq(title, 0);
    ck_assert_int_gt(count_inside(&im, BLUE, im.x0 + 1, im.x1 - 1, NULL), 20);
    stbi_image_free(im.px);
}
END_TEST

START_TEST(font_and_text_rendering) {
    char err[256];
    ck_assert_ptr_null(bg_font_load("/nonexistent_nb_font.ttf", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent_nb_font.ttf"));
    char notfont[512];
    tmp_path(notfont, sizeof notfont, "notafont.ttf");
    FILE *fp = fopen(notfont, "wb");
    ck_assert_ptr_nonnull(fp);
    fputs("this is not a TrueType font at all, just text\n", fp);
    fclose(fp);
    ck_assert_ptr_null(bg_font_load(notfont, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "notafont.ttf"));
    bg_font_free(NULL);
    bg_font *f = bg_font_load_default(err, sizeof err);
    if (!f) {
        nb_test_skip("font_and_text_rendering", "no system font (install fonts-dejavu-core)");
        return;
    }
    ck_assert_ptr_nonnull(bg_font_path(f));
    double a = 0, d = 0;
    bg_font_vmetrics(f, 20, &a, &d);
    ck_assert(a > 10 && a < 25 && d < 0 && d > -10);
    double w1 = bg_text_width(f, "step", 14), w2 = bg_text_width(f, "stepstep", 14);
    ck_assert(w1 > 14 && w1 < 60);
    ck_assert(nb_close(w2, 2 * w1, 0.05, 0.5));
    ck_assert(nb_close(bg_text_width(f, "step", 28), 2 * w1, 0.02, 0.5));
    ck_assert(bg_text_width(f, "", 14) == 0 && bg_text_width(f, NULL, 14) == 0);
    bg_text_mask m;
    ck_assert_int_eq(bg_text_render(f, "Loss 10", 16, &m), 0);
    ck_assert_ptr_nonnull(m.a);
    ck_assert(m.w >= (int)m.advance && m.h >= 16 && m.baseline > 0 && m.baseline < m.h);
    long ink = 0;
    int full = 0;
    for (int i = 0; i < m.w * m.h; i++) ink += m.a[i], full += m.a[i] > 200;
    ck_assert(ink > 255 * 20 && full > 10);
    free(m.a);
    ck_assert_int_eq(bg_text_render(f, "", 16, &m), 0);
    ck_assert(m.a == NULL && m.w == 0);
    ck_assert_int_eq(bg_text_render(f, "x", -3, &m), -1);
    const char bad_utf8[] = {'a', (char)0xC3, (char)0x28, (char)0xFF, 'b', (char)0xE2, 0};
    ck_assert_int_eq(bg_text_render(f, bad_utf8, 16, &m), 0);
    ck_assert_ptr_nonnull(m.a);
    free(m.a);
    ck_assert(bg_text_width(f, "caf\xC3\xA9", 14) > bg_text_width(f, "caf", 14));
    /* Drawn text: horizontal ink is wide and flat, rotated ink tall and narrow. */
    enum { W = 200, H = 200 };
    static unsigned char img[W * H * 3];
    for (int rot = 0; rot < 2; rot++) {
        memset(img, 255, sizeof img);
        ck_assert_int_eq(bg_text_draw(f, "Wide text", 16, img, W, H, 100, 100, 0.5, rot, 0), 0);
        int x0 = W, x1 = -1, y0 = H, y1 = -1;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                if (img[(y * W + x) * 3] < 128) {
                    x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                    y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
                }
        ck_assert_int_ge(x1, 0);
        int iw = x1 - x0 + 1, ih = y1 - y0 + 1;
        ck_assert_msg(rot ? ih > 3 * iw : iw > 3 * ih, "rot %d: ink %dx%d", rot, iw, ih);
        double cx = rot ? (y0 + y1) / 2.0 : (x0 + x1) / 2.0; /* centered on 100 */
        ck_assert_msg(fabs(cx - 100) < 4, "rot %d: text centered at %.1f", rot, cx);
        if (rot) ck_assert(x0 < 100 && x1 > 97); /* ascenders left of the baseline */
        else ck_assert(y1 <= 100 + 1 && y0 < 95); /* sits on the baseline (no descenders) */
    }
    ck_assert_int_eq(bg_text_draw(f, "x", 16, NULL, W, H, 0, 0, 0, 0, 0), -1);
    ck_assert_int_eq(bg_text_draw(f, "clipped", 16, img, W, H, -50, 5, 0, 0, 0), 0);
    bg_font_free(f);
}
END_TEST

Suite *make_suite(void) {
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, two_series_png);
    tcase_add_test(tc, flat_series_is_thin_band);
    tcase_add_test(tc, edge_cases_make_valid_files);
    tcase_add_test(tc, rewrite_is_atomic_and_replaces);
    tcase_add_test(tc, bad_arguments_fail_cleanly);
    tcase_add_test(tc, no_font_still_draws_with_warning);
    tcase_add_test(tc, font_and_text_rendering);
    suite_add_tcase(s, tc);
    return s;
}

NB_CHECK_MAIN()
