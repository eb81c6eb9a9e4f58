# Sourced by the S3 benchmarks: start a Garage 2.5.0 on 127.0.0.1 with its
# data under $W/garage (compression off, so the figures are jarc's), make
# the buckets named as arguments, and export Jant's S3_* and jarc's
# JARC_S3_* variables for it. The caller's EXIT trap should run
# `bash scripts/s3-garage.sh stop`.
#
#   . benches/garage.sh repo media
export S3_DATA=$W/garage GARAGE_COMPRESSION='"none"'
bash scripts/s3-garage.sh install >/dev/null
bash scripts/s3-garage.sh start >/dev/null
# shellcheck disable=SC1091
. "$S3_DATA/s3.env"
G="$HOME/.cache/s3-servers/garage-2.5.0/bin/garage"
for b in "$@"; do
  "$G" -c "$S3_DATA/garage.toml" bucket create "$b" >/dev/null
  "$G" -c "$S3_DATA/garage.toml" bucket allow --read --write --owner "$b" --key "$AWS_ACCESS_KEY_ID" >/dev/null
done
export JARC_S3_ENDPOINT=$AWS_ENDPOINT_URL JARC_S3_REGION=garage \
  JARC_S3_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID JARC_S3_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
  S3_ENDPOINT=$AWS_ENDPOINT_URL S3_REGION=garage \
  S3_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
