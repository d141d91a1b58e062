/*
 * What the kernel says about a running domain: /proc/PID/status (seccomp mode,
 * no_new_privs, capability sets, speculation controls), /proc/PID/maps
 * (executable mappings not backed by a file) and /proc/PID/exe (the file that
 * was executed, by device and inode).
 *
 *   struct al_procstate ps;
 *   al_procstate_read(NULL, pid, &ps);
 *   if (!al_procstate_confined(&ps, why, sizeof why)) -> incident (why names it)
 *   al_procstate_exe_matches(NULL, pid, verified_exe_fd) -> 0 or -ESTALE
 *
 * root: NULL for the real /proc; tests pass a directory holding a fake
 * "proc/PID/..." tree.
 */
#ifndef AL_INTEGRITY_PROCSTATE_H
#define AL_INTEGRITY_PROCSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AL_PROCSTATE_SPEC_LEN 64

struct al_procstate {
	int seccomp;       /* 0 disabled, 1 strict, 2 filter; -1 line absent */
	int no_new_privs;  /* 0/1; -1 line absent */
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	bool caps_known;   /* all five Cap* lines were present */
	/* Text after "Speculation_Store_Bypass:" / "SpeculationIndirectBranch:", "" if absent. */
	char spec_store_bypass[AL_PROCSTATE_SPEC_LEN];
	char spec_indirect_branch[AL_PROCSTATE_SPEC_LEN];
	/* Executable mappings of anonymous memory, heap, stack or a memfd. */
	unsigned anon_exec;
	/* Executable mappings of a file deleted or replaced since it was mapped. */
	unsigned deleted_exec;
	char first_bad_map[160]; /* the first such line of maps, as evidence */
};

/* Reads status and maps. 0 or -errno (-EBADMSG if status lacks the fields). */
int al_procstate_read(const char *root, pid_t pid, struct al_procstate *ps);

/* Status fields only, from the text of a status file (for tests and fuzzing). */
int al_procstate_parse_status(const char *text, struct al_procstate *ps);
/* Maps analysis only, from the text of a maps file. */
void al_procstate_parse_maps(const char *text, struct al_procstate *ps);

/*
 * True if ps shows a confined domain: Seccomp 2, NoNewPrivs 1, every capability
 * set empty, no anonymous or deleted executable mapping. Otherwise false and why
 * names the first deviation.
 */
bool al_procstate_confined(const struct al_procstate *ps, char *why, size_t whylen);

/* 0 if /proc/PID/exe is the file open at expected_fd (same st_dev and st_ino), -ESTALE if not. */
int al_procstate_exe_matches(const char *root, pid_t pid, int expected_fd);

/* Namespaces a domain lives in, by identity (nsfs device and inode). */
enum al_ns {
	AL_NS_USER,
	AL_NS_PID,
	AL_NS_MNT,
	AL_NS_NET,
	AL_NS_IPC,
	AL_NS_UTS,
	AL_NS_CGROUP,
	AL_NS_COUNT,
};

struct al_procstate_ns {
	uint64_t dev[AL_NS_COUNT];
	uint64_t ino[AL_NS_COUNT];
};

/* Reads /proc/PID/ns/{user,pid,mnt,net,ipc,uts,cgroup}. 0 or -errno. */
int al_procstate_read_ns(const char *root, pid_t pid, struct al_procstate_ns *ns);

/*
 * 0 if a and b name the same namespaces (the ones recorded at spawn and now);
 * -ESTALE otherwise, *which (if given) naming the first that differs ("net").
 */
int al_procstate_ns_same(const struct al_procstate_ns *a, const struct al_procstate_ns *b,
			 const char **which);

#endif
