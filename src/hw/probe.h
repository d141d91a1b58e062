/* Internal to src/hw: how the probe files add items and read the tree. */
#ifndef AL_HW_PROBE_H
#define AL_HW_PROBE_H

#include "hw/hw.h"

/* Appends an item; value/evidence are printf-formatted later with hw_item_set. NULL on OOM. */
struct al_hw_item *hw_item_add(struct al_hw_report *r, const char *id, enum al_hw_kind kind,
			       const char *use, const char *fallback);
void hw_item_set(struct al_hw_item *it, enum al_hw_state state, const char *value,
		 const char *evidence_fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reads a small file below the report's root ("proc/cpuinfo"). 0 or -errno; *out NUL-terminated, caller frees. */
int hw_read(const struct al_hw_report *r, const char *relpath, char **out);

/* Reads a file holding one integer. 0 or -errno. */
int hw_read_int(const struct al_hw_report *r, const char *relpath, long *out);

/* Full path of relpath below the root, for messages and access(). */
void hw_path(const struct al_hw_report *r, const char *relpath, char *buf, size_t len);

/*
 * A CPU feature named in the per-CPU feature lines of /proc/cpuinfo ("flags"
 * on x86, "Features" on arm64), and where the architecture has one, the
 * AT_HWCAP or AT_HWCAP2 bit the kernel sets for it.
 */
struct hw_cpu_flag {
	const char *id;
	const char *flags[2]; /* any of these names in the line */
	const char *use;
	const char *fallback;
	int hwcap;            /* 0: none; 1: AT_HWCAP; 2: AT_HWCAP2 */
	unsigned long bit;
};

/* cpu.c: one item per flag from the lines called `line`; vulnerability files. */
void hw_probe_flag_lines(struct al_hw_report *r, const char *line, const struct hw_cpu_flag *flags, size_t n,
			 const struct al_hw_syscalls *sc);
void hw_probe_vulnerabilities(struct al_hw_report *r);

/* cpu_<arch>.c: the CPU items of one architecture. */
void hw_probe_cpu_x86(struct al_hw_report *r, const struct al_hw_syscalls *sc);
void hw_probe_cpu_arm64(struct al_hw_report *r, const struct al_hw_syscalls *sc);
void hw_probe_kernel(struct al_hw_report *r, const struct al_hw_syscalls *sc);

#endif
