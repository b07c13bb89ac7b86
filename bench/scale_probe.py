#!/usr/bin/env python3
"""New-call setup latency probe for bench/scale.sh: a minimal SIP UAC over UDP.

Places CALLS calls at RATE calls/s toward TARGET (INVITE with SDP, then ACK and BYE at once, no
hold) and measures each call's INVITE → 200 OK time with a monotonic clock in microseconds (SIPp's
response times on this machine come in 4 ms steps, too coarse for a loopback gateway). INVITEs
are retransmitted per RFC 3261 §17.1.1.2 (Timer A from T1 = 500 ms); a call without a final
response within 8 s, or with a final response other than 200, fails.

    scale_probe.py TARGET_HOST:PORT LOCAL_PORT CALLS RATE [CALLED [SAMPLES.csv]]

Prints one JSON object: counts, failures by status, and latency percentiles (nearest rank) in ms.
"""

import asyncio
import json
import math
import sys
import time

T1 = 0.5
CALL_TIMEOUT = 8.0


def nearest_rank(v, p):
    if not v:
        return None
    return v[max(1, min(len(v), math.ceil(p * len(v)))) - 1]


class Probe(asyncio.DatagramProtocol):
    def __init__(self, target, local, called):
        self.target, self.local, self.called = target, local, called
        self.calls = {}  # Call-ID → state dict
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def send(self, text):
        self.transport.sendto(text.replace("\n", "\r\n").encode(), self.target)

    def request(self, method, c, cseq, to_tag="", body=""):
        host, port = self.target
        lhost, lport = self.local
        uri = f"sip:{self.called}@{host}:{port}"
        branch = f"z9hG4bK-{c['id']}-{method}-{cseq}"
        ctype = "Content-Type: application/sdp\n" if body else ""
        return (
            f"{method} {uri} SIP/2.0\n"
            f"Via: SIP/2.0/UDP {lhost}:{lport};branch={branch}\n"
            f"From: probe <sip:probe@{lhost}:{lport}>;tag=p{c['id']}\n"
            f"To: <{uri}>{to_tag}\n"
            f"Call-ID: {c['id']}@probe\n"
            f"CSeq: {cseq} {method}\n"
            f"Contact: <sip:probe@{lhost}:{lport}>\n"
            f"Max-Forwards: 70\n"
            f"{ctype}Content-Length: {len(body.replace(chr(10), chr(13) + chr(10)))}\n\n{body}"
        )

    def sdp(self):
        lhost = self.local[0]
        return (
            "v=0\n"
            f"o=probe 1 1 IN IP4 {lhost}\n"
            "s=-\n"
            f"c=IN IP4 {lhost}\n"
            "t=0 0\n"
            "m=audio 40000 RTP/AVP 8 0\n"
            "a=rtpmap:8 PCMA/8000\n"
            "a=rtpmap:0 PCMU/8000\n"
        )

    async def call(self, n):
        c = {"id": f"{n}-{time.monotonic_ns()}", "final": asyncio.get_running_loop().create_future(),
             "bye": asyncio.get_running_loop().create_future(), "to_tag": ""}
        self.calls[c["id"] + "@probe"] = c
        invite = self.request("INVITE", c, 1, body=self.sdp())
        t0 = time.perf_counter()
        self.send(invite)
        wait, deadline = T1, t0 + CALL_TIMEOUT
        while not c["final"].done() and time.perf_counter() < deadline:
            try:
                await asyncio.wait_for(asyncio.shield(c["final"]), min(wait, deadline - time.perf_counter()))
            except asyncio.TimeoutError:
                if c.get("provisional"):
                    continue  # Timer A stops once a provisional response came (§17.1.1.2)
                self.send(invite)
                wait *= 2
        if not c["final"].done():
            return ("timeout", None)
        status, t1 = c["final"].result()
        if status != 200:
            return (str(status), None)
        latency = (t1 - t0) * 1000.0
        self.send(self.request("ACK", c, 1, to_tag=c["to_tag"]))
        self.send(self.request("BYE", c, 2, to_tag=c["to_tag"]))
        try:
            await asyncio.wait_for(c["bye"], 4.0)
        except asyncio.TimeoutError:
            return ("bye-timeout", latency)
        return ("ok", latency)

    def datagram_received(self, data, addr):
        t = time.perf_counter()
        text = data.decode(errors="replace")
        head = text.split("\r\n\r\n", 1)[0].split("\r\n")
        fields = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            fields.setdefault(k.strip().lower(), v.strip())
        c = self.calls.get(fields.get("call-id") or fields.get("i"))
        if head[0].startswith("SIP/2.0 "):
            if c is None:
                return
            status = int(head[0].split()[1])
            method = (fields.get("cseq") or "").split()[-1:]
            to = fields.get("to") or fields.get("t") or ""
            if method == ["INVITE"]:
                if status < 200:
                    c["provisional"] = True
                elif not c["final"].done():
                    c["to_tag"] = ";tag=" + to.split("tag=", 1)[1].split(";")[0] if "tag=" in to else ""
                    c["final"].set_result((status, t))
                elif status == 200:
                    # A retransmitted 200 (our ACK crossed it): ACK again (RFC 3261 §13.2.2.4).
                    self.send(self.request("ACK", c, 1, to_tag=c["to_tag"]))
            elif method == ["BYE"] and status >= 200 and not c["bye"].done():
                c["bye"].set_result(status)
        else:
            # A request from the gateway in our dialog (e.g. a BYE): answer 200.
            vias = [l for l in head[1:] if l.lower().startswith(("via:", "v:"))]
            resp = "SIP/2.0 200 OK\r\n" + "".join(
                l + "\r\n" for l in head[1:]
                if l.lower().startswith(("via:", "v:", "from:", "f:", "to:", "t:", "call-id:", "i:", "cseq:"))
            ) + "Content-Length: 0\r\n\r\n"
            if vias:
                self.transport.sendto(resp.encode(), addr)


async def main():
    target_s, local_port, calls, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    called = sys.argv[5] if len(sys.argv) > 5 else "4930123456"
    host, port = target_s.rsplit(":", 1)
    target = (host, int(port))
    loop = asyncio.get_running_loop()
    local = ("127.0.0.1", local_port)
    _, probe = await loop.create_datagram_endpoint(
        lambda: Probe(target, local, called), local_addr=local)
    tasks, start = [], time.perf_counter()
    for n in range(calls):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(probe.call(n)))
    results = await asyncio.gather(*tasks)
    if len(sys.argv) > 6:
        # One line per call: its start (s from the first), outcome and latency (ms).
        with open(sys.argv[6], "w") as f:
            f.write("start_s,outcome,latency_ms\n")
            for n, (s, l) in enumerate(results):
                f.write(f"{n / rate:.3f},{s},{'' if l is None else round(l, 3)}\n")
    lat = sorted(l for s, l in results if s == "ok")
    failed = {}
    for s, _ in results:
        if s != "ok":
            failed[s] = failed.get(s, 0) + 1
    r = lambda x: None if x is None else round(x, 3)
    print(json.dumps({
        "calls": calls, "rate": rate, "ok": len(lat), "failed": sum(failed.values()),
        "failed_by_status": failed,
        "p50_ms": r(nearest_rank(lat, 0.50)), "p90_ms": r(nearest_rank(lat, 0.90)),
        "p99_ms": r(nearest_rank(lat, 0.99)), "max_ms": r(lat[-1] if lat else None),
        "mean_ms": r(sum(lat) / len(lat) if lat else None),
        "elapsed_s": round(time.perf_counter() - start, 2),
    }))


if __name__ == "__main__":
    asyncio.run(main())
