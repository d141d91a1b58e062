/* Filesystem: secrets, writing executables, leaving the work dir, kernel
 * addresses, /sys. */
#include "probe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int read_one(const char *path)
{
	char c;
	atk_reached("openat");
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return atk_failed(errno, path);
	ssize_t n = read(fd, &c, 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return atk_failed(e, "read");
	return atk_escaped("read %s", path);
}

int atk_read_shadow(int argc, char **argv)
{
	return read_one("/etc/shadow");
}

int atk_sysfs(int argc, char **argv)
{
	return read_one("/sys/devices/system/cpu/vulnerabilities/spectre_v2");
}

/* Opens an executable for writing; never writes. A running executable is
 * always ETXTBSY, which comes after the permission checks but before the
 * read-only mount check: so on ETXTBSY the probe asks the kernel whether
 * the file is writable to us (faccessat W_OK, which checks modes, owner
 * and read-only mounts). Writable means the attack only waits for the
 * program to stop running. */
static int open_exe_for_write(const char *path)
{
	atk_reached("openat");
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return atk_escaped("opened %s for writing", path);
	}
	if (errno != ETXTBSY)
		return atk_failed(errno, path);
	if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0)
		return atk_escaped("%s is writable to us (open said ETXTBSY only because it is running)", path);
	return atk_failed(errno, "faccessat W_OK after ETXTBSY");
}

int atk_write_self_exe(int argc, char **argv)
{
	return open_exe_for_write("/proc/self/exe");
}

int atk_write_proc_exe(int argc, char **argv)
{
	long pid = atk_arg_long(argc, argv, 1, 1);
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/exe", pid > 0 ? pid : 1);
	return open_exe_for_write(path);
}

/* openat(dir, "..") from the work dir (argument 1, default "."), then read
 * argument 2 (a file name in the parent) or list the parent. */
int atk_openat_dotdot(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	const char *marker = argc > 2 ? argv[2] : NULL;
	struct stat a, b;
	int dfd, pfd;

	atk_reached("openat");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return atk_failed(errno, dir);
	pfd = openat(dfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return atk_failed(errno, "openat(\"..\")");
	if (fstat(dfd, &a) == 0 && fstat(pfd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return atk_blocked_as("SAMEDIR", "\"..\" of %s is %s itself (a root)", dir, dir);
	if (marker) {
		char buf[64];
		int fd = openat(pfd, marker, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return atk_failed(errno, "openat(\"../marker\")");
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n < 0)
			return atk_failed(errno, "read marker");
		buf[n] = 0;
		return atk_escaped("read %s/../%s: \"%.*s\"", dir, marker, (int)strcspn(buf, "\n"), buf);
	}
	DIR *d = fdopendir(pfd);
	if (!d)
		return atk_failed(errno, "fdopendir");
	int n = 0;
	errno = 0;
	while (readdir(d))
		n++;
	int e = errno;
	closedir(d);
	if (e)
		return atk_failed(e, "readdir(\"..\")");
	return atk_escaped("listed %s/.. (%d entries)", dir, n);
}

int atk_kallsyms(int argc, char **argv)
{
	atk_reached("openat");
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[256];
	int lines = 0;

	if (!f)
		return atk_failed(errno, "/proc/kallsyms");
	while (lines < 20000 && fgets(line, sizeof(line), f)) {
		unsigned long long addr = strtoull(line, NULL, 16);
		lines++;
		if (addr != 0) {
			fclose(f);
			line[strcspn(line, "\n")] = 0;
			return atk_escaped("kernel address visible: %s", line);
		}
	}
	fclose(f);
	if (lines == 0)
		return atk_blocked_as("EMPTY", "/proc/kallsyms is empty");
	return atk_blocked_as("ZEROADDR", "%d symbols, every address zero", lines);
}

/* Creates a file in a system directory that a sandbox binds read-only.
 * O_TMPFILE makes an unnamed file: nothing can be left behind. */
int atk_write_sysdir(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/etc";
	atk_reached("openat");
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);

	if (fd < 0 && errno == EOPNOTSUPP)
		return atk_unavailable(errno, "%s: its filesystem has no O_TMPFILE", dir);
	if (fd < 0)
		return atk_failed(errno, dir);
	ssize_t n = write(fd, "x", 1);
	close(fd);
	return atk_escaped("created a file in %s%s", dir, n == 1 ? " and wrote to it" : "");
}

/* The classic chroot escape: chroot into a subdirectory while the working
 * directory stays outside, climb with "..", chroot(".") again. */
int atk_chroot(int argc, char **argv)
{
	char dir[] = "/tmp/airlock-attack-XXXXXX";
	/* A given directory (the runner's work dir) needs no mkdir first. */
	const char *target = argc > 1 ? argv[1] : mkdtemp(dir);
	int made = argc <= 1 && target != NULL;
	struct stat before, after;

	if (stat("/", &before) < 0)
		return atk_unexpected(errno, "stat /: %s", strerror(errno));
	atk_reached("chroot");
	if (chroot(target ? target : ".") < 0) {
		int e = errno;
		if (made)
			rmdir(dir);
		return atk_failed(e, "chroot");
	}
	for (int i = 0; i < 64; i++)
		if (chdir("..") < 0)
			break;
	int r = chroot(".");
	int e = errno;
	if (made)
		rmdir(dir); /* absolute: resolved from whatever root we now have */
	if (r < 0)
		return atk_failed(e, "chroot(\".\") after climbing");
	if (stat("/", &after) == 0 && after.st_dev == before.st_dev && after.st_ino == before.st_ino)
		return atk_escaped("chroot, climb \"..\", chroot(\".\"): back at the original root");
	return atk_blocked_as("CONFINED", "chroot worked but the climb stayed inside");
}
