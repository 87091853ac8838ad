#include "config.h"

#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "util/strbuf.h"
#include "util/xalloc.h"

char *
tu_tempdir(void)
{
	const char *t = getenv("TMPDIR");
	char *p = xasprintf("%s/cqtest.XXXXXX", t && *t ? t : "/tmp");

	cr_assert_not_null(mkdtemp(p), "mkdtemp");
	cr_assert_eq(chmod(p, 0770), 0);
	return p;
}

void
tu_rmtree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			char *sub;
			struct stat st;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			sub = xasprintf("%s/%s", path, de->d_name);
			if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
				tu_rmtree(sub);
			else
				unlink(sub);
			free(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

const char *
tu_path(const char *dir, const char *name)
{
	static char bufs[8][4096];
	static unsigned next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
	return b;
}

void
tu_write(const char *dir, const char *name, const void *data, size_t len,
    mode_t mode)
{
	char *p = xasprintf("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

	cr_assert(fd >= 0, "open %s", p);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
	free(p);
}

void
tu_write_str(const char *dir, const char *name, const char *s)
{
	tu_write(dir, name, s, strlen(s), 0660);
}

char *
tu_read(const char *path, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	char buf[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		strbuf_append(&sb, buf, (size_t)n);
	close(fd);
	return strbuf_detach(&sb, len);
}

char *
tu_read2(const char *dir, const char *name, size_t *len)
{
	char *p = xasprintf("%s/%s", dir, name);
	char *r = tu_read(p, len);

	free(p);
	return r;
}

bool
tu_exists(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	bool r = lstat(p, &st) == 0;

	free(p);
	return r;
}

int
tu_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

const char *
tu_fixtures(void)
{
	const char *e = getenv("CQ_FIXTURES");

	return e && *e ? e : CQ_SRCDIR "/tests/fixtures/queues";
}

char *
tu_fixture_copy(const char *name)
{
	char *src = xasprintf("%s/%s", tu_fixtures(), name);
	char *dst = tu_tempdir();
	DIR *d = opendir(src);
	struct dirent *de;

	cr_assert_not_null(d, "fixture %s", src);
	while ((de = readdir(d)) != NULL) {
		char *data;
		size_t len;

		if (de->d_name[1] != 'f' || strchr("qdQ", de->d_name[0]) == NULL)
			continue;
		data = tu_read2(src, de->d_name, &len);
		cr_assert_not_null(data);
		tu_write(dst, de->d_name, data, len, 0660);
		free(data);
	}
	closedir(d);
	free(src);
	return dst;
}

char *
tu_simple_qf(const char *sender, const char *rcpt)
{
	return xasprintf("V8\nT1795559935\nK0\nN0\nP30019\n$_root@localhost\n"
	    "S%s\nC:%s\nrRFC822; %s\nRPFD:%s\nH?P?Return-Path: <\x81g>\n"
	    "H??Subject: test\n.\n", sender, rcpt, rcpt, rcpt);
}

int
tu_listen_loopback(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	cr_assert(ls >= 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(ls, (struct sockaddr *)&sin, sizeof sin), 0);
	cr_assert_eq(listen(ls, 1), 0);
	getsockname(ls, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return ls;
}

int
tu_child_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return 99;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

pid_t
tu_peer(const char *const *script, int *port)
{
	int ls = tu_listen_loopback(port);
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		int c = accept(ls, NULL, NULL);
		FILE *in = fdopen(dup(c), "r");
		char line[8192];

		for (; *script != NULL; script++) {
			const char *s = *script;

			if (s[0] == 'S') {
				dprintf(c, "%s\r\n", s + 2);
			} else if (s[0] == 'R' || s[0] == 'P' || s[0] == 'L') {
				if (fgets(line, sizeof line, in) == NULL)
					_exit(2);
				line[strcspn(line, "\r\n")] = '\0';
				if (s[0] == 'R' && strcmp(line, s + 2) != 0)
					_exit(3);
				if (s[0] == 'P' && strncmp(line, s + 2, strlen(s + 2)) != 0)
					_exit(3);
			} else if (s[0] == 'E') {
				if (fgets(line, sizeof line, in) != NULL)
					_exit(4);
			} else if (s[0] == 'D') {
				while (fgets(line, sizeof line, in) != NULL)
					if (strcmp(line, ".\r\n") == 0)
						_exit(5);
			} else if (s[0] == 'B') {
				do {
					if (fgets(line, sizeof line, in) == NULL)
						_exit(6);
				} while (strcmp(line, ".\r\n") != 0);
			} else if (s[0] == 'C') {
				close(c);
			} else if (s[0] == 'A') {
				fclose(in);
				close(c);
				c = accept(ls, NULL, NULL);
				in = fdopen(dup(c), "r");
			} else if (s[0] == 'W') {
				sleep(3);
			} else if (s[0] == 'X') {
				char big[5000];

				memset(big, 'x', sizeof big);
				(void)!write(c, "250-", 4);
				(void)!write(c, big, sizeof big);
			}
		}
		_exit(0);
	}
	close(ls);
	return pid;
}
