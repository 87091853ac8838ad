/* evloop: the registry loop's order, and what handlers may do to it. */
#include <criterion/criterion.h>

#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "util/evloop.h"
#include "util/monotime.h"

/* What fired, in order: one letter per handler call. */
static char trace[64];

static void
note(char c)
{
	size_t n = strlen(trace);

	cr_assert_lt(n + 1, sizeof trace);
	trace[n] = c;
	trace[n + 1] = '\0';
}

struct ctx {
	struct evloop *l;
	char name;
	evloop_id victim;	/* removed by this handler */
	bool victim_is_fd;
	int stop_after;		/* evloop_stop once trace is this long */
	int readfd;
};

static void
on_timeout(void *arg)
{
	struct ctx *c = arg;

	note(c->name);
	if (c->victim != 0) {
		if (c->victim_is_fd)
			evloop_remove_fd(c->l, c->victim);
		else
			evloop_remove_timeout(c->l, c->victim);
	}
	if (c->stop_after > 0 && (int)strlen(trace) >= c->stop_after)
		evloop_stop(c->l);
}

static void
on_fd(void *arg, int fd, short revents)
{
	struct ctx *c = arg;
	char b;

	cr_assert(revents & POLLIN);
	cr_assert_eq(read(fd, &b, 1), 1);
	note(c->name);
	if (c->victim != 0) {
		if (c->victim_is_fd)
			evloop_remove_fd(c->l, c->victim);
		else
			evloop_remove_timeout(c->l, c->victim);
	}
	if (c->stop_after > 0 && (int)strlen(trace) >= c->stop_after)
		evloop_stop(c->l);
}

static void
stop_now(void *arg)
{
	note('.');
	evloop_stop(arg);
}

Test(evloop, timeouts_fire_in_time_order_ties_in_order_of_adding)
{
	struct evloop *l = evloop_new();
	long long t0 = monotime_ms();
	struct ctx a = { l, 'a', 0, false, 0, -1 }, b = { l, 'b', 0, false, 0, -1 },
	    c = { l, 'c', 0, false, 0, -1 }, d = { l, 'd', 0, false, 0, -1 };

	trace[0] = '\0';
	cr_assert_not_null(l);
	evloop_add_timeout_at(l, t0 + 30, on_timeout, &c);
	evloop_add_timeout_at(l, t0 + 10, on_timeout, &a);
	evloop_add_timeout_at(l, t0 + 30, on_timeout, &d);	/* after c: added later */
	evloop_add_timeout_at(l, t0 + 20, on_timeout, &b);
	evloop_add_timeout_at(l, t0 + 40, stop_now, l);
	cr_assert_eq(evloop_run(l), 0);
	cr_assert_str_eq(trace, "abcd.");
	cr_assert_geq(monotime_ms() - t0, 40, "the loop slept until the last one was due");
	evloop_free(l);
}

Test(evloop, a_ready_descriptor_fires_its_handler_before_the_due_timeouts)
{
	struct evloop *l = evloop_new();
	int p[2];
	struct ctx f = { l, 'f', 0, false, 0, -1 }, t = { l, 't', 0, false, 0, -1 };
	evloop_id id;

	trace[0] = '\0';
	cr_assert_eq(pipe(p), 0);
	id = evloop_add_fd(l, p[0], POLLIN, on_fd, &f);
	cr_assert_neq(id, 0);
	evloop_add_timeout(l, 0, on_timeout, &t);
	evloop_add_timeout(l, 50, stop_now, l);
	cr_assert_eq(write(p[1], "x", 1), 1);
	evloop_run(l);
	cr_assert_str_eq(trace, "ft.");
	/* Events 0: registered, but not woken by a ready descriptor. */
	trace[0] = '\0';
	cr_assert(evloop_set_events(l, id, 0));
	cr_assert_eq(write(p[1], "y", 1), 1);
	evloop_add_timeout(l, 30, stop_now, l);
	evloop_run(l);
	cr_assert_str_eq(trace, ".");
	cr_assert(evloop_set_events(l, id, POLLIN));
	trace[0] = '\0';
	evloop_add_timeout(l, 30, stop_now, l);
	evloop_run(l);
	cr_assert_str_eq(trace, "f.");
	evloop_free(l);
	close(p[0]);
	close(p[1]);
}

Test(evloop, a_timeout_removed_by_an_earlier_one_in_the_same_iteration_does_not_fire)
{
	struct evloop *l = evloop_new();
	long long t0 = monotime_ms();
	struct ctx a = { l, 'a', 0, false, 0, -1 }, b = { l, 'b', 0, false, 0, -1 };

	trace[0] = '\0';
	/* Both due by the time the loop looks: a removes b. */
	evloop_add_timeout_at(l, t0 - 5, on_timeout, &a);
	a.victim = evloop_add_timeout_at(l, t0 - 1, on_timeout, &b);
	evloop_add_timeout(l, 20, stop_now, l);
	evloop_run(l);
	cr_assert_str_eq(trace, "a.");
	cr_assert_eq(evloop_timeout_at(l, a.victim), -1);
	evloop_remove_timeout(l, a.victim);	/* gone already: a no-op */
	evloop_free(l);
}

Test(evloop, a_descriptor_removed_by_a_handler_before_its_turn_does_not_fire)
{
	struct evloop *l = evloop_new();
	int p[2], q[2];
	struct ctx a = { l, 'a', 0, true, 0, -1 }, b = { l, 'b', 0, true, 0, -1 };
	evloop_id ia, ib;

	trace[0] = '\0';
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(pipe(q), 0);
	ia = evloop_add_fd(l, p[0], POLLIN, on_fd, &a);
	ib = evloop_add_fd(l, q[0], POLLIN, on_fd, &b);
	/* Whichever the kernel reports first removes the other. */
	a.victim = ib;
	b.victim = ia;
	cr_assert_eq(write(p[1], "x", 1), 1);
	cr_assert_eq(write(q[1], "x", 1), 1);
	evloop_add_timeout(l, 30, stop_now, l);
	evloop_run(l);
	cr_assert(strcmp(trace, "a.") == 0 || strcmp(trace, "b.") == 0, "trace %s", trace);
	evloop_free(l);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

Test(evloop, a_timeout_can_remove_a_ready_descriptor_of_the_same_iteration)
{
	struct evloop *l = evloop_new();
	int p[2];
	struct ctx f = { l, 'f', 0, false, 0, -1 }, t = { l, 't', 0, true, 0, -1 };

	trace[0] = '\0';
	cr_assert_eq(pipe(p), 0);
	/* A timeout removes the descriptor before its data comes: it is
	 * never called for it. */
	t.victim = evloop_add_fd(l, p[0], POLLIN, on_fd, &f);
	evloop_add_timeout(l, 0, on_timeout, &t);
	evloop_add_timeout(l, 40, stop_now, l);
	evloop_run(l);
	cr_assert_eq(write(p[1], "x", 1), 1);
	trace[0] = '\0';
	evloop_add_timeout(l, 20, stop_now, l);
	evloop_run(l);
	cr_assert_str_eq(trace, ".", "removed: never called again");
	evloop_free(l);
	close(p[0]);
	close(p[1]);
}

/* Re-adds itself at delay 0 three times: each waits for the next
 * iteration, so a ready descriptor gets its turn in between. */
struct again {
	struct evloop *l;
	int left;
};

static void
again(void *arg)
{
	struct again *g = arg;

	note('r');
	if (--g->left > 0)
		evloop_add_timeout(g->l, 0, again, g);
}

static int prepares;

static void
count_prepare(void *arg)
{
	(void)arg;
	prepares++;
}

Test(evloop, a_timeout_added_inside_a_handler_waits_for_the_next_iteration)
{
	struct evloop *l = evloop_new();
	struct again g = { l, 3 };
	int p[2];
	struct ctx f = { l, 'f', 0, false, 0, -1 };

	trace[0] = '\0';
	prepares = 0;
	cr_assert_eq(pipe(p), 0);
	evloop_add_fd(l, p[0], POLLIN, on_fd, &f);
	evloop_set_prepare(l, count_prepare, NULL);
	evloop_add_timeout(l, 0, again, &g);
	cr_assert_eq(write(p[1], "xx", 2), 2);	/* ready for two iterations */
	evloop_add_timeout(l, 40, stop_now, l);
	evloop_run(l);
	/* Iteration 1: f, r; 2: f, r; 3: r; then the stop. */
	cr_assert_str_eq(trace, "frfrr.");
	cr_assert_geq(prepares, 4, "the prepare hook ran before every wait");
	evloop_free(l);
	close(p[0]);
	close(p[1]);
}

Test(evloop, a_descriptor_re_added_inside_a_handler_is_a_new_registration)
{
	struct evloop *l = evloop_new();
	int p[2];
	struct ctx f = { l, 'f', 0, false, 0, -1 }, g = { l, 'g', 0, false, 0, -1 };
	evloop_id first, second;

	trace[0] = '\0';
	cr_assert_eq(pipe(p), 0);
	first = evloop_add_fd(l, p[0], POLLIN, on_fd, &f);
	/* f's handler: removes itself; then re-registered with g's. */
	f.victim = first;
	f.victim_is_fd = true;
	cr_assert_eq(write(p[1], "ab", 2), 2);
	evloop_add_timeout(l, 20, stop_now, l);
	evloop_run(l);
	cr_assert_str_eq(trace, "f.");
	second = evloop_add_fd(l, p[0], POLLIN, on_fd, &g);
	cr_assert_neq(second, first, "ids are never reused");
	cr_assert(!evloop_set_events(l, first, POLLIN), "the old id is gone");
	trace[0] = '\0';
	evloop_add_timeout(l, 20, stop_now, l);
	evloop_run(l);
	cr_assert_str_eq(trace, "g.");
	evloop_free(l);
	close(p[0]);
	close(p[1]);
}

Test(evloop, with_nothing_due_the_loop_sleeps_until_the_timeout)
{
	struct evloop *l = evloop_new();
	long long t0 = monotime_ms();

	prepares = 0;
	evloop_set_prepare(l, count_prepare, NULL);
	evloop_add_timeout(l, 200, stop_now, l);
	trace[0] = '\0';
	evloop_run(l);
	cr_assert_geq(monotime_ms() - t0, 200);
	/* One wait, one wake-up: the prepare hook ran once (and the
	 * stop came from the timeout). */
	cr_assert_eq(prepares, 1, "woke %d times", prepares);
	evloop_free(l);
}
