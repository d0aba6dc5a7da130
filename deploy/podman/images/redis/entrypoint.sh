#!/bin/sh
# The official Redis image is built with protected mode off (the container network is
# its boundary); Debian's redis-server defaults to on, which refuses every client that
# is not on loopback when no password is set. Same behaviour as the official image:
set -eu
if [ "${1:-}" = redis-server ]; then
    shift
    set -- redis-server --protected-mode no "$@"
fi
exec "$@"
