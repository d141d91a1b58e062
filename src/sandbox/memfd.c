/*
 * memfd: no executable anonymous files. vm.memfd_noexec is per pid
 * namespace and can only be raised; 2 makes every memfd_create() of the domain
 * non-executable (MFD_EXEC refused), so "memfd_create + execveat" cannot run
 * code that was never on a listed path. Written through the runner's /proc
 * before pivot_root, with CAP_SYS_ADMIN over the new pid namespace and, for
 * the file's permission check, still the runner's (root) ids.
 *
 * Where it cannot be written (a kernel before 6.3, a runner that is not
 * root), the filter refuses memfd_create instead (wx.c): the runner compiled
 * it so, by the same probe (al_wx_memfd_noexec_settable). Without that rule
 * the domain does not start.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/util.h"
#include "sandbox/sandbox_int.h"

int al_memfd_apply(const struct al_spec *spec)
{
	if (!spec->memfd_noexec)
		return 0;
	const struct al_bpf *b = spec->seccomp ? spec->seccomp_ctx : NULL;
	bool filter = b && (b->carries & AL_BPF_MEMFD);
	int rc = -ENOENT; /* as a kernel before 6.3 answers */
	if (!(spec->test_kernel_lacks & AL_TEST_NO_MEMFD_NOEXEC)) {
		int fd = open("/proc/sys/vm/memfd_noexec", O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
		} else {
			rc = al_write_all(fd, "2", 1);
			close(fd);
		}
	}
	if (rc == 0)
		return 1;
	return filter ? 0 : rc;
}
