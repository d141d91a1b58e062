/*
 * Ring states: the fuzzer's bytes become the shared region as a hostile peer
 * left it: the indices and the whole incoming ring. The endpoint then reads
 * and writes until it stops; it must never read or write outside the region
 * or its own buffers (ASan), and any refusal must leave it broken for good.
 * Input: u64 incoming head, u64 outgoing tail, u8 side, then ring bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "channel/channel_int.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RING 4096u
#define REGION (AL_CHAN_HDR_BYTES + 2 * RING)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++)
		al_log_init("fuzz_ring", AL_LOG_ERROR);
	if (size < 17)
		return 0;
	uint8_t *region = aligned_alloc(4096, REGION);
	if (!region)
		return 0;
	memset(region, 0, REGION);
	struct al_chan *ch;
	enum al_chan_side side = (data[16] & 1) ? AL_CHAN_SIDE_AI : AL_CHAN_SIDE_PROTO;
	if (al_chan_map_region(region, REGION, side, RING / 2 - AL_CHAN_REC_HDR, &ch) < 0) {
		free(region);
		return 0;
	}
	uint64_t head, tail;
	memcpy(&head, data, 8);
	memcpy(&tail, data + 8, 8);
	/* Small values are the interesting ones; keep some huge ones too. */
	if (!(data[16] & 2)) {
		head %= 4 * RING;
		tail %= 4 * RING;
	}
	size_t n = size - 17 < RING ? size - 17 : RING;
	memcpy(ch->rx.data, data + 17, n);
	atomic_store(&ch->rx.ctl->head, head);
	atomic_store(&ch->tx.ctl->tail, tail);
	al_chan_set_spin(ch, 0);
	al_chan_set_send_timeout(ch, 0);
	/* An outstanding request so that responses can be accepted. */
	if (side == AL_CHAN_SIDE_PROTO) {
		ch->req[0] = (struct al_req_slot){ .id = 1, .max_tokens = 100, .used = true };
		ch->last_req_id = 1;
	}

	int rc = 0;
	for (int i = 0; i < 64; i++) {
		struct al_msg m;
		rc = al_chan_recv(ch, &m, 0);
		if (rc < 0)
			break;
		if (m.type <= AL_MSG_PAD || m.type >= AL_MSG_TYPE_END)
			abort();
	}
	if (al_chan_is_violation(rc) && al_chan_error(ch) != -rc)
		abort();
	if (!al_chan_is_violation(rc) && rc != -EAGAIN && rc != -EPIPE && rc != 0)
		abort();
	/* The producer side against the fuzzed consumer index. */
	for (int i = 0; i < 80; i++) {
		rc = al_chan_send_ping(ch, (uint64_t)i + 1);
		if (rc < 0)
			break;
	}
	if (al_chan_error(ch) && rc != -al_chan_error(ch))
		abort();
	al_chan_close(ch);
	free(region);
	return 0;
}
