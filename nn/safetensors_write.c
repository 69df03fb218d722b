/* nn/safetensors_write.c - writing safetensors files atomically: the whole
 * file goes to a temp file in the same folder, which is flushed, fsync'ed
 * and renamed over the target, and then the folder is fsync'ed, so a crash
 * at any point leaves either the old file or the new one, never a mix. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nabla/nn.h"
#include "nn/nn_internal.h"

static const char *st_dtype_name(nb_dtype dt) {
    switch (dt) {
    case NB_F32: return "F32";
    case NB_I32: return "I32";
    case NB_F16: return "F16";
    case NB_BF16: return "BF16";
    default: return NULL;
    }
}

/* Builds the padded JSON header; NULL with a message. Caller frees. */
static char *build_header(const char *path, const char *const *names, nb_tensor *const *ts, int n,
                          const char *const *mk, const char *const *mv, int n_meta, size_t *hlen) {
    json_t *root = json_object(), *md = n_meta > 0 ? json_object() : NULL;
    char *text = NULL;
    if (!root || (n_meta > 0 && !md)) goto oom;
    if (md) {
        for (int i = 0; i < n_meta; i++)
            if (json_object_set_new(md, mk[i], json_string(mv[i]))) {
                nb_set_error("safetensors_save %s: invalid metadata entry '%.80s' (not UTF-8?)", path, mk[i]);
                goto fail;
            }
        if (json_object_set(root, "__metadata__", md)) goto oom;
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        json_t *e = json_object(), *shape = json_array(), *offs = json_array();
        if (!e || !shape || !offs) {
            json_decref(e), json_decref(shape), json_decref(offs);
            goto oom;
        }
        uint64_t nbytes = (uint64_t)nb_numel(ts[i]) * nb_dtype_size(ts[i]->dtype);
        for (int d = 0; d < ts[i]->ndim; d++)
            json_array_append_new(shape, json_integer(ts[i]->shape[d]));
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + nbytes)));
        off += nbytes;
        json_object_set_new(e, "dtype", json_string(st_dtype_name(ts[i]->dtype)));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets", offs);
        if (json_object_set_new(root, names[i], e)) {
            nb_set_error("safetensors_save %s: invalid tensor name '%.80s' (not UTF-8?)", path, names[i]);
            goto fail;
        }
    }
    char *js = json_dumps(root, JSON_COMPACT);
    if (!js) goto oom;
    size_t len = strlen(js), padded = (len + 7) & ~(size_t)7;
    text = malloc(padded + 1);
    if (!text) {
        free(js);
        goto oom;
    }
    memcpy(text, js, len);
    memset(text + len, ' ', padded - len);
    text[padded] = '\0';
    free(js);
    *hlen = padded;
    json_decref(md);
    json_decref(root);
    return text;
oom:
    nb_set_error("safetensors_save %s: out of memory building the header", path);
fail:
    json_decref(md);
    json_decref(root);
    return NULL;
}

static int check_args(const char *path, const char *const *names, nb_tensor *const *ts, int n,
                      const char *const *mk, const char *const *mv, int n_meta) {
    if (n < 0 || n_meta < 0 || (n > 0 && (!names || !ts)) || (n_meta > 0 && (!mk || !mv)))
        return nb_set_error("safetensors_save %s: invalid argument counts or NULL arrays", path), -1;
    for (int i = 0; i < n; i++) {
        if (!names[i] || !*names[i] || !ts[i])
            return nb_set_error("safetensors_save %s: tensor %d has no name or is NULL", path, i), -1;
        if (strcmp(names[i], "__metadata__") == 0)
            return nb_set_error("safetensors_save %s: '__metadata__' is reserved", path), -1;
        if (!st_dtype_name(ts[i]->dtype))
            return nb_set_error("safetensors_save %s: tensor '%.80s' has unsupported dtype %s", path,
                                names[i], nb_dtype_name(ts[i]->dtype)),
                   -1;
        for (int j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return nb_set_error("safetensors_save %s: duplicate tensor name '%.80s'", path, names[i]), -1;
    }
    for (int i = 0; i < n_meta; i++) {
        if (!mk[i] || !mv[i]) return nb_set_error("safetensors_save %s: metadata %d is NULL", path, i), -1;
        for (int j = 0; j < i; j++)
            if (strcmp(mk[i], mk[j]) == 0)
                return nb_set_error("safetensors_save %s: duplicate metadata key '%.80s'", path, mk[i]), -1;
    }
    return 0;
}

/* Writes one tensor's bytes row-major. 0/-1. */
static int write_tensor(FILE *fp, const nb_tensor *t) {
    size_t nbytes = (size_t)nb_numel(t) * nb_dtype_size(t->dtype);
    if (nbytes == 0) return 0;
    if (t->device == NB_CPU && nb_is_contiguous(t))
        return fwrite(nb_data(t), 1, nbytes, fp) == nbytes ? 0 : -1;
    void *buf = malloc(nbytes);
    if (!buf) return -1;
    int rc = nb_to_array(t, t->dtype, buf) == 0 && fwrite(buf, 1, nbytes, fp) == nbytes ? 0 : -1;
    free(buf);
    return rc;
}

static void fsync_dir(const char *path) {
    size_t len = strlen(path) + 1;
    char *copy = malloc(len);
    if (!copy) return;
    memcpy(copy, path, len);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

static int save_to(const char *path, const char *const *names, nb_tensor *const *tensors, int n,
                   const char *const *meta_keys, const char *const *meta_vals, int n_meta);

int nb_safetensors_save(const char *path, const char *const *names, nb_tensor *const *tensors, int n,
                        const char *const *meta_keys, const char *const *meta_vals, int n_meta) {
    if (!path || !*path) return nb_set_error("safetensors_save: NULL or empty path"), -1;
    if (check_args(path, names, tensors, n, meta_keys, meta_vals, n_meta)) return -1;
    /* the rename below replaces what is at path: a file, not a device, FIFO or folder; through a
     * symbolic link it writes the link's target, so the link stays */
    struct stat st;
    char *resolved = NULL;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        if (!(resolved = realpath(path, NULL)))
            return nb_set_error("safetensors_save: %s: a symbolic link to nothing usable: %s", path,
                                strerror(errno)),
                   -1;
        path = resolved;
    }
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        nb_set_error("safetensors_save: %s is not a regular file (a folder, device or FIFO); not replaced",
                     path);
        free(resolved);
        return -1;
    }
    int rc = save_to(path, names, tensors, n, meta_keys, meta_vals, n_meta);
    free(resolved);
    return rc;
}

/* nb_safetensors_save to a path checked to be a regular file or nothing. */
static int save_to(const char *path, const char *const *names, nb_tensor *const *tensors, int n,
                   const char *const *meta_keys, const char *const *meta_vals, int n_meta) {
    size_t hlen = 0;
    char *header = build_header(path, names, tensors, n, meta_keys, meta_vals, n_meta, &hlen);
    if (!header) return -1;
    size_t plen = strlen(path) + 16;
    char *tmp = malloc(plen);
    if (!tmp) {
        free(header);
        return nb_set_error("safetensors_save %s: out of memory", path), -1;
    }
    snprintf(tmp, plen, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd >= 0) (void)fchmod(fd, 0644); /* mkstemp's 0600 would hide the file from the user's group */
    FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    const char *stage = "create a temp file beside";
    int rc = -1;
    if (!fp) {
        if (fd >= 0) close(fd);
        goto out;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    stage = "write the temp file for";
    errno = 0;
    if (fwrite(len8, 1, 8, fp) != 8 || fwrite(header, 1, hlen, fp) != hlen) goto close_out;
    for (int i = 0; i < n; i++)
        if (write_tensor(fp, tensors[i])) goto close_out;
    stage = "flush/fsync the temp file for";
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) goto close_out;
    stage = "close the temp file for";
    if (fclose(fp) != 0) {
        fp = NULL;
        goto out;
    }
    fp = NULL;
    stage = "rename the temp file over";
    if (rename(tmp, path) != 0) goto out;
    fsync_dir(path);
    rc = 0;
close_out:
    if (fp) fclose(fp);
out:
    if (rc) {
        int e = errno;
        if (fd >= 0) unlink(tmp);
        nb_set_error("safetensors_save: cannot %s %s: %s", stage, path,
                     e ? strerror(e) : "error writing a tensor");
    }
    free(tmp);
    free(header);
    return rc;
}
