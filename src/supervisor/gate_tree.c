/*
 * An installed package tree as one hash (gate_install.h): a manifest of every
 * entry, sorted, hashed with SHA-256. The tree was written by a package
 * manager fed by a registry: every name and link in it is hostile, so the
 * walk follows no symlink, opens nothing that is not a regular file or a
 * directory, and bounds depth, entries and path length.
 */
#include "supervisor/gate_install.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define TREE_MAX_DEPTH 64
#define TREE_MAX_ENTRIES 200000

struct walk {
	char *buf;            /* the manifest so far */
	size_t len, cap;
	size_t entries;
	bool own;             /* root only: make every entry root's, never setuid */
	char path[PATH_MAX];  /* of the entry being looked at, relative to the root */
	const char *why;      /* what was wrong, for the message */
};

static int emit(struct walk *w, char type, const unsigned char h[crypto_hash_sha256_BYTES])
{
	char hex[2 * crypto_hash_sha256_BYTES + 1] = "-";
	if (h)
		sodium_bin2hex(hex, sizeof hex, h, crypto_hash_sha256_BYTES);
	size_t need = 2 + strlen(hex) + 1 + strlen(w->path) + 1 + 1;
	if (w->len + need > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 1 << 16;
		while (cap < w->len + need)
			cap *= 2;
		char *b = realloc(w->buf, cap);
		if (!b)
			return -ENOMEM;
		w->buf = b;
		w->cap = cap;
	}
	w->len += (size_t)snprintf(w->buf + w->len, w->cap - w->len, "%c %s %s\n", type, hex, w->path);
	return 0;
}

static int hash_file(int dirfd, const char *name, unsigned char h[crypto_hash_sha256_BYTES])
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL; /* replaced between the listing and the open */
	}
	crypto_hash_sha256_state s;
	crypto_hash_sha256_init(&s);
	unsigned char chunk[1 << 16];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof chunk)) > 0)
		crypto_hash_sha256_update(&s, chunk, (unsigned long long)n);
	int rc = n < 0 ? -errno : 0;
	close(fd);
	crypto_hash_sha256_final(&s, h);
	return rc;
}

/* A relative link that, read from the directory at depth `depth`, stays inside. */
static bool link_inside(const char *target, int depth)
{
	if (target[0] == '/' || !target[0])
		return false;
	char copy[PATH_MAX];
	snprintf(copy, sizeof copy, "%s", target);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, ".."))
			depth--;
		else if (strcmp(c, "."))
			depth++;
		if (depth < 0)
			return false;
	}
	return true;
}

static bool name_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a directory's names, sorted; *out is freed by the caller (each name too). */
static int list_dir(int dirfd, char ***out, size_t *n)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	char **v = NULL;
	size_t k = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	errno = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (k == cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 32) * sizeof *v);
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		if (!(v[k] = strdup(e->d_name)))
			rc = -ENOMEM;
		else
			k++;
	}
	closedir(d);
	if (rc == 0 && k)
		qsort(v, k, sizeof *v, by_name);
	*out = v;
	*n = k;
	return rc;
}

static int walk_dir(struct walk *w, int dirfd, size_t plen, int depth);

static int walk_entry(struct walk *w, int dirfd, const char *name, int depth)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (++w->entries > TREE_MAX_ENTRIES)
		return w->why = "too many files", -E2BIG;
	if (w->own && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) &&
	    fchownat(dirfd, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* never setuid, setgid or writable by others; the owner keeps its bits */
	if (!S_ISLNK(st.st_mode) && (st.st_mode & 07022) &&
	    fchmodat(dirfd, name, st.st_mode & 0755, 0) < 0)
		return -errno;
	unsigned char h[crypto_hash_sha256_BYTES];
	int rc;
	if (S_ISREG(st.st_mode)) {
		if ((rc = hash_file(dirfd, name, h)) < 0)
			return rc;
		return emit(w, (st.st_mode & 0111) ? 'x' : 'f', h);
	}
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (!link_inside(target, depth) || !name_ok(target))
			return w->why = "a symbolic link out of the tree", -EXDEV;
		crypto_hash_sha256(h, (const unsigned char *)target, (unsigned long long)n);
		return emit(w, 'l', h);
	}
	if (!S_ISDIR(st.st_mode))
		return w->why = "a device, pipe or socket", -EINVAL;
	if (depth + 1 > TREE_MAX_DEPTH)
		return w->why = "directories too deep", -ELOOP;
	if ((rc = emit(w, 'd', NULL)) < 0)
		return rc;
	int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return -errno;
	rc = walk_dir(w, sub, strlen(w->path), depth + 1);
	close(sub);
	return rc;
}

static int walk_dir(struct walk *w, int dirfd, size_t plen, int depth)
{
	char **names = NULL;
	size_t n = 0;
	int rc = list_dir(dirfd, &names, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!name_ok(names[i])) {
			w->why = "a file name with a control character";
			rc = -EINVAL;
			break;
		}
		int len = snprintf(w->path + plen, sizeof w->path - plen, "%s%s", plen ? "/" : "", names[i]);
		if (len < 0 || (size_t)len >= sizeof w->path - plen) {
			rc = -ENAMETOOLONG;
			break;
		}
		rc = walk_entry(w, dirfd, names[i], depth);
		w->path[plen] = '\0';
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int al_gate_tree_hash(int dirfd, bool own, char hex[65], char **manifest, size_t *len)
{
	struct walk w = { .own = own };
	int rc = walk_dir(&w, dirfd, 0, 0);
	if (rc < 0) {
		al_log_warnx("gate: the installed tree: %s%s%s", w.path[0] ? w.path : ".", w.path[0] ? ": " : "",
			     w.why ? w.why : strerror(-rc));
		free(w.buf);
		return rc;
	}
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)(w.buf ? w.buf : ""), w.len);
	sodium_bin2hex(hex, 65, h, sizeof h);
	if (manifest) {
		*manifest = w.buf ? w.buf : strdup("");
		*len = w.len;
	} else {
		free(w.buf);
	}
	return 0;
}
