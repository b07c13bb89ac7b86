#!/usr/bin/env bash
# Scale benchmark (issue 7 item 2, `make bench-scale`): CALLS concurrent held calls through mgc,
# the memory per held call, and the new-call setup latency with 0 and with CALLS calls held.
#
#   ss7sim (SGP; 13 exchanges, pc 2..14, CICs 1-4095 each) ── M3UA/TCP ── mgc ── SIP/UDP ── SIPp uas
#   load: IAM → INVITE → 200 → ANM, held                                 (PSTN origination)
#   probe: scale_probe.py (UAC) → INVITE → mgc → IAM → ss7sim answers → 200 → ACK, BYE at once
#
# 1. mgc starts and resets every circuit (GRS/GRA); RSS at 0 calls; probe (PROBE_CALLS at
#    PROBE_RATE); RSS again (warm, the baseline).
# 2. SIGUSR1: ss7sim places CALLS calls at RATE/s over its exchanges, each answered and held.
# 3. Once mgc's calls_active reaches CALLS, SETTLE s for the set-up transactions to end (RFC 6026
#    Timer M, 32 s); RSS, calls_active, circuits; the probe again; RSS.
# 4. SIGUSR2: ss7sim releases every call at RATE/s (REL → BYE); every circuit must end idle.
# RSS is also sampled every second (rss.csv). Bounded: -m/-timeout on SIPp, --max-time on ss7sim,
# a watchdog at LIMIT s; every process started here is killed on exit. Loopback only.
#
#   bench/scale.sh                                   # 50,000 calls over 13 trunk groups
#   CALLS=4000 TGS=1 bench/scale.sh                  # one trunk group of 4095 circuits
#   BIN=/path/to/target/release bench/scale.sh       # prebuilt mgc and ss7sim (no build)
#
# Results: bench/results/scale.json (and the run's files in a /tmp/bench-scale.* directory).
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CALLS="${CALLS:-50000}"         # held calls
RATE="${RATE:-1000}"            # their set-up and release rate, calls/s
TGS="${TGS:-13}"                # trunk groups = exchanges, DPCs 2..TGS+1
CICS="${CICS:-1-4095}"          # CICs of each
PROBE_CALLS="${PROBE_CALLS:-500}"
PROBE_RATE="${PROBE_RATE:-50}"
SETTLE="${SETTLE:-35}"          # s after the last call is up, before measuring
LIMIT="${LIMIT:-300}"           # the whole run, s
PROFILE="${PROFILE:-sip-i}"
BIN="${BIN:-$ROOT/target/release}"
OUT="${OUT:-$ROOT/bench/results/scale.json}"
# Extra environment for mgc, e.g. MGC_ENV="MIMALLOC_PURGE_DELAY=0" (mimalloc options).
MGC_ENV="${MGC_ENV:-}"
WORK="$(mktemp -d /tmp/bench-scale.XXXXXX)"
T_START=$(date +%s)

PIDS=()
cleanup() {
  local p= i
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  # ss7sim drains its calls on SIGTERM; with mgc gone there is nothing to wait for.
  for i in $(seq 30); do
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && break; p=; done
    [ -z "$p" ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
}
trap cleanup EXIT
trap 'echo "bench-scale: interrupted" >&2; exit 130' INT TERM

die() { echo "bench-scale: $*" >&2; echo "bench-scale: files in $WORK" >&2; exit 2; }
log() { printf '[%3ds] %s\n' $(( $(date +%s) - T_START )) "$*" >&2; }
for tool in sipp python3 curl; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install sip-tester python3 curl)"
done
[ "$TGS" -ge 1 ] && [ "$TGS" -le 13 ] || die "TGS must be 1..13 (DPCs 2..14 in bench/scale.toml)"

if [ "$BIN" = "$ROOT/target/release" ]; then
  log "building release binaries"
  (cd "$ROOT" && cargo build --release -q -p mgc -p ss7sim) || die "build failed"
fi
# The run's clock and its watchdog start after the build; the trap above cleans up whatever is
# still running (the watchdog's own sleep included).
T_START=$(date +%s)
( trap 'kill $s 2>/dev/null; exit 0' TERM
  sleep "$LIMIT" & s=$!; wait $s
  echo "bench-scale: LIMIT of $LIMIT s reached" >&2; kill -TERM $$ ) 2>/dev/null &
PIDS+=($!)

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
SIP_PORT=$(free_port); M3UA_PORT=$(free_port); METRICS_PORT=$(free_port)
UAS_PORT=$(free_port); PROBE_PORT=$(free_port)

# Seconds left before the watchdog.
left() { echo $(( LIMIT - ($(date +%s) - T_START) - 5 )); }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# The exposition; on failure a line that makes every reader below see "not there yet".
metrics() { curl -sf --max-time 10 "http://127.0.0.1:$METRICS_PORT/metrics" || echo "scrape_failed 1"; }
# The sum of a metric family's series whose line matches a regex (default: all).
msum() {
  metrics | awk -v m="$1" -v re="${2:-.}" '$1 == "scrape_failed" {f = 1}
    $1 ~ "^"m"(\\{|$)" && $0 ~ re {s += $2} END {print f ? -1 : s + 0}'
}
calls_active() { msum calls_active; }
circuits_not_idle() {
  metrics | awk '$1 == "scrape_failed" {f = 1}
    /^circuits\{/ && !/state="idle"/ && !/state="unequipped"/ {s += $2} END {print f ? -1 : s + 0}'
}
circuits_json() {
  metrics | python3 -c '
import json, re, sys
c = {}
for l in sys.stdin:
    m = re.match(r"circuits\{.*state=\"(\w+)\".*\} (\S+)", l)
    if m:
        c[m[1]] = c.get(m[1], 0) + int(float(m[2]))
print(json.dumps(c))'
}

# --- configuration: the first TGS trunk groups of bench/scale.toml, with CICS
python3 - "$ROOT/bench/scale.toml" "$WORK/mgc.toml" "$TGS" "$CICS" <<PY || die "config"
import re, sys
src, dst, tgs, cics = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
text = open(src).read()
head, *groups = text.split("\n[[trunk_groups]]\n")
groups = [re.sub(r'(?m)^cics = ".*"$', 'cics = "%s"' % cics, g) for g in groups[:tgs]]
out = "\n[[trunk_groups]]\n".join([head] + groups)
for k, v in {"SIP_PORT": "$SIP_PORT", "M3UA_PORT": "$M3UA_PORT", "UAS_PORT": "$UAS_PORT",
             "METRICS_PORT": "$METRICS_PORT", "PROFILE": "$PROFILE"}.items():
    out = out.replace("@%s@" % k, v)
open(dst, "w").write(out)
PY
"$BIN/mgc" check-config "$WORK/mgc.toml" > /dev/null || die "mgc check-config $WORK/mgc.toml failed"
CIRCUITS=$(python3 -c '
import sys
n = 0
for r in sys.argv[1].split(","):
    a, _, b = r.partition("-"); n += int(b or a) - int(a) + 1
print(n * int(sys.argv[2]))' "$CICS" "$TGS")
[ "$CALLS" -le "$CIRCUITS" ] || die "CALLS=$CALLS > $CIRCUITS circuits"
LAST_PC=$((TGS + 1))
log "$CALLS calls at $RATE/s over $TGS trunk group(s) (pc 2..$LAST_PC, CICs $CICS: $CIRCUITS circuits); work dir $WORK"

# --- the peers
(cd "$WORK" && exec sipp -sn uas -buff_size 4194304 -i 127.0.0.1 -p "$UAS_PORT" -l $((CALLS + 1000)) -m "$CALLS" \
   -nostdin -timeout "${LIMIT}s" -trace_stat -stf uas_stat.csv -fd 5 > uas.out 2>&1) &
UAS_PID=$!; PIDS+=("$UAS_PID")
"$BIN/ss7sim" --listen "127.0.0.1:$M3UA_PORT" --local-pc "2-$LAST_PC" --cics "$CICS" \
  --answer "=answer,after=0ms" --wait 60s --await-reset 60s --drain 30s --json "$WORK/sim.json" \
  load --calls "$CALLS" --rate "$RATE" --hold none --called 4930123456 \
  --start-on-sigusr1 --release-on-sigusr2 --max-time "${LIMIT}s" > "$WORK/sim.out" 2> "$WORK/sim.err" &
SIM_PID=$!; PIDS+=("$SIM_PID")
for _ in $(seq 100); do grep -q "SGP listening" "$WORK/sim.err" 2>/dev/null && break; sleep 0.1; done
env $MGC_ENV "$BIN/mgc" run --config "$WORK/mgc.toml" > "$WORK/mgc.log" 2>&1 &
MGC_PID=$!; PIDS+=("$MGC_PID")

# RSS every second: elapsed s, calls_active, VmRSS KiB.
( echo "t_s,calls_active,vmrss_kib"
  while kill -0 "$MGC_PID" 2>/dev/null; do
    echo "$(( $(date +%s) - T_START )),$(calls_active),$(status_kib "$MGC_PID" VmRSS)"; sleep 1
  done ) > "$WORK/rss.csv" 2>/dev/null &
PIDS+=($!)

for _ in $(seq 300); do [ "$(msum m3ua_asp_state)" = 2 ] && break; sleep 0.2; done
[ "$(msum m3ua_asp_state)" = 2 ] || die "mgc's M3UA ASP did not become active (see $WORK/mgc.log)"
# The circuits gauge is recounted every second: wait for every circuit to be counted idle.
for _ in $(seq 600); do [ "$(msum circuits 'state="idle"')" = "$CIRCUITS" ] && break; sleep 0.1; done
[ "$(msum circuits 'state="idle"')" = "$CIRCUITS" ] || die "circuits not idle after start-up: $(circuits_json)"
for _ in $(seq 100); do grep -q "waiting for SIGUSR1" "$WORK/sim.err" && break; sleep 0.1; done
grep -q "waiting for SIGUSR1" "$WORK/sim.err" || die "ss7sim did not get ready (see $WORK/sim.err)"
RSS_START=$(status_kib "$MGC_PID" VmRSS)
log "mgc up, $CIRCUITS circuits idle, VmRSS $RSS_START KiB"

probe() {
  timeout $((PROBE_CALLS / PROBE_RATE + 30)) python3 "$ROOT/bench/scale_probe.py" \
    "127.0.0.1:$SIP_PORT" "$PROBE_PORT" "$PROBE_CALLS" "$PROBE_RATE" 4930123456 "$WORK/probe-$1.csv" \
    || echo '{"ok": 0, "failed": -1}'
}
PROBE_IDLE=$(probe idle)
log "probe with 0 calls held: $PROBE_IDLE"
sleep 2
RSS_IDLE=$(status_kib "$MGC_PID" VmRSS)
HWM_IDLE=$(status_kib "$MGC_PID" VmHWM)
ACTIVE_IDLE=$(calls_active)

# --- build up the held calls
kill -USR1 "$SIM_PID"
T_RAMP=$(date +%s.%N)
while :; do
  a=$(calls_active)
  [ "$a" -ge "$CALLS" ] && break
  kill -0 "$SIM_PID" 2>/dev/null || die "ss7sim ended during the build-up (see $WORK/sim.out)"
  [ "$(left)" -gt $((SETTLE + 60)) ] || die "calls_active only $a of $CALLS (build-up too slow)"
  sleep 1
done
RAMP_S=$(python3 -c "import time; print(round(time.time() - $T_RAMP, 1))")
log "$CALLS calls up after $RAMP_S s; settling $SETTLE s"
sleep "$SETTLE"
RSS_HELD=$(status_kib "$MGC_PID" VmRSS)
ACTIVE_HELD=$(calls_active)
CIRCUITS_HELD=$(circuits_json)
TRANSACTIONS_HELD=$(msum sip_transactions_active)
log "held: calls_active $ACTIVE_HELD, VmRSS $RSS_HELD KiB, circuits $CIRCUITS_HELD"
PROBE_HELD=$(probe held)
log "probe with $ACTIVE_HELD calls held: $PROBE_HELD"
RSS_HELD_AFTER=$(status_kib "$MGC_PID" VmRSS)
ACTIVE_HELD_AFTER=$(calls_active)

# --- release
kill -USR2 "$SIM_PID"
T_REL=$(date +%s.%N)
while [ "$(calls_active)" != 0 ] && [ "$(left)" -gt 15 ]; do sleep 1; done
RELEASE_S=$(python3 -c "import time; print(round(time.time() - $T_REL, 1))")
for _ in $(seq 150); do [ "$(msum circuits 'state="idle"')" = "$CIRCUITS" ] && break; sleep 0.2; done
sleep 1.5   # one more recount of the gauges
NOT_IDLE=$(circuits_not_idle)
CIRCUITS_END=$(circuits_json)
ACTIVE_END=$(calls_active)
log "released in $RELEASE_S s: calls_active $ACTIVE_END, circuits not idle $NOT_IDLE"
for _ in $(seq 300); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.2; done
wait "$SIM_PID"; SIM_RC=$?
for _ in $(seq 50); do kill -0 "$UAS_PID" 2>/dev/null || break; sleep 0.2; done
RSS_END=$(status_kib "$MGC_PID" VmRSS)
HWM_END=$(status_kib "$MGC_PID" VmHWM)
# What is still resident once the release transactions have ended and the allocator has
# purged what they freed (a leak check).
RSS_END_SETTLED=null
if [ "$(left)" -gt $((SETTLE + 10)) ]; then
  sleep "$SETTLE"; RSS_END_SETTLED=$(status_kib "$MGC_PID" VmRSS)
fi
log "after release: VmRSS $RSS_END KiB, $SETTLE s later $RSS_END_SETTLED KiB"
TIMER_EXPIRIES=$(msum isup_timer_expiries_total)
RELEASES=$(metrics | grep '^call_releases_total' | tr '\n' ';')
kill "$MGC_PID" 2>/dev/null; wait "$MGC_PID" 2>/dev/null

# --- results
mkdir -p "$(dirname "$OUT")"
python3 - <<PY
import json, os, platform, subprocess, time
def j(s):
    try:
        return json.loads(s)
    except Exception:
        return None
def ver(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
        return next((l.strip() for l in (r.stdout + r.stderr).splitlines() if l.strip()), None)
    except Exception:
        return None
sim = j(open("$WORK/sim.json").read()) if os.path.exists("$WORK/sim.json") else None
uas = None
try:
    rows = [l.split(";") for l in open("$WORK/uas_stat.csv")]
    h, last = rows[0], rows[-1]
    col = lambda name: last[h.index(name)] if name in h else None
    uas = {"successful": int(col("SuccessfulCall(C)")), "failed": int(col("FailedCall(C)")),
           "retransmissions": int(col("Retransmissions(C)"))}
except Exception:
    pass
calls, idle, held = int("$CALLS"), int("$RSS_IDLE"), int("$RSS_HELD")
active = int("$ACTIVE_HELD")
per_call = round((held - idle) * 1024 / active) if active else None
null = None
end_settled = $RSS_END_SETTLED
pi, ph = j('''$PROBE_IDLE''') or {}, j('''$PROBE_HELD''') or {}
def degraded(a, b, key, rel, abs_ms):
    if a.get(key) is None or b.get(key) is None:
        return None
    return b[key] > a[key] * rel + abs_ms
lat_degraded = [degraded(pi, ph, "p50_ms", 1.5, 0.5), degraded(pi, ph, "p99_ms", 1.5, 1.0)]
out = sim["outgoing"] if sim else {}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
doc = {
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "machine": {"cpu": cpu, "cores": os.cpu_count(), "memory_kib": mem, "kernel": platform.release(),
                "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
    "versions": {"sipp": ver(["sipp", "-v"]), "mgc": ver(["$BIN/mgc", "--version"]),
                 "git": ver(["git", "-C", "$ROOT", "rev-parse", "--short", "HEAD"]),
                 "git_uncommitted_files": len(subprocess.run(["git", "-C", "$ROOT", "status", "--porcelain",
                     "--untracked-files=no"], capture_output=True, text=True).stdout.splitlines())},
    "parameters": {"calls": calls, "rate": float("$RATE"), "trunk_groups": int("$TGS"),
                   "cics_per_group": "$CICS", "circuits": int("$CIRCUITS"), "profile": "$PROFILE",
                   "probe_calls": int("$PROBE_CALLS"), "probe_rate": float("$PROBE_RATE"),
                   "settle_s": int("$SETTLE"), "mgc_env": "$MGC_ENV"},
    "calls_active": {"idle": int("$ACTIVE_IDLE"), "held": active, "held_after_probe": int("$ACTIVE_HELD_AFTER"),
                     "end": int("$ACTIVE_END")},
    "build_up_s": float("$RAMP_S"), "release_s": float("$RELEASE_S"),
    "rss_kib": {"start": int("$RSS_START"), "idle": idle, "held": held, "held_after_probe": int("$RSS_HELD_AFTER"),
                "end": int("$RSS_END"), "end_settled": end_settled, "hwm_idle": int("$HWM_IDLE"),
                "hwm_end": int("$HWM_END")},
    "bytes_per_call": per_call,
    "bytes_per_call_left_after_release": round((end_settled - idle) * 1024 / calls) if end_settled else None,
    "bytes_per_call_goal": 4096,
    "bytes_per_call_goal_met": per_call is not None and per_call <= 4096,
    "probe_idle": pi, "probe_held": ph,
    "latency_degraded": any(x for x in lat_degraded if x) if None not in lat_degraded else None,
    "latency_rule": "degraded if p50(held) > 1.5 p50(idle) + 0.5 ms or p99(held) > 1.5 p99(idle) + 1 ms",
    "circuits_held": j('''$CIRCUITS_HELD'''), "circuits_end": j('''$CIRCUITS_END'''),
    "circuits_not_idle_end": int("$NOT_IDLE"),
    "sip_transactions_active_held": int(float("$TRANSACTIONS_HELD")),
    "isup_timer_expiries": int(float("$TIMER_EXPIRIES")),
    "ss7sim": {"exit_code": int("$SIM_RC"), "outgoing": {k: out.get(k) for k in
               ("attempted", "answered", "completed", "failed", "failed_by_cause")},
               "setup_latency_ms": out.get("setup_latency"),
               "messages": sim.get("messages") if sim else None} if sim else None,
    "sipp_uas": uas,
}
doc["passed"] = bool(
    active >= calls and pi.get("failed") == 0 and ph.get("failed") == 0
    and pi.get("ok") == int("$PROBE_CALLS") and ph.get("ok") == int("$PROBE_CALLS")
    and int("$NOT_IDLE") == 0 and int("$ACTIVE_END") == 0 and int("$SIM_RC") == 0
    and out.get("completed") == calls and doc["latency_degraded"] is False)
json.dump(doc, open("$OUT", "w"), indent=1)
open("$OUT", "a").write("\n")
print(f"\n== bench-scale: {active} calls held over {doc['parameters']['trunk_groups']} trunk group(s) ==")
print(f"mgc VmRSS: idle {idle} KiB, held {held} KiB -> {per_call} bytes per call (goal 4096: "
      f"{'met' if doc['bytes_per_call_goal_met'] else 'NOT met'}); peak {doc['rss_kib']['hwm_end']} KiB")
print(f"mgc VmRSS after the release: {doc['rss_kib']['end']} KiB, {end_settled} KiB after {doc['parameters']['settle_s']} s "
      f"-> {doc['bytes_per_call_left_after_release']} bytes per call left")
for name, p in (("0 held", pi), (f"{active} held", ph)):
    print(f"new-call latency, {name:>12}: ok {p.get('ok')} failed {p.get('failed')} "
          f"p50 {p.get('p50_ms')} ms p99 {p.get('p99_ms')} ms max {p.get('max_ms')} ms")
print(f"latency degraded: {doc['latency_degraded']}; build-up {doc['build_up_s']} s, release {doc['release_s']} s; "
      f"circuits not idle at the end: {doc['circuits_not_idle_end']}; ss7sim exit {doc['ss7sim'] and doc['ss7sim']['exit_code']}")
print("result:", "PASSED" if doc["passed"] else "FAILED", "->", "$OUT")
PY
RC=$?
echo "bench-scale: run files in $WORK" >&2
[ "$RC" = 0 ] && python3 -c "import json,sys; sys.exit(0 if json.load(open('$OUT'))['passed'] else 1)"
