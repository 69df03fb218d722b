/* args.h - a small table-driven command-line parser for the subcommands:
 * `--name value` or `--name=value`, typed values checked with a clear
 * message, --help generated from the table. */
#ifndef BG_ARGS_H
#define BG_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { BG_ARG_STR, BG_ARG_INT, BG_ARG_FLOAT, BG_ARG_U64, BG_ARG_FLAG } bg_arg_type;

typedef struct {
    const char *name; /* without the leading dashes */
    bg_arg_type type;
    void *dst;        /* const char **, int *, float *, uint64_t *, bool * */
    double min, max;  /* allowed range for numbers (min > max: no check) */
    const char *help;
} bg_arg;

/* Parses argv[first..argc) against the table. Positional arguments are not
 * accepted. Returns 0, 1 when --help was printed, or -1 after printing one
 * error line to stderr. */
int bg_args_parse(const char *cmd, const char *summary, bg_arg *args, int n, int argc, char **argv, int first);
/* Prints the help for a subcommand. */
void bg_args_help(FILE *f, const char *cmd, const char *summary, const bg_arg *args, int n);

#endif
