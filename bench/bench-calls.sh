#!/usr/bin/env bash
# Call-load benchmark (issue 7 item 1): the highest call rate with zero failed calls, for
#   ip     SIPp uac → mgc (SIP-I) → M3UA → ss7sim auto-answering          (IP origination)
#   pstn   ss7sim load → M3UA → mgc → SIPp uas                             (PSTN origination)
#   kam    SIPp uac → Kamailio (tm, t_relay) → SIPp uas                    (the anchor)
#   overload  the ip path with [overload] max_calls at its capacity (CAPACITY calls/s, default
#          the ip mode's result of this run, else 3500), offered twice that for DUR s: every
#          call answered or refused with 503 + Retry-After + Reason cause 42, goodput ≥ 90 %
#          of CAPACITY, p99 set-up of the answered calls, peak RSS, every circuit idle after.
# Every step runs RATE calls/s for DUR seconds (RATE·DUR calls, bounded by -m, -timeout and an
# outer timeout); the ramp stops at the first step with a failed call. Loopback only.
#
#   bench/bench-calls.sh                    # all three, default rates
#   RATES="500 1000" DUR=10 bench/bench-calls.sh ip
#
# Results: bench/results/calls-<date>.json and bench/results/calls-latest.json; a summary on stdout.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RATES="${RATES:-500 1000 1500 2000 2500 3000 3500 4000}"
DUR="${DUR:-30}"            # seconds per step (the issue: a 30 s run, ≤ 60 s per step)
HOLD_MS="${HOLD_MS:-1000}"  # answered call held this long before BYE / REL
PROFILE="${PROFILE:-sip-i}" # encapsulation toward the SIP peer
MODES="${*:-ip pstn kam overload}"
BIN="${BIN:-$ROOT/target/release}"  # BIN=DIR: use prebuilt mgc and ss7sim (no build)
WORK="$(mktemp -d /tmp/bench-calls.XXXXXX)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/results/calls-$STAMP.json"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
}
trap cleanup EXIT INT TERM

die() { echo "bench-calls: $*" >&2; exit 2; }
for tool in sipp python3 curl; do command -v "$tool" >/dev/null || die "$tool not found (apt-get install sip-tester python3 curl)"; done
if [[ " $MODES " == *" kam "* ]] && ! command -v kamailio >/dev/null; then
  die "kamailio not found: apt-get install kamailio (or run without 'kam')"
fi

if [ "$BIN" = "$ROOT/target/release" ]; then
  echo "building release binaries…" >&2
  (cd "$ROOT" && cargo build --release -q -p mgc -p ss7sim) || die "build failed"
fi

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
SIP_PORT=$(free_port); M3UA_PORT=$(free_port); METRICS_PORT=$(free_port)
UAS_PORT=$(free_port); KAM_PORT=$(free_port); UAC_PORT=$(free_port)

# UDP datagrams the kernel dropped for a full socket receive buffer, machine-wide (every peer
# here is on loopback): a step's delta says whether calls failed on a dropped packet.
udp_rcvbuf_errors() { awk '/^Udp:/ && n++ {print $6}' /proc/net/snmp; }
# SIPp's own socket buffers (its default is 64 KiB), as large as mgc's and Kamailio's.
SIPP_BUF=(-buff_size 4194304)
peak_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Kamailio forks workers that share memory: the sum of their proportional set sizes.
pss_tree_kib() {
  local total=0 p
  for p in "$1" $(pgrep -P "$1"); do
    total=$((total + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
metric() { curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
circuits_not_idle() {
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk '/^circuits\{/ && !/state="idle"/ && !/state="unequipped"/ {s += $2} END {print s + 0}'
}
wait_idle() {
  local i
  for i in $(seq 100); do [ "$(circuits_not_idle)" = 0 ] && return 0; sleep 0.1; done
  return 1
}

start_mgc() {
  sed -e "s/@SIP_PORT@/$SIP_PORT/; s/@M3UA_PORT@/$M3UA_PORT/; s/@UAS_PORT@/$UAS_PORT/" \
      -e "s/@METRICS_PORT@/$METRICS_PORT/; s/@PROFILE@/$PROFILE/" \
      "$ROOT/bench/mgc-calls.toml" > "$WORK/mgc.toml"
  # Overload mode: the admission limit at the capacity, calls in progress at CAPACITY calls/s.
  [ "$1" = overload ] && printf '\n[overload]\nmax_calls = %d\nretry_after_s = 5\n' \
    "$((CAPACITY * HOLD_MS / 1000))" >> "$WORK/mgc.toml"
  "$BIN/mgc" run --config "$WORK/mgc.toml" > "$WORK/mgc-$1.log" 2>&1 &
  MGC_PID=$!; PIDS+=("$MGC_PID")
  local i
  for i in $(seq 100); do [ "$(metric m3ua_asp_state)" = 2 ] && break; sleep 0.1; done
  [ "$(metric m3ua_asp_state)" = 2 ] || die "mgc's M3UA ASP did not become active (see $WORK/mgc-$1.log)"
  # In pstn mode the simulator starts calling as soon as the gateway's GRS is through.
  [ "$1" = pstn ] || wait_idle || die "circuits not idle after start-up"
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# One SIPp uac step toward $1. Prints "pass created ok failed retrans p50 p99" (latency in ms,
# INVITE → 200 from -trace_rtt).
sipp_step() {
  local target=$1 rate=$2 dir="$WORK/$3-$2" rc f m
  m=$((rate * DUR))
  mkdir -p "$dir"
  (cd "$dir" && timeout $((DUR + HOLD_MS / 1000 + 40)) sipp -sn uac "$target" -s 4930123456 "${SIPP_BUF[@]}" \
      -i 127.0.0.1 -p "$UAC_PORT" -r "$rate" -rp 1000 -m "$m" -d "$HOLD_MS" -l $((rate * (HOLD_MS / 1000 + 2) + 1000)) \
      -nostdin -timeout $((DUR + HOLD_MS / 1000 + 25))s -timeout_error \
      -trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 100 > sipp.out 2>&1)
  rc=$?
  IFS=';' read -ra f <<< "$(tail -1 "$dir/stat.csv")"
  local lat
  lat=$(cat "$dir"/uac_*_rtt.csv 2>/dev/null | python3 -c '
import sys
v = sorted(float(l.split(";")[1]) for l in sys.stdin if l[:1].isdigit())
r = lambda p: v[max(1, min(len(v), -(-int(p * len(v) * 1000) // 1000))) - 1] if v else -1
print(r(0.50), r(0.99))')
  local pass=0
  [ "$rc" = 0 ] && [ "${f[12]}" = "$m" ] && [ "${f[15]}" = "$m" ] && [ "${f[17]}" = 0 ] && pass=1
  echo "$pass ${f[12]:-0} ${f[15]:-0} ${f[17]:--1} ${f[57]:-0} ${lat:--1 -1}"
}

RESULTS="$WORK/results.jsonl"
record() { echo "$1" >> "$RESULTS"; }

run_ip() {
  "$BIN/ss7sim" --listen "127.0.0.1:$M3UA_PORT" --cics 1-4000 --answer "=answer,after=0ms" \
    answer --duration 3600s > "$WORK/sim-ip.log" 2>&1 &
  local sim=$!; PIDS+=("$sim")
  start_mgc ip
  local r best=0 line
  for r in $RATES; do
    local drops0; drops0=$(udp_rcvbuf_errors)
    read -r pass created ok failed retrans p50 p99 <<< "$(sipp_step "127.0.0.1:$SIP_PORT" "$r" ip)"
    wait_idle; local idle=$?
    local drops=$(($(udp_rcvbuf_errors) - drops0))
    [ "$idle" = 0 ] || pass=0
    line="{\"mode\":\"ip\",\"rate\":$r,\"pass\":$pass,\"created\":$created,\"successful\":$ok,\"failed\":$failed,\"retransmissions\":$retrans,\"p50_ms\":$p50,\"p99_ms\":$p99,\"circuits_idle_after\":$([ "$idle" = 0 ] && echo true || echo false),\"udp_rcvbuf_errors\":$drops,\"peak_rss_kib\":$(peak_rss_kib "$MGC_PID")}"
    record "$line"; echo "ip   $r cps: $([ "$pass" = 1 ] && echo PASS || echo FAIL) created $created ok $ok failed $failed retrans $retrans p50 ${p50} ms p99 ${p99} ms udp drops $drops rss $(peak_rss_kib "$MGC_PID") KiB" >&2
    [ "$pass" = 1 ] || break
    best=$r; sleep 2
  done
  record "{\"mode\":\"ip\",\"best_rate\":$best,\"peak_rss_kib\":$(peak_rss_kib "$MGC_PID")}"
  stop_pid "$MGC_PID"; stop_pid "$sim"
}

run_pstn() {
  (cd "$WORK" && exec sipp -sn uas "${SIPP_BUF[@]}" -i 127.0.0.1 -p "$UAS_PORT" -nostdin -timeout 3600s > uas-pstn.out 2>&1) &
  local uas=$!; PIDS+=("$uas")
  local r best=0 json
  for r in $RATES; do
    # A fresh simulator per step (its load mode ends with the run); the gateway keeps running.
    json="$WORK/pstn-$r.json"
    timeout $((DUR + HOLD_MS / 1000 + 45)) "$BIN/ss7sim" --listen "127.0.0.1:$M3UA_PORT" --cics 1-4000 \
      --json "$json" --await-reset 30s --wait 30s load --calls $((r * DUR)) --rate "$r" \
      --hold "${HOLD_MS}ms" --called 4930123456 > "$WORK/sim-pstn-$r.log" 2>&1 &
    local sim=$! drops0; drops0=$(udp_rcvbuf_errors)
    if [ -z "${MGC_PID_PSTN:-}" ]; then start_mgc pstn; MGC_PID_PSTN=$MGC_PID; fi
    wait "$sim"; local rc=$?
    wait_idle; local idle=$?
    local line drops=$(($(udp_rcvbuf_errors) - drops0))
    line=$(python3 - "$json" "$r" "$rc" "$idle" "$(peak_rss_kib "$MGC_PID_PSTN")" "$drops" <<'PY'
import json, sys
path, rate, rc, idle, rss, drops = sys.argv[1:]
try:
    j = json.load(open(path))
except Exception:
    j = {"outgoing": {"attempted": 0, "answered": 0, "failed": -1, "setup_latency": {}}}
o = j["outgoing"]; s = o.get("setup_latency", {})
ok = rc == "0" and idle == "0" and o.get("failed", 1) == 0 and o.get("attempted") == o.get("answered")
print(json.dumps({"mode": "pstn", "rate": int(rate), "pass": int(ok), "created": o.get("attempted"),
                  "successful": o.get("answered"), "failed": o.get("failed"),
                  "failed_by_cause": o.get("failed_by_cause", {}),
                  "p50_ms": s.get("p50_ms"), "p90_ms": s.get("p90_ms"), "p99_ms": s.get("p99_ms"),
                  "circuits_idle_after": idle == "0", "udp_rcvbuf_errors": int(drops),
                  "peak_rss_kib": int(rss)}))
PY
)
    record "$line"
    echo "pstn $r cps: $line" >&2
    [[ "$line" == *'"pass": 1'* ]] || break
    best=$r; sleep 2
  done
  record "{\"mode\":\"pstn\",\"best_rate\":$best,\"peak_rss_kib\":$(peak_rss_kib "${MGC_PID_PSTN:-0}")}"
  stop_pid "${MGC_PID_PSTN:-0}"; stop_pid "$uas"
}

run_kam() {
  # KAM_UAS=builtin: SIPp's own uas (180 then 200), which Kamailio may reorder (see the scenario).
  local scen=(-sf "$ROOT/bench/sipp/uas_answer.xml")
  [ "${KAM_UAS:-}" = builtin ] && scen=(-sn uas)
  (cd "$WORK" && exec sipp "${scen[@]}" "${SIPP_BUF[@]}" -i 127.0.0.1 -p "$UAS_PORT" -nostdin -timeout 3600s > uas-kam.out 2>&1) &
  local uas=$!; PIDS+=("$uas")
  mkdir -p "$WORK/kam"
  sed -e "s/@KAM_PORT@/$KAM_PORT/; s/@UAS_PORT@/$UAS_PORT/" "$ROOT/bench/kamailio.cfg" > "$WORK/kam/kamailio.cfg"
  kamailio -f "$WORK/kam/kamailio.cfg" -DD -E -Y "$WORK/kam" -P "$WORK/kam/kamailio.pid" -m 256 -M 16 \
    > "$WORK/kam/kamailio.log" 2>&1 &
  local kam=$!; PIDS+=("$kam")
  sleep 1.5
  local r best=0 pss=0 line
  for r in $RATES; do
    local drops0; drops0=$(udp_rcvbuf_errors)
    read -r pass created ok failed retrans p50 p99 <<< "$(sipp_step "127.0.0.1:$KAM_PORT" "$r" kam)"
    pss=$(pss_tree_kib "$kam")
    local drops=$(($(udp_rcvbuf_errors) - drops0))
    line="{\"mode\":\"kamailio\",\"rate\":$r,\"pass\":$pass,\"created\":$created,\"successful\":$ok,\"failed\":$failed,\"retransmissions\":$retrans,\"p50_ms\":$p50,\"p99_ms\":$p99,\"udp_rcvbuf_errors\":$drops,\"pss_kib\":$pss}"
    record "$line"; echo "kam  $r cps: $([ "$pass" = 1 ] && echo PASS || echo FAIL) created $created ok $ok failed $failed retrans $retrans p50 ${p50} ms p99 ${p99} ms udp drops $drops pss $pss KiB" >&2
    [ "$pass" = 1 ] || break
    best=$r; sleep 2
  done
  record "{\"mode\":\"kamailio\",\"best_rate\":$best,\"pss_kib\":$pss}"
  stop_pid "$kam"; stop_pid "$uas"
}

# Twice the capacity, through the admission limit (issue 7 item 3).
run_overload() {
  if [ -z "${CAPACITY:-}" ]; then
    CAPACITY=$(python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])] if sys.argv[1] else []
print(next((r["best_rate"] for r in rows if r.get("mode") == "ip" and "best_rate" in r and r["best_rate"] > 0), 3500))' \
      "$([ -f "$RESULTS" ] && echo "$RESULTS")")
  fi
  local rate=$((2 * CAPACITY)) dir="$WORK/overload" m
  m=$((rate * DUR))
  "$BIN/ss7sim" --listen "127.0.0.1:$M3UA_PORT" --cics 1-4000 --answer "=answer,after=0ms" \
    answer --duration 3600s > "$WORK/sim-overload.log" 2>&1 &
  local sim=$!; PIDS+=("$sim")
  start_mgc overload
  mkdir -p "$dir"
  sed "s/@HOLD@/$HOLD_MS/" "$ROOT/tests/sipp/uac_overload.xml" > "$dir/uac_overload.xml"
  local answered0 refused0 drops0 rc
  answered0=$(metric 'calls_total{model="ip_origination",outcome="answered"}')
  refused0=$(metric 'call_releases_total{cause="42",side="gateway"}')
  drops0=$(udp_rcvbuf_errors)
  local t0; t0=$(date +%s.%N)
  (cd "$dir" && timeout $((DUR + HOLD_MS / 1000 + 40)) sipp -sf uac_overload.xml "127.0.0.1:$SIP_PORT" \
      -s 4930123456 "${SIPP_BUF[@]}" -i 127.0.0.1 -p "$UAC_PORT" -r "$rate" -rp 1000 -m "$m" \
      -l $((rate * (HOLD_MS / 1000 + 2) + 1000)) -nostdin -timeout $((DUR + HOLD_MS / 1000 + 25))s \
      -timeout_error -trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 100 > sipp.out 2>&1)
  rc=$?
  local elapsed; elapsed=$(python3 -c "import time; print(round(time.time() - $t0, 2))")
  wait_idle; local idle=$?
  local drops=$(($(udp_rcvbuf_errors) - drops0)) rss; rss=$(peak_rss_kib "$MGC_PID")
  local line
  line=$(python3 - "$dir" "$rc" "$idle" "$CAPACITY" "$rate" "$DUR" "$m" "$answered0" "$refused0" \
      "$(metric 'calls_total{model="ip_origination",outcome="answered"}')" \
      "$(metric 'call_releases_total{cause="42",side="gateway"}')" "$drops" "$rss" "$elapsed" <<'PY'
import glob, json, sys
d, rc, idle, cap, rate, dur, m, a0, r0, a1, r1, drops, rss, elapsed = sys.argv[1:]
f = open(d + "/stat.csv").read().splitlines()
h, last = f[0].split(";"), f[-1].split(";")
col = lambda n: int(last[h.index(n)])
ok, failed = col("SuccessfulCall(C)"), col("FailedCall(C)")
v = sorted(float(l.split(";")[1]) for p in glob.glob(d + "/*_rtt.csv") for l in open(p) if l[:1].isdigit())
q = lambda p: v[max(1, min(len(v), -(-int(p * len(v) * 1000) // 1000))) - 1] if v else None
num = lambda s: float(s) if s else 0.0
answered, refused = num(a1) - num(a0), num(r1) - num(r0)
# Calls arrive for m/rate s; goodput = answered calls per second of offered load.
offered_s = int(m) / int(rate)
goodput = answered / offered_s
passed = (rc == "0" and idle == "0" and failed == 0 and ok == int(m) and answered + refused == int(m)
          and refused > 0 and goodput >= 0.9 * int(cap))
print(json.dumps({"mode": "overload", "capacity": int(cap), "rate": int(rate), "pass": int(passed),
                  "created": int(m), "successful": ok, "failed": failed, "answered": int(answered),
                  "refused_503_cause_42": int(refused), "goodput_cps": round(goodput, 1),
                  "goodput_of_capacity": round(goodput / int(cap), 3), "p50_ms": q(0.5), "p99_ms": q(0.99),
                  "circuits_idle_after": idle == "0", "udp_rcvbuf_errors": int(drops),
                  "peak_rss_kib": int(rss), "elapsed_s": float(elapsed)}))
PY
)
  record "$line"; echo "overload: $line" >&2
  : "$rss"
  stop_pid "$MGC_PID"; stop_pid "$sim"
}

for m in $MODES; do
  case "$m" in
    overload) run_overload ;;
    ip) run_ip ;;
    pstn) run_pstn ;;
    kam) run_kam ;;
    *) die "unknown mode $m (ip, pstn, kam, overload)" ;;
  esac
done

python3 - "$RESULTS" "$OUT" "$DUR" "$HOLD_MS" "$PROFILE" "$RATES" <<'PY'
import json, os, platform, subprocess, sys, time
src, out, dur, hold, profile, rates = sys.argv[1:]
rows = [json.loads(l) for l in open(src)]
best = {r["mode"]: r for r in rows if "best_rate" in r}
steps = [r for r in rows if "best_rate" not in r]
def ver(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception:
        return None
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
doc = {
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "machine": {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
                "load_average_at_end": os.getloadavg()},
    "parameters": {"step_seconds": int(dur), "hold_ms": int(hold), "profile": profile, "rates": rates.split()},
    "peers": {"sipp": ver(["sipp", "-v"]) , "kamailio": ver(["kamailio", "-v"])},
    "best": best, "steps": steps,
}
# The issue's latency goal: the highest passing rate whose p99 setup latency is under 5 ms.
for mode in list(best):
    fast = [s["rate"] for s in steps if s["mode"] == mode and s["pass"] and s.get("p99_ms") is not None
            and 0 <= s["p99_ms"] < 5]
    best[mode]["best_rate_p99_under_5ms"] = max(fast) if fast else 0
for s in steps:
    for key in ("p50_ms", "p90_ms", "p99_ms"):
        if isinstance(s.get(key), float):
            s[key] = round(s[key], 3)
k = best.get("kamailio", {}).get("best_rate")
for mode in ("ip", "pstn"):
    if mode in best and k:
        doc[f"ratio_{mode}_to_kamailio"] = round(best[mode]["best_rate"] / k, 2)
# The same ratio where both meet the latency goal too (zero failed calls and p99 < 5 ms).
k5 = best.get("kamailio", {}).get("best_rate_p99_under_5ms")
for mode in ("ip", "pstn"):
    if mode in best and k5:
        doc[f"ratio_{mode}_to_kamailio_p99_under_5ms"] = round(best[mode]["best_rate_p99_under_5ms"] / k5, 2)
over = [s for s in steps if s["mode"] == "overload"]
if over:
    doc["overload"] = over[-1]
json.dump(doc, open(out, "w"), indent=1)
latest = os.path.join(os.path.dirname(out), "calls-latest.json")
json.dump(doc, open(latest, "w"), indent=1)
print("\n== bench-calls: highest rate with zero failed calls (%s s steps, hold %s ms, %s) ==" % (dur, hold, profile))
for mode, b in best.items():
    ok = [s for s in steps if s["mode"] == mode and s["rate"] == b["best_rate"]]
    lat = f"p50 {ok[0].get('p50_ms')} ms, p99 {ok[0].get('p99_ms')} ms" if ok else "no passing step"
    mem = b.get("peak_rss_kib") or b.get("pss_kib")
    print(f"{mode:9} {b['best_rate']:5} calls/s   {lat}   memory {mem} KiB   "
          f"(p99 < 5 ms up to {b['best_rate_p99_under_5ms']} calls/s)")
for key in ("ratio_ip_to_kamailio", "ratio_pstn_to_kamailio", "ratio_ip_to_kamailio_p99_under_5ms",
            "ratio_pstn_to_kamailio_p99_under_5ms"):
    if key in doc:
        print(f"{key}: {doc[key]}")
if over:
    o = over[-1]
    print(f"overload  {o['rate']} calls/s offered (2 x {o['capacity']}): {'PASS' if o['pass'] else 'FAIL'}, "
          f"{o['answered']} answered, {o['refused_503_cause_42']} refused (503, cause 42), {o['failed']} failed; "
          f"goodput {o['goodput_cps']} calls/s = {o['goodput_of_capacity']:.0%} of capacity; "
          f"answered p50 {o['p50_ms']} ms p99 {o['p99_ms']} ms; peak RSS {o['peak_rss_kib']} KiB")
print("results:", out)
PY
