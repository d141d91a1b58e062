/*
 * bench_overhead: `airlock bench` for `make bench`, the same library and
 * table (bench/lib/). Usage: bench_overhead [--quick] [LEVEL]
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "common/log.h"
#include "respond/level.h"

int main(int argc, char **argv)
{
	struct al_bench_opts o = { .level = -1, .log = stderr };
	al_log_init("bench_overhead", AL_LOG_WARN);
	for (int i = 1; i < argc; i++) {
		enum al_level l;
		if (strcmp(argv[i], "--quick") == 0)
			o.quick = true;
		else if (al_level_parse(argv[i], &l) == 0)
			o.level = (int)l;
		else {
			fprintf(stderr, "usage: bench_overhead [--quick] [minimal|standard|high|maximum]\n");
			return 2;
		}
	}
	json_t *r;
	if (al_bench_run(&o, &r) < 0)
		return 1;
	al_bench_print(r, stdout);
	json_decref(r);
	return 0;
}
