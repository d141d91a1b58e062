/*
 * A delegated cgroup for a runner that is an ordinary user (`airlock exec`
 * and `airlock gate`, which MCP clients start as the desktop user).
 *
 * A domain's cgroup is made below the runner's (cgroup.c), which works as
 * well for a user as for root where that cgroup is delegated to the user.
 * Where it is not, a systemd user manager is reachable and the cgroup v2
 * hierarchy (the only one systemd delegates) has the memory, pids and cpu
 * controllers, the runner asks the manager for a transient scope with
 * Delegate=yes and continues in it (cgroup.c then moves it into a leaf of
 * the scope's cgroup and makes the domains' cgroups beside it): it
 * executes itself again through
 *
 *     systemd-run --user --scope --quiet --collect -p Delegate=yes -- SELF ARGS...
 *
 * with AIRLOCK_CGROUP_SCOPE=inside in its environment, so that the second
 * run never asks again, whatever it finds (the loop guard). Where there is
 * no user manager (PID 1 is not systemd, or the user has no manager
 * running), nothing is asked and the limits are carried as before: memory
 * and pids by rlimits, the CPU share refused unless accepted (spawn.c); the
 * one-line note here says why.
 *
 * Why systemd-run rather than a D-Bus call from libsystemd (sd-bus):
 *  - the scope must be started with the runner's pid, and the move is done
 *    only when the start job has finished: StartTransientUnit, then waiting
 *    for its JobRemoved signal, which systemd-run does and keeps working
 *    across systemd versions;
 *  - systemd-run reaches the user manager over its private socket
 *    ($XDG_RUNTIME_DIR/systemd/private) where no user bus runs;
 *  - with --scope it executes the command in its own process: the same pid,
 *    the same parent (the MCP client), the same stdin and stdout, and the
 *    exit status passes straight through; nothing stays behind to relay;
 *  - airlock links no D-Bus client: the runner's process image keeps to the
 *    libraries it has (tests/cli/check_tcb.sh).
 * The cost: if the manager refuses the scope, systemd-run exits with its
 * error and airlock does not run (a refusal, never a weaker domain);
 * AIRLOCK_CGROUP_SCOPE=off skips the step. systemd-run is taken from the
 * system's directories only, not from PATH: it is handed the whole command.
 *
 * What can be tested without systemd is the probe (absent) and the guard;
 * the scope itself needs a host whose PID 1 is systemd (docs/gate.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox_int.h"

enum scope_state {
	SCOPE_UNKNOWN = 0, /* al_cgroup_scope_enter not called (airlock run, tests) */
	SCOPE_NOT_NEEDED,  /* the runner's cgroup was writable */
	SCOPE_INSIDE,      /* the second run, in the scope */
	SCOPE_OFF,         /* AIRLOCK_CGROUP_SCOPE=off (or another value) */
	SCOPE_ABSENT,      /* no user manager, or no systemd-run */
	SCOPE_FAILED,      /* systemd-run could not be executed */
	SCOPE_PROBED,      /* not asked; the note says what asking would find */
};

static enum scope_state state;
static char note[PATH_MAX + 256];

static const char *const run_paths[] = { "/usr/bin/systemd-run", "/bin/systemd-run" };

/* A socket of this user's: a runtime directory inherited from another user
 * (root's XDG_RUNTIME_DIR after a change of uid) is not this user's manager. */
static bool own_socket(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == geteuid();
}

/* systemd delegates cgroup v2 only (a v1 hierarchy is never given to a
 * user): on a hybrid host whose v2 hierarchy has no memory, pids and cpu
 * controllers, a scope would carry none of the limits. */
static bool v2_offers_limits(void)
{
	static const char *const roots[] = { "/sys/fs/cgroup/cgroup.controllers",
					     "/sys/fs/cgroup/unified/cgroup.controllers" };
	for (size_t i = 0; i < AL_ARRAY_LEN(roots); i++) {
		AL_AUTOFREE char *text = NULL;
		if (al_read_file_at(AT_FDCWD, roots[i], 4096, &text, NULL) < 0)
			continue;
		int found = 0;
		for (char *save = NULL, *w = strtok_r(text, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
			found += !strcmp(w, "memory") || !strcmp(w, "pids") || !strcmp(w, "cpu");
		return found == 3;
	}
	return false;
}

/*
 * A systemd user manager this user can reach, and systemd-run to ask it:
 * the path of systemd-run, or NULL with why (one phrase) when absent. The
 * manager: systemd is PID 1 (sd_booted(): /run/systemd/system), and the
 * user's manager listens on its private socket or on the user bus it starts
 * ($XDG_RUNTIME_DIR/bus; a session bus elsewhere, such as dbus-launch's, may
 * run without any systemd).
 */
static const char *probe(char *why, size_t len)
{
	const char *run = NULL;
	for (size_t i = 0; i < AL_ARRAY_LEN(run_paths) && !run; i++)
		if (access(run_paths[i], X_OK) == 0)
			run = run_paths[i];
	struct stat st;
	bool booted = stat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
	char rt[PATH_MAX / 2], priv[PATH_MAX / 2 + 32], bus[PATH_MAX / 2 + 32];
	const char *env = getenv("XDG_RUNTIME_DIR");
	if (env && env[0] == '/')
		al_strlcpy(rt, env, sizeof rt);
	else
		snprintf(rt, sizeof rt, "/run/user/%u", (unsigned)geteuid());
	snprintf(priv, sizeof priv, "%s/systemd/private", rt);
	snprintf(bus, sizeof bus, "%s/bus", rt);
	bool manager = booted && (own_socket(priv) || own_socket(bus));
	bool v2 = v2_offers_limits();
	if (manager && run && v2)
		return run;
	if (!booted)
		snprintf(why, len, "no systemd user manager: PID 1 is not systemd (no /run/systemd/system)");
	else if (!manager)
		snprintf(why, len, "no systemd user manager for uid %u (neither %s nor %s)", (unsigned)geteuid(),
			 priv, bus);
	else if (!run)
		snprintf(why, len, "a systemd user manager but no systemd-run (%s)", run_paths[0]);
	else
		snprintf(why, len, "a systemd user manager, but the cgroup v2 hierarchy it delegates has no "
				   "memory, pids and cpu controllers here (a hybrid host)");
	return NULL;
}

int al_cgroup_scope_enter(char *const argv[])
{
	const char *guard = getenv(AL_CGROUP_SCOPE_ENV);
	if (guard && !strcmp(guard, "inside")) {
		/* the second run: never again, and nothing of it reaches the domains */
		unsetenv(AL_CGROUP_SCOPE_ENV);
		state = SCOPE_INSIDE;
		snprintf(note, sizeof note, "in a systemd scope with Delegate=yes (%s=inside), whose cgroup "
					    "gives no memory, pids and cpu controllers",
			 AL_CGROUP_SCOPE_ENV);
		return 0;
	}
	if (al_cgroup_own_writable()) {
		state = SCOPE_NOT_NEEDED;
		snprintf(note, sizeof note, "the runner's own cgroup was writable at the start");
		return 0;
	}
	if (guard) {
		state = SCOPE_OFF;
		snprintf(note, sizeof note, "%s=%s: no systemd scope asked for", AL_CGROUP_SCOPE_ENV, guard);
		return 0;
	}
	const char *run = probe(note, sizeof note);
	if (!run) {
		state = SCOPE_ABSENT;
		return 0;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0 || (self[n] = '\0', access(self, X_OK) < 0)) {
		state = SCOPE_FAILED;
		snprintf(note, sizeof note, "a systemd user manager, but this executable's path is gone");
		return -ENOENT;
	}
	size_t argc = 0;
	while (argv[argc])
		argc++;
	static const char *const head[] = { "--user", "--scope", "--quiet", "--collect", "-p", "Delegate=yes", "--" };
	const size_t nh = AL_ARRAY_LEN(head);
	char **args = calloc(argc + nh + 2, sizeof *args);
	if (!args)
		return -ENOMEM;
	args[0] = (char *)run;
	for (size_t i = 0; i < nh; i++)
		args[1 + i] = (char *)head[i];
	args[1 + nh] = self;
	for (size_t i = 1; i < argc; i++)
		args[1 + nh + i] = argv[i];
	al_log_info("cgroup: no cgroup of our own; asking the systemd user manager for a scope with "
		    "Delegate=yes (%s)", run);
	fflush(NULL);
	if (setenv(AL_CGROUP_SCOPE_ENV, "inside", 1) == 0)
		execv(run, args);
	int err = errno;
	unsetenv(AL_CGROUP_SCOPE_ENV);
	free(args);
	state = SCOPE_FAILED;
	snprintf(note, sizeof note, "a systemd user manager, but %s could not be executed: %s", run, strerror(err));
	return -err;
}

const char *al_cgroup_scope_note(void)
{
	if (state == SCOPE_UNKNOWN) {
		/* not asked (airlock run, the tests): what asking would find */
		if (probe(note, sizeof note))
			snprintf(note, sizeof note, "a systemd user manager is reachable, but no scope was asked for");
		state = SCOPE_PROBED;
	}
	return note;
}
