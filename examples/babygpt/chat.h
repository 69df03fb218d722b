/* chat.h - chatting with and summarizing by a trained Baby GPT. */
#ifndef BG_CHAT_H
#define BG_CHAT_H

#include "examples/babygpt/generate.h"
#include "examples/babygpt/run.h"

/* The chat loop on stdin/stdout: the user is #Person1#, the model #Person2#.
 * With a terminal: line editing and history (libedit); piped: one user turn
 * per line, one "#Person2#: reply" line out. /reset and /quit. Exit status. */
int bg_chat(bg_run *r, const bg_sample_opts *so, uint64_t seed);

/* A summary of a dialogue (turns '#Person1#: ...' one per line). malloc'd;
 * NULL with a message in err. */
char *bg_summarize(bg_run *r, const char *dialogue, const bg_sample_opts *so, uint64_t seed, char *err,
                   size_t errlen);

#endif
