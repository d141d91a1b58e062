/* Terminal injection: TIOCSTI pushes input into a terminal, TIOCLINUX
 * pastes a console selection. Both are tried with the plain request and with
 * bits 32-63 set: the kernel reads the request as 32 bits, so a filter that
 * compares all 64 bits without masking misses the second form. */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#define HIGH_BITS (UINT64_C(1) << 32)
#define TIOCL_GETFGCONSOLE 12

/* A private pseudo-terminal when /dev/ptmx exists (so an unsandboxed run
 * never types into a real terminal); else whichever standard stream is a
 * terminal; else stdin, where an unfiltered ioctl fails with ENOTTY. */
/* Whether fd is a terminal, by its device number: isatty() would be an
 * ioctl, which is the very call a filter may refuse before the attack. */
static int is_tty(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))
		return 0;
	unsigned int maj = major(st.st_rdev);
	return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143);
}

static int tiocsti_target(int *master, const char **what)
{
	struct stat st;

	/* Looked up first (newfstatat), so that a domain without /dev/ptmx
	 * never makes the open call that a filter may refuse. */
	*master = stat("/dev/ptmx", &st) == 0 ? posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
	if (*master >= 0 && grantpt(*master) == 0 && unlockpt(*master) == 0) {
		char *pts = ptsname(*master);
		int s = pts ? open(pts, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
		if (s >= 0) {
			struct termios t;
			if (tcgetattr(s, &t) == 0) {
				cfmakeraw(&t);
				tcsetattr(s, TCSANOW, &t);
			}
			/* Make it our controlling terminal where we can, the
			 * condition under which TIOCSTI needs no capability. */
			if (setsid() >= 0)
				ioctl(s, TIOCSCTTY, 0);
			*what = "private pty";
			return s;
		}
	}
	if (*master >= 0)
		close(*master);
	*master = -1;
	for (int fd = 0; fd <= 2; fd++) {
		if (is_tty(fd)) {
			*what = "inherited terminal";
			return fd;
		}
	}
	*what = "stdin (not a terminal)";
	return 0;
}

static int tiocsti(uint64_t req)
{
	const char *what;
	int master;
	int fd = tiocsti_target(&master, &what);
	char c = '#';

	atk_reached("ioctl");
	if (syscall(SYS_ioctl, fd, req, &c) < 0) {
		int e = errno;
		/* No terminal to aim at: the call still shows whether a filter
		 * stopped it, but not whether injection would work. */
		if (e == ENOTTY && fd == 0 && master < 0)
			return atk_unavailable(e, "no terminal to aim at; ioctl(TIOCSTI) on stdin reached the tty layer (ENOTTY), so no filter stopped it");
		if (e == ENOTTY)
			return atk_unexpected(e, "ioctl(TIOCSTI) on %s reached the tty layer (ENOTTY): no filter stopped it", what);
		return atk_failed(e, "ioctl(TIOCSTI)");
	}
	if (master >= 0) {
		char got = 0;
		fcntl(fd, F_SETFL, O_NONBLOCK);
		if (read(fd, &got, 1) == 1 && got == c)
			return atk_escaped("TIOCSTI (request 0x%llx) injected '%c' into a %s and read it back",
					   (unsigned long long)req, got, what);
	}
	return atk_escaped("TIOCSTI (request 0x%llx) accepted on %s", (unsigned long long)req, what);
}

int atk_tiocsti(int argc, char **argv)
{
	return tiocsti(TIOCSTI);
}

int atk_tiocsti_high(int argc, char **argv)
{
	return tiocsti(HIGH_BITS | TIOCSTI);
}

/* TIOCLINUX needs a virtual console: /dev/tty0 where present. The harmless
 * TIOCL_GETFGCONSOLE subcode stands for the whole family (PASTESEL injects). */
static int tioclinux(uint64_t req)
{
	const char *what = "/dev/tty0";
	struct stat st;
	int fd = stat("/dev/tty0", &st) == 0 ? open("/dev/tty0", O_RDONLY | O_NOCTTY | O_CLOEXEC) : -1;
	char sub = TIOCL_GETFGCONSOLE;

	if (fd < 0) {
		what = "stdin";
		fd = 0;
		for (int i = 0; i <= 2; i++) {
			if (is_tty(i)) {
				fd = i;
				what = "inherited terminal";
				break;
			}
		}
	}
	atk_reached("ioctl");
	long r = syscall(SYS_ioctl, fd, req, &sub);
	if (r < 0) {
		int e = errno;
		if ((e == ENOTTY || e == EINVAL) && strcmp(what, "stdin") == 0)
			return atk_unavailable(e, "no console or terminal to aim at; ioctl(TIOCLINUX) on stdin reached the tty layer (%s), so no filter stopped it",
					       strerror(e));
		if (e == ENOTTY || e == EINVAL)
			return atk_unexpected(e, "ioctl(TIOCLINUX) on %s reached the tty layer (%s): no filter stopped it",
					      what, strerror(e));
		return atk_failed(e, "ioctl(TIOCLINUX)");
	}
	return atk_escaped("TIOCLINUX (request 0x%llx) on %s answered: foreground console %ld",
			   (unsigned long long)req, what, r);
}

int atk_tioclinux(int argc, char **argv)
{
	return tioclinux(TIOCLINUX);
}

int atk_tioclinux_high(int argc, char **argv)
{
	return tioclinux(HIGH_BITS | TIOCLINUX);
}
