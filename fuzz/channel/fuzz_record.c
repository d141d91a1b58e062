/*
 * Record decoding: the fuzzer's bytes are one record payload as the receiver's
 * private copy holds it. Input: u8 type, u8 sender, then the payload.
 * Checks that whatever decodes re-encodes to exactly the same bytes (nothing is
 * accepted that an honest sender could not have produced), that accepted text
 * is strict UTF-8, and that the sanitiser's output always passes the validator.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel/channel_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint32_t type = data[0] % (AL_MSG_TYPE_END + 2);
	enum al_chan_side sender = (data[1] & 1) ? AL_CHAN_SIDE_AI : AL_CHAN_SIDE_PROTO;
	size_t len = size - 2;
	/* Exact-size private copy, NUL after it as the channel keeps it. */
	uint8_t *p = malloc(len + 1);
	if (!p)
		return 0;
	memcpy(p, data + 2, len);
	p[len] = 0;

	struct al_msg m;
	const char *what = NULL;
	int rc = al_msg_decode(type, sender, p, len, &m, &what);
	if (rc == 0) {
		uint8_t *again = malloc(len + 1);
		if (!again)
			abort();
		size_t n = al_msg_encode(&m, again, len);
		if (n != len || memcmp(again, p, len) != 0)
			abort(); /* accepted something an honest encoder would not write */
		free(again);
		int err;
		if (m.type == AL_MSG_GEN_REQUEST &&
		    !al_utf8_check((const uint8_t *)m.u.gen.prompt, m.u.gen.prompt_len, &err))
			abort();
		if (m.type == AL_MSG_TOKEN &&
		    !al_utf8_check((const uint8_t *)m.u.token.text, m.u.token.text_len, &err))
			abort();
	} else if (!al_chan_is_violation(rc) || !what) {
		abort(); /* every refusal names its rule and its field */
	}

	/* Sanitised text always validates, never grows, and is a fixed point. */
	char *s = malloc(len + 1);
	if (!s)
		abort();
	size_t n = al_chan_sanitise_text(s, (const char *)p, len);
	int err;
	if (n > len || !al_utf8_check((const uint8_t *)s, n, &err))
		abort();
	if (al_chan_sanitise_text(s, s, n) != n)
		abort();
	size_t c = al_chan_utf8_complete((const char *)p, len);
	if (c > len)
		abort();
	free(s);
	free(p);
	return 0;
}
