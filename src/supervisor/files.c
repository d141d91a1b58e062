/*
 * Files and sockets (sup_int.h): the state directory and its lock, the
 * listener, the protections the configuration requires, and the files the
 * domains run from, opened once, verified against the manifest, and handed
 * to the integrity monitor.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stddef.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "hw/hw.h"
#include "supervisor/sup_int.h"

/* Opened once: the same fd is verified, then passed on or executed. */
int sup_open_verified(const char *what, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		al_log_warn("%s: %s", what, path);
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		al_log_warnx("%s: %s is not a regular file", what, path);
		close(fd);
		return -1;
	}
	return fd;
}

#define LISTEN_BACKLOG 128

int sup_listen_tcp(const char *host, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		al_log_warnx("listen: '%s' is not an IPv4 address", host);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		al_log_warn("listen: %s:%u", host, port);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The listener listens while a protocol domain may serve it. Locked down with
 * the protocol domain's own executable changed, nobody will until `airlock
 * unlock`: it stops listening, so clients are refused at once instead of
 * waiting in its backlog for nothing, and listens again, on the same address,
 * once unlocked. A socket bound to port 0 is left listening (listening again
 * would pick another port).
 */
void sup_listen_follow(struct sup *s)
{
	bool serve = !(s->locked && s->lock_all);
	if (s->listenfd < 0 || serve != s->listen_paused || (!s->cfg->proto.port && !s->cfg->proto.systemd))
		return;
	if (serve ? listen(s->listenfd, LISTEN_BACKLOG) : shutdown(s->listenfd, SHUT_RD)) {
		al_log_warn("listener: %s", serve ? "listening again" : "stopping");
		return;
	}
	s->listen_paused = !serve;
}

/*
 * listen = systemd: the socket systemd passed, as sd_listen_fds(3) finds it
 * (LISTEN_PID is ours, LISTEN_FDS counts from fd 3), checked to be a
 * listening TCP socket. The protocol domain gets it exactly as one that
 * sup_listen_tcp bound. The variables are removed, as sd_listen_fds(1) does:
 * nothing started later mistakes the socket for its own.
 */
int sup_listen_systemd(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	uint64_t p = 0, n = 0;
	if (!pid || !fds || al_parse_u64(pid, &p) < 0 || al_parse_u64(fds, &n) < 0 || n == 0) {
		al_log_warnx("listen = systemd: no socket was passed (LISTEN_PID, LISTEN_FDS); start airlock "
			     "through airlock.socket, or with systemd-socket-activate");
		return -1;
	}
	if (p != (uint64_t)getpid()) {
		al_log_warnx("listen = systemd: the sockets passed are for pid %s, not this process", pid);
		return -1;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	/* All of them close on exec; only the first is served. */
	for (uint64_t i = 0; i < n && i < 1024; i++)
		(void)fcntl(3 + (int)i, F_SETFD, FD_CLOEXEC);
	if (n > 1)
		al_log_warnx("listen = systemd: %llu sockets passed, only the first (fd 3) is served",
			     (unsigned long long)n);
	int fd = 3, type = 0, listening = 0, family = 0;
	socklen_t l1 = sizeof type, l2 = sizeof listening, l3 = sizeof family;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) < 0 || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN,
	    &listening, &l2) < 0 || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &l3) < 0) {
		al_log_warn("listen = systemd: fd 3 is not a socket");
		return -1;
	}
	if (type != SOCK_STREAM || !listening || (family != AF_INET && family != AF_INET6)) {
		al_log_warnx("listen = systemd: fd 3 is not a listening TCP socket (ListenStream= in airlock.socket, "
			     "Accept=no)");
		return -1;
	}
	return fd;
}

/* The address a listening socket is bound to, for the messages. */
void sup_listen_name(int fd, char *host, size_t hl, unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	al_strlcpy(host, "?", hl);
	*port = 0;
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, host, (socklen_t)hl);
		*port = ntohs(a->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, (socklen_t)hl);
		*port = ntohs(a->sin6_port);
	}
}

int sup_mkdir_private(const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		al_log_warn("state directory %s", dir);
		return -1;
	}
	return 0;
}

/*
 * One writer per state directory: an exclusive lock on DIR/airlock.lock,
 * taken before anything is written there (audit log, manifest, socket). The
 * file holds the owner's pid, for the refusal's message. The lock goes with
 * the process, however it ends. The fd, or -1 with the reason printed.
 */
int sup_state_lock(const char *dir)
{
	char path[600];
	snprintf(path, sizeof path, "%s/airlock.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		al_log_warn("lock %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		char pid[24] = "";
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			al_log_warnx("already running (pid %s) on state directory %s", pid[0] ? pid : "?", dir);
		else
			al_log_warnx("lock %s: %s", path, strerror(e));
		close(fd);
		return -1;
	}
	char line[24];
	int len = snprintf(line, sizeof line, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)len, 0) != len)
		al_log_warn("lock %s: writing the pid", path);
	return fd;
}

/* Fail closed: every protection the configuration requires must be present. */
int sup_require_protections(struct sup *s)
{
	const char *req[3 * AL_FEAT_COUNT];
	size_t n = al_config_required_items(s->cfg, req, AL_ARRAY_LEN(req));
	struct al_hw_report *hw = al_hw_probe("/");
	if (!hw)
		return -1;
	int missing = al_hw_report_require(hw, req, n, stderr);
	json_t *names = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(names, json_string(req[i]));
	al_hw_report_free(hw);
	sup_event(s, "protections-required", true, json_pack("{s:o, s:i}", "required", names, "missing", missing));
	if (missing != 0) {
		al_log_warnx("refusing to start: %d required protection(s) missing (see airlock check)",
			     missing < 0 ? 1 : missing);
		return -1;
	}
	return 0;
}

void sup_files_close(struct sup_files *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
	f->n = 0;
	for (int d = 0; d < AL_DOMAIN_COUNT; d++) {
		free(f->profile[d]);
		f->profile[d] = NULL;
	}
}

/*
 * Opens every file a domain needs once and checks it against the manifest;
 * these very fds are what the domains receive or execute, and what the
 * integrity monitor re-hashes later. Without a manifest (first run, and only
 * when allowed) one is made from them and recorded in the audit log. On a
 * refusal, why names the file and the reason.
 */
int sup_files_verify(struct sup *s, bool may_create, struct sup_files *out, char *why, size_t wl)
{
	struct al_config_file files[AL_CONFIG_MAX_FILES];
	size_t n = al_config_files(s->cfg, files);
	struct al_manifest *m = NULL;
	char mpath[512];
	snprintf(mpath, sizeof mpath, "%s/%s", s->cfg->state_dir, AL_MANIFEST_FILE);
	out->n = 0;
	int rc;
	char changed[400] = "";
	bool first_run = may_create && access(mpath, F_OK) < 0 && errno == ENOENT;
	if (first_run && s->earlier_runs) {
		/* A manifest that vanished after earlier runs is not a first run:
		 * trusting whatever is on disk now would bless a swapped file. */
		snprintf(why, wl, "manifest %.300s is missing although the audit log records earlier runs; "
			 "recreate it deliberately with `airlock manifest create`", mpath);
		sup_event(s, "integrity-violation", true, json_pack("{s:s, s:s}", "file", mpath, "reason", "missing"));
		return -1;
	}
	if (first_run)
		m = al_manifest_new(&s->key);
	else if ((rc = al_manifest_load(mpath, &s->key, &m)) < 0) {
		snprintf(why, wl, "manifest %.300s: %s", mpath, strerror(-rc));
		sup_event(s, "integrity-violation", true, json_pack("{s:s, s:s}", "file", mpath, "reason", strerror(-rc)));
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		out->name[i] = files[i].name;
		out->path[i] = files[i].path;
		out->n = i + 1;
		if ((out->fd[i] = sup_open_verified(files[i].name, files[i].path)) < 0) {
			snprintf(why, wl, "%s (%s) cannot be opened", files[i].name, files[i].path);
			goto fail;
		}
		rc = first_run ? al_manifest_add_fd(m, files[i].name, files[i].path, out->fd[i])
			       : al_manifest_verify_fd(m, files[i].name, out->fd[i]);
		if (rc == -EBADMSG || rc == -ENOENT) {
			/* Every changed file is named, not only the first. */
			sup_event(s, "integrity-violation", true, json_pack("{s:s, s:s, s:s}", "name", files[i].name,
				  "path", files[i].path, "reason", rc == -EBADMSG ? "digest mismatch" : "not in the manifest"));
			size_t l = strlen(changed);
			snprintf(changed + l, sizeof changed - l, "%s%s (%s)%s", l ? ", " : "", files[i].name,
				 files[i].path, rc == -ENOENT ? " not in the manifest" : "");
			continue;
		}
		if (rc < 0) {
			sup_event(s, "integrity-violation", true, json_pack("{s:s, s:s, s:s}", "name", files[i].name,
				  "path", files[i].path, "reason", strerror(-rc)));
			snprintf(why, wl, "%s (%s): could not be verified", files[i].name, files[i].path);
			goto fail;
		}
		memcpy(out->digest[i], al_manifest_find(m, files[i].name)->digest, AL_MANIFEST_DIGEST_LEN);
		/* A profile's bytes are taken from the very fd just verified. */
		int d = !strcmp(files[i].name, "ai.profile") ? AL_DOMAIN_AI
			: !strcmp(files[i].name, "proto.profile") ? AL_DOMAIN_PROTO : -1;
		if (d >= 0 && (rc = al_read_fd(out->fd[i], 1 << 20, &out->profile[d], &out->profile_len[d])) < 0) {
			snprintf(why, wl, "%s (%s): %s", files[i].name, files[i].path, strerror(-rc));
			goto fail;
		}
	}
	if (changed[0]) {
		snprintf(why, wl, "changed since the manifest: %.380s; review them with `airlock manifest update`, "
			 "which shows the differences and accepts them", changed);
		goto fail;
	}
	if (first_run) {
		if ((rc = al_manifest_save(m, mpath)) < 0) {
			snprintf(why, wl, "manifest %.300s: %s", mpath, strerror(-rc));
			goto fail;
		}
		sup_event(s, "manifest-created", true, json_pack("{s:s, s:i}", "path", mpath, "files", (int)n));
	} else {
		sup_event(s, "files-verified", false, json_pack("{s:s, s:i}", "manifest", mpath, "files", (int)n));
	}
	al_manifest_free(m);
	return 0;
fail:
	sup_files_close(out);
	al_manifest_free(m);
	return -1;
}

/* Makes verified files the ones in use: slots for the domains, the monitor's list. */
void sup_files_install(struct sup *s, struct sup_files *nf)
{
	sup_files_close(&s->files);
	/* The metrics count integrity passes since the start, across monitors. */
	struct al_monitor_stats ms = {0};
	if (s->mon) {
		al_monitor_stats(s->mon, &ms);
		s->integrity_before.passes += ms.passes;
		s->integrity_before.bytes += ms.bytes;
		s->integrity_before.cpu_ns += ms.cpu_ns;
		s->integrity_before.steps += ms.steps;
	}
	s->files = *nf;
	nf->n = 0;
	for (int d = 0; d < AL_DOMAIN_COUNT; d++)
		nf->profile[d] = NULL; /* moved */
	s->model_fd = s->tok_fd = s->dom[AL_DOMAIN_AI].exe_fd = s->dom[AL_DOMAIN_PROTO].exe_fd = -1;
	al_monitor_free(s->mon);
	s->mon = al_monitor_new(&s->key, (double)s->cfg->respond.integrity_budget_pct);
	for (size_t i = 0; i < s->files.n; i++) {
		const char *name = s->files.name[i];
		int *slot = !strcmp(name, "ai.model") ? &s->model_fd : !strcmp(name, "ai.tokenizer") ? &s->tok_fd :
			    !strcmp(name, "ai.exe") ? &s->dom[AL_DOMAIN_AI].exe_fd :
			    !strcmp(name, "proto.exe") ? &s->dom[AL_DOMAIN_PROTO].exe_fd : NULL;
		if (slot)
			*slot = s->files.fd[i]; /* borrowed: s->files owns it */
		if (s->mon && al_monitor_add(s->mon, name, s->files.path[i], s->files.fd[i], s->files.digest[i]) < 0)
			al_log_warnx("integrity: %s not monitored", name);
	}
}

int sup_files_open(struct sup *s)
{
	/* Instances sharing the state directory create its key and manifest
	 * once: one at a time here (a brief wait at start, never in the loop). */
	char path[600];
	snprintf(path, sizeof path, "%s/manifest.lock", s->cfg->state_dir);
	int lk = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (lk < 0 || flock(lk, LOCK_EX) < 0) {
		al_log_warn("lock %s", path);
		if (lk >= 0)
			close(lk);
		return -1;
	}
	/* A key made by an earlier run means its manifest must still be there. */
	snprintf(path, sizeof path, "%s/%s", s->cfg->state_dir, AL_MANIFEST_KEY_FILE);
	if (access(path, F_OK) == 0)
		s->earlier_runs = true;
	int rc = al_manifest_key_load(s->cfg->state_dir, true, &s->key);
	struct sup_files nf = {0};
	char why[512];
	if (rc < 0)
		al_log_warnx("manifest key in %s: %s", s->cfg->state_dir, strerror(-rc));
	else if ((rc = sup_files_verify(s, true, &nf, why, sizeof why)) < 0)
		al_log_warnx("refusing to start: %s", why);
	close(lk);
	if (rc < 0)
		return -1;
	sup_files_install(s, &nf);
	return 0;
}


static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/*
 * SIGHUP: the configuration file is read again from its path, and it and
 * every file it names are verified against the manifest (a changed
 * configuration is accepted first with `airlock manifest update`). On
 * success the new configuration and files are the ones in use, and the
 * caller restarts the domains on them; the listening socket, the state
 * directory, the audit log and the control socket stay: a change to
 * state_dir, audit_log, control_socket or listen is refused (it needs
 * airlock run started again). The security level in force stays (airlock
 * level set changes it). -1 with why set, and nothing changed.
 */
int sup_reload(struct sup *s, char *why, size_t wl)
{
	const struct al_config *oc = s->cfg;
	if (!oc->path) {
		snprintf(why, wl, "running on the built-in defaults: there is no file to read again");
		return -1;
	}
	struct al_config *nc = NULL;
	char *errors = NULL;
	if (al_config_load(oc->path, 0, &nc, &errors) < 0) {
		snprintf(why, wl, "%s", errors ? errors : "the configuration could not be read");
		why[strcspn(why, "\n")] = '\0';
		free(errors);
		return -1;
	}
	if (oc->proto.stdio) { /* airlock run --stdio */
		nc->proto.stdio = true;
		nc->proto.systemd = false;
		nc->proto.host[0] = '\0';
		nc->proto.port = 0;
	}
	const char *fixed = !same_str(oc->state_dir, nc->state_dir) ? "[airlock] state_dir"
			    : !same_str(oc->audit_log, nc->audit_log) ? "[airlock] audit_log"
			    : !same_str(oc->control_socket, nc->control_socket) ? "[airlock] control_socket"
			    : (oc->proto.stdio != nc->proto.stdio || oc->proto.systemd != nc->proto.systemd ||
			       strcmp(oc->proto.host, nc->proto.host) || oc->proto.port != nc->proto.port)
				    ? "[proto] listen" : NULL;
	if (fixed) {
		snprintf(why, wl, "%s changed: it takes effect only when airlock run starts again", fixed);
		al_config_free(nc);
		return -1;
	}
	int token_fd = -1;
	if (nc->proto.token_file && (token_fd = sup_open_verified("proto.token_file", nc->proto.token_file)) < 0) {
		snprintf(why, wl, "[proto] token_file %.300s cannot be opened", nc->proto.token_file);
		al_config_free(nc);
		return -1;
	}
	struct sup_files nf = {0};
	s->cfg = nc;
	if (sup_require_protections(s) < 0) {
		snprintf(why, wl, "a required protection is missing (see airlock check)");
		goto fail;
	}
	if (sup_files_verify(s, false, &nf, why, wl) < 0)
		goto fail;
	sup_files_install(s, &nf);
	if (s->token_fd >= 0)
		close(s->token_fd);
	s->token_fd = token_fd;
	s->lv.quiet_ns = (uint64_t)nc->respond.quiet_period_s * 1000000000ULL;
	if (s->cfg_owned)
		al_config_free(s->cfg_owned);
	s->cfg_owned = nc;
	return 0;
fail:
	s->cfg = oc;
	if (token_fd >= 0)
		close(token_fd);
	al_config_free(nc);
	return -1;
}

/*
 * PR_SET_TSC traps rdtsc, and the vDSO's clock_gettime reads the TSC when the
 * clocksource is "tsc": every program would die of SIGSEGV on its first
 * clock read. Trapping is applied only where the clocksource is something else.
 */
bool sup_tsc_trap_safe(void)
{
	AL_AUTOFREE char *cs = NULL;
	if (al_read_file_at(AT_FDCWD, "/sys/devices/system/clocksource/clocksource0/current_clocksource", 256, &cs,
			    NULL) < 0)
		return false;
	return strncmp(cs, "tsc", 3) != 0;
}

/* sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET. */
void sup_notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if (len >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

/*
 * This instance's own files and its lock. Over HTTP, or with paths the
 * configuration sets, they are the configuration's, and the state directory
 * is locked: one writer. Under --stdio with the default paths, every MCP
 * client that launches airlock gets its own instance: STATE_DIR/stdio/PID/
 * holds its audit log and control socket (airlock status lists them), and
 * only that directory is locked. The lock's fd, or -1 with the reason printed.
 */
int sup_instance_files(struct sup *s)
{
	const struct al_config *cfg = s->cfg;
	char def_audit[600], def_ctl[600], dir[600];
	snprintf(def_audit, sizeof def_audit, "%s/audit.log", cfg->state_dir);
	snprintf(def_ctl, sizeof def_ctl, "%s/control.sock", cfg->state_dir);
	if (!cfg->proto.stdio || strcmp(cfg->audit_log, def_audit) || strcmp(cfg->control_socket, def_ctl)) {
		al_strlcpy(s->audit_log, cfg->audit_log, sizeof s->audit_log);
		al_strlcpy(s->control_socket, cfg->control_socket, sizeof s->control_socket);
		return sup_state_lock(cfg->state_dir);
	}
	snprintf(dir, sizeof dir, "%s/stdio", cfg->state_dir);
	if (sup_mkdir_private(dir) < 0)
		return -1;
	snprintf(dir, sizeof dir, "%s/stdio/%d", cfg->state_dir, (int)getpid());
	if (sup_mkdir_private(dir) < 0)
		return -1;
	if ((size_t)snprintf(s->audit_log, sizeof s->audit_log, "%s/audit.log", dir) >= sizeof s->audit_log ||
	    (size_t)snprintf(s->control_socket, sizeof s->control_socket, "%s/control.sock", dir) >=
		    sizeof s->control_socket) {
		al_log_warnx("state directory %s: path too long", cfg->state_dir);
		return -1;
	}
	return sup_state_lock(dir);
}
