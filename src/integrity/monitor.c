#include "integrity/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define SLICE_MIN (64u << 10)
#define SLICE_MAX (64u << 20)
#define READ_CHUNK (256u << 10)

struct mon_file {
	char name[AL_MANIFEST_MAX_NAME];
	char path[256];
	int fd;
	unsigned char digest[AL_MANIFEST_DIGEST_LEN];
	struct stat st;          /* of the fd when verified */
	dev_t path_dev;
	ino_t path_ino;
	bool urgent;             /* metadata changed: hash before anything else */
};

struct al_monitor {
	struct al_manifest_key key;
	double budget;           /* fraction of one core */
	struct mon_file files[AL_MONITOR_MAX_FILES];
	size_t n;
	/* the pass in progress */
	bool in_pass;
	size_t cur;
	uint64_t off;
	crypto_generichash_state hs;
	uint64_t pass_start_ns;
	uint64_t slice;
	struct al_monitor_stats stats;
	unsigned char *buf;
};

uint64_t al_thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct al_monitor *al_monitor_new(const struct al_manifest_key *key, double budget_pct)
{
	struct al_monitor *mon = calloc(1, sizeof *mon);
	if (!mon)
		return NULL;
	mon->buf = malloc(READ_CHUNK);
	if (!mon->buf || sodium_init() < 0) {
		free(mon->buf);
		free(mon);
		return NULL;
	}
	mon->key = *key;
	mon->budget = budget_pct / 100.0;
	mon->slice = 1u << 20; /* ~1 ms at 1 GB/s; adapted after the first slice */
	return mon;
}

void al_monitor_free(struct al_monitor *mon)
{
	if (!mon)
		return;
	sodium_memzero(&mon->key, sizeof mon->key);
	free(mon->buf);
	free(mon);
}

int al_monitor_add(struct al_monitor *mon, const char *name, const char *path, int fd,
		   const unsigned char digest[AL_MANIFEST_DIGEST_LEN])
{
	if (mon->n >= AL_MONITOR_MAX_FILES)
		return -ENOSPC;
	struct mon_file *f = &mon->files[mon->n];
	memset(f, 0, sizeof *f);
	al_strlcpy(f->name, name, sizeof f->name);
	al_strlcpy(f->path, path, sizeof f->path);
	f->fd = fd;
	memcpy(f->digest, digest, AL_MANIFEST_DIGEST_LEN);
	if (fstat(fd, &f->st) < 0)
		return -errno;
	f->path_dev = f->st.st_dev;
	f->path_ino = f->st.st_ino;
	mon->n++;
	return 0;
}

static int found(struct al_monitor *mon, struct mon_file *f, const char *reason, struct al_monitor_finding *out)
{
	al_strlcpy(out->name, f->name, sizeof out->name);
	al_strlcpy(out->path, f->path, sizeof out->path);
	out->reason = reason;
	mon->in_pass = false;
	return -EBADMSG;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* The cheap checks, every tick: two stats per file. */
static int metadata_check(struct al_monitor *mon, struct al_monitor_finding *out)
{
	for (size_t i = 0; i < mon->n; i++) {
		struct mon_file *f = &mon->files[i];
		struct stat st;
		if (fstat(f->fd, &st) < 0)
			return found(mon, f, "file descriptor unusable", out);
		if (st.st_size != f->st.st_size)
			return found(mon, f, "size changed", out);
		if (!same_time(&st.st_mtim, &f->st.st_mtim) || !same_time(&st.st_ctim, &f->st.st_ctim)) {
			/* Touched in place: the content decides, and soon. */
			f->st = st;
			f->urgent = true;
			if (mon->in_pass && mon->cur == i)
				mon->in_pass = false; /* its hash so far mixes old and new bytes */
		}
		if (stat(f->path, &st) < 0 || st.st_dev != f->path_dev || st.st_ino != f->path_ino)
			return found(mon, f, "replaced on disk", out);
	}
	return 0;
}

static void start_file(struct al_monitor *mon, size_t i)
{
	mon->cur = i;
	mon->off = 0;
	crypto_generichash_init(&mon->hs, mon->key.bytes, sizeof mon->key.bytes, AL_MANIFEST_DIGEST_LEN);
}

int al_monitor_step(struct al_monitor *mon, uint64_t interval_ns, uint64_t tick_ns,
		    struct al_monitor_finding *out)
{
	uint64_t cpu0 = al_thread_cpu_ns(), now = al_now_ns();
	int rc = metadata_check(mon, out);
	if (rc < 0)
		goto done;
	size_t urgent = mon->n;
	for (size_t i = 0; i < mon->n; i++)
		if (mon->files[i].urgent)
			urgent = i;
	if (urgent < mon->n && (!mon->in_pass || mon->cur != urgent)) {
		/* Interrupts the pass: it starts again afterwards. */
		mon->in_pass = true;
		mon->pass_start_ns = now;
		start_file(mon, urgent);
	} else if (!mon->in_pass) {
		if (mon->n == 0 || (mon->pass_start_ns && now - mon->pass_start_ns < interval_ns))
			goto done;
		mon->in_pass = true;
		mon->pass_start_ns = now;
		start_file(mon, 0);
	}
	uint64_t todo = mon->slice;
	uint64_t hash_cpu0 = al_thread_cpu_ns(), hashed = 0;
	while (todo > 0 && mon->in_pass) {
		struct mon_file *f = &mon->files[mon->cur];
		uint64_t size = (uint64_t)f->st.st_size;
		if (mon->off < size) {
			size_t want = (size_t)(size - mon->off < READ_CHUNK ? size - mon->off : READ_CHUNK);
			if (want > todo)
				want = (size_t)todo;
			ssize_t n = pread(f->fd, mon->buf, want, (off_t)mon->off);
			if (n <= 0) {
				rc = found(mon, f, n == 0 ? "shorter than its size" : "unreadable", out);
				goto done;
			}
			crypto_generichash_update(&mon->hs, mon->buf, (size_t)n);
			mon->off += (uint64_t)n;
			todo -= (uint64_t)n;
			hashed += (uint64_t)n;
			continue;
		}
		unsigned char d[AL_MANIFEST_DIGEST_LEN];
		crypto_generichash_final(&mon->hs, d, sizeof d);
		bool ok = sodium_memcmp(d, f->digest, sizeof d) == 0;
		if (!ok) {
			rc = found(mon, f, "digest mismatch", out);
			goto done;
		}
		if (f->urgent) {
			f->urgent = false;
			mon->in_pass = false; /* the regular pass starts over */
			mon->pass_start_ns = 0;
			break;
		}
		if (mon->cur + 1 < mon->n) {
			start_file(mon, mon->cur + 1);
		} else {
			mon->in_pass = false;
			mon->stats.passes++;
		}
	}
	/* Adapt the slice so one step's hashing costs budget * tick. */
	uint64_t used = al_thread_cpu_ns() - hash_cpu0;
	if (hashed >= SLICE_MIN / 4 && used > 0) {
		double target = mon->budget * (double)tick_ns;
		double next = (double)hashed * target / (double)used;
		/* Move halfway: one noisy slice must not swing it. */
		next = (next + (double)mon->slice) / 2;
		mon->slice = next < SLICE_MIN ? SLICE_MIN : next > SLICE_MAX ? SLICE_MAX : (uint64_t)next;
	}
	mon->stats.bytes += hashed;
done:
	mon->stats.steps++;
	mon->stats.cpu_ns += al_thread_cpu_ns() - cpu0;
	mon->stats.slice = mon->slice;
	return rc;
}

void al_monitor_stats(const struct al_monitor *mon, struct al_monitor_stats *st)
{
	*st = mon->stats;
}

/* ---- running domains ---- */

const char *al_proc_finding_name(enum al_proc_finding f)
{
	static const char *const names[] = {"ok", "gone", "unconfined", "executable-mapping", "exe-changed",
					    "namespace-changed", "speculation-changed"};
	return (unsigned)f < AL_ARRAY_LEN(names) ? names[f] : "unknown";
}

enum al_proc_finding al_monitor_check_proc(pid_t pid, int exe_fd, struct al_proc_baseline *b, char *why,
					   size_t whylen)
{
	struct al_procstate ps;
	struct al_procstate_ns ns;
	why[0] = '\0';
	if (al_procstate_read(NULL, pid, &ps) < 0 || al_procstate_read_ns(NULL, pid, &ns) < 0)
		return AL_PROC_GONE;
	if (!al_procstate_confined(&ps, why, whylen))
		return ps.anon_exec || ps.deleted_exec ? AL_PROC_EXEC_MAPPING : AL_PROC_UNCONFINED;
	if (exe_fd >= 0) {
		int rc = al_procstate_exe_matches(NULL, pid, exe_fd);
		if (rc == -ESTALE) {
			snprintf(why, whylen, "/proc/%d/exe is not the verified executable", (int)pid);
			return AL_PROC_EXE;
		}
		if (rc < 0)
			return AL_PROC_GONE;
	}
	if (!b->have) {
		b->ns = ns;
		al_strlcpy(b->ssb, ps.spec_store_bypass, sizeof b->ssb);
		al_strlcpy(b->ib, ps.spec_indirect_branch, sizeof b->ib);
		b->have = true;
		return AL_PROC_OK;
	}
	const char *which = NULL;
	if (al_procstate_ns_same(&b->ns, &ns, &which) < 0) {
		snprintf(why, whylen, "%s namespace changed", which ? which : "a");
		return AL_PROC_NAMESPACE;
	}
	if (strcmp(b->ssb, ps.spec_store_bypass) || strcmp(b->ib, ps.spec_indirect_branch)) {
		snprintf(why, whylen, "speculation now '%s' / '%s', attested '%s' / '%s'", ps.spec_store_bypass,
			 ps.spec_indirect_branch, b->ssb, b->ib);
		return AL_PROC_SPECULATION;
	}
	return AL_PROC_OK;
}
