/* chat.c - the interactive chat loop and the one-shot summarizer. */
#include "examples/babygpt/chat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "examples/babygpt/data.h"
#include "examples/babygpt/strbuf.h"


static int print_piece(void *user, const char *bytes, size_t len) {
    (void)user;
    fwrite(bytes, 1, len, stdout);
    fflush(stdout);
    return 0;
}

/* Drops whole turns from the front of the history until the prompt, plus room
 * for the reply, fits in the context. */
static void fit_history(sbuf *h, const bg_tokenizer *tok, int budget) {
    for (;;) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (bg_tokenizer_encode(tok, h->s ? h->s : "", h->n, 1, &ids, &n)) return;
        free(ids);
        if ((int)n <= budget) return;
        /* cut the first line after the leading <|endoftext|> */
        size_t skip = strlen(BG_EOT);
        char *nl = strchr(h->s + skip, '\n');
        if (!nl) return;
        size_t cut = (size_t)(nl + 1 - (h->s + skip));
        memmove(h->s + skip, h->s + skip + cut, h->n - skip - cut + 1);
        h->n -= cut;
    }
}

static char *read_line(bool tty) {
    if (tty) {
        char *l = readline("you> ");
        if (l && *l) add_history(l);
        return l;
    }
    size_t cap = 0;
    char *l = NULL;
    ssize_t n = getline(&l, &cap, stdin);
    if (n < 0) {
        free(l);
        return NULL;
    }
    while (n > 0 && (l[n - 1] == '\n' || l[n - 1] == '\r')) l[--n] = '\0';
    return l;
}

int bg_chat(bg_run *r, const bg_sample_opts *so, uint64_t seed) {
    bool tty = isatty(0) && isatty(1);
    nb_rng rng;
    nb_rng_init(&rng, seed);
    sbuf h = {0};
    if (sb_str(&h, BG_EOT)) return 1;
    if (tty)
        printf("Baby GPT chat (%s, step %lld). You speak as #Person1#, the model answers as #Person2#.\n"
               "Commands: /reset clears the conversation, /quit leaves.\n",
               r->model->cfg.name, (long long)r->step);
    const char *stops[] = {"\n", "#Person1#", "#Summary#", NULL};
    int status = 0;
    for (;;) {
        char *line = read_line(tty);
        if (!line) {
            if (!tty && ferror(stdin)) { /* a read error (stdin a folder, ...) is not the end of input */
                fprintf(stderr, "babygpt chat: reading stdin: %s\n", strerror(errno));
                status = 1;
            }
            break;
        }
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (strcmp(p, "/quit") == 0 || strcmp(p, "/exit") == 0) {
            free(line);
            break;
        }
        if (strcmp(p, "/reset") == 0) {
            h.n = strlen(BG_EOT);
            h.s[h.n] = '\0';
            printf(tty ? "(conversation cleared)\n" : "/reset\n");
            fflush(stdout);
            free(line);
            continue;
        }
        if (!*p) {
            free(line);
            continue;
        }
        if (h.n > strlen(BG_EOT)) sb_str(&h, "\n");
        if (sb_str(&h, BG_TURN_PERSON1) || sb_str(&h, p) || sb_str(&h, "\n" BG_TURN_PERSON2_CUE)) {
            free(line);
            status = 1;
            break;
        }
        free(line);
        fit_history(&h, r->tok, r->model->cfg.block_size - so->max_tokens);
        bg_gen_opts go = {stops, true, tty ? print_piece : NULL, NULL, false, NULL};
        char err[512];
        if (tty) printf("bot> ");
        fflush(stdout);
        char *reply = bg_generate_text(r->model, r->tok, h.s, so, &go, &rng, err, sizeof err);
        if (!reply) {
            fprintf(stderr, "babygpt chat: %s\n", err);
            status = 1;
            break;
        }
        /* the history keeps the reply as generated (it starts with its space); shown trimmed */
        sb_str(&h, reply);
        size_t n = strlen(reply);
        while (n && (reply[n - 1] == ' ' || reply[n - 1] == '\t')) reply[--n] = '\0';
        const char *shown = reply + strspn(reply, " \t");
        if (tty) printf("\n");
        else printf(BG_TURN_PERSON2 "%s\n", shown);
        fflush(stdout);
        free(reply);
    }
    free(h.s);
    return status;
}

char *bg_summarize(bg_run *r, const char *dialogue, const bg_sample_opts *so, uint64_t seed, char *err,
                   size_t errlen) {
    bg_example e = {"", (char *)dialogue, NULL, ""};
    char *doc = bg_format_document(&e);
    if (!doc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!strstr(doc, "#Person")) {
        free(doc);
        snprintf(err, errlen, "the input holds no dialogue turns (lines starting '#Person1#:')");
        return NULL;
    }
    sbuf p = {0};
    sb_str(&p, BG_EOT);
    sb_str(&p, doc);
    sb_str(&p, "\n" BG_SUMMARY_CUE);
    free(doc);
    if (!p.s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* keep the end of a dialogue too long for the context */
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = bg_tokenizer_encode(r->tok, p.s, p.n, 1, &ids, &n);
    free(p.s);
    if (rc) {
        snprintf(err, errlen, "tokenizing: %s", bg_tokenizer_strerror(rc));
        return NULL;
    }
    size_t room = (size_t)(r->model->cfg.block_size - so->max_tokens > 8 ? r->model->cfg.block_size - so->max_tokens : 8);
    size_t start = n > room ? n - room : 0;
    nb_rng rng;
    nb_rng_init(&rng, seed);
    const char *stops[] = {"\n", NULL};
    bg_gen_opts go = {stops, true, NULL, NULL, false, NULL};
    char *s = bg_generate(r->model, r->tok, ids + start, n - start, so, &go, &rng, NULL, NULL, err, errlen);
    free(ids);
    if (s) {
        size_t lead = strspn(s, " \t"), len = strlen(s);
        memmove(s, s + lead, len - lead + 1);
        for (len -= lead; len && (s[len - 1] == ' ' || s[len - 1] == '\t');) s[--len] = '\0';
    }
    return s;
}
