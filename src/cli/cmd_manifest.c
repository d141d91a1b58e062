/*
 * airlock manifest create|show|verify|update: keyed digests of the files the
 * configuration names (see src/integrity/manifest.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "integrity/manifest.h"
#include "supervisor/config.h"

static int run(int argc, char **argv);

const struct al_cmd al_cmd_manifest = {
	.name = "manifest",
	.summary = "create, show, verify or update the integrity manifest",
	.usage =
		"usage: airlock manifest create|show|verify|update [--config FILE] [--state-dir DIR] [--yes]\n"
		"\n"
		"  create  hash the files the configuration names (the configuration itself,\n"
		"          model, tokenizer, each domain's executable) into DIR/manifest.json,\n"
		"          creating the key DIR/manifest.key (0600) on first use\n"
		"  show    list the manifest's entries\n"
		"  verify  check every file against the manifest, and that the manifest\n"
		"          covers the files the configuration names now; exit 1 on any mismatch\n"
		"  update  show every difference between the manifest and the files (name,\n"
		"          path, old digest, new digest) and, once confirmed on the terminal\n"
		"          (--yes for scripts), write the new manifest and an audit record;\n"
		"          a running supervisor takes the files on SIGHUP or airlock unlock\n"
		"\n"
		"DIR defaults to the configuration's state_dir.\n",
	.run = run,
};

const char *al_cli_default_config(void);

static int cmd_create(const struct al_config *cfg, const char *dir, const char *mpath)
{
	struct al_manifest_key key;
	struct al_config_file files[AL_CONFIG_MAX_FILES];
	size_t n = al_config_files(cfg, files);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "airlock manifest: %s: %s\n", dir, strerror(errno));
		return AL_EXIT_FAIL;
	}
	if (al_manifest_key_load(dir, true, &key) < 0)
		return AL_EXIT_FAIL;
	struct al_manifest *m = al_manifest_new(&key);
	sodium_memzero(&key, sizeof key);
	if (!m)
		return AL_EXIT_FAIL;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = al_manifest_add_path(m, files[i].name, files[i].path);
		if (rc == 0)
			printf("%-14s %s\n", files[i].name, files[i].path);
	}
	if (rc == 0)
		rc = al_manifest_save(m, mpath);
	al_manifest_free(m);
	if (rc < 0) {
		fprintf(stderr, "airlock manifest: not created\n");
		return AL_EXIT_FAIL;
	}
	printf("wrote %s\n", mpath);
	return AL_EXIT_OK;
}

static int load(const char *dir, const char *mpath, struct al_manifest **m)
{
	struct al_manifest_key key;
	if (al_manifest_key_load(dir, false, &key) < 0)
		return -1;
	int rc = al_manifest_load(mpath, &key, m);
	sodium_memzero(&key, sizeof key);
	return rc;
}

static int cmd_show(const char *dir, const char *mpath)
{
	struct al_manifest *m;
	if (load(dir, mpath, &m) < 0)
		return AL_EXIT_FAIL;
	for (size_t i = 0; i < al_manifest_count(m); i++) {
		const struct al_manifest_entry *e = al_manifest_entry_at(m, i);
		char hex[AL_MANIFEST_DIGEST_LEN * 2 + 1];
		sodium_bin2hex(hex, sizeof hex, e->digest, sizeof e->digest);
		printf("%-14s %10llu  %s  %s\n", e->name, (unsigned long long)e->size, hex, e->path);
	}
	al_manifest_free(m);
	return AL_EXIT_OK;
}

static int cmd_verify(const struct al_config *cfg, const char *dir, const char *mpath)
{
	struct al_manifest *m;
	struct al_config_file files[AL_CONFIG_MAX_FILES];
	size_t n = al_config_files(cfg, files);
	unsigned bad = 0;
	if (load(dir, mpath, &m) < 0)
		return AL_EXIT_FAIL;
	for (size_t i = 0; i < al_manifest_count(m); i++) {
		const struct al_manifest_entry *e = al_manifest_entry_at(m, i);
		int fd = -1;
		int rc = al_manifest_open_verified(m, e->name, &fd);
		printf("%-14s %s  %s\n", e->name,
		       rc == 0 ? "ok" : rc == -EBADMSG ? "CHANGED" : strerror(-rc), e->path);
		if (fd >= 0)
			close(fd);
		bad += rc != 0;
	}
	/* A manifest that misses a file, or names another path, does not vouch for the config. */
	for (size_t i = 0; i < n; i++) {
		const struct al_manifest_entry *e = al_manifest_find(m, files[i].name);
		if (!e) {
			printf("%-14s NOT IN MANIFEST  %s\n", files[i].name, files[i].path);
			bad++;
		} else if (strcmp(e->path, files[i].path) != 0) {
			printf("%-14s OTHER PATH  config names %s\n", files[i].name, files[i].path);
			bad++;
		}
	}
	al_manifest_free(m);
	if (bad) {
		printf("%u problem(s)\n", bad);
		return AL_EXIT_FAIL;
	}
	printf("all files verified\n");
	return AL_EXIT_OK;
}

static void hex(const unsigned char *d, char out[AL_MANIFEST_DIGEST_LEN * 2 + 1])
{
	sodium_bin2hex(out, AL_MANIFEST_DIGEST_LEN * 2 + 1, d, AL_MANIFEST_DIGEST_LEN);
}

/* The audit record of an update: written when no supervisor holds the state directory. */
static void audit_update(const struct al_config *cfg, const char *dir, json_t *changes)
{
	char lock[4200], key[4200], state[4200];
	snprintf(lock, sizeof lock, "%s/airlock.lock", dir);
	int lfd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		char pid[24] = "";
		ssize_t n = pread(lfd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		printf("no audit record written: the audit log belongs to the running supervisor (pid %s); it "
		       "records the files it verifies on SIGHUP (event reload) or airlock unlock\n", pid[0] ? pid : "?");
		close(lfd);
		return;
	}
	snprintf(key, sizeof key, "%s.key", cfg->audit_log);
	snprintf(state, sizeof state, "%s.state", cfg->audit_log);
	struct al_audit *a = NULL;
	if (al_audit_open(&a, cfg->audit_log, key, state) < 0) {
		printf("no audit record written: the audit log %s could not be opened\n", cfg->audit_log);
	} else {
		json_t *f = json_pack("{s:O, s:s}", "changes", changes, "by", "airlock manifest update");
		if (al_audit_append(a, "manifest-updated", f, true) < 0)
			printf("no audit record written: appending to %s failed\n", cfg->audit_log);
		else
			printf("audit record manifest-updated written to %s\n", cfg->audit_log);
		json_decref(f);
		al_audit_close(a);
	}
	if (lfd >= 0)
		close(lfd);
}

static int cmd_update(const struct al_config *cfg, const char *dir, const char *mpath, bool yes)
{
	struct al_manifest *m;
	struct al_manifest_key key;
	struct al_config_file files[AL_CONFIG_MAX_FILES];
	size_t n = al_config_files(cfg, files);
	if (load(dir, mpath, &m) < 0) {
		fprintf(stderr, "airlock manifest: %s cannot be read; make one with `airlock manifest create`\n", mpath);
		return AL_EXIT_FAIL;
	}
	if (al_manifest_key_load(dir, false, &key) < 0) {
		al_manifest_free(m);
		return AL_EXIT_FAIL;
	}
	json_t *changes = json_array();
	char o[AL_MANIFEST_DIGEST_LEN * 2 + 1], nw[AL_MANIFEST_DIGEST_LEN * 2 + 1];
	int rc = AL_EXIT_OK;
	for (size_t i = 0; i < n; i++) {
		unsigned char d[AL_MANIFEST_DIGEST_LEN];
		int fd = open(files[i].path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
		if (fd < 0 || al_manifest_hash_fd_named(&key, fd, files[i].name, d) < 0) {
			fprintf(stderr, "airlock manifest: %s (%s): %s\n", files[i].name, files[i].path, strerror(errno));
			if (fd >= 0)
				close(fd);
			rc = AL_EXIT_FAIL;
			continue;
		}
		close(fd);
		const struct al_manifest_entry *e = al_manifest_find(m, files[i].name);
		if (e && !strcmp(e->path, files[i].path) && !memcmp(e->digest, d, sizeof d))
			continue;
		hex(d, nw);
		if (e)
			hex(e->digest, o);
		printf("%-14s %s\n", files[i].name, files[i].path);
		if (e && strcmp(e->path, files[i].path))
			printf("  old path    %s\n", e->path);
		printf("  old digest  %s\n  new digest  %s\n", e ? o : "(not in the manifest)", nw);
		json_array_append_new(changes, json_pack("{s:s, s:s, s:s?, s:s}", "name", files[i].name, "path",
							 files[i].path, "old", e ? o : NULL, "new", nw));
	}
	/* Entries the configuration no longer names are dropped. */
	for (size_t i = 0; i < al_manifest_count(m); i++) {
		const struct al_manifest_entry *e = al_manifest_entry_at(m, i);
		bool named = false;
		for (size_t j = 0; j < n; j++)
			named |= !strcmp(files[j].name, e->name);
		if (named)
			continue;
		hex(e->digest, o);
		printf("%-14s %s\n  old digest  %s\n  new digest  (dropped: the configuration names no such file)\n",
		       e->name, e->path, o);
		json_array_append_new(changes, json_pack("{s:s, s:s, s:s, s:n}", "name", e->name, "path", e->path,
							 "old", o, "new"));
	}
	sodium_memzero(&key, sizeof key);
	al_manifest_free(m);
	size_t nc = json_array_size(changes);
	if (rc != AL_EXIT_OK || nc == 0) {
		if (rc == AL_EXIT_OK)
			printf("no differences: the manifest matches every file\n");
		json_decref(changes);
		return rc;
	}
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "airlock manifest: %zu difference(s); not accepted: stdin is not a terminal "
				"(pass --yes to accept them from a script)\n", nc);
			json_decref(changes);
			return AL_EXIT_FAIL;
		}
		printf("accept %zu difference(s) into the manifest? [y/N] ", nc);
		fflush(stdout);
		char line[16] = "";
		if (!fgets(line, sizeof line, stdin) || (line[0] != 'y' && line[0] != 'Y')) {
			printf("not accepted; the manifest is unchanged\n");
			json_decref(changes);
			return AL_EXIT_FAIL;
		}
	}
	rc = cmd_create(cfg, dir, mpath);
	if (rc == AL_EXIT_OK)
		audit_update(cfg, dir, changes);
	json_decref(changes);
	return rc;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "yes", no_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cpath = NULL, *dir = NULL;
	bool yes = false;
	int c;
	if (argc < 2)
		return al_cli_usage_error(&al_cmd_manifest, "expected create, show, verify or update");
	const char *verb = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:d:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cpath = optarg; break;
		case 'd': dir = optarg; break;
		case 'y': yes = true; break;
		default: return al_cli_usage_error(&al_cmd_manifest, "bad option");
		}
	}
	if (optind != argc)
		return al_cli_usage_error(&al_cmd_manifest, "unexpected argument '%s'", argv[optind]);
	if (strcmp(verb, "create") != 0 && strcmp(verb, "show") != 0 && strcmp(verb, "verify") != 0 &&
	    strcmp(verb, "update") != 0)
		return al_cli_usage_error(&al_cmd_manifest, "unknown action '%s'", verb);

	struct al_config *cfg;
	char *errors = NULL;
	if (!cpath)
		cpath = al_cli_default_config();
	if (al_config_load(cpath, 0, &cfg, &errors) < 0) {
		fputs(errors ? errors : "airlock manifest: out of memory\n", stderr);
		free(errors);
		return AL_EXIT_FAIL;
	}
	if (!dir)
		dir = cfg->state_dir;
	char mpath[4096];
	int rc;
	if ((size_t)snprintf(mpath, sizeof mpath, "%s/%s", dir, AL_MANIFEST_FILE) >= sizeof mpath)
		rc = al_cli_usage_error(&al_cmd_manifest, "state directory path too long");
	else if (strcmp(verb, "create") == 0)
		rc = cmd_create(cfg, dir, mpath);
	else if (strcmp(verb, "show") == 0)
		rc = cmd_show(dir, mpath);
	else if (strcmp(verb, "update") == 0)
		rc = cmd_update(cfg, dir, mpath, yes);
	else
		rc = cmd_verify(cfg, dir, mpath);
	al_config_free(cfg);
	return rc;
}
