#include "config.h"

#include "recent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

struct recent {
	struct recent_entry *ring;	/* RECENT_MAX, on the first record */
	size_t next, used;
};

struct recent *
recent_new(void)
{
	return xcalloc(1, sizeof(struct recent));
}

void
recent_free(struct recent *r)
{
	if (r == NULL)
		return;
	free(r->ring);
	free(r);
}

void
recent_record(struct recent *r, const char *id, const char *outcome, time_t when,
    uid_t owner, const char *sender, const char *relay, const char *mta_qids,
    const char *status)
{
	struct recent_entry *e;

	if (r->ring == NULL)
		r->ring = xcalloc(RECENT_MAX, sizeof *r->ring);
	e = &r->ring[r->next];
	r->next = (r->next + 1) % RECENT_MAX;
	if (r->used < RECENT_MAX)
		r->used++;
	snprintf(e->id, sizeof e->id, "%s", id);
	snprintf(e->outcome, sizeof e->outcome, "%s", outcome);
	e->when = when;
	e->owner = owner;
	if (sender == NULL || strlen(sender) >= sizeof e->sender)
		e->sender[0] = '\0';
	else
		snprintf(e->sender, sizeof e->sender, "%s", sender);
	snprintf(e->relay, sizeof e->relay, "%s", relay ? relay : "");
	snprintf(e->mta_qids, sizeof e->mta_qids, "%s", mta_qids ? mta_qids : "");
	snprintf(e->status, sizeof e->status, "%s", status ? status : "");
}

const struct recent_entry *
recent_at(const struct recent *r, size_t k)
{
	if (k >= r->used)
		return NULL;
	return &r->ring[(r->next + RECENT_MAX - 1 - k) % RECENT_MAX];
}

const struct recent_entry *
recent_find(const struct recent *r, const char *id)
{
	size_t k, i;

	/* newest first: an ID seen twice (a DSN's, reused) is its last */
	for (k = 0; k < r->used; k++) {
		i = (r->next + RECENT_MAX - 1 - k) % RECENT_MAX;
		if (strcmp(r->ring[i].id, id) == 0)
			return &r->ring[i];
	}
	return NULL;
}
