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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define TREE_MAX_DEPTH 64
#define TREE_MAX_ENTRIES 200000

struct out {
	char *buf;
	size_t len, cap;
};

struct walk {
	struct out man, stats;  /* the manifest and the files' stat lines so far */
	size_t entries;
	unsigned fix;           /* AL_GATE_TREE_*: what the walk may change; 0: nothing */
	const char *known;      /* the next stat line of an earlier walk; NULL: read every file */
	time_t recent;          /* a ctime from here on is too recent to vouch for the content */
	size_t read, reused;
	char path[PATH_MAX];    /* of the entry being looked at, relative to the root */
	const char *why;        /* what was wrong, for the message */
};

static int put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(struct out *o, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if (o->buf && o->len + (size_t)n < o->cap) {
			o->len += (size_t)n;
			return 0;
		}
		size_t cap = o->cap ? o->cap : 1 << 16;
		while (cap <= o->len + (size_t)n)
			cap *= 2;
		char *b = realloc(o->buf, cap);
		if (!b)
			return -ENOMEM;
		o->buf = b;
		o->cap = cap;
	}
}

static int emit(struct walk *w, char type, const unsigned char h[crypto_hash_sha256_BYTES])
{
	char hex[2 * crypto_hash_sha256_BYTES + 1] = "-";
	if (h)
		sodium_bin2hex(hex, sizeof hex, h, crypto_hash_sha256_BYTES);
	return put(&w->man, "%c %s %s\n", type, hex, w->path);
}

/*
 * A file's stat line: what says, at the next walk, that it was not written
 * since. File times have the granularity of the kernel's clock tick: a write
 * in the same tick as the one just hashed would leave ctime as it is. So a
 * file changed in the last seconds gets a line that never matches (size -1),
 * and is read again next time (git's "racy clean" index entries, the same).
 */
static int emit_stat(struct walk *w, const struct stat *st, const unsigned char h[crypto_hash_sha256_BYTES])
{
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	sodium_bin2hex(hex, sizeof hex, h, crypto_hash_sha256_BYTES);
	if (st->st_ctim.tv_sec >= w->recent)
		return put(&w->stats, "0 0 -1 0.0 0.0 %s %s\n", hex, w->path);
	return put(&w->stats, "%llu %llu %lld %lld.%09ld %lld.%09ld %s %s\n", (unsigned long long)st->st_dev,
		   (unsigned long long)st->st_ino, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
		   st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec, hex, w->path);
}

/*
 * The earlier walk's hash of this file, when its next stat line is this path
 * with this device, inode, size, mtime and ctime. A write changes ctime, and
 * only the clock (root's) could set it back. Out of step once, never again.
 */
static bool reuse(struct walk *w, const struct stat *st, unsigned char h[crypto_hash_sha256_BYTES])
{
	if (!w->known || !*w->known)
		return false;
	unsigned long long dev, ino;
	long long size, ms, cs;
	long mn, cn;
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	int used = 0;
	/* sscanf measures its whole input first: give it this line only */
	char line[PATH_MAX + 256];
	const char *nl = strchr(w->known, '\n');
	size_t n = nl ? (size_t)(nl - w->known) : 0;
	if (!nl || n >= sizeof line) {
		w->known = NULL;
		return false;
	}
	memcpy(line, w->known, n);
	line[n] = '\0';
	if (sscanf(line, "%llu %llu %lld %lld.%ld %lld.%ld %64[0-9a-f] %n", &dev, &ino, &size, &ms, &mn, &cs, &cn, hex,
		   &used) != 8 || used <= 0 || strcmp(line + used, w->path)) {
		w->known = NULL;
		return false;
	}
	w->known = nl + 1;
	size_t bin = 0;
	return dev == (unsigned long long)st->st_dev && ino == (unsigned long long)st->st_ino && size == st->st_size &&
	       ms == st->st_mtim.tv_sec && mn == st->st_mtim.tv_nsec && cs == st->st_ctim.tv_sec &&
	       cn == st->st_ctim.tv_nsec &&
	       sodium_hex2bin(h, crypto_hash_sha256_BYTES, hex, strlen(hex), NULL, &bin, NULL) == 0 &&
	       bin == crypto_hash_sha256_BYTES;
}

/* Reads and hashes a file; *st is its stat as read (after any fix of the walk). */
static int hash_file(int dirfd, const char *name, unsigned char h[crypto_hash_sha256_BYTES], struct stat *st)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
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
	rewinddir(d); /* the dup shares dirfd's offset: a second walk starts over */
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
	if ((w->fix & AL_GATE_TREE_CHOWN) && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) &&
	    fchownat(dirfd, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* never setuid, setgid or writable by others (the owner keeps its bits):
	 * taken away at install, refused when checking */
	if (!S_ISLNK(st.st_mode) && (st.st_mode & 07022)) {
		if (!(w->fix & AL_GATE_TREE_MODES))
			return w->why = "setuid, setgid or writable by others", -EPERM;
		if (fchmodat(dirfd, name, st.st_mode & 0755, 0) < 0)
			return -errno;
	}
	unsigned char h[crypto_hash_sha256_BYTES];
	int rc;
	if (S_ISREG(st.st_mode)) {
		if (reuse(w, &st, h))
			w->reused++;
		else if ((rc = hash_file(dirfd, name, h, &st)) < 0)
			return rc;
		else
			w->read++;
		if ((rc = emit_stat(w, &st, h)) < 0)
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

int al_gate_tree_walk(int dirfd, struct al_gate_tree *t)
{
	struct walk w = { .fix = t->fix, .known = t->known,
			  .recent = t->racy_s < 0 ? (time_t)1 << 62 : time(NULL) - (t->racy_s ? t->racy_s : 2) };
	int rc = walk_dir(&w, dirfd, 0, 0);
	if (rc == 0 && (rc = put(&w.man, "%s", "")) == 0)
		rc = put(&w.stats, "%s", ""); /* both allocated, even for an empty tree */
	if (rc < 0) {
		al_log_warnx("gate: the installed tree: %s%s%s", w.path[0] ? w.path : ".", w.path[0] ? ": " : "",
			     w.why ? w.why : strerror(-rc));
		free(w.man.buf);
		free(w.stats.buf);
		return rc;
	}
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)w.man.buf, w.man.len);
	sodium_bin2hex(t->hex, sizeof t->hex, h, sizeof h);
	t->manifest = w.man.buf;
	t->mlen = w.man.len;
	t->stats = w.stats.buf;
	t->slen = w.stats.len;
	t->read = w.read;
	t->reused = w.reused;
	return 0;
}

void al_gate_tree_free(struct al_gate_tree *t)
{
	free(t->manifest);
	free(t->stats);
	t->manifest = t->stats = NULL;
	t->mlen = t->slen = 0;
}
