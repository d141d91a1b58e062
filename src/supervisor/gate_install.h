/*
 * `airlock gate install`: the install phase (docs/gate.md, "Install").
 *
 *   al_gate_install(&policy, state_dir, cache_dir);   npm, then pin the tree
 *   ...
 *   al_gate_installed(&policy, state_dir, cache_dir, tree, prog);  at each run
 *
 * Install runs npm (the system's node and npm) in a domain of the runtime
 * profile whose only network is TCP to the registry's port (the runner's
 * network namespace, Landlock TCP connect to that one port), with
 * --ignore-scripts: no code of the package runs. npm writes into a fresh
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

/* Installs the policy's [install] package. Exit status (0: installed and pinned). */
int al_gate_install(const struct al_gate_policy *p, const char *state_dir, const char *cache_dir);

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
 * entries or 64 levels. own (root): every entry becomes root's on the way.
 * Modes lose setuid, setgid and group/other write. 0 or -errno (printed).
 */
int al_gate_tree_hash(int dirfd, bool own, char hex[65], char **manifest, size_t *len);

#endif
