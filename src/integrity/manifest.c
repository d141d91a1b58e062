/*
 * Integrity manifest (see manifest.h).
 *
 * File format (jansson, canonical: sorted keys, compact):
 *   {"entries":[{"digest":HEX,"name":N,"path":P,"size":S},...],
 *    "key_id":HEX16,"mac":HEX,"version":1}
 * key_id = BLAKE2b-128 keyed with the key over a fixed label: tells a wrong key
 * apart from an edit. mac = BLAKE2b-256 keyed over the canonical text without "mac".
 */
#include "integrity/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "integrity/progress.h"

#define KEY_ID_LEN 16
#define KEY_ID_LABEL "airlock manifest key id v1"
#define HASH_CHUNK (64 * 1024)

struct al_manifest {
	struct al_manifest_key key;
	struct al_manifest_entry *entries;
	size_t n;
};

static bool name_ok(const char *s)
{
	return al_name_ok(s, strlen(s), AL_MANIFEST_MAX_NAME);
}

static bool path_ok(const char *s, size_t len)
{
	return len > 1 && len < PATH_MAX && s[0] == '/' && strlen(s) == len;
}

int al_manifest_key_load(const char *state_dir, bool create, struct al_manifest_key *key)
{
	if (sodium_init() < 0)
		return -ENOSYS;
	AL_AUTOCLOSE int dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		int rc = -errno;
		al_log_warn("manifest: state directory %s", state_dir);
		return rc;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		AL_AUTOCLOSE int fd = openat(dfd, AL_MANIFEST_KEY_FILE,
					     O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create) {
			fd = openat(dfd, AL_MANIFEST_KEY_FILE,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0 && errno == EEXIST)
				continue; /* created meanwhile by another run: read that one */
			if (fd < 0) {
				int rc = -errno;
				al_log_warn("manifest: create %s/%s", state_dir, AL_MANIFEST_KEY_FILE);
				return rc;
			}
			randombytes_buf(key->bytes, sizeof key->bytes);
			int rc = al_write_all(fd, key->bytes, sizeof key->bytes);
			if (rc == 0 && (fsync(fd) < 0 || fsync(dfd) < 0))
				rc = -errno;
			if (rc < 0) {
				unlinkat(dfd, AL_MANIFEST_KEY_FILE, 0);
				sodium_memzero(key, sizeof *key);
				al_log_warnx("manifest: write key: %s", strerror(-rc));
			}
			return rc;
		}
		if (fd < 0) {
			int rc = -errno;
			al_log_warn("manifest: key %s/%s", state_dir, AL_MANIFEST_KEY_FILE);
			return rc;
		}
		struct stat st;
		if (fstat(fd, &st) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode) || st.st_size != AL_MANIFEST_KEY_LEN) {
			al_log_warnx("manifest: key %s/%s: not a regular file of %d bytes", state_dir,
				     AL_MANIFEST_KEY_FILE, AL_MANIFEST_KEY_LEN);
			return -EPERM;
		}
		if (st.st_uid != geteuid() || (st.st_mode & 077)) {
			al_log_warnx("manifest: key %s/%s: must be owned by uid %u with mode 0600 "
				     "(is uid %u, mode %04o)", state_dir, AL_MANIFEST_KEY_FILE,
				     (unsigned)geteuid(), (unsigned)st.st_uid,
				     (unsigned)(st.st_mode & 07777));
			return -EPERM;
		}
		ssize_t n = pread(fd, key->bytes, sizeof key->bytes, 0);
		if (n != (ssize_t)sizeof key->bytes) {
			sodium_memzero(key, sizeof *key);
			return n < 0 ? -errno : -EIO;
		}
		return 0;
	}
	return -EEXIST;
}

int al_manifest_hash_fd(const struct al_manifest_key *key, int fd,
			unsigned char out[AL_MANIFEST_DIGEST_LEN])
{
	return al_manifest_hash_fd_named(key, fd, NULL, out);
}

int al_manifest_hash_fd_named(const struct al_manifest_key *key, int fd, const char *name,
			      unsigned char out[AL_MANIFEST_DIGEST_LEN])
{
	crypto_generichash_state st;
	AL_AUTOFREE unsigned char *buf = malloc(HASH_CHUNK);
	if (!buf)
		return -ENOMEM;
	/* A large file takes seconds: a person at a terminal sees how far it is. */
	struct stat sb;
	char label[AL_MANIFEST_MAX_NAME + 16];
	snprintf(label, sizeof label, "hashing %s", name ? name : "file");
	struct al_progress pr;
	al_progress_begin(&pr, label, fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0);
	crypto_generichash_init(&st, key->bytes, sizeof key->bytes, AL_MANIFEST_DIGEST_LEN);
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, HASH_CHUNK, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int rc = -errno;
			sodium_memzero(&st, sizeof st);
			al_progress_end(&pr, false);
			return rc;
		}
		if (n == 0)
			break;
		crypto_generichash_update(&st, buf, (unsigned long long)n);
		off += n;
		al_progress_update(&pr, (uint64_t)off);
	}
	crypto_generichash_final(&st, out, AL_MANIFEST_DIGEST_LEN);
	sodium_memzero(&st, sizeof st);
	al_progress_end(&pr, true);
	return 0;
}

struct al_manifest *al_manifest_new(const struct al_manifest_key *key)
{
	if (sodium_init() < 0)
		return NULL;
	struct al_manifest *m = calloc(1, sizeof *m);
	if (m)
		m->key = *key;
	return m;
}

void al_manifest_free(struct al_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->entries[i].name);
		free(m->entries[i].path);
	}
	free(m->entries);
	sodium_memzero(m, sizeof *m);
	free(m);
}

static struct al_manifest_entry *entry_find(const struct al_manifest *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->entries[i].name, name) == 0)
			return &m->entries[i];
	return NULL;
}

/* Takes the name and path strings. */
static int entry_put(struct al_manifest *m, char *name, char *path, uint64_t size,
		     const unsigned char digest[AL_MANIFEST_DIGEST_LEN])
{
	struct al_manifest_entry *e = entry_find(m, name);
	if (e) {
		free(e->name);
		free(e->path);
	} else {
		if (m->n >= AL_MANIFEST_MAX_ENTRIES)
			return -E2BIG;
		struct al_manifest_entry *ne = realloc(m->entries, (m->n + 1) * sizeof *ne);
		if (!ne)
			return -ENOMEM;
		m->entries = ne;
		e = &m->entries[m->n++];
	}
	e->name = name;
	e->path = path;
	e->size = size;
	memcpy(e->digest, digest, AL_MANIFEST_DIGEST_LEN);
	return 0;
}

int al_manifest_add_fd(struct al_manifest *m, const char *name, const char *path, int fd)
{
	struct stat st;
	unsigned char d[AL_MANIFEST_DIGEST_LEN];
	if (!name_ok(name) || !path_ok(path, strlen(path))) {
		al_log_warnx("manifest: bad entry name '%s' or path '%s' (must be absolute)", name,
			     path);
		return -EINVAL;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		al_log_warnx("manifest: %s: %s is not a regular file", name, path);
		return -EINVAL;
	}
	int rc = al_manifest_hash_fd_named(&m->key, fd, name, d);
	if (rc < 0)
		return rc;
	char *n = strdup(name), *p = strdup(path);
	if (!n || !p) {
		free(n);
		free(p);
		return -ENOMEM;
	}
	rc = entry_put(m, n, p, (uint64_t)st.st_size, d);
	if (rc < 0) {
		free(n);
		free(p);
	}
	return rc;
}

int al_manifest_add_path(struct al_manifest *m, const char *name, const char *path)
{
	AL_AUTOCLOSE int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		int rc = -errno;
		al_log_warn("manifest: %s: %s", name, path);
		return rc;
	}
	return al_manifest_add_fd(m, name, path, fd);
}

static void key_id(const struct al_manifest_key *key, char hex[KEY_ID_LEN * 2 + 1])
{
	unsigned char id[KEY_ID_LEN];
	crypto_generichash(id, sizeof id, (const unsigned char *)KEY_ID_LABEL,
			   sizeof KEY_ID_LABEL - 1, key->bytes, sizeof key->bytes);
	sodium_bin2hex(hex, KEY_ID_LEN * 2 + 1, id, sizeof id);
}

/* MAC over the canonical text of j (which must not hold "mac"). */
static int doc_mac(const struct al_manifest_key *key, json_t *j, char hex[AL_MANIFEST_DIGEST_LEN * 2 + 1])
{
	unsigned char mac[AL_MANIFEST_DIGEST_LEN];
	char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	crypto_generichash(mac, sizeof mac, (unsigned char *)text, strlen(text), key->bytes,
			   sizeof key->bytes);
	free(text);
	sodium_bin2hex(hex, AL_MANIFEST_DIGEST_LEN * 2 + 1, mac, sizeof mac);
	return 0;
}

static json_t *to_json(const struct al_manifest *m)
{
	char kid[KEY_ID_LEN * 2 + 1], mac[AL_MANIFEST_DIGEST_LEN * 2 + 1];
	json_t *arr = json_array();
	if (!arr)
		return NULL;
	for (size_t i = 0; i < m->n; i++) {
		const struct al_manifest_entry *e = &m->entries[i];
		char d[AL_MANIFEST_DIGEST_LEN * 2 + 1];
		sodium_bin2hex(d, sizeof d, e->digest, sizeof e->digest);
		if (json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:s}", "name", e->name,
							  "path", e->path, "size",
							  (json_int_t)e->size, "digest", d)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	key_id(&m->key, kid);
	json_t *j = json_pack("{s:i, s:s, s:o}", "version", 1, "key_id", kid, "entries", arr);
	if (!j)
		return NULL;
	if (doc_mac(&m->key, j, mac) < 0 || json_object_set_new(j, "mac", json_string(mac)) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int al_manifest_save(const struct al_manifest *m, const char *path)
{
	json_t *j = to_json(m);
	if (!j)
		return -ENOMEM;
	char *text = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(1));
	json_decref(j);
	if (!text)
		return -ENOMEM;
	size_t plen = strlen(path);
	AL_AUTOFREE char *tmp = malloc(plen + 5);
	AL_AUTOFREE char *dir = strdup(path);
	int rc = 0;
	if (!tmp || !dir) {
		free(text);
		return -ENOMEM;
	}
	snprintf(tmp, plen + 5, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		al_log_warn("manifest: %s", tmp);
		free(text);
		return rc;
	}
	rc = al_write_all(fd, text, strlen(text));
	if (rc == 0)
		rc = al_write_all(fd, "\n", 1);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	free(text);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0) {
		AL_AUTOCLOSE int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0)
			fsync(dfd);
	}
	if (rc < 0) {
		unlink(tmp);
		al_log_warnx("manifest: save %s: %s", path, strerror(-rc));
	}
	return rc;
}

static int hexfield(json_t *o, const char *field, unsigned char *out, size_t outlen)
{
	json_t *v = json_object_get(o, field);
	size_t bl = 0;
	const char *end = NULL;
	if (!json_is_string(v) || json_string_length(v) != outlen * 2)
		return -EBADMSG;
	if (sodium_hex2bin(out, outlen, json_string_value(v), outlen * 2, NULL, &bl, &end) != 0 ||
	    bl != outlen)
		return -EBADMSG;
	return 0;
}

int al_manifest_load_buf(const char *text, size_t len, const char *source,
			 const struct al_manifest_key *key, struct al_manifest **out)
{
	json_error_t err;
	if (len > AL_MANIFEST_MAX_FILE) {
		al_log_warnx("manifest: %s: larger than %d bytes", source, AL_MANIFEST_MAX_FILE);
		return -EBADMSG;
	}
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		al_log_warnx("manifest: %s: line %d: %s", source, err.line, err.text);
		return -EBADMSG;
	}
	int rc = -EBADMSG;
	struct al_manifest *m = al_manifest_new(key);
	json_t *ver = json_object_get(j, "version"), *entries = json_object_get(j, "entries"),
	       *mac = json_object_get(j, "mac"), *kid = json_object_get(j, "key_id");
	char want[AL_MANIFEST_DIGEST_LEN * 2 + 1], mykid[KEY_ID_LEN * 2 + 1];
	if (!m) {
		rc = -ENOMEM;
		goto out;
	}
	if (!json_is_object(j) || json_object_size(j) != 4) {
		al_log_warnx("manifest: %s: expected an object of version, key_id, entries, mac",
			     source);
		goto out;
	}
	if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
		al_log_warnx("manifest: %s: \"version\" is not 1", source);
		goto out;
	}
	if (!json_is_string(kid) || json_string_length(kid) != KEY_ID_LEN * 2) {
		al_log_warnx("manifest: %s: bad \"key_id\"", source);
		goto out;
	}
	if (!json_is_string(mac) || json_string_length(mac) != AL_MANIFEST_DIGEST_LEN * 2) {
		al_log_warnx("manifest: %s: bad \"mac\"", source);
		goto out;
	}
	if (!json_is_array(entries) || json_array_size(entries) > AL_MANIFEST_MAX_ENTRIES) {
		al_log_warnx("manifest: %s: \"entries\" is not an array of at most %d", source,
			     AL_MANIFEST_MAX_ENTRIES);
		goto out;
	}
	key_id(key, mykid);
	if (strcmp(mykid, json_string_value(kid)) != 0) {
		al_log_warnx("manifest: %s: made with another key (key id %s, ours %s)", source,
			     json_string_value(kid), mykid);
		rc = -EKEYREJECTED;
		goto out;
	}
	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e) {
		json_t *name = json_object_get(e, "name"), *path = json_object_get(e, "path"),
		       *size = json_object_get(e, "size");
		unsigned char d[AL_MANIFEST_DIGEST_LEN];
		if (!json_is_object(e) || json_object_size(e) != 4 || !json_is_string(name) ||
		    !name_ok(json_string_value(name)) ||
		    strlen(json_string_value(name)) != json_string_length(name)) {
			al_log_warnx("manifest: %s: entry %zu: bad \"name\"", source, i);
			goto out;
		}
		if (!json_is_string(path) ||
		    !path_ok(json_string_value(path), json_string_length(path))) {
			al_log_warnx("manifest: %s: entry %s: bad \"path\" (absolute path expected)",
				     source, json_string_value(name));
			goto out;
		}
		if (!json_is_integer(size) || json_integer_value(size) < 0) {
			al_log_warnx("manifest: %s: entry %s: bad \"size\"", source,
				     json_string_value(name));
			goto out;
		}
		if (hexfield(e, "digest", d, sizeof d) < 0) {
			al_log_warnx("manifest: %s: entry %s: bad \"digest\"", source,
				     json_string_value(name));
			goto out;
		}
		if (entry_find(m, json_string_value(name))) {
			al_log_warnx("manifest: %s: entry %s appears twice", source,
				     json_string_value(name));
			goto out;
		}
		char *n = strdup(json_string_value(name)), *p = strdup(json_string_value(path));
		if (!n || !p || entry_put(m, n, p, (uint64_t)json_integer_value(size), d) < 0) {
			free(n);
			free(p);
			rc = -ENOMEM;
			goto out;
		}
	}
	/* The MAC last: the structure is known sane, now is it ours and unedited? */
	json_incref(mac);
	json_object_del(j, "mac");
	int mrc = doc_mac(key, j, want);
	bool same = mrc == 0 && sodium_memcmp(want, json_string_value(mac), sizeof want - 1) == 0;
	json_decref(mac);
	if (mrc < 0) {
		rc = mrc;
		goto out;
	}
	if (!same) {
		al_log_warnx("manifest: %s: MAC mismatch: the manifest was edited", source);
		rc = -EKEYREJECTED;
		goto out;
	}
	*out = al_steal_ptr(&m);
	rc = 0;
out:
	al_manifest_free(m);
	json_decref(j);
	return rc;
}

int al_manifest_load(const char *path, const struct al_manifest_key *key,
		     struct al_manifest **out)
{
	char *text = NULL;
	size_t len = 0;
	int rc = al_read_file_at(AT_FDCWD, path, AL_MANIFEST_MAX_FILE, &text, &len);
	if (rc < 0) {
		al_log_warnx("manifest: %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = al_manifest_load_buf(text, len, path, key, out);
	free(text);
	return rc;
}

int al_manifest_verify_fd(const struct al_manifest *m, const char *name, int fd)
{
	const struct al_manifest_entry *e = entry_find(m, name);
	unsigned char d[AL_MANIFEST_DIGEST_LEN];
	struct stat st;
	if (!e) {
		al_log_warnx("manifest: no entry %s", name);
		return -ENOENT;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->size) {
		al_log_warnx("manifest: %s (%s): size %lld, manifest says %llu", name, e->path,
			     (long long)st.st_size, (unsigned long long)e->size);
		return -EBADMSG;
	}
	int rc = al_manifest_hash_fd_named(&m->key, fd, name, d);
	if (rc < 0)
		return rc;
	if (sodium_memcmp(d, e->digest, sizeof d) != 0) {
		al_log_warnx("manifest: %s (%s): digest mismatch", name, e->path);
		return -EBADMSG;
	}
	return 0;
}

int al_manifest_open_verified(const struct al_manifest *m, const char *name, int *fd_out)
{
	const struct al_manifest_entry *e = entry_find(m, name);
	if (!e) {
		al_log_warnx("manifest: no entry %s", name);
		return -ENOENT;
	}
	AL_AUTOCLOSE int fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		int rc = -errno;
		al_log_warn("manifest: %s: %s", name, e->path);
		return rc;
	}
	int rc = al_manifest_verify_fd(m, name, fd);
	if (rc < 0)
		return rc;
	*fd_out = al_steal_fd(&fd);
	return 0;
}

size_t al_manifest_count(const struct al_manifest *m)
{
	return m->n;
}

const struct al_manifest_entry *al_manifest_entry_at(const struct al_manifest *m, size_t i)
{
	return i < m->n ? &m->entries[i] : NULL;
}

const struct al_manifest_entry *al_manifest_find(const struct al_manifest *m, const char *name)
{
	return entry_find(m, name);
}
