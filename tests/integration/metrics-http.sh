#!/bin/sh
# The Prometheus scrape endpoint, `clientqctl metrics-http`, run for each
# connection by systemd-socket-activate (--inetd, --accept: what
# sendmail-clientq-metrics.socket does), as an ordinary user, in front of a
# daemon whose queue real sendmail fills while the relay is down:
# - GET /metrics is 200, text/plain; version=0.0.4, and the text of
#   `stats --prometheus` (the ages aside, which move with the clock); HEAD
#   the same without a body; another path 404, another method 405;
# - the queue histograms count each queue (a held message as hold), and
#   promtool's `check metrics` accepts the text;
# - a real Prometheus server scraping the endpoint every second reports
#   up == 1 and clientq_queued_messages equal to what is queued, and
#   up == 0 once the daemon is gone, when the endpoint answers 503.
# Every wait is bounded (60 s) and none is an assertion about time.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: needs setpriv"; exit 77; }
command -v systemd-socket-activate >/dev/null 2>&1 ||
    { echo "SKIP: needs systemd-socket-activate"; exit 77; }
# promtool and prometheus: on PATH, or unpacked from Debian's prometheus
# package by tests/install-deps.
PROMDIR=/var/cache/clientq-tests/promtool/usr/bin
PROMTOOL=$(command -v promtool 2>/dev/null || echo "$PROMDIR/promtool")
PROMETHEUS=$(command -v prometheus 2>/dev/null || echo "$PROMDIR/prometheus")
[ -x "$PROMTOOL" ] && [ -x "$PROMETHEUS" ] ||
    { echo "SKIP: needs promtool and prometheus (tests/install-deps unpacks them)"; exit 77; }
it_setup
it_user cqscrape || { echo "SKIP: cannot add users"; exit 77; }
RUNNER=$IT_RUNNER
mkdir "$W/run" && chown smmsp:smmsp "$W/run"
S=$W/run/control

as() { it_ctl "$@"; }
expect() { it_ctl_expect "$@"; }

# http METHOD PATH PORT: one request; $W/status (the status code),
# $W/headers (name: value, names in lower case), $W/body.
http() {
	python3 - "$@" "$W" <<'PYEOF'
import http.client, sys
method, path, port, w = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
c.request(method, path)
r = c.getresponse()
body = r.read()
open(w + "/status", "w").write("%d\n" % r.status)
open(w + "/headers", "w").write("".join("%s: %s\n" % (k.lower(), v) for k, v in r.getheaders()))
open(w + "/body", "wb").write(body)
PYEOF
}

# The text without what moves with the clock: the values of the age
# gauge and of the age histogram's buckets and sum.
stable() {
	sed -E 's/^((clientq_oldest_message_age_seconds|clientq_showq_message_age_seconds_(bucket|sum))(\{[^}]*\})?) .*/\1 AGE/' "$1"
}

# ------------------------------------------------ a queue, the relay down
"$RUNNER" -C "$CF" --control "$S" -L cq-metrics 2>>"$W/daemon.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for test -S "$S"
check "the daemon makes its control socket" test -S "$S"
m1=$(submit a@example.test)
m2=$(submit b@example.test)
m3=$(submit c@example.test)
m4=$(submit d@example.test)
as root hold "$m4"
expect "one of four messages held" 0 "$m4: held"
# Paused, so that no attempt changes the counters or a message's queue
# between two readings.
as root pause
expect "delivery paused" 0 ''
check "three queued, one held" test -n "$m1" -a -n "$m2" -a -n "$m3" -a -f "$Q/hf$m4"

# ------------------------------------------------ the endpoint
HP=$(it_free_port)
systemd-socket-activate --inetd -a -l "127.0.0.1:$HP" \
    setpriv --reuid=cqscrape --regid="$(id -g cqscrape)" --clear-groups \
    "$CLIENTQCTL" --socket "$S" metrics-http 2>>"$W/handler.log" &
SAPID=$!
IT_PIDS="$IT_PIDS $SAPID"
wait_for sh -c "ss -Hltn 'sport = :$HP' | grep -q ."

http GET /metrics "$HP"
as cqscrape stats --prometheus
if [ "$(cat "$W/status")" = 200 ] &&
    grep -qx 'content-type: text/plain; version=0.0.4; charset=utf-8' "$W/headers"; then
	ok "GET /metrics: 200, text/plain; version=0.0.4"
else
	fail "GET /metrics" "$(cat "$W/status" "$W/headers" "$W/handler.log")"
fi
cp "$W/body" "$W/scrape"
if [ "$rc" -eq 0 ] && stable "$W/out" >"$W/out.stable" && stable "$W/scrape" >"$W/scrape.stable" &&
    cmp -s "$W/out.stable" "$W/scrape.stable"; then
	ok "its body is the text of stats --prometheus (the ages aside)"
else
	fail "body and stats --prometheus differ" "$(diff "$W/out.stable" "$W/scrape.stable")"
fi
if python3 "$top_srcdir/tests/tools/promcheck.py" "$W/scrape" clientq_queued_messages=3 \
    clientq_paused=1 'clientq_showq_message_age_seconds_count{queue="hold"}=1' \
    'clientq_showq_message_size_bytes_count{queue="hold"}=1' \
    'clientq_showq_message_age_seconds_count{queue="active"}=0'; then
	ok "valid exposition format: 3 queued, the held one in the hold histograms"
else
	fail "the scraped text" "$(cat "$W/scrape")"
fi
# The three others are incoming or deferred (whether the daemon's first
# attempt got to them before the pause is its business): three in all,
# in both histograms, every bucket of postfix_exporter's there.
if python3 - "$W/scrape" <<'PYEOF'
import re, sys
v = {}
for line in open(sys.argv[1]):
    m = re.match(r'^(\S+?)(\{.*\})? (\S+)$', line)
    if m and not line.startswith("#"):
        v[m.group(1) + (m.group(2) or "")] = float(m.group(3))
for h in ("clientq_showq_message_age_seconds", "clientq_showq_message_size_bytes"):
    n = sum(v['%s_count{queue="%s"}' % (h, q)] for q in ("active", "deferred", "incoming"))
    assert n == 3, (h, n)
for le in ("10", "100", "1000", "10000", "100000", "1e+06", "1e+07", "1e+08", "+Inf"):
    assert 'clientq_showq_message_age_seconds_bucket{queue="deferred",le="%s"}' % le in v, le
for le in ("1000", "10000", "100000", "1e+06", "1e+07", "1e+08", "1e+09", "+Inf"):
    assert 'clientq_showq_message_size_bytes_bucket{queue="incoming",le="%s"}' % le in v, le
# A message of a few hundred octets: under 1 kB, all four.
assert sum(v['clientq_showq_message_size_bytes_bucket{queue="%s",le="1000"}' % q]
           for q in ("active", "deferred", "hold", "incoming")) == 4
assert v['clientq_showq_message_size_bytes_sum{queue="hold"}'] > 0
PYEOF
then
	ok "the histograms: the three queued in active/deferred/incoming, every bucket, sizes under 1 kB"
else
	fail "the histograms" "$(grep showq "$W/scrape")"
fi
"$PROMTOOL" check metrics <"$W/scrape" >"$W/promtool" 2>&1 && [ ! -s "$W/promtool" ] &&
    ok "promtool check metrics accepts the scrape, without a complaint" ||
    fail "promtool check metrics" "$(cat "$W/promtool")"

http HEAD /metrics "$HP"
[ "$(cat "$W/status")" = 200 ] && [ ! -s "$W/body" ] &&
    grep -q '^content-length: [1-9]' "$W/headers" &&
    ok "HEAD /metrics: 200, a length, no body" ||
    fail "HEAD /metrics" "$(cat "$W/status" "$W/headers" "$W/body")"
http GET /nothing "$HP"
[ "$(cat "$W/status")" = 404 ] && grep -q 'Not Found' "$W/body" &&
    ok "GET of another path: 404" || fail "GET /nothing" "$(cat "$W/status" "$W/body")"
http POST /metrics "$HP"
[ "$(cat "$W/status")" = 405 ] && grep -qx 'allow: GET, HEAD' "$W/headers" &&
    ok "POST /metrics: 405, Allow: GET, HEAD" || fail "POST /metrics" "$(cat "$W/status" "$W/headers")"
# A request that never ends its header is answered, not waited on forever.
if python3 - "$HP" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
s.sendall(b"GET /metrics HTTP/1.1\r\n" + b"X: " + b"y" * 9000)
data = b""
while True:
    try:
        d = s.recv(4096)
    except ConnectionResetError:
        break
    if not d:
        break
    data += d
assert data.startswith(b"HTTP/1.1 400 "), data[:80]
PYEOF
then
	ok "a request header longer than 8 KiB: 400"
else
	fail "an over-long request"
fi

# ------------------------------------------------ a real Prometheus
PP=$(it_free_port)
while [ "$PP" = "$HP" ]; do PP=$(it_free_port); done
mkdir "$W/prom"
# Every second; under valgrind (CQ_VALGRIND) a scrape itself takes
# seconds, and most would time out.
SCRAPE=1s
[ -z "${CQ_VALGRIND-}" ] || SCRAPE=10s
cat >"$W/prom/prometheus.yml" <<EOF
global:
  scrape_interval: $SCRAPE
  scrape_timeout: $SCRAPE
  evaluation_interval: $SCRAPE
scrape_configs:
  - job_name: clientq
    static_configs:
      - targets: ['127.0.0.1:$HP']
EOF
"$PROMETHEUS" --config.file="$W/prom/prometheus.yml" --storage.tsdb.path="$W/prom/data" \
    --web.listen-address="127.0.0.1:$PP" >"$W/prom/log" 2>&1 &
PPID_=$!
IT_PIDS="$IT_PIDS $PPID_"

# query PROMQL: exit 0 when the query has at least one result, the first
# one's value on standard output.
query() {
	python3 - "$PP" "$1" <<'PYEOF'
import json, sys, urllib.parse, urllib.request
url = "http://127.0.0.1:%s/api/v1/query?%s" % (sys.argv[1], urllib.parse.urlencode({"query": sys.argv[2]}))
r = json.load(urllib.request.urlopen(url, timeout=10))
res = r["data"]["result"]
if r["status"] != "success" or not res:
    sys.exit(1)
print(res[0]["value"][1])
PYEOF
}
query_is() {
	[ "$(query "$1" 2>/dev/null)" = "$2" ]
}

if wait_for_s 60 query 'up{job="clientq"} == 1'; then
	ok "Prometheus scrapes the endpoint: up == 1"
else
	fail "up == 1 within 60 s" "$(tail -n 20 "$W/prom/log")" "$(tail -n 5 "$W/handler.log")"
fi
if wait_for_s 60 query_is 'clientq_queued_messages{job="clientq"}' 3; then
	ok "Prometheus has clientq_queued_messages = 3, the queue"
else
	fail "clientq_queued_messages = 3 in Prometheus" "$(query 'clientq_queued_messages' 2>&1)"
fi
if wait_for_s 60 query_is 'sum(clientq_showq_message_size_bytes_count{job="clientq"})' 4; then
	ok "and the size histogram counts all four, the held one too"
else
	fail "the histogram's count in Prometheus" \
	    "$(query 'sum(clientq_showq_message_size_bytes_count)' 2>&1)"
fi

# ------------------------------------------------ no daemon: 503, up == 0
kill "$DPID" 2>/dev/null
wait "$DPID" 2>/dev/null
wait_for sh -c "! test -S '$S'"
http GET /metrics "$HP"
[ "$(cat "$W/status")" = 503 ] && ok "the daemon gone: GET /metrics is 503" ||
    fail "no daemon" "$(cat "$W/status" "$W/body")"
if wait_for_s 60 query 'up{job="clientq"} == 0'; then
	ok "and Prometheus reports up == 0"
else
	fail "up == 0 within 60 s" "$(query 'up' 2>&1)"
fi

it_finish
