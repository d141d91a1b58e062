/*
 * Landlock: filesystem access only beneath the listed paths (and the exec
 * file itself), no TCP bind, TCP connect only to the spec's tcp_connect ports
 * (ABI >= 4), no abstract unix sockets or
 * signals leaving the domain (ABI >= 6). Best effort down the ABI versions:
 * the caller learns what applied. Runs after NO_NEW_PRIVS, which
 * landlock_restrict_self() requires of an unprivileged task, and after
 * pivot_root, so the rules name the domain's own paths.
 *
 * The kernel headers of this distribution stop at ABI 3, so the later
 * constants are spelled out here, as the kernel documents them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"
#include "sandbox/sandbox_int.h"

#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)     /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)  /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_net_port {
	uint64_t allowed_access;
	uint64_t port;
};

#define LL_RULE_NET_PORT 2

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#define LL_FS_READ (LL_FS_READ_FILE | LL_FS_READ_DIR)
#define LL_FS_FILE (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | \
		    LL_FS_IOCTL_DEV)

static uint64_t fs_for_abi(int abi)
{
	uint64_t a = (1ULL << 13) - 1;
	if (abi >= 2)
		a |= LL_FS_REFER;
	if (abi >= 3)
		a |= LL_FS_TRUNCATE;
	if (abi >= 5)
		a |= LL_FS_IOCTL_DEV;
	return a;
}

static int add_rule(int ruleset, const char *path, uint64_t access, uint64_t handled, int fd)
{
	struct ll_path_beneath pb = { .allowed_access = access & handled, .parent_fd = fd };
	int own = -1;
	if (fd < 0) {
		own = open(path, O_PATH | O_CLOEXEC | O_NOFOLLOW);
		if (own < 0)
			return -errno;
		pb.parent_fd = own;
	}
	long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	int e = errno;
	if (own >= 0)
		close(own);
	return r < 0 ? -e : 0;
}

/* Regular files accept only the file rights; a directory rule gets them all. */
static uint64_t rights_for(bool is_dir, uint64_t want)
{
	return is_dir ? want : (want & LL_FS_FILE);
}

int al_landlock_apply(const struct al_spec *spec, unsigned *applied, int *abi_out)
{
	*applied = 0;
	*abi_out = 0;
	if (spec->landlock == AL_LANDLOCK_OFF)
		return 0;
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return spec->landlock == AL_LANDLOCK_REQUIRED ? -EOPNOTSUPP : 0;
	*abi_out = (int)abi;
	if (spec->landlock == AL_LANDLOCK_REQUIRED && abi < 6)
		return -EOPNOTSUPP;

	struct ll_ruleset_attr attr = { .handled_access_fs = fs_for_abi((int)abi) };
	size_t size = sizeof(uint64_t);
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof attr;
	}
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rs < 0)
		return -errno;
	uint64_t h = attr.handled_access_fs;
	uint64_t ro = LL_FS_READ | LL_FS_EXECUTE;
	/* the root holds only what is listed: listing it reveals nothing more */
	int rc = add_rule(rs, "/", LL_FS_READ_DIR, h, -1);
	for (size_t i = 0; i < spec->n_paths && rc == 0; i++) {
		const struct al_path *p = &spec->paths[i];
		if (p->link)
			continue;
		/* code runs only from read-only paths: nothing written can be exec'd */
		rc = add_rule(rs, p->path,
			      rights_for(p->is_dir, p->rw ? (h & ~LL_FS_EXECUTE) : ro), h, -1);
	}
	if (rc == 0 && spec->proc)
		rc = add_rule(rs, "/proc", LL_FS_READ, h, -1);
	if (rc == 0 && spec->dev) {
		/* the four nodes are not ttys: no ioctl right needed */
		rc = add_rule(rs, "/dev", LL_FS_READ_DIR, h, -1);
		static const char *const nodes[] = { "/dev/null", "/dev/zero", "/dev/full",
						     "/dev/urandom" };
		for (size_t i = 0; i < AL_ARRAY_LEN(nodes) && rc == 0; i++)
			rc = add_rule(rs, nodes[i], LL_FS_READ_FILE | LL_FS_WRITE_FILE, h, -1);
	}
	if (rc == 0 && spec->tmp)
		rc = add_rule(rs, "/tmp", h & ~LL_FS_EXECUTE, h, -1);
	/* TCP: connect only to the spec's ports (sandbox.h, network), bind never */
	for (size_t i = 0; rc == 0 && abi >= 4 && i < spec->n_tcp_connect; i++) {
		struct ll_net_port np = { .allowed_access = LL_NET_CONNECT_TCP, .port = spec->tcp_connect[i] };
		if (syscall(SYS_landlock_add_rule, rs, LL_RULE_NET_PORT, &np, 0) < 0)
			rc = -errno;
	}
	/* the verified executable, wherever it came from, may be exec'd and mapped */
	if (rc == 0 && spec->exec_fd >= 0)
		rc = add_rule(rs, NULL, LL_FS_EXECUTE | LL_FS_READ_FILE, h, AL_SANDBOX_EXEC_FD);
	if (rc == 0 && syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		rc = -errno;
	close(rs);
	if (rc < 0)
		return rc;
	*applied = AL_LANDLOCK_APPLIED_FS;
	if (abi >= 4)
		*applied |= AL_LANDLOCK_APPLIED_NET;
	if (abi >= 6)
		*applied |= AL_LANDLOCK_APPLIED_SCOPE;
	return 0;
}
