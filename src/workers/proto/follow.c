/*
 * An I/O thread follows its client's CPU (--follow-client; docs/levels.md).
 *
 * The supervisor runs the I/O threads in the real-time class. The kernel wakes
 * a real-time thread on the CPU it last ran on, never on its waker's, so a
 * thread left on the other CPU costs every request two cross-CPU wake-ups.
 * After answering a request, the thread moves itself to the CPU the
 * connection's packets arrive on (SO_INCOMING_CPU: a local client's own CPU, or
 * the CPU that takes a remote client's network interrupts). From then on, the
 * client's request wakes the thread on the client's CPU, and the answer is
 * ready when the client next runs.
 *
 * Two rules keep the moves few:
 *  - Only requests answered at once count. A call that waits for the AI
 *    domain takes milliseconds, and a cross-CPU wake-up costs microseconds.
 *  - Moves that do not hold back off. A real-time client of equal or higher
 *    priority can never share a CPU with the thread, because the kernel
 *    pushes one of them away, so every move to it fails. After two failed
 *    moves in a row, the thread skips 8 requests before it tries again, then
 *    16, and so on up to 4096; a move that holds resets this.
 * A move is one sched_setaffinity to the target CPU and one back to the
 * thread's own set. The thread's CPU set is never widened: a target outside
 * the set is not followed.
 */
#include "workers/proto/proto.h"

#include <sched.h>
#include <sys/socket.h>

#define BACKOFF_FIRST 8u    /* requests skipped after the first two moves in a row that did not hold */
#define BACKOFF_MAX 4096u

void al_follow_init(struct al_follow *f)
{
	*f = (struct al_follow){ .moved_to = -1 };
}

/* The thread onto cpu, then back to its own set: the kernel leaves it on cpu. */
static int move_to(int cpu)
{
	cpu_set_t own, one;
	if (sched_getaffinity(0, sizeof own, &own) < 0 || !CPU_ISSET(cpu, &own))
		return -1;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof one, &one) < 0)
		return -1;
	return sched_setaffinity(0, sizeof own, &own) < 0 ? -1 : 0;
}

int al_follow_answered(struct al_follow *f, int fd)
{
	int in = -1;
	socklen_t len = sizeof in;
	if (getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &in, &len) < 0 || in < 0)
		return 0;
	int here = sched_getcpu();
	if (here < 0)
		return 0;
	if (f->moved_to >= 0) {
		/* the last move held if this request found the thread and its client there */
		if (here == f->moved_to && in == f->moved_to) {
			f->failed = 0;
			f->backoff = 0;
		} else if (++f->failed >= 2) {
			f->backoff = f->backoff ? f->backoff * 2 : BACKOFF_FIRST;
			if (f->backoff > BACKOFF_MAX)
				f->backoff = BACKOFF_MAX;
			f->skip = f->backoff;
		}
		f->moved_to = -1;
	}
	if (here == in)
		return 0;
	if (f->skip) {
		f->skip--;
		return 0;
	}
	if (move_to(in) < 0)
		return 0;
	f->moved_to = in;
	return 1;
}
