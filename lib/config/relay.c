#include "config.h"

#include "config/relay.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void
relay_local(const struct submitcf *cf, struct relay_local *l)
{
	const char *j = submitcf_macro(cf, "j");
	struct addrinfo hints, *ai = NULL;

	if (gethostname(l->hostname, sizeof l->hostname) < 0)
		snprintf(l->hostname, sizeof l->hostname, "localhost");
	l->hostname[sizeof l->hostname - 1] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(l->hostname, NULL, &hints, &ai) == 0 && ai != NULL &&
	    ai->ai_canonname != NULL)
		snprintf(l->canon, sizeof l->canon, "%s", ai->ai_canonname);
	else
		snprintf(l->canon, sizeof l->canon, "%s", l->hostname);
	if (ai != NULL)
		freeaddrinfo(ai);
	/* A $j that still holds a macro ("$w.$m") would need sendmail's
	 * expansion: the canonical name is what sendmail puts there. */
	if (j != NULL && *j != '\0' && strchr(j, '$') == NULL)
		snprintf(l->domain, sizeof l->domain, "%s", j);
	else
		snprintf(l->domain, sizeof l->domain, "%s", l->canon);
}

bool
relay_resolve(const struct submitcf *cf, struct relay_target *t, struct error *err)
{
	struct addrinfo hints, *ai = NULL;
	int rc;

	submitcf_relay(cf, t->name, sizeof t->name, t->host, sizeof t->host);
	t->ip[0] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(t->host, NULL, &hints, &ai)) != 0 || ai == NULL) {
		error_set(err, 0, "relay %s: cannot resolve it: %s", t->name,
		    rc != 0 ? gai_strerror(rc) : "no address");
		return false;
	}
	rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, t->ip, sizeof t->ip, NULL, 0,
	    NI_NUMERICHOST);
	freeaddrinfo(ai);
	if (rc != 0) {
		error_set(err, 0, "relay %s: its address cannot be written: %s", t->name,
		    gai_strerror(rc));
		return false;
	}
	return true;
}

void
relay_security(const struct relay_target *t, struct tls_client *tls,
    const struct auth_client *auth, struct smtp_security *sec)
{
	memset(sec, 0, sizeof *sec);
	sec->tls = tls;
	sec->tls_name = t->host;
	sec->auth = auth;
	sec->relay = t->name;
}
