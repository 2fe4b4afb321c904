#!/usr/bin/env bash
# make schemathesis: fuzz the local service with its own OpenAPI document.
#
# Starts moto_server and `sentinel-tvm dev` (the real handler behind the
# SigV4-verifying gateway) on free loopback ports, renders api/openapi.yaml as
# Terraform would (templatefile, through tools/apidoc -render) with the dev
# listener as its server, and runs schemathesis against it once per dev
# identity, every request SigV4-signed by scripts/schemathesis_sigv4.py. Every
# phase runs (examples, coverage, fuzzing, stateful), with positive and
# negative data and every check.
#
# Bounds. By default (make test) the run is deterministic: a fixed seed and
# at most MAX_EXAMPLES examples per operation and phase, so it does the same
# work on any machine. No --max-time then: with it, schemathesis 4.32 does not
# stop early but repeats its phases until the time is spent (elastic cycles),
# so the run would be as long, and its contents as machine-dependent, as the
# cap. The safety cap is the outer `timeout` of TIMEOUT seconds per identity
# (a run that reaches it fails). SEED=N runs another seed; SEED=random
# (make fuzz) explores: a random seed, printed, and a run of MAX_TIME seconds
# per identity (default 60), MAX_EXAMPLES per phase and cycle.
# Every identity's run sits under the outer `timeout`, and everything
# started is stopped on exit, signals included.
#
# Reports (JUnit, NDJSON) go to REPORT_DIR (default: the run's state
# directory under $TMPDIR, removed after a clean run). On a failure the tails
# of the gateway/handler and moto logs are printed, since CI keeps no /tmp.
set -euo pipefail

cli=${CLI:?CLI is the sentinel-tvm binary}
moto=${MOTO_SERVER:?MOTO_SERVER is the moto_server binary}
st=${SCHEMATHESIS:?SCHEMATHESIS is the schemathesis binary}
go=${GO:-go}
venv_python=$(dirname "$st")/python
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
policies=$(cd "${POLICIES:-$root/policies}" && pwd)
region=us-east-1

# A seed of no significance: changing it changes what make test tries.
default_seed=20261129
seed=${SEED:-$default_seed}
if [ "$seed" = random ]; then
  seed=$(( (RANDOM << 15) | RANDOM ))
  max_time=${MAX_TIME:-60}
fi
max_examples=${MAX_EXAMPLES:-100}
if [ -n "${max_time:=${MAX_TIME:-}}" ]; then
  bound=(--max-time "$max_time")
  # The time, loading, and the last requests in flight (--request-timeout 10).
  outer_timeout=${TIMEOUT:-$((max_time + 60))}
  replay="SEED=$seed MAX_TIME=$max_time"
else
  # 100 examples: about 40 s per identity on two cores.
  bound=()
  outer_timeout=${TIMEOUT:-150}
  replay="SEED=$seed"
fi

state=$(mktemp -d "${TMPDIR:-/tmp}/sentinel-tvm-schemathesis.XXXXXX")
if [ -n "${REPORT_DIR:-}" ]; then
  mkdir -p "$REPORT_DIR"
  report=$(cd "$REPORT_DIR" && pwd)
else
  report=$state/report
fi
# Hypothesis's own files (its cache of Unicode data and the like) go to the
# state directory, not .hypothesis/ in the working directory (the clone).
export HYPOTHESIS_STORAGE_DIRECTORY=$state/hypothesis

# Process groups started here: moto and dev each in their own session
# (setsid), schemathesis under timeout (which makes its own group). Each is
# stopped by group with TERM, then KILL after 5 s.
groups=()
stop_group() {
  local pid=$1 i
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

tails() {
  local f
  for f in "$state/dev.log" "$state/moto.log"; do
    [ -s "$f" ] || continue
    echo "--- last 40 lines of $(basename "$f")" >&2
    tail -n 40 "$f" >&2
  done
}

cleanup() {
  local rc=$?
  trap - INT TERM EXIT
  local pid
  for pid in "${groups[@]}"; do stop_group "$pid"; done
  if [ "$rc" -ne 0 ]; then
    tails
    echo "schemathesis: failed (exit $rc, seed $seed: $replay replays it). Logs in $state, reports in $report" >&2
  else
    if [ "$report" != "$state/report" ]; then echo "schemathesis: reports in $report"; fi
    rm -rf "$state"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ready URL PID SECONDS: wait until URL answers over HTTP (any status) while
# PID lives. The venv's Python: no curl needed.
ready() {
  "$venv_python" - "$@" <<'PY'
import os, sys, time, urllib.error, urllib.request
url, pid, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(f"process {pid} exited before {url} answered")
    try:
        urllib.request.urlopen(url, timeout=2).close()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # an answer all the same
    except OSError:
        time.sleep(0.2)
sys.exit(f"{url} did not answer in {sys.argv[3]}s")
PY
}

free_port() {
  "$venv_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The document as Terraform's templatefile() renders it for API Gateway, by
# the HCL template engine itself (tools/apidoc, as make docs uses it).
rendered=$state/openapi.yaml
(cd "$root" && "$go" run ./tools/apidoc -render "$rendered")

# The policy's values for the dictionaries below, from the compiled bundle of
# the policy `sentinel-tvm dev` serves: its profiles, the profiles of its
# break_glass blocks, their reason codes and a justification longer than
# their min_justification_length.
"$cli" policy compile --skip-tests "$policies" >"$state/bundle.json"
"$venv_python" - "$state/bundle.json" >"$state/dictionaries.toml" <<'PY'
import fnmatch, json, sys
bundle = json.load(open(sys.argv[1], encoding="utf-8"))
profiles = [p["name"] for p in bundle.get("profiles", [])]
blocks = bundle.get("break_glass", [])
bg_profiles = [p for p in profiles if any(fnmatch.fnmatchcase(p, g) for b in blocks for g in b.get("profiles", []))]
reasons = sorted({r for b in blocks for r in b.get("reason_codes", [])})
need = max([b.get("min_justification_length", 0) for b in blocks] + [0])
justification = "INC-4711: the primary database failed over and needs manual recovery"
while len(justification) <= need:
    justification += " (follow-up in the incident channel)"
if not profiles or not bg_profiles or not reasons:
    sys.exit(f"{sys.argv[1]}: the policy needs profiles and a break_glass block with reason codes and profiles for the dictionaries")
def table(name, values):
    print(f"[dictionaries.{name}]\nvalues = {json.dumps(values)}\n")
table("profiles", profiles)
table("break_glass_profiles", bg_profiles)
table("reason_codes", reasons)
table("justifications", [justification])
PY

# moto on a free port. Another process can take the port between the probe
# and moto's bind; then our moto exits or the answer is someone else's, so
# readiness also requires our moto alive and its log naming the port. A few
# new ports before giving up.
moto_port=
for attempt in 1 2 3; do
  port=$(free_port)
  MOTO_RECORDER_FILEPATH=$state/moto_recording setsid "$moto" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
  pid=$!
  groups+=("$pid")
  if ready "http://127.0.0.1:$port/moto-api/" "$pid" 30 2>>"$state/moto.log" &&
     kill -0 "$pid" 2>/dev/null && grep -q "Running on http://127.0.0.1:$port" "$state/moto.log"; then
    moto_port=$port
    break
  fi
  echo "schemathesis: moto_server did not come up on port $port (attempt $attempt)" >&2
  stop_group "$pid"
  unset 'groups[-1]'
done
[ -n "$moto_port" ] || { echo "moto_server did not start" >&2; exit 1; }

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
# behind it goes untested. The 429 path has its handler tests. dev listens
# on a port the kernel picks for it (no race); its URL is what it prints.
SENTINEL_RATE_LIMIT=100000 setsid "$cli" dev --policies "$policies" --listen 127.0.0.1:0 --region "$region" \
  --aws-endpoint "http://127.0.0.1:$moto_port" --credentials-file "$creds" --org-id o-a1b2c3d4e5 \
  "${id_args[@]}" >"$state/dev.out" 2>"$state/dev.log" &
dev_pid=$!
groups+=("$dev_pid")
for _ in $(seq 1 300); do
  grep -q "listening on" "$state/dev.out" 2>/dev/null && break
  kill -0 "$dev_pid" 2>/dev/null || break
  sleep 0.2
done
url=$(sed -n 's/^listening on //p' "$state/dev.out")
[ -n "$url" ] || { echo "sentinel-tvm dev did not start" >&2; exit 1; }
ready "$url/v1/health" "$dev_pid" 30 || { echo "sentinel-tvm dev does not answer on $url" >&2; exit 1; }
kill -0 "${groups[0]}" 2>/dev/null || { echo "moto_server exited" >&2; exit 1; }

# The run's configuration: the dictionaries above, then the rest. No crash
# cache in the clone (.schemathesis/): every run starts from the seed.
#
# positive_data_acceptance also accepts 400 for the two operations whose
# valid bodies the deployed policy defines, not the document: openBreakGlass
# (the break_glass block's reason_codes and min_justification_length) and
# createApproval (400 when the policy allows the profile outright: "use POST
# /v1/credentials"). A schema-valid body can break those rules, and the
# answer is then 400 invalid_request, as docs/design.md "HTTP API" specifies. Every
# other status still fails the check, and it stays as it is elsewhere.
#
# Dictionaries: part of the generated values of these body members are the
# policy's, so that generated requests get past the policy's checks to the
# logic behind them. openBreakGlass needs a break-glass profile, a reason
# code and a long enough justification at once, so it draws them more often.
# They are the test policy's values, not the API's (a deployed policy has its
# own), so they are here and not in api/openapi.yaml (as `example`, which API
# Gateway's models do not support either). Negative cases are unaffected.
{
  cat <<'TOML'
[cache]
enabled = false

TOML
  cat "$state/dictionaries.toml"
  cat <<'TOML'
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
} >"$state/schemathesis.toml"

if [ ${#bound[@]} -eq 0 ]; then
  bounds="at most $max_examples examples per operation and phase, ${outer_timeout}s cap per identity"
else
  bounds="${max_time}s per identity, at most $max_examples examples per operation, phase and cycle"
fi
echo "schemathesis: $("$st" --version) against $url (seed $seed, $bounds: ${identities[*]%%=*})"

# Signature failures of requests that carried a signature: the gateway logs
# "gateway: authentication failed" with an auth_code (internal/gateway). A
# signed request that fails verification answers 403 like an unsigned one,
# and both the positive and the negative checks accept a 403, so a broken
# signer would silently test nothing but the gateway. Unsigned and
# malformed-header probes (ignored_auth: missing_token,
# incomplete_signature) are expected; these codes are not.
bad_sig='"auth_code":"(signature_mismatch|invalid_token|invalid_scope|expired)"'

status=0
for id in "${identities[@]}"; do
  who=${id%%=*}
  echo "--- as $who"
  log_before=$(wc -l <"$state/dev.log")
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
  # In the background with `wait`, so that a signal's trap runs at once; from
  # the state directory, so nothing lands in the working directory.
  start=$SECONDS
  (
    cd "$state"
    PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" \
    SCHEMATHESIS_HOOKS=schemathesis_hooks \
    SENTINEL_SIGV4_CREDENTIALS="$creds" SENTINEL_SIGV4_IDENTITY="$who" SENTINEL_SIGV4_REGION="$region" \
    exec timeout --kill-after=5 "$outer_timeout" \
    "$st" --config-file "$state/schemathesis.toml" run "$rendered" --url "$url" \
      --checks all --exclude-checks missing_required_header --mode all --phases examples,coverage,fuzzing,stateful \
      --max-examples "$max_examples" "${bound[@]}" --seed "$seed" \
      --workers 1 --request-timeout 10 --generation-database none --output-sanitize false \
      --report junit,ndjson --report-dir "$report/$who" --no-color
  ) &
  run_pid=$!
  groups+=("$run_pid")
  wait "$run_pid" && rc=0 || rc=$?
  unset 'groups[-1]'
  elapsed=$((SECONDS - start))
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "schemathesis: as $who: stopped by the ${outer_timeout}s cap before its examples were done (a slow machine? TIMEOUT= raises the cap)" >&2
  fi
  bad=$(tail -n +"$((log_before + 1))" "$state/dev.log" | grep -cE "$bad_sig" || true)
  if [ "$bad" -gt 0 ]; then
    echo "schemathesis: as $who: $bad signed request(s) failed SigV4 verification (scripts/schemathesis_sigv4.py signs differently from the gateway); e.g.:" >&2
    tail -n +"$((log_before + 1))" "$state/dev.log" | grep -E "$bad_sig" | head -n 3 >&2
    rc=1
  fi
  echo "--- as $who: ${elapsed}s, exit $rc"
  [ "$rc" -eq 0 ] || status=$rc
done
exit "$status"
