# Shared helpers of the AWS CLI flows: sourced, not run.
# as WHO aws-args... runs the AWS CLI with that account's keys.

as() { # as provider|consumer|outsider aws-args...
  local who=$1; shift
  local key secret
  case $who in
    provider) key=$PROVIDER_KEY secret=$PROVIDER_SECRET ;;
    consumer) key=$CONSUMER_KEY secret=$CONSUMER_SECRET ;;
    outsider) key=$OUTSIDER_KEY secret=$OUTSIDER_SECRET ;;
  esac
  AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret aws "$@"
}

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# check DESCRIPTION GOT WANT : GOT must equal WANT.
check() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; ok "$1"; }
# bg cmd... (or { cmd; } & bgpid, when cmd has $(...) arguments) runs a check
# in the background; join waits for all of them and fails if any failed.
pids=()
bg() { "$@" & pids+=($!); }
bgpid() { pids+=($!); }
join() { local p; for p in "${pids[@]}"; do wait "$p" || exit 1; done; pids=(); }

# expect_error CODE cmd... : the command must fail with that AWS error code.
expect_error() {
  local code=$1; shift
  local out
  if out=$("$@" 2>&1); then fail "expected $code from: $*"; fi
  grep -q "($code)" <<<"$out" || fail "expected $code from: $*, got: $out"
  echo "ok: $code from ${*:2:3}"
}
