/* args.c - command-line parsing for babygpt's subcommands. */
#include "examples/babygpt/args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void bg_args_help(FILE *f, const char *cmd, const char *summary, const bg_arg *args, int n) {
    fprintf(f, "usage: babygpt %s [options]\n\n%s\n\noptions:\n", cmd, summary);
    for (int i = 0; i < n; i++) {
        const char *meta = args[i].type == BG_ARG_FLAG    ? ""
                           : args[i].type == BG_ARG_STR   ? " VALUE"
                           : args[i].type == BG_ARG_FLOAT ? " X"
                                                          : " N";
        char left[64];
        snprintf(left, sizeof left, "--%s%s", args[i].name, meta);
        fprintf(f, "  %-22s %s\n", left, args[i].help);
    }
    fprintf(f, "  %-22s %s\n", "--help", "show this help");
}

static int bad(const char *cmd, const char *name, const char *what, const char *val) {
    fprintf(stderr, "babygpt %s: --%s: %s, got '%s'\n", cmd, name, what, val);
    return -1;
}

/* Whether s is one of the options (--name, --name=..., --help). */
static bool is_option(const char *s, const bg_arg *args, int n) {
    if (strncmp(s, "--", 2) != 0) return false;
    const char *name = s + 2, *eq = strchr(name, '=');
    size_t nl = eq ? (size_t)(eq - name) : strlen(name);
    if (nl == 4 && strncmp(name, "help", 4) == 0) return true;
    for (int k = 0; k < n; k++)
        if (strlen(args[k].name) == nl && strncmp(args[k].name, name, nl) == 0) return true;
    return false;
}

int bg_args_parse(const char *cmd, const char *summary, bg_arg *args, int n, int argc, char **argv, int first) {
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            bg_args_help(stdout, cmd, summary, args, n);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "babygpt %s: unexpected argument '%s' (options start with --; see babygpt %s --help)\n",
                    cmd, a, cmd);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        bg_arg *opt = NULL;
        for (int k = 0; k < n; k++)
            if (strlen(args[k].name) == nl && strncmp(args[k].name, name, nl) == 0) opt = &args[k];
        if (!opt) {
            fprintf(stderr, "babygpt %s: unknown option '--%.*s' (see babygpt %s --help)\n", cmd, (int)nl, name, cmd);
            return -1;
        }
        if (opt->type == BG_ARG_FLAG) {
            if (eq) return bad(cmd, opt->name, "takes no value", eq + 1);
            *(bool *)opt->dst = true;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            fprintf(stderr, "babygpt %s: --%s needs a value\n", cmd, opt->name);
            return -1;
        }
        if (!eq && is_option(val, args, n)) { /* "--out --quiet": the value was forgotten */
            fprintf(stderr,
                    "babygpt %s: --%s needs a value, got the option '%s' (write --%s=%s for a value that "
                    "starts with --)\n",
                    cmd, opt->name, val, opt->name, val);
            return -1;
        }
        char *end;
        errno = 0;
        bool ranged = opt->min <= opt->max;
        if (opt->type != BG_ARG_STR && isspace((unsigned char)*val)) /* strto* would skip it (" -1") */
            return bad(cmd, opt->name, "expected a number without leading spaces", val);
        switch (opt->type) {
        case BG_ARG_STR:
            if (!*val) return bad(cmd, opt->name, "expected a non-empty value", val);
            *(const char **)opt->dst = val;
            break;
        case BG_ARG_INT: {
            long v = strtol(val, &end, 10);
            if (end == val || *end) return bad(cmd, opt->name, "expected an integer", val);
            if (errno || v < -2147483647L || v > 2147483647L)
                return bad(cmd, opt->name, "integer out of range", val);
            if (ranged && (v < opt->min || v > opt->max)) {
                fprintf(stderr, "babygpt %s: --%s: must be between %g and %g, got %ld\n", cmd, opt->name, opt->min,
                        opt->max, v);
                return -1;
            }
            *(int *)opt->dst = (int)v;
            break;
        }
        case BG_ARG_FLOAT: {
            double v = strtod(val, &end);
            if (errno || end == val || *end || !isfinite(v)) return bad(cmd, opt->name, "expected a number", val);
            if (ranged && (v < opt->min || v > opt->max)) {
                fprintf(stderr, "babygpt %s: --%s: must be between %g and %g, got %g\n", cmd, opt->name, opt->min,
                        opt->max, v);
                return -1;
            }
            *(float *)opt->dst = (float)v;
            break;
        }
        case BG_ARG_U64: {
            if (*val == '-') return bad(cmd, opt->name, "expected a non-negative integer", val);
            unsigned long long v = strtoull(val, &end, 10);
            if (end == val || *end) return bad(cmd, opt->name, "expected a non-negative integer", val);
            if (errno) return bad(cmd, opt->name, "integer out of range", val);
            *(uint64_t *)opt->dst = v;
            break;
        }
        default: break;
        }
    }
    return 0;
}
