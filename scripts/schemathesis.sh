#!/usr/bin/env bash
# make schemathesis: fuzz the local service with its own OpenAPI document.
#
# Starts moto_server and `sentinel-tvm dev` (the real handler behind the
# SigV4-verifying gateway) on free loopback ports, renders api/openapi.yaml as
# Terraform would (templatefile) with the dev listener as its server, and runs
# schemathesis against it once per dev identity, every request SigV4-signed
# by scripts/schemathesis_sigv4.py. Every phase runs (examples, coverage,
# fuzzing, stateful), with positive and negative data and every check. The
# run is bounded by examples per operation and by time, so the whole target
# stays within a few minutes on two cores; the seed is printed (and can be
# set with SEED=) so a failure reproduces. Everything started is stopped on
# exit.
set -euo pipefail

cli=${CLI:?CLI is the sentinel-tvm binary}
moto=${MOTO_SERVER:?MOTO_SERVER is the moto_server binary}
st=${SCHEMATHESIS:?SCHEMATHESIS is the schemathesis binary}
venv_python=$(dirname "$st")/python
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
doc=${OPENAPI:-$root/api/openapi.yaml}
policies=${POLICIES:-$root/policies}
region=us-east-1
# Bounds: examples per operation and phase, and seconds per identity's run
# (schemathesis stops generating when --max-time is spent).
max_examples=${MAX_EXAMPLES:-25}
max_time=${MAX_TIME:-45}
seed=${SEED:-$(( (RANDOM << 15) | RANDOM ))}
state=$(mktemp -d "${TMPDIR:-/tmp}/sentinel-tvm-schemathesis.XXXXXX")
report=${REPORT_DIR:-$state/report}

pids=()
cleanup() {
  local rc=$?
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    echo "schemathesis: failed (seed $seed); logs and reports in $state" >&2
  else
    rm -rf "$state"
  fi
  exit "$rc"
}
trap cleanup INT TERM EXIT

free_port() {
  "$venv_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

moto_port=$(free_port)
"$moto" -H 127.0.0.1 -p "$moto_port" >"$state/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do
  curl -fsS -o /dev/null "http://127.0.0.1:$moto_port/moto-api/" 2>/dev/null && break
  sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$moto_port/moto-api/" || { echo "moto_server did not start; see $state/moto.log" >&2; exit 1; }

# Who schemathesis acts as, one run each, so that every operation has a
# caller it can succeed for: bob's prod-admin requests need an approval
# (createApproval and the approval routes have something to work on); carol
# is on call, opens break-glass events and vends through them (the
# break-glass routes, sessions to read and revoke); sam matches
# settings.operators of the example policy and sees and may revoke everyone's
# sessions and events.
identities=(
  bob=arn:aws:sts::111122223333:assumed-role/sre-platform/bob
  carol=arn:aws:sts::111122223333:assumed-role/sre-oncall-primary/carol
  sam=arn:aws:sts::111122223333:assumed-role/security-audit/sam
)
id_args=()
for id in "${identities[@]}"; do id_args+=(--identity "$id"); done
creds=$state/credentials
# A rate limit the fuzzer cannot exhaust: with the default (30 a minute)
# POST /v1/credentials answers 429 after the first seconds and the logic
# behind it goes untested. The 429 path has its handler tests.
SENTINEL_RATE_LIMIT=100000 "$cli" dev --policies "$policies" --listen 127.0.0.1:0 --region "$region" \
  --aws-endpoint "http://127.0.0.1:$moto_port" --credentials-file "$creds" --org-id o-a1b2c3d4e5 \
  "${id_args[@]}" >"$state/dev.out" 2>"$state/dev.log" &
pids+=($!)
for _ in $(seq 1 300); do
  grep -q "listening on" "$state/dev.out" 2>/dev/null && break
  kill -0 "${pids[-1]}" 2>/dev/null || break
  sleep 0.2
done
url=$(sed -n 's/^listening on //p' "$state/dev.out")
[ -n "$url" ] || { echo "sentinel-tvm dev did not start; see $state/dev.log" >&2; cat "$state/dev.log" >&2; exit 1; }

# The document as Terraform's templatefile() renders it for API Gateway.
rendered=$state/openapi.yaml
"$venv_python" - "$doc" "$rendered" <<'PY'
import re, sys
src, dst = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8").read()
values = {
    "title": "Sentinel TVM (sentinel-tvm dev)",
    "lambda_invoke_arn": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:111122223333:function:sentinel-tvm-api/invocations",
}
def sub(m):
    if m.group(1) == "$":  # $${ is a literal ${
        return "${"
    name = m.group(2).strip()
    if name not in values:
        sys.exit(f"{src}: template references ${{{name}}}, which api.tf does not pass")
    return values[name]
text = re.sub(r"(\$?)\$\{([^}]*)\}", sub, text)
text = text.replace("%%{", "%{")
open(dst, "w", encoding="utf-8").write(text)
PY

# The run's configuration. No crash cache in the clone (.schemathesis/):
# every run starts from the seed.
#
# positive_data_acceptance also accepts 400 for the two operations whose
# valid bodies the deployed policy defines, not the document: openBreakGlass
# (the break_glass block's reason_codes and min_justification_length) and
# createApproval (400 when the policy allows the profile outright: "use POST
# /v1/credentials"). A schema-valid body can break those rules, and the
# answer is then 400 invalid_request, as DESIGN.md "HTTP API" specifies. Every
# other status still fails the check, and it stays as it is elsewhere.
#
# Dictionaries: part of the generated values of these body members are the
# example policy's (policies/), so that generated requests get past the
# policy's checks to the logic behind them: its profiles, the prod-emergency
# break_glass block's reason_codes and a justification longer than its
# min_justification_length (20). openBreakGlass needs all three at once
# (and a prod-* profile), so it draws them more often. They are the test
# policy's values, not the API's (a deployed policy has its own), so they
# are here and not in api/openapi.yaml (as `example`, which API Gateway's
# models do not support either). Negative cases are unaffected.
cat >"$state/schemathesis.toml" <<'TOML'
[cache]
enabled = false

[dictionaries.profiles]
values = ["prod-admin", "prod-readonly", "analytics-readonly", "ci-deploy"]

[dictionaries.break_glass_profiles]
values = ["prod-admin", "prod-readonly"]

[dictionaries.reason_codes]
values = ["incident", "security", "recovery"]

[dictionaries.justifications]
values = ["INC-4711: the primary database failed over and needs manual recovery"]

[parameters]
"body.profile" = { dictionary = "profiles", probability = 0.5 }
"query.profile" = { dictionary = "profiles", probability = 0.5 }
"body.justification" = { dictionary = "justifications", probability = 0.5 }

[[operations]]
include-operation-id = "openBreakGlass"
checks.positive_data_acceptance.expected-statuses = ["2XX", "3XX", "400", "401", "403", "404", "409", "429", "5XX"]
parameters."body.profile" = { dictionary = "break_glass_profiles", probability = 0.8 }
parameters."body.reason_code" = { dictionary = "reason_codes", probability = 0.8 }
parameters."body.justification" = { dictionary = "justifications", probability = 0.8 }

[[operations]]
include-operation-id = "createApproval"
checks.positive_data_acceptance.expected-statuses = ["2XX", "3XX", "400", "401", "403", "404", "409", "429", "5XX"]
TOML

echo "schemathesis: $("$st" --version) against $url (seed $seed, at most $max_examples examples per operation and phase, ${max_time}s per identity: ${identities[*]%%=*})"
status=0
for id in "${identities[@]}"; do
  who=${id%%=*}
  echo "--- as $who"
  # Every check runs but one, which cannot apply to an AWS_IAM API:
  #  - missing_required_header is excluded. This API's only required header
  #    is the SigV4 Authorization (the sigv4 security scheme); for that header
  #    the check hard-codes 401 (its expected-statuses setting applies to other
  #    headers only). API Gateway's AWS_IAM authorization answers a request
  #    without a signature 403 MissingAuthenticationToken ({"message"}, the
  #    document's GatewayError) before the function runs: AWS's contract,
  #    which SDKs and the CLI rely on and `sentinel-tvm dev` mirrors. What the
  #    check is for, that an unsigned request gets nowhere, ignored_auth
  #    checks (it strips the signature and requires a refusal), and the
  #    gateway's tests pin the 403.
  #  - object_level_authorization runs but has nothing to compare: it replays
  #    one identity's reads as the other identities of a Web Fuzzing Commons
  #    auth file, which has no SigV4; with one signer per invocation it has no
  #    peer (the handler tests cover who sees what).
  # --workers 1: on CPython 3.11.7 hypothesis's concurrent ast.parse raises
  # "AST constructor recursion depth mismatch" (a CPython bug fixed later),
  # and the machine has two cores anyway. --output-sanitize false: the
  # reproductions carry the real headers (emulator-only credentials).
  start=$SECONDS
  PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" \
  SCHEMATHESIS_HOOKS=schemathesis_sigv4 \
  SENTINEL_SIGV4_CREDENTIALS="$creds" SENTINEL_SIGV4_IDENTITY="$who" SENTINEL_SIGV4_REGION="$region" \
  "$st" --config-file "$state/schemathesis.toml" run "$rendered" --url "$url" \
    --checks all --exclude-checks missing_required_header --mode all --phases examples,coverage,fuzzing,stateful \
    --max-examples "$max_examples" --max-time "$max_time" --seed "$seed" \
    --workers 1 --request-timeout 10 --generation-database none --output-sanitize false \
    --report junit,ndjson --report-dir "$report/$who" --no-color && rc=0 || rc=$?
  echo "--- as $who: $((SECONDS - start))s, exit $rc"
  [ "$rc" -eq 0 ] || status=$rc
done
[ "$status" -eq 0 ] || echo "schemathesis: gateway and handler logs in $state/dev.log" >&2
exit "$status"
