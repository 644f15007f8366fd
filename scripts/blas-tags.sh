#!/bin/sh
# Prints the build tags of the fastest BLAS this machine can link:
# "openblas" when cgo works and libopenblas links, nothing otherwise.
# MNISTC_PUREGO=1 forces the pure-Go path.
[ "${MNISTC_PUREGO:-0}" = 1 ] && exit 0
[ "$(go env CGO_ENABLED)" = 1 ] || exit 0
cc=$(go env CC); cc=${cc:-gcc}
if printf 'int main(void){return 0;}\n' | $cc -x c - -lopenblas -o /dev/null >/dev/null 2>&1; then
  echo openblas
fi
