/*
 * x86 CPU items: the "flags" lines of /proc/cpuinfo. SMEP, SMAP and UMIP keep
 * the kernel away from user memory; shadow stacks and IBT are CET; the rest
 * are the speculation and cache-partitioning features the sandbox uses.
 */
#include "hw/probe.h"

#include "common/util.h"

static const struct hw_cpu_flag x86_flags[] = {
	{"cpu.smep", {"smep"}, "kernel cannot execute user pages (blunts ret2usr from a domain)",
	 "reported; kernel exploits from a domain are easier", 0, 0},
	{"cpu.smap", {"smap"}, "kernel cannot read user pages by accident",
	 "reported; kernel exploits from a domain are easier", 0, 0},
	{"cpu.umip", {"umip"}, "sgdt/sidt/str blocked in user mode (no kernel address leak)",
	 "reported; descriptor-table addresses are readable", 0, 0},
	{"cpu.pku", {"pku", "ospke"}, "memory protection keys available to the engine",
	 "reported; not used", 0, 0},
	{"cpu.shstk", {"user_shstk", "shstk"}, "user shadow stacks (return-address integrity)",
	 "reported; binaries run without shadow stacks", 0, 0},
	{"cpu.ibt", {"ibt"}, "indirect branch tracking (built with -fcf-protection)",
	 "reported; endbr64 markers are inert", 0, 0},
	{"cpu.ibrs", {"ibrs", "ibrs_enhanced"}, "indirect branch restriction (Spectre v2)",
	 "reported; rely on the kernel's retpolines", 0, 0},
	{"cpu.ibpb", {"ibpb"}, "branch predictor barrier between domains (Spectre v2)",
	 "reported; indirect-branch isolation is weaker", 0, 0},
	{"cpu.stibp", {"stibp"}, "no branch prediction sharing between SMT siblings",
	 "reported; pin domains to separate cores", 0, 0},
	{"cpu.ssbd", {"ssbd", "virt_ssbd"}, "speculative store bypass disable (per-domain prctl)",
	 "reported; store-bypass control unavailable", 0, 0},
	{"cpu.md_clear", {"md_clear"}, "CPU buffers cleared on context switch (MDS)",
	 "reported; MDS mitigation depends on the kernel", 0, 0},
	{"cpu.flush_l1d", {"flush_l1d"}, "L1D flush on context switch (L1TF, side channels)",
	 "reported; L1D is not flushed between domains", 0, 0},
	{"cpu.rdt_a", {"rdt_a"}, "resource director technology (cache/bandwidth groups)",
	 "reported; no cache partitioning", 0, 0},
	{"cpu.cat_l3", {"cat_l3"}, "L3 cache allocation per domain",
	 "reported; domains share the L3 cache", 0, 0},
	{"cpu.mba", {"mba"}, "memory bandwidth allocation per domain",
	 "reported; domains share memory bandwidth", 0, 0},
};

void hw_probe_cpu_x86(struct al_hw_report *r, const struct al_hw_syscalls *sc)
{
	hw_probe_flag_lines(r, "flags", x86_flags, AL_ARRAY_LEN(x86_flags), sc);
	hw_probe_vulnerabilities(r);
}
