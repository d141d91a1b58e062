/*
 * Fuzz target for the texts airlock bench reads of the machine's other
 * tasks (bench/lib/others.c): a thread's /proc schedstat and comm, the
 * latter set by any process to anything. Input: one byte of flags (bit 0: a
 * kernel thread), the schedstat text, a NUL, the comm text. Every input is
 * parsed or refused; an accepted name is at most 15 printable bytes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "others.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool kernel = data[0] & 1;
	/* both texts NUL-terminated, as al_read_file_at gives them */
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = buf[size] = '\0';
	const char *stat = buf, *comm = buf + strlen(buf) + 1;
	uint64_t ns;
	char name[16];
	if (al_bench_other_parse(stat, comm, kernel, &ns, name) == 0) {
		size_t n = strnlen(name, sizeof name);
		if (n >= sizeof name)
			abort();
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e)
				abort();
	}
	free(buf);
	return 0;
}
