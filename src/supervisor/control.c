#include "supervisor/control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

static int control_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa->sun_path)
		return -ENAMETOOLONG;
	al_strlcpy(sa->sun_path, path, sizeof sa->sun_path);
	return 0;
}

int al_control_listen(const char *path)
{
	struct sockaddr_un sa;
	int rc = control_addr(path, &sa);
	if (rc < 0)
		return rc;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A socket left by a supervisor that died is stale; one that answers is not. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	/* Created 0600 from the start: the umask closes the window before chmod. */
	mode_t old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0 || listen(fd, 16) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int al_control_accept(int lfd)
{
	int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return -errno;
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		int e = -errno;
		close(cfd);
		return e;
	}
	if (cred.uid != 0 && cred.uid != geteuid()) {
		al_log_warnx("control: refused a client with uid %u (pid %d)", (unsigned)cred.uid, (int)cred.pid);
		close(cfd);
		return -EPERM;
	}
	/* A client that connects and stalls must not block the loop. */
	struct timeval tv = {.tv_sec = 1};
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return cfd;
}

int al_control_read_request(int cfd, struct al_control_req *req)
{
	/* One byte more than a request: a longer message is malformed, not truncated silently. */
	unsigned char buf[sizeof *req + 1];
	ssize_t n = recv(cfd, buf, sizeof buf, 0);
	if (n < 0)
		return -errno;
	return al_control_parse_request(buf, (size_t)n, req);
}

int al_control_parse_request(const void *buf, size_t len, struct al_control_req *req)
{
	if (len != sizeof *req)
		return -EPROTO;
	memcpy(req, buf, sizeof *req);
	if (req->magic != AL_CONTROL_MAGIC || req->version != AL_CONTROL_VERSION)
		return -EPROTO;
	if (req->op < AL_CONTROL_STATUS || req->op > AL_CONTROL_METRICS)
		return -EPROTO;
	return 0;
}

int al_control_reply(int cfd, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	int rc = 0;
	if (len > AL_CONTROL_MAX_REPLY)
		rc = -EMSGSIZE;
	else if (send(cfd, text, len, MSG_NOSIGNAL) < 0)
		rc = -errno;
	free(text);
	return rc;
}

int al_control_call(const char *path, enum al_control_op op, uint32_t arg, json_t **reply)
{
	struct sockaddr_un sa;
	int rc = control_addr(path, &sa);
	if (rc < 0)
		return rc;
	AL_AUTOCLOSE int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return -errno;
	struct timeval tv = {.tv_sec = 30};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct al_control_req req = {AL_CONTROL_MAGIC, AL_CONTROL_VERSION, (uint32_t)op, arg};
	if (send(fd, &req, sizeof req, MSG_NOSIGNAL) != (ssize_t)sizeof req)
		return -errno ? -errno : -EIO;
	AL_AUTOFREE char *buf = malloc(AL_CONTROL_MAX_REPLY + 1);
	if (!buf)
		return -ENOMEM;
	ssize_t n = recv(fd, buf, AL_CONTROL_MAX_REPLY, 0);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	buf[n] = '\0';
	json_t *j = json_loads(buf, 0, NULL);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return -EPROTO;
	}
	*reply = j;
	return 0;
}
