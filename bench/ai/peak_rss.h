/*
 * bench/ai: the peak RSS both engines report from their footprint runs
 * (bench_ai.c --footprint and llama_peer.c), read the same way. Header
 * only: llama_peer.c is compiled alone, against llama.cpp's headers.
 */
#ifndef AL_BENCH_AI_PEAK_RSS_H
#define AL_BENCH_AI_PEAK_RSS_H

#include <stdio.h>

/* The peak RSS of this process image, KiB: VmHWM (ru_maxrss would carry the
 * spawning process's peak across execve); -1 when unreadable. */
static inline long vm_hwm_kib(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

#endif
