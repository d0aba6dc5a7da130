#!/usr/bin/env bash
# Prints the path of a PgBouncer that tracks prepared statements in
# transaction mode (1.21+, `max_prepared_statements`). sqlx sends Parse and
# Bind in separate round trips, so older PgBouncers cannot carry it in
# transaction mode. Debian bookworm ships 1.18: then this builds Debian
# trixie's 1.24 source package once into /var/tmp/pgbouncer-1.24.
set -euo pipefail
prefix=/var/tmp/pgbouncer-1.24
if command -v pgbouncer >/dev/null; then
  version=$(pgbouncer --version | awk 'NR==1 {print $2}')
  if [ "$(printf '%s\n1.21\n' "$version" | sort -V | head -n1)" = "1.21" ]; then
    command -v pgbouncer
    exit 0
  fi
fi
if [ ! -x "$prefix/bin/pgbouncer" ]; then
  export DEBIAN_FRONTEND=noninteractive
  dpkg -s libevent-dev pkg-config >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends libevent-dev pkg-config >&2
  work=$(mktemp -d)
  echo 'deb-src http://deb.debian.org/debian trixie main' > "$work/trixie-src.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$work/trixie-src.list" -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0)
  apt-get "${apt_opts[@]}" update -qq >&2
  (cd "$work" && apt-get "${apt_opts[@]}" source --download-only pgbouncer >&2 2>/dev/null)
  tar -xzf "$work"/pgbouncer_*.orig.tar.gz -C "$work"
  (cd "$work"/pgbouncer-*/ && ./configure --prefix="$prefix" --without-openssl --without-cares >&2 \
    && make -j2 >&2 && make install >&2)
  rm -rf "$work"
fi
echo "$prefix/bin/pgbouncer"
