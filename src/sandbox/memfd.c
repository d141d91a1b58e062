/*
 * memfd: no executable anonymous files. vm.memfd_noexec is per pid
 * namespace and can only be raised; 2 makes every memfd_create() of the domain
 * non-executable (MFD_EXEC refused), so "memfd_create + execveat" cannot run
 * code that was never on a listed path. Written through the runner's /proc
 * before pivot_root, with CAP_SYS_ADMIN over the new pid namespace and, for
 * the file's permission check, still the runner's (root) ids.
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
	int fd = open("/proc/sys/vm/memfd_noexec", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno; /* kernels before 6.3 */
	int rc = al_write_all(fd, "2", 1);
	close(fd);
	return rc;
}
