/* Incident -> response plan, forensic dumps, the alert hook. */
#include "respond/respond.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

unsigned al_respond_plan(enum al_incident_type t)
{
	switch (t) {
	case AL_INC_PRIV_ESCALATION:
		return AL_STEP_FREEZE | AL_STEP_RESTART | AL_STEP_RAISE_LEVEL;
	case AL_INC_MEMORY_CORRUPTION:
		/* Frozen while the dump is taken, so the evidence is one instant's. */
		return AL_STEP_FREEZE | AL_STEP_DUMP | AL_STEP_RESTART | AL_STEP_RAISE_LEVEL;
	case AL_INC_SIDE_CHANNEL:
		return AL_STEP_TIGHTEN | AL_STEP_RAISE_LEVEL;
	case AL_INC_INTEGRITY:
		return AL_STEP_LOCKDOWN | AL_STEP_RAISE_LEVEL;
	case AL_INC_PROTOCOL_ABUSE:
		/* Rate-limiting the client happens in the protocol domain (it alone sees clients). */
		return AL_STEP_AUDIT_UP;
	default:
		return AL_STEP_FREEZE | AL_STEP_RESTART;
	}
}

json_t *al_respond_steps_json(unsigned steps)
{
	static const char *const names[] = {"freeze", "dump", "restart", "tighten", "lockdown",
					    "audit-verbosity-up", "raise-level"};
	json_t *a = json_array();
	for (size_t i = 0; i < AL_ARRAY_LEN(names); i++)
		if (steps & (1u << i))
			json_array_append_new(a, json_string(names[i]));
	return a;
}

static int copy_proc_file(pid_t pid, const char *file, int dirfd, const char *dst)
{
	char path[64];
	AL_AUTOFREE char *buf = NULL;
	size_t len = 0;
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	int rc = al_read_file_at(AT_FDCWD, path, 8 << 20, &buf, &len);
	if (rc < 0)
		return rc;
	AL_AUTOCLOSE int fd = openat(dirfd, dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	return al_write_all(fd, buf, len) < 0 ? -EIO : 0;
}

int al_respond_dump(const char *dir, const char *domain, const pid_t *pids, size_t npids,
		    json_t *incident, char **out_path)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	char stamp[32], path[PATH_MAX];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	/* The supervisor's pid and a counter keep two dumps of one second apart. */
	for (int i = 0;; i++) {
		snprintf(path, sizeof path, "%s/%s-%s-%d", dir, domain, stamp, i);
		if (mkdir(path, 0700) == 0)
			break;
		if (errno != EEXIST || i > 100)
			return -errno;
	}
	AL_AUTOCLOSE int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	for (size_t i = 0; i < npids; i++) {
		char name[64];
		const char *files[] = {"maps", "status", "stat"};
		for (size_t f = 0; f < AL_ARRAY_LEN(files); f++) {
			snprintf(name, sizeof name, "%d.%s", (int)pids[i], files[f]);
			int rc = copy_proc_file(pids[i], files[f], dfd, name);
			if (rc < 0)
				al_log_warnx("dump: /proc/%d/%s: %s", (int)pids[i], files[f], strerror(-rc));
		}
	}
	if (incident) {
		char *text = json_dumps(incident, JSON_INDENT(2) | JSON_SORT_KEYS);
		AL_AUTOCLOSE int fd = openat(dfd, "incident.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (text && fd >= 0)
			(void)al_write_all(fd, text, strlen(text));
		free(text);
	}
	fsync(dfd);
	if (out_path)
		*out_path = strdup(path);
	return 0;
}

int al_respond_alert(const char *command, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	/* One write into an empty pipe never blocks up to PIPE_BUF*16; incidents are far smaller. */
	if (len > 60000) {
		free(text);
		return -EMSGSIZE;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(text);
		return -errno;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(p[0]);
		close(p[1]);
		free(text);
		return e;
	}
	if (pid == 0) {
		/* Intermediate child: only async-signal-safe calls until exec. */
		if (fork() != 0)
			_exit(0);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		dup2(p[0], 0);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		alarm(10);
		char *argv[] = {(char *)command, NULL};
		char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
		execve(command, argv, envp);
		_exit(127);
	}
	close(p[0]);
	int rc = al_write_all(p[1], text, len) < 0 ? -EIO : 0;
	close(p[1]);
	free(text);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return rc;
}
