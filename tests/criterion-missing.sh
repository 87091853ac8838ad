#!/bin/sh
# Run by `make check` when configure did not find Criterion.
echo "Criterion (libcriterion-dev) was not found when configure ran: install it and re-run configure." >&2
echo "  Debian: apt-get install --no-install-recommends libcriterion-dev" >&2
exit 1
