#!/bin/sh
# summary.sh DIR...: add up the test results in the automake logs under
# each DIR (Criterion's "Synthesis" lines and the shell tests' "N passed,
# N failed" lines) and print one line "N passed, N failed".
passed=0
failed=0
for dir in "$@"; do
	for log in $(find "$dir" -path '*/tests/*' -name '*.log' ! -name test-suite.log 2>/dev/null); do
		line=$(grep -a 'Synthesis: Tested:' "$log" | tail -n 1)
		if [ -n "$line" ]; then
			p=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
			f=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
			c=$(echo "$line" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
			passed=$((passed + p))
			failed=$((failed + f + c))
			continue
		fi
		line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
		if [ -n "$line" ]; then
			passed=$((passed + ${line%% passed*}))
			f=${line#*, }
			failed=$((failed + ${f%% failed}))
		elif grep -q '^:test-result: FAIL' "${log%.log}.trs" 2>/dev/null; then
			failed=$((failed + 1))
		fi
	done
done
echo "$passed passed, $failed failed"
