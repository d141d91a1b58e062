/*
 * Integrity manifest: keyed BLAKE2b-256 digests of the files a domain needs
 * (executables, model, tokenizer, configuration).
 *
 *   struct al_manifest_key key;
 *   al_manifest_key_load(state_dir, true, &key);     // created once, 0600, O_EXCL
 *   struct al_manifest *m;
 *   al_manifest_load(state_dir "/manifest.json", &key, &m);
 *   int fd;
 *   al_manifest_open_verified(m, "ai.model", &fd);   // open, hash that fd, compare
 *   ... pass fd on / execveat(fd, "", ..., AT_EMPTY_PATH) ...
 *   al_manifest_free(m);
 *
 * Hashing works on an open fd so the file that was checked is the very one used:
 * no window between check and use for a rename or symlink swap. (Content
 * written into the same inode afterwards is caught by periodic re-verification;
 * keep these files read-only for everyone but root.)
 *
 * The key lives in STATE_DIR/manifest.key (32 raw bytes, owner-only). Without it
 * nobody can compute a digest the manifest would accept, so an intruder who can
 * write the files cannot also update the manifest to match. The manifest file
 * itself carries a key id and a MAC over its contents: a wrong key or an edited
 * manifest is reported as such, not as a changed file.
 */
#ifndef AL_INTEGRITY_MANIFEST_H
#define AL_INTEGRITY_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AL_MANIFEST_KEY_LEN 32
#define AL_MANIFEST_DIGEST_LEN 32
#define AL_MANIFEST_KEY_FILE "manifest.key"
#define AL_MANIFEST_FILE "manifest.json"
#define AL_MANIFEST_MAX_ENTRIES 64
#define AL_MANIFEST_MAX_NAME 64
/* The manifest file is read whole; it never needs more. */
#define AL_MANIFEST_MAX_FILE (1 << 20)

struct al_manifest_key {
	unsigned char bytes[AL_MANIFEST_KEY_LEN];
};

struct al_manifest_entry {
	char *name; /* [a-z0-9._-], e.g. "ai.model", "proto.exe", "config" */
	char *path; /* absolute */
	uint64_t size;
	unsigned char digest[AL_MANIFEST_DIGEST_LEN];
};

struct al_manifest;

/*
 * Loads STATE_DIR/manifest.key. With create, a missing key is made (random,
 * O_EXCL, 0600, fsynced). Refuses (-EPERM) a key that is not a regular file of
 * 32 bytes owned by us and closed to group and others. 0 or -errno.
 */
int al_manifest_key_load(const char *state_dir, bool create, struct al_manifest_key *key);

/* Keyed BLAKE2b-256 of the whole file behind fd (pread from 0: the offset is untouched). */
int al_manifest_hash_fd(const struct al_manifest_key *key, int fd,
			unsigned char out[AL_MANIFEST_DIGEST_LEN]);
/* The same; a file of AL_PROGRESS_MIN_BYTES or more shows "hashing NAME" and
 * how far it is on stderr when that is a terminal (integrity/progress.h). */
int al_manifest_hash_fd_named(const struct al_manifest_key *key, int fd, const char *name,
			      unsigned char out[AL_MANIFEST_DIGEST_LEN]);

struct al_manifest *al_manifest_new(const struct al_manifest_key *key);
void al_manifest_free(struct al_manifest *m);

/* Hashes fd and records it as NAME (replacing an entry of that name). 0 or -errno. */
int al_manifest_add_fd(struct al_manifest *m, const char *name, const char *path, int fd);
/* Opens path read-only (no symlink as last component) and adds it. 0 or -errno. */
int al_manifest_add_path(struct al_manifest *m, const char *name, const char *path);

/* Writes the manifest atomically (tmp + fsync + rename), mode 0600. */
int al_manifest_save(const struct al_manifest *m, const char *path);

/*
 * Reads a manifest (untrusted text: every field checked, limits on everything).
 * -EBADMSG malformed, -EKEYREJECTED made with another key or edited; the reason
 * is logged naming the file and the field.
 */
int al_manifest_load(const char *path, const struct al_manifest_key *key,
		     struct al_manifest **out);
/* Same over a buffer; source names it in messages. */
int al_manifest_load_buf(const char *text, size_t len, const char *source,
			 const struct al_manifest_key *key, struct al_manifest **out);

/* 0 if fd's content has NAME's digest; -ENOENT no such entry; -EBADMSG mismatch. */
int al_manifest_verify_fd(const struct al_manifest *m, const char *name, int fd);

/* Opens NAME's path (O_RDONLY|O_CLOEXEC|O_NOFOLLOW), verifies that fd, hands it out. */
int al_manifest_open_verified(const struct al_manifest *m, const char *name, int *fd_out);

size_t al_manifest_count(const struct al_manifest *m);
const struct al_manifest_entry *al_manifest_entry_at(const struct al_manifest *m, size_t i);
const struct al_manifest_entry *al_manifest_find(const struct al_manifest *m, const char *name);

#endif
