/* tests/tmp_files.h - temporary files and folders for the data test programs (test_data.c,
 * test_cache.c): a fresh folder, files written whole, and removal. Include after nb_check.h. */
#ifndef NB_TESTS_TMP_FILES_H
#define NB_TESTS_TMP_FILES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* static, without a warning in the programs that leave one unused */
#ifndef NB_TEST_FN
#define NB_TEST_FN static __attribute__((unused))
#endif

static char tmpdir[64];

NB_TEST_FN void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nb_test_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Removes every file in dir (one level) and dir itself. */
NB_TEST_FN void rm_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0) rm_dir(p);
    }
    closedir(d);
    rmdir(dir);
}

NB_TEST_FN void write_file(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

/* Writes text to a fresh mkstemp file with the given suffix; returns its path (static). */
NB_TEST_FN const char *temp_file(const char *suffix, const char *text) {
    static char path[128];
    snprintf(path, sizeof path, "/tmp/nb_test_data_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    ck_assert_int_ge(fd, 0);
    close(fd);
    write_file(path, text, strlen(text));
    return path;
}

#endif
