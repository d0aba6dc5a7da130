#!/bin/sh
# Stand-in for the official nginx image's entrypoint, the part docker-compose.yml uses:
# /etc/nginx/templates/*.template rendered with envsubst into NGINX_ENVSUBST_OUTPUT_DIR
# (default /etc/nginx/conf.d), substituting only the variables that are set and whose
# names match NGINX_ENVSUBST_FILTER, then nginx.
set -eu
if [ "${1:-}" = nginx ]; then
    templates=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
    suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
    output=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
    filter=${NGINX_ENVSUBST_FILTER:-}
    # shellcheck disable=SC2016 # '${&}' is for envsubst, not the shell
    defined=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' | grep -E -- "${filter:-.}" | sed 's/.*/${&}/' | tr '\n' ' ')
    find "$templates" -follow -type f -name "*$suffix" -print | while read -r template; do
        relative=${template#"$templates"/}
        target="$output/${relative%"$suffix"}"
        mkdir -p "$(dirname "$target")"
        echo "entrypoint: envsubst $template > $target ($defined)"
        envsubst "$defined" <"$template" >"$target"
    done
fi
exec "$@"
