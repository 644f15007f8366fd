#!/bin/sh
# Brings what the fast path and the tests use, from Debian's packages, when
# missing: libopenblas-dev (the OpenBLAS build of mnistc) and python3-numpy
# (the test that checks a checkpoint in NumPy). Best effort: without root or
# apt-get it says so and the build falls back to pure Go.
need=""
printf 'int main(void){return 0;}\n' | ${CC:-gcc} -x c - -lopenblas -o /dev/null >/dev/null 2>&1 || need="$need libopenblas-dev"
/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 || need="$need python3-numpy"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: missing$need; install them (Debian: apt-get install$need) for the OpenBLAS path and the NumPy check; continuing without" >&2
  exit 0
fi
echo "setup: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
{ apt-get update -qq && apt-get install -y -qq $need; } >/dev/null 2>&1 ||
  echo "setup: apt-get install$need failed; continuing with what is here" >&2
exit 0
