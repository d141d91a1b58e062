/*
 * The supervisor's audit records: one writer for every part (sup_int.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "common/log.h"
#include "supervisor/sup_int.h"

const char *const sup_dom_names[AL_DOMAIN_COUNT] = {"ai", "proto"};
const char *const sup_dom_state_names[] = {"stopped", "running", "stopping", "restarting", "failed (crash loop)",
					   "locked down (airlock unlock)"};

void sup_event(struct sup *s, const char *event, bool urgent, json_t *fields)
{
	/* Incidents by type and domain, for the metrics. */
	if (!strcmp(event, "incident")) {
		const char *type = json_string_value(json_object_get(fields, "type"));
		const char *dom = json_string_value(json_object_get(fields, "domain"));
		for (int t = 0; type && dom && t < AL_INC_COUNT; t++)
			for (int d = 0; d < AL_DOMAIN_COUNT; d++)
				if (!strcmp(type, al_incident_type_name((enum al_incident_type)t)) && !strcmp(dom, sup_dom_names[d]))
					s->incidents_by[t][d]++;
	}
	if (s->verbose) {
		char *t = json_dumps(fields, JSON_COMPACT);
		fprintf(stderr, "airlock: %s %s\n", event, t ? t : "{}");
		free(t);
	}
	if (s->audit && al_audit_append(s->audit, event, fields, urgent) < 0)
		al_log_warnx("audit: could not append '%s'", event);
	json_decref(fields);
}

/*
 * Records written with their sync deferred (a crash's exit record, so that
 * the restart it causes does not wait for the disk) reach it here, at the
 * loop's next turn: after that restart, before the loop sleeps again.
 */
void sup_event_sync(struct sup *s)
{
	if (s->audit_sync_due && s->audit)
		(void)al_audit_flush(s->audit);
	s->audit_sync_due = false;
}

int sup_epoll_add(struct sup *s, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}
