#!/bin/sh
# gen-submitcf-seeds.sh DIR: the submit.cf seeds that are sendmail's own
# output, made on this machine rather than committed (the project holds
# none of sendmail's text): the system's submit.cf, three built with m4 as
# the integration tests build theirs (a test port; masquerading and a
# queue warning; an MSA host), and the system's cut short twice.  Whatever
# this machine lacks (no sendmail-cf, no submit.cf) is left out; the
# committed seeds (seeds-submitcf/) are the project's own.
set -eu
out=$1
mkdir -p "$out"
cf_m4=/usr/share/sendmail/cf/m4/cf.m4
sys=/etc/mail/submit.cf

if [ -r "$sys" ]; then
	cp "$sys" "$out/system-submit.cf"
	head -c 3000 "$sys" >"$out/system-cut-3000.cf"
	head -c 30000 "$sys" >"$out/system-cut-30000.cf"
fi
command -v m4 >/dev/null 2>&1 && [ -r "$cf_m4" ] || exit 0
mc() { # NAME EXTRA-LINES
	cat >"$out/$1.mc" <<MC
include(\`$cf_m4')dnl
VERSIONID(\`clientq-runner fuzz seed')dnl
define(\`confCF_VERSION', \`Submit')dnl
define(\`__OSTYPE__',\`')dnl
define(\`_USE_DECNET_SYNTAX_', \`1')dnl
define(\`confTIME_ZONE', \`USE_TZ')dnl
define(\`confDONT_INIT_GROUPS', \`True')dnl
define(\`MSP_QUEUE_DIR', \`/var/spool/clientmqueue')dnl
define(\`confDOMAIN_NAME', \`host.test')dnl
$2
MC
	m4 "$out/$1.mc" >"$out/$1.cf" && rm -f "$out/$1.mc"
}
mc m4-test-port "define(\`RELAY_MAILER_ARGS', \`TCP \$h 2525')dnl
FEATURE(\`msp', \`[127.0.0.1]')dnl"
mc m4-masquerade "define(\`confTO_QUEUEWARN', \`2h')dnl
define(\`confRUN_AS_USER', \`smmsp')dnl
MASQUERADE_AS(\`example.test')dnl
FEATURE(\`masquerade_envelope')dnl
FEATURE(\`msp', \`[127.0.0.1]')dnl"
mc m4-msa-host "FEATURE(\`msp', \`[mailhub.example.test]', \`MSA')dnl"
