#!/usr/bin/env bash
# make run: the whole service on this machine, on the moto AWS emulator.
# Starts moto_server on loopback, then `sentinel-tvm dev` against it with the
# example policies, and prints the URL, the dev identities and an example.
# Ctrl-C stops everything.
set -euo pipefail

cli=${CLI:?CLI is the sentinel-tvm binary}
moto=${MOTO_SERVER:?MOTO_SERVER is the moto_server binary}
policies=${POLICIES:-policies}
port=${PORT:-8080}
moto_port=${MOTO_PORT:-5055}
region=${AWS_REGION:-us-east-1}
state=${STATE_DIR:-${TMPDIR:-/tmp}/sentinel-tvm-dev}
mkdir -p "$state"
creds=$state/credentials

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
}
trap cleanup INT TERM EXIT

MOTO_RECORDER_FILEPATH=$state/moto_recording "$moto" -H 127.0.0.1 -p "$moto_port" >"$state/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$moto_port/moto-api/" 2>/dev/null && break
  sleep 0.2
done

# Dev identities: who you can be against the local service, and what the
# example policy (policies/) lets each of them do.
identities=(
  erin=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Engineering_0123abcd/erin@example.com
  alice=arn:aws:sts::111122223333:assumed-role/engineer-dev/alice
  bob=arn:aws:sts::111122223333:assumed-role/sre-platform/bob
  carol=arn:aws:sts::111122223333:assumed-role/sre-oncall-primary/carol
  dana=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Security_0123abcd/dana@example.com
  eve=arn:aws:sts::111122223333:assumed-role/contractor-ops/eve
)
notes=(
  "erin   prod-readonly (SSO engineer, up to 20m)"
  "alice  analytics-readonly (weekdays 08:00-18:00 Europe/Berlin)"
  "bob    prod-admin needs an approval (approver: dana)"
  "carol  prod-* through break-glass (on-call)"
  "dana   approves prod-admin requests"
  "eve    contractor: denied on prod-*"
)
args=()
for id in "${identities[@]}"; do args+=(--identity "$id"); done

"$cli" dev --policies "$policies" --listen "127.0.0.1:$port" --region "$region" \
  --aws-endpoint "http://127.0.0.1:$moto_port" --credentials-file "$creds" --org-id o-a1b2c3d4e5 "${args[@]}" \
  > >(tee "$state/dev.log") 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do
  grep -q "listening on" "$state/dev.log" 2>/dev/null && break
  sleep 0.2
done
grep -q "listening on" "$state/dev.log" || { echo "sentinel-tvm dev did not start; see $state/dev.log" >&2; exit 1; }

cat <<MSG

Sentinel TVM is running at http://127.0.0.1:$port (AWS emulator at http://127.0.0.1:$moto_port)
Dev identities (credentials in $creds, one [NAME] section each):
$(printf '  %s\n' "${notes[@]}")

Try it (curl signs with SigV4 for API Gateway's execute-api service):

  eval "\$(awk -v p=erin -F' = ' '/^\\[/{s=(\$0=="["p"]")} s&&/aws_/{print "export " toupper(\$1) "=" \$2}' $creds)"
  curl -s --aws-sigv4 "aws:amz:$region:execute-api" --user "\$AWS_ACCESS_KEY_ID:\$AWS_SECRET_ACCESS_KEY" \\
       -H "x-amz-security-token: \$AWS_SESSION_TOKEN" -H 'content-type: application/json' \\
       -d '{"profile": "prod-readonly"}' http://127.0.0.1:$port/v1/credentials

Press Ctrl-C to stop.
MSG
wait "${pids[@]}"
