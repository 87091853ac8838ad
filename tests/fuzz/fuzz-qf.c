/*
 * libFuzzer target for the control-file reader.  Every input must either
 * parse or be refused without a crash, a leak or undefined behaviour; what
 * parses must survive a write and a second read unchanged (the writer's
 * output is a fixed point of parse-then-write).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/qf.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qf_envelope *env, *env2;
	struct strbuf out = STRBUF_INIT, out2 = STRBUF_INIT;
	struct error err;

	if (qf_parse((const char *)data, size, &env, &err) != QF_OK)
		return 0;
	qf_format(env, &out);
	if (qf_parse(out.buf, out.len, &env2, &err) != QF_OK)
		abort();	/* the writer wrote something the reader refuses */
	qf_format(env2, &out2);
	if (out.len != out2.len || memcmp(out.buf, out2.buf, out.len) != 0)
		abort();	/* write(parse(write(x))) != write(x) */
	qf_free(env);
	qf_free(env2);
	strbuf_free(&out);
	strbuf_free(&out2);
	return 0;
}
