/* airlock ask: what its usage text (cmd_ask.c) and airlock-ask (ask_main.c) share. */
#ifndef AL_CLI_ASK_H
#define AL_CLI_ASK_H

#define AL_ASK_DEFAULT_URL "http://127.0.0.1:8377/mcp" /* the default [proto] listen */

#endif
