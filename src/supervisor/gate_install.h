/*
 * `airlock gate install`: the install phase (docs/gate.md, "Install").
 *
 *   al_gate_install(&policy, state_dir, cache_dir);   npm, then pin the tree
 *   ...
 *   al_gate_installed(&policy, state_dir, cache_dir, tree, prog);  at each run
 *
 * Install runs npm (the system's node and npm) in a domain of the runtime
 * profile whose network namespace holds loopback alone and the listeners of
 * an egress domain that connects to the registry's host and port only
 * (gate_npm.c, gate_egress.h), with --ignore-scripts: no code of the
 * package runs. npm writes into a fresh
 * directory; the supervisor then walks it (al_gate_tree_hash), makes it
 * root's when run as root, and moves it to CACHE/npm/SHA256 (content-hashed).
 * The hash, and the package it was installed from, go to STATE/NAME/tree;
 * the manifest to STATE/NAME/tree.manifest.
 *
 * A run checks the tree against that hash before anything runs and refuses
 * on any difference (naming the first changed file); the tree is then bound
 * read-only into the tool domain, which has no network.
 */
#ifndef AL_SUPERVISOR_GATE_INSTALL_H
#define AL_SUPERVISOR_GATE_INSTALL_H

#include <stdbool.h>
#include <stddef.h>

#include "supervisor/gate_policy.h"

/* The default cache directory: /var/cache/airlock/gate as root, else
 * $XDG_CACHE_HOME/airlock/gate or ~/.cache/airlock/gate. 0 or -errno. */
int al_gate_cache_dir(char *buf, size_t len);

/* Installs the policy's [install] package; gate_worker: the airlock-gate
 * executable (airlock-egress lies beside it). Exit status (0: installed and pinned). */
int al_gate_install(const struct al_gate_policy *p, const char *state_dir, const char *cache_dir,
		    const char *gate_worker);

/* Checks the installed tree against its pin. On success tree receives its
 * directory and prog the package's program (node_modules/.bin's link,
 * resolved inside the tree). 0, or -errno with the reason printed. */
int al_gate_installed(const struct al_gate_policy *p, const char *state_dir, const char *cache_dir, char *tree,
		      size_t tlen, char *prog, size_t plen);

/*
 * The manifest of the tree under dirfd and its SHA-256 (hex). One line per
 * entry, sorted by path: "d - PATH", "f SHA256 PATH" (x: executable), "l
 * SHA256(target) PATH". Refused: a symlink that is absolute or leaves the
 * tree, a special file, a name with a control character, more than 200000
 * entries or 64 levels, and (unless fix has AL_GATE_TREE_MODES, which takes
 * them away) setuid, setgid or group/other write bits. AL_GATE_TREE_CHOWN
 * (root, at install): every entry becomes root's.
 *
 * stats gets one line per file: device, inode, size, mtime, ctime, SHA-256,
 * path. Given back as known at a later walk, a file whose line still matches
 * is not read again: its content cannot have changed without its ctime,
 * which only the clock (root's) could set back. A file changed in the last
 * racy_s seconds gets a line that matches nothing (a write within the same
 * clock tick would not move its ctime).
 */
#define AL_GATE_TREE_MODES 1u
#define AL_GATE_TREE_CHOWN 2u

struct al_gate_tree {
	unsigned fix;            /* in: AL_GATE_TREE_* */
	const char *known;       /* in: stats of an earlier walk of this tree; NULL: read every file */
	int racy_s;              /* in: a file changed less than this long ago (s) is read again next
				  * time; 0: 2 s; negative: none (tests) */
	char hex[65];            /* out: SHA-256 of the manifest */
	char *manifest, *stats;  /* out, NUL-terminated: al_gate_tree_free */
	size_t mlen, slen;
	size_t read, reused;     /* out: files read and hashed, files taken from known */
};

/* 0 or -errno (the reason printed). */
int al_gate_tree_walk(int dirfd, struct al_gate_tree *t);
void al_gate_tree_free(struct al_gate_tree *t);

#endif
