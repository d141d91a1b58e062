/* The egress domain's CONNECT head (workers/egress/connect.h) over hostile bytes. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "workers/egress/connect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_connect_req q;
	ssize_t n = al_connect_parse((const char *)data, size, &q);
	if (n > 0) {
		/* a whole head: within the input and the cap, ending in a blank line,
		 * naming a host that is text and a port */
		if ((size_t)n > size || n > AL_CONNECT_MAX_HEAD || memcmp(data + n - 4, "\r\n\r\n", 4) != 0)
			__builtin_trap();
		if (!memchr(q.host, '\0', sizeof q.host) || !q.host[0] || !q.port)
			__builtin_trap();
		for (const char *h = q.host; *h; h++)
			if (*h <= 0x20 || *h >= 0x7f)
				__builtin_trap();
		/* and every shorter prefix of it is only "not whole yet" */
		for (size_t cut = 0; cut < (size_t)n; cut += 1 + cut / 4) {
			struct al_connect_req p;
			if (al_connect_parse((const char *)data, cut, &p) != 0)
				__builtin_trap();
		}
	} else if (n != 0 && n != -EBADMSG && n != -ENOTSUP) {
		__builtin_trap();
	} else if (n == 0 && size >= AL_CONNECT_MAX_HEAD) {
		__builtin_trap();
	}
	return 0;
}
