/*
 * The shared region: creating and sealing the memfd, checking it before
 * mapping, closing, and reporting a peer that broke a rule.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/rseq.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel/channel_int.h"
#include "common/log.h"
#include "common/util.h"

#define REQUIRED_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static int check_params(uint32_t ring_bytes, uint32_t max_payload)
{
	if (ring_bytes < AL_CHAN_MIN_RING || ring_bytes > AL_CHAN_MAX_RING ||
	    (ring_bytes & (ring_bytes - 1)) != 0)
		return -EINVAL;
	/* A record of at most half the ring always fits once the ring drains,
	 * even when it needs a padding record in front of it. */
	if (max_payload == 0 || max_payload > ring_bytes / 2 - AL_CHAN_REC_HDR)
		return -EINVAL;
	return 0;
}

static uint64_t region_bytes(uint32_t ring_bytes)
{
	return (uint64_t)AL_CHAN_HDR_BYTES + 2 * (uint64_t)ring_bytes;
}

int al_chan_create(const struct al_chan_params *params, int *fd_out)
{
	uint32_t ring = params ? params->ring_bytes : AL_CHAN_DEFAULT_RING;
	uint32_t maxp = params ? params->max_payload : AL_CHAN_DEFAULT_MAX_PAYLOAD;
	int rc = check_params(ring, maxp);
	if (rc < 0) {
		al_log_warnx("channel: bad parameters ring %u max_payload %u", ring, maxp);
		return rc;
	}
	AL_AUTOCLOSE int fd = memfd_create("airlock-channel", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		rc = -errno;
		al_log_warn("channel: memfd_create");
		return rc;
	}
	uint64_t total = region_bytes(ring);
	if (ftruncate(fd, (off_t)total) < 0) {
		rc = -errno;
		al_log_warn("channel: ftruncate");
		return rc;
	}
	/* Sealed before anyone else sees the fd: nobody can shrink it under a
	 * mapping (SIGBUS in the peer) or grow it. */
	if (fcntl(fd, F_ADD_SEALS, REQUIRED_SEALS) < 0) {
		rc = -errno;
		al_log_warn("channel: F_ADD_SEALS");
		return rc;
	}
	struct al_chan_shm hdr;
	memset(&hdr, 0, sizeof hdr);
	hdr.magic = AL_CHAN_MAGIC;
	hdr.version = AL_CHAN_VERSION;
	hdr.hdr_bytes = AL_CHAN_HDR_BYTES;
	hdr.ring_bytes = ring;
	hdr.max_payload = maxp;
	hdr.total_bytes = total;
	/* Only the static fields; the atomics start as the memfd's zeroes. */
	size_t static_part = offsetof(struct al_chan_shm, total_bytes) + sizeof(uint64_t);
	if (pwrite(fd, &hdr, static_part, 0) != (ssize_t)static_part) {
		rc = errno ? -errno : -EIO;
		al_log_warn("channel: writing header");
		return rc;
	}
	*fd_out = al_steal_fd(&fd);
	return 0;
}

/* Checks fd and reads the static header once, before any mapping. */
static int check_fd(int fd, struct al_chan_shm *hdr)
{
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0) {
		int rc = -errno;
		al_log_warn("channel: F_GET_SEALS (not a sealable memfd?)");
		return rc;
	}
	if ((seals & REQUIRED_SEALS) != REQUIRED_SEALS || (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))) {
		al_log_warnx("channel: fd seals 0x%x, need shrink|grow|seal and writable", seals);
		return -EPERM;
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		al_log_warnx("channel: fd is not a memfd");
		return -EINVAL;
	}
	size_t static_part = offsetof(struct al_chan_shm, total_bytes) + sizeof(uint64_t);
	memset(hdr, 0, sizeof *hdr);
	if (pread(fd, hdr, static_part, 0) != (ssize_t)static_part) {
		al_log_warnx("channel: short header");
		return -EINVAL;
	}
	if (hdr->magic != AL_CHAN_MAGIC || hdr->version != AL_CHAN_VERSION ||
	    hdr->hdr_bytes != AL_CHAN_HDR_BYTES) {
		al_log_warnx("channel: bad magic/version/header size");
		return -EPROTO;
	}
	if (check_params(hdr->ring_bytes, hdr->max_payload) < 0 ||
	    hdr->total_bytes != region_bytes(hdr->ring_bytes) ||
	    (uint64_t)st.st_size != hdr->total_bytes) {
		al_log_warnx("channel: region size %lld does not match its header",
			     (long long)st.st_size);
		return -EPROTO;
	}
	return 0;
}

static void *map_fd(int fd, size_t bytes)
{
	/* Never executable: only data crosses. */
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

int al_chan_map_region(uint8_t *base, size_t bytes, enum al_chan_side side, uint32_t max_payload,
		       struct al_chan **out)
{
	struct al_chan_shm *shm = (struct al_chan_shm *)base;
	struct al_chan *ch = calloc(1, sizeof *ch);
	if (!ch)
		return -ENOMEM;
	/* Sizes come from the checked pre-mapping read, mirrored here by the caller. */
	ch->base = base;
	ch->map_bytes = bytes;
	ch->shm = shm;
	ch->ring_bytes = (uint32_t)((bytes - AL_CHAN_HDR_BYTES) / 2);
	ch->side = side;
	ch->peer = side == AL_CHAN_SIDE_PROTO ? AL_CHAN_SIDE_AI : AL_CHAN_SIDE_PROTO;
	int out_ring = side == AL_CHAN_SIDE_PROTO ? 0 : 1;
	ch->tx.ctl = &shm->ring[out_ring];
	ch->tx.data = base + AL_CHAN_HDR_BYTES + (size_t)out_ring * ch->ring_bytes;
	ch->rx.ctl = &shm->ring[1 - out_ring];
	ch->rx.data = base + AL_CHAN_HDR_BYTES + (size_t)(1 - out_ring) * ch->ring_bytes;
	ch->spin_max_ns = ch->spin_ns = ch->wait_spin_ns = 20000;
	ch->send_timeout_ms = 1000;
	ch->report_fd = -1;
	ch->max_payload = max_payload;
	ch->rxbuf = malloc((size_t)max_payload + AL_CHAN_COPY_BLOCK);
	if (!ch->rxbuf) {
		free(ch);
		return -ENOMEM;
	}
	*out = ch;
	return 0;
}

int al_chan_attach(int fd, enum al_chan_side side, struct al_chan **out)
{
	if (side != AL_CHAN_SIDE_PROTO && side != AL_CHAN_SIDE_AI)
		return -EINVAL;
	struct al_chan_shm hdr;
	int rc = check_fd(fd, &hdr);
	if (rc < 0)
		return rc;
	size_t bytes = (size_t)hdr.total_bytes;
	uint8_t *base = map_fd(fd, bytes);
	if (!base) {
		rc = -errno;
		al_log_warn("channel: mmap");
		return rc;
	}
	struct al_chan *ch;
	rc = al_chan_map_region(base, bytes, side, hdr.max_payload, &ch);
	if (rc < 0) {
		munmap(base, bytes);
		return rc;
	}
	ch->mapped = true;
	al_chan_note_cpu(ch);
	/* Our own indices start where the shared ones say only for a fresh
	 * channel: a channel is attached once per side, so both start at zero. */
	*out = ch;
	return 0;
}

/*
 * The CPU this thread runs on, plus one, or 0 if unknown. Read from the rseq
 * area the kernel keeps up to date for glibc, never through a syscall (getcpu
 * is not in the domains' seccomp allowlists, and this runs on the hot path).
 */
static uint32_t current_cpu(void)
{
#if defined(__x86_64__)
	if (__rseq_size == 0)
		return 0;
	char *tp;
	__asm__("mov %%fs:0, %0" : "=r"(tp)); /* the TCB starts with a pointer to itself */
	const struct rseq *rs = (const struct rseq *)(const void *)(tp + __rseq_offset);
	int32_t cpu = (int32_t)__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);
	return cpu >= 0 ? (uint32_t)cpu + 1 : 0;
#else
	return 0;
#endif
}

void al_chan_note_cpu(struct al_chan *ch)
{
	uint32_t v = current_cpu();
	if (v != ch->my_cpu) {
		ch->my_cpu = v;
		atomic_store_explicit(&ch->shm->cpu[ch->side - 1], v, memory_order_relaxed);
	}
}

uint32_t al_chan_state(const struct al_chan *ch)
{
	return atomic_load_explicit(&ch->shm->state, memory_order_acquire);
}

void al_chan_wake_all(struct al_chan_shm *shm)
{
	for (int i = 0; i < 2; i++) {
		atomic_fetch_add_explicit(&shm->ring[i].data_futex, 1, memory_order_seq_cst);
		al_futex_wake(&shm->ring[i].data_futex);
		atomic_fetch_add_explicit(&shm->ring[i].space_futex, 1, memory_order_seq_cst);
		al_futex_wake(&shm->ring[i].space_futex);
	}
}

/*
 * The supervisor's close. It trusts nothing a domain could have written: the
 * fields it needs (the state word and the futex words) sit at fixed offsets
 * in the first page, whose presence the seals and the size guarantee. A peer
 * that scribbled on the magic or the sizes cannot keep its partner from
 * hearing of the shutdown.
 */
int al_chan_activity(int fd, uint64_t *count)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < 2; i++) {
		uint64_t head;
		off_t off = (off_t)(offsetof(struct al_chan_shm, ring) + i * sizeof(struct al_ring_ctl) +
				    offsetof(struct al_ring_ctl, head));
		ssize_t n = pread(fd, &head, sizeof head, off);
		if (n != (ssize_t)sizeof head)
			return n < 0 ? -errno : -EIO;
		sum += head;
	}
	*count = sum;
	return 0;
}

int al_chan_shutdown(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -errno;
	if ((seals & REQUIRED_SEALS) != REQUIRED_SEALS)
		return -EPERM;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)AL_CHAN_HDR_BYTES)
		return -EINVAL;
	uint8_t *base = map_fd(fd, AL_CHAN_HDR_BYTES);
	if (!base)
		return -errno;
	struct al_chan_shm *shm = (struct al_chan_shm *)base;
	atomic_fetch_or_explicit(&shm->state, AL_CHAN_ST_SHUTDOWN, memory_order_seq_cst);
	al_chan_wake_all(shm);
	munmap(base, AL_CHAN_HDR_BYTES);
	return 0;
}

void al_chan_close(struct al_chan *ch)
{
	if (!ch)
		return;
	/* What was sent before the close is still delivered. */
	if (!ch->broken)
		al_ring_flush(ch);
	uint32_t bit = ch->side == AL_CHAN_SIDE_PROTO ? AL_CHAN_ST_PROTO_CLOSED : AL_CHAN_ST_AI_CLOSED;
	atomic_fetch_or_explicit(&ch->shm->state, bit, memory_order_seq_cst);
	al_chan_wake_all(ch->shm);
	if (ch->mapped)
		munmap(ch->base, ch->map_bytes);
	free(ch->rxbuf);
	free(ch);
}

void al_chan_set_spin(struct al_chan *ch, uint32_t spin_ns)
{
	ch->spin_max_ns = ch->spin_ns = ch->wait_spin_ns = spin_ns;
}

void al_chan_set_batch(struct al_chan *ch, uint32_t records)
{
	ch->tx.batch = records;
	if (records <= 1)
		al_ring_flush(ch);
}

int al_chan_flush(struct al_chan *ch)
{
	if (ch->broken)
		return -ch->broken;
	al_ring_flush(ch);
	return 0;
}

void al_chan_set_send_timeout(struct al_chan *ch, int timeout_ms)
{
	ch->send_timeout_ms = timeout_ms;
}

void al_chan_set_report_fd(struct al_chan *ch, int fd)
{
	ch->report_fd = fd;
}

void al_chan_set_violation_cb(struct al_chan *ch,
			      void (*fn)(void *arg, enum al_chan_err err, const char *what), void *arg)
{
	ch->cb = fn;
	ch->cb_arg = arg;
}

int al_chan_error(const struct al_chan *ch)
{
	return ch->broken;
}

bool al_chan_is_violation(int rc)
{
	return rc < -AL_CHAN_E_BASE && rc > -AL_CHAN_E_END;
}

/* The peer broke a rule: never trust this channel again, tell the peer (it
 * sees the channel closed) and whoever watches (report fd, callback). */
int al_chan_violation(struct al_chan *ch, int err, const char *what)
{
	if (ch->broken)
		return -ch->broken;
	ch->broken = err;
	al_log_warnx("channel: peer violation: %s (%s)", al_chan_strerror(-err), what ? what : "");
	atomic_fetch_or_explicit(&ch->shm->state, AL_CHAN_ST_BROKEN, memory_order_seq_cst);
	al_chan_wake_all(ch->shm);
	if (ch->report_fd >= 0) {
		uint64_t v = (uint64_t)err;
		if (write(ch->report_fd, &v, sizeof v) != (ssize_t)sizeof v)
			al_log_warn("channel: writing violation report");
	}
	if (ch->cb)
		ch->cb(ch->cb_arg, (enum al_chan_err)err, what ? what : "");
	return -err;
}

const char *al_chan_strerror(int rc)
{
	static const char *const names[] = {
		[AL_CHAN_E_INDEX - AL_CHAN_E_BASE] = "ring index out of range",
		[AL_CHAN_E_LENGTH - AL_CHAN_E_BASE] = "record length out of range",
		[AL_CHAN_E_WRAP - AL_CHAN_E_BASE] = "record crosses the ring end",
		[AL_CHAN_E_HEADER - AL_CHAN_E_BASE] = "record header flags/reserved not zero",
		[AL_CHAN_E_SENDER - AL_CHAN_E_BASE] = "wrong sender",
		[AL_CHAN_E_SEQ - AL_CHAN_E_BASE] = "sequence number out of order",
		[AL_CHAN_E_TYPE - AL_CHAN_E_BASE] = "unknown message type",
		[AL_CHAN_E_DIRECTION - AL_CHAN_E_BASE] = "message type not allowed from this side",
		[AL_CHAN_E_SIZE - AL_CHAN_E_BASE] = "payload size out of bounds for its type",
		[AL_CHAN_E_TRUNCATED - AL_CHAN_E_BASE] = "payload truncated",
		[AL_CHAN_E_TRAILING - AL_CHAN_E_BASE] = "trailing bytes after payload",
		[AL_CHAN_E_UTF8 - AL_CHAN_E_BASE] = "invalid UTF-8",
		[AL_CHAN_E_CONTROL - AL_CHAN_E_BASE] = "control character in text",
		[AL_CHAN_E_RANGE - AL_CHAN_E_BASE] = "field value out of range",
		[AL_CHAN_E_REQID - AL_CHAN_E_BASE] = "request id not outstanding or reused",
		[AL_CHAN_E_LIMIT - AL_CHAN_E_BASE] = "limit exceeded",
	};
	if (al_chan_is_violation(rc))
		return names[-rc - AL_CHAN_E_BASE];
	if (rc >= 0)
		return "ok";
	return strerror(-rc);
}
