#!/bin/sh
# One process: master, volume, filer and the S3 gateway (S3_PORT, default 8333). The S3 identity
# is written from S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY at start (no secret in the image).
# WEED_ARGS adds flags (deploy/compose.host.yaml: every port on 127.0.0.1).
set -eu
: "${S3_ACCESS_KEY_ID:?set S3_ACCESS_KEY_ID}" "${S3_SECRET_ACCESS_KEY:?set S3_SECRET_ACCESS_KEY}"
umask 077
conf=$(mktemp /tmp/s3.XXXXXX.json)
printf '{"identities":[{"name":"heyan","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}' \
	"$S3_ACCESS_KEY_ID" "$S3_SECRET_ACCESS_KEY" >"$conf"
# shellcheck disable=SC2086 # WEED_ARGS is a list of flags
exec weed server -dir=/data -filer -s3 -s3.port="${S3_PORT:-8333}" -s3.config="$conf" \
	-s3.port.iceberg=0 -s3.port.lance=0 -s3.iam=false -volume.max=0 ${WEED_ARGS:-} "$@"
