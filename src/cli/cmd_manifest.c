/*
 * airlock manifest create|show|verify: keyed digests of the files the
 * configuration names (see src/integrity/manifest.h).
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "integrity/manifest.h"
#include "supervisor/config.h"

static int run(int argc, char **argv);

const struct al_cmd al_cmd_manifest = {
	.name = "manifest",
	.summary = "create, show or verify the integrity manifest",
	.usage =
		"usage: airlock manifest create|show|verify [--config FILE] [--state-dir DIR]\n"
		"\n"
		"  create  hash the files the configuration names (the configuration itself,\n"
		"          model, tokenizer, each domain's executable) into DIR/manifest.json,\n"
		"          creating the key DIR/manifest.key (0600) on first use\n"
		"  show    list the manifest's entries\n"
		"  verify  check every file against the manifest, and that the manifest\n"
		"          covers the files the configuration names now; exit 1 on any mismatch\n"
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

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cpath = NULL, *dir = NULL;
	int c;
	if (argc < 2)
		return al_cli_usage_error(&al_cmd_manifest, "expected create, show or verify");
	const char *verb = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:d:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cpath = optarg; break;
		case 'd': dir = optarg; break;
		default: return al_cli_usage_error(&al_cmd_manifest, "bad option");
		}
	}
	if (optind != argc)
		return al_cli_usage_error(&al_cmd_manifest, "unexpected argument '%s'", argv[optind]);
	if (strcmp(verb, "create") != 0 && strcmp(verb, "show") != 0 && strcmp(verb, "verify") != 0)
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
	else
		rc = cmd_verify(cfg, dir, mpath);
	al_config_free(cfg);
	return rc;
}
