/*
 * The supervisor's control socket: a Unix SOCK_SEQPACKET socket, mode 0600,
 * peers checked with SO_PEERCRED (root or the supervisor's own uid).
 *
 * The supervisor reads only fixed-size binary requests from it (it never
 * parses text from a peer) and answers with one message: a status word and a
 * JSON document it wrote itself.
 *
 *   client: fd = al_control_connect(path); al_control_call(fd, AL_CONTROL_STATUS, &reply)
 *   server: fd = al_control_listen(path); on EPOLLIN: al_control_accept(fd) -> cfd;
 *           al_control_read_request(cfd, &req); al_control_reply(cfd, status, json)
 */
#ifndef AL_SUPERVISOR_CONTROL_H
#define AL_SUPERVISOR_CONTROL_H

#include <jansson.h>
#include <stdint.h>

#define AL_CONTROL_MAGIC 0x414c4354u /* "ALCT" */
#define AL_CONTROL_VERSION 1
#define AL_CONTROL_MAX_REPLY (256u * 1024u)

enum al_control_op {
	AL_CONTROL_STATUS = 1,
	AL_CONTROL_STOP = 2,
	AL_CONTROL_LEVEL_GET = 3,
	AL_CONTROL_LEVEL_SET = 4,
	AL_CONTROL_UNLOCK = 5,
	AL_CONTROL_METRICS = 6, /* {"ok", "text": the Prometheus text exposition} */
};

/* Fixed-size request; every field checked by the server. */
struct al_control_req {
	uint32_t magic;
	uint32_t version;
	uint32_t op;
	uint32_t arg; /* op-specific (the level for LEVEL_SET) */
};

/* Creates the socket at path (replacing a stale one), mode 0600. fd or -errno. */
int al_control_listen(const char *path);

/* Accepts one client and checks its credentials. fd, or -errno (-EPERM for a stranger). */
int al_control_accept(int lfd);

/* Reads and checks one request. 0 or -errno (-EPROTO for a malformed record). */
int al_control_read_request(int cfd, struct al_control_req *req);

/* Checks one received request record of len bytes (the fuzzed part). 0 or -EPROTO. */
int al_control_parse_request(const void *buf, size_t len, struct al_control_req *req);

/* Sends {"ok": bool, "error"?: msg, ...body} as one message. 0 or -errno. */
int al_control_reply(int cfd, json_t *body);

/* Client side: connects, sends the request, parses the reply. 0 or -errno. */
int al_control_call(const char *path, enum al_control_op op, uint32_t arg, json_t **reply);

#endif
