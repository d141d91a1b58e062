/*
 * `airlock gate`'s state (gate_int.h): one directory per server holding the
 * pin, the approved and pending tools/list texts and the audit log; and the
 * approval of a pending change.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/log.h"
#include "common/util.h"
#include "supervisor/gate_int.h"
#include "supervisor/gate_run.h"

int al_gate_state_dir(char *buf, size_t len)
{
	int n;
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	if (geteuid() == 0)
		n = snprintf(buf, len, "/var/lib/airlock/gate");
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/airlock/gate", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.local/state/airlock/gate", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* mkdir -p, each created level 0700. */
static int make_dirs(const char *path)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	for (char *s = tmp + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;
			*s = '\0';
			if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
				return -errno;
			if (!(*s = c))
				break;
		}
	}
	return 0;
}

int al_gate_file(const struct al_gate_state *r, const char *name, char *buf, size_t len)
{
	size_t d = strlen(r->dir), f = strlen(name);
	if (d + 1 + f + 1 > len)
		return -ENAMETOOLONG;
	memcpy(buf, r->dir, d);
	buf[d] = '/';
	memcpy(buf + d + 1, name, f + 1);
	return 0;
}

/* Replaces DIR/name with data, atomically (tmp, fsync, rename). */
int al_gate_put(const struct al_gate_state *r, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	if (al_gate_file(r, name, path, sizeof path) < 0)
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	int rc = al_write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* A 64-hex-digit hash from DIR/name into out (65 bytes); "" when absent or malformed. */
static void get_hash(const struct al_gate_state *r, const char *name, char *out)
{
	char path[PATH_MAX];
	char *buf = NULL;
	size_t len = 0;
	out[0] = '\0';
	if (al_gate_file(r, name, path, sizeof path) < 0 || al_read_file_at(AT_FDCWD, path, 256, &buf, &len) < 0)
		return;
	if (len >= 64 && strspn(buf, "0123456789abcdef") >= 64) {
		memcpy(out, buf, 64);
		out[64] = '\0';
	}
	free(buf);
}

void al_gate_hex(const uint8_t h[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

int al_gate_state_open(struct al_gate_state *r, const char *name, const char *state_dir)
{
	if (snprintf(r->dir, sizeof r->dir, "%s/%s", state_dir, name) >= (int)sizeof r->dir)
		return -ENAMETOOLONG;
	int rc = make_dirs(r->dir);
	if (rc < 0) {
		al_log_warnx("gate: state directory %s: %s", r->dir, strerror(-rc));
		return rc;
	}
	get_hash(r, "pin", r->pin);
	get_hash(r, "pending.pin", r->pending);
	return 0;
}

int al_gate_audit_open(const struct al_gate_state *r, struct al_audit **out)
{
	char path[PATH_MAX];
	if (al_gate_file(r, "audit.log", path, sizeof path) < 0)
		return -ENAMETOOLONG;
	int rc = al_audit_open(out, path, NULL, NULL);
	if (rc < 0)
		al_log_warnx("gate: audit log %s: %s", path, strerror(-rc));
	return rc;
}

/* ---- approval ---- */

int al_gate_approve(const struct al_gate_policy *p, const char *state_dir, bool yes)
{
	struct al_gate_state r = { 0 };
	struct al_audit *audit = NULL;
	if (al_gate_state_open(&r, p->name, state_dir) < 0)
		return 1;
	if (!r.pending[0]) {
		printf("%s: no pending change (pinned: %s)\n", p->name, r.pin[0] ? r.pin : "nothing yet");
		return 0;
	}
	char old[PATH_MAX], neu[PATH_MAX];
	al_gate_file(&r, "tools.json", old, sizeof old);
	al_gate_file(&r, "pending.json", neu, sizeof neu);
	printf("%s: the server's tools changed.\n  approved: %s\n  now:      %s\n\n", p->name,
	       r.pin[0] ? r.pin : "(none)", r.pending);
	fflush(stdout);
	pid_t pid = access("/usr/bin/diff", X_OK) == 0 ? fork() : -1;
	if (pid == 0) {
		execl("/usr/bin/diff", "diff", "-u", "--label", "approved", "--label", "now", old, neu, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	else
		printf("(no /usr/bin/diff: compare %s with %s)\n", old, neu);
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "airlock gate approve: not a terminal: confirm with --yes\n");
			return 1;
		}
		printf("\nAccept the new tools of %s? [y/N] ", p->name);
		fflush(stdout);
		char ans[16] = "";
		if (!fgets(ans, sizeof ans, stdin) || (ans[0] != 'y' && ans[0] != 'Y')) {
			printf("Not accepted; %s stays quarantined.\n", p->name);
			return 1;
		}
	}
	char pin_path[PATH_MAX], pend_pin[PATH_MAX];
	al_gate_file(&r, "pin", pin_path, sizeof pin_path);
	al_gate_file(&r, "pending.pin", pend_pin, sizeof pend_pin);
	if (al_gate_audit_open(&r, &audit) < 0)
		return 1;
	if (rename(pend_pin, pin_path) < 0 || (access(neu, F_OK) == 0 && rename(neu, old) < 0)) {
		fprintf(stderr, "airlock gate approve: %s: %s\n", r.dir, strerror(errno));
		al_audit_close(audit);
		return 1;
	}
	al_audit_pack(audit, "gate.approved", true, "{s:s, s:s, s:s}", "server", p->name, "old",
		      r.pin[0] ? r.pin : "none", "new", r.pending);
	al_audit_close(audit);
	printf("Accepted: %s is pinned to %s.\n", p->name, r.pending);
	return 0;
}
