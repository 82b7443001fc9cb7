#!/usr/bin/env python3
"""Turn the raw measurements of bench/run.sh into results JSON and RESULTS.md.

Every figure is the median over rounds; every ratio is contender / ours,
computed from figures measured in the same run.
"""
import argparse
import json
import statistics
import sys

PEERS = ("stunnel", "hitch", "haproxy")     # proxies: what targets compare with
ORDER = ("ours", "stunnel", "hitch", "haproxy", "nginx", "postfix")
NAMES = {
    "ours": "tlsproxy (ours)",
    "stunnel": "stunnel4",
    "hitch": "hitch",
    "haproxy": "HAProxy",
    "nginx": "nginx (TLS itself, no proxy)",
    "postfix": "Postfix tlsproxy",
}


def load_jsonl(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append({"error": "unparsable line: " + line[:200]})
    return out


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def metrics(res):
    """The figures of one measurement, whichever tool made it."""
    if not isinstance(res, dict) or "error" in res and len(res) == 1:
        return None
    if "requests" in res:                       # wrk
        dur = res["duration_us"] / 1e6 if res.get("duration_us") else None
        if not dur or not res["requests"]:
            return None
        m = {
            "per_s": res["requests"] / dur,
            "mb_per_s": res["bytes"] / dur / 1e6,
            "lat_p50_us": res.get("lat_p50_us"),
            "lat_p99_us": res.get("lat_p99_us"),
            "errors": res.get("errors", 0),
            "count": res["requests"],
        }
        if "cpu_us" in res:
            m["cpu_us_per_op"] = res["cpu_us"] / res["requests"]
            mb = res["bytes"] / 1e6
            m["cpu_us_per_mb"] = res["cpu_us"] / mb if mb else None
        return m
    if not res.get("sessions"):
        return None
    m = {
        "per_s": res["hs_per_s"],
        "mb_per_s": res["mb_per_s"],
        "lat_p50_us": res["hs_p50_us"],
        "lat_p99_us": res["hs_p99_us"],
        "sess_p50_us": res["sess_p50_us"],
        "sess_p99_us": res["sess_p99_us"],
        "errors": res.get("failed", 0),
        "count": res["sessions"],
        "resumed_frac": res["resumed"] / res["sessions"],
        "loadgen_cpu_pct": res.get("loadgen_cpu_pct"),
    }
    if "msg_body_bytes" in res:                 # loadgen smtp
        m["msg_body_bytes"] = res["msg_body_bytes"]
    if "cpu_us_per_session" in res:
        m["cpu_us_per_op"] = res["cpu_us_per_session"]
        mb = res["bytes"] / 1e6
        m["cpu_us_per_mb"] = res["cpu_us"] / mb if mb else None
    return m


def aggregate(raw):
    """{variant: {contender: {test: {metric: median, rounds: n}}}}"""
    groups = {}
    for rec in raw:
        if "variant" not in rec:
            continue
        key = (rec["variant"], rec["contender"], rec["test"])
        groups.setdefault(key, []).append(rec.get("result"))
    agg = {}
    for (v, c, t), results in groups.items():
        ms = [metrics(r) for r in results]
        good = [m for m in ms if m]
        entry = {"rounds": len(results), "good_rounds": len(good)}
        if good:
            for k in good[0]:
                entry[k] = med([m.get(k) for m in good])
            entry["errors"] = sum(m.get("errors", 0) or 0 for m in good)
        else:
            errs = [r.get("error") for r in results if isinstance(r, dict) and r.get("error")]
            entry["error"] = errs[0] if errs else "no result"
        agg.setdefault(v, {}).setdefault(c, {})[t] = entry
    return agg


def fmt(v, digits=0):
    if v is None:
        return "-"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def cell(agg_c, ours_c, test, key, digits=0, scale=1.0, is_ours=False):
    e = agg_c.get(test, {})
    v = e.get(key)
    if v is None:
        return "-"
    v = v * scale
    s = fmt(v, digits)
    if test.startswith("res") and key == "per_s" and e.get("resumed_frac", 1) < 0.95:
        s += f" [{e['resumed_frac'] * 100:.0f}% resumed]"
    if not is_ours:
        o = ours_c.get(test, {}).get(key)
        if o:
            s += f" ({v / (o * scale):.2f}x)"
    return s


def table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


# ------------------------------------------------------------ capacity rows

def rss_per_session(rss):
    """{contender: {n: KiB per idle session}} from the RSS runs that opened all."""
    by = {}
    for r in rss:
        if r.get("opened") == r["n"]:
            by.setdefault(r["contender"], {})[r["n"]] = (r["rss_kib"] - r["rss_base_kib"]) / r["n"]
    return by


def idle_max_sum(r):
    """The two loadgens of the most-idle-sessions row added up."""
    parts = [p for p in (r.get("first"), r.get("result")) if isinstance(p, dict)]
    out = {"error": "; ".join(p["error"] for p in parts if p.get("error"))}
    for k in ("opened", "failed", "still_open", "echo_ok", "echo_tried"):
        vals = [p[k] for p in parts if isinstance(p.get(k), (int, float))]
        out[k] = sum(vals) if vals else None
    if out["still_open"] is not None and any(
            (p.get("still_open") or 0) < 0 for p in parts):
        out["still_open"] = None            # a check failed
    return out


def capacity_figures(cap, rss):
    """The capacity rows as {row key: {contender: value}} plus the details."""
    fig = {}
    detail = {"idle_max": {}, "loaded": {}, "cpu": {}, "ours_log": None}
    for r in cap:
        t, c = r.get("test"), r.get("contender")
        if t == "ours_capacity":
            detail["ours_log"] = r.get("log")
        elif t == "idle_max":
            res = idle_max_sum(r)
            detail["idle_max"][c] = dict(r, sum=res)
            held = res.get("still_open")
            if held is not None and held >= 0:
                # a session that does not answer is not held: scale by the sample
                if res.get("echo_tried"):
                    held = held * res.get("echo_ok", 0) / res["echo_tried"]
                fig.setdefault("idle_max", {})[c] = held
        elif t == "loaded":
            detail["loaded"][c] = r
            m = metrics(r.get("result"))
            if m:
                fig.setdefault("loaded_p50", {})[c] = m["lat_p50_us"] / 1000
                fig.setdefault("loaded_p99", {})[c] = m["lat_p99_us"] / 1000
        elif t == "cpu":
            n = r.get("conc")
            detail["cpu"].setdefault(n, {})[c] = r
            m = metrics(r.get("result"))
            if m and m.get("cpu_us_per_op"):
                fig.setdefault(f"cpu_{n}", {})[c] = m["cpu_us_per_op"]
    for c, by_n in rss_per_session(rss).items():
        for n, v in by_n.items():
            fig.setdefault(f"rss_{n}", {})[c] = v
    return fig, detail


def best_peer(values, higher_better):
    """(contender, value) of the best proxy among PEERS, or (None, None)."""
    peers = [(p, values[p]) for p in PEERS if values.get(p) is not None]
    if not peers:
        return None, None
    pick = max if higher_better else min
    return pick(peers, key=lambda x: x[1])


def capacity_section(meta, cap, rss):
    """Markdown lines of the capacity rows, and their figures."""
    capm = meta.get("capacity", {})
    fig, det = capacity_figures(cap, rss)
    md = []
    if not fig:
        return md, fig, det
    present = [c for c in ORDER if any(c in v for v in fig.values())]
    li, ls = capm.get("load_idle"), capm.get("load_stall")
    rows_def = [("idle_max", f"most idle TLS 1.3 sessions held (of {capm.get('cap_max', '?'):,} asked)",
                 True, 0)]
    for n in capm.get("rss_ns", []):
        rows_def.append((f"rss_{n}", f"RSS KiB per idle session, N={n:,}", False, 1))
    rows_def += [("loaded_p50", f"fresh handshake p50 ms beside {li:,} idle + {ls:,} stalled",
                  False, 1),
                 ("loaded_p99", f"fresh handshake p99 ms beside {li:,} idle + {ls:,} stalled",
                  False, 1)]
    for n in capm.get("cpu_concs", []):
        rows_def.append((f"cpu_{n}", f"CPU µs per full ECDSA handshake, {n:,} connections",
                         False, 0))
    md.append("## Capacity rows\n")
    md.append("One round. The CPU and fresh-handshake rows: all contenders running "
              "side by side, pinned as in the pinned variant when there are two CPUs, "
              "the tests alternating; the idle-session rows: each contender freshly "
              "started, unpinned. *best proxy* is the best of "
              + ", ".join(NAMES[p] for p in PEERS)
              + " (nginx serves the files itself and needs no backend connection: "
              "a reference, not a peer). *ours / best* above 1 means ours has more "
              "of the figure; the word says which is better.\n")
    rows = []
    for key, label, hb, dg in rows_def:
        vals = fig.get(key, {})
        if not vals:
            continue
        r = [label] + [fmt(vals.get(c), dg) for c in present]
        bp, bv = best_peer(vals, hb)
        o = vals.get("ours")
        r.append(f"{fmt(bv, dg)} ({NAMES[bp]})" if bp else "-")
        if o is not None and bv:
            ratio = o / bv
            better = (ratio > 1) == hb if ratio != 1 else None
            r.append(f"{ratio:.2f}x" + ("" if better is None else
                                         (" (better)" if better else " (worse)")))
        else:
            r.append("-")
        rows.append(r)
    md.append(table(["row"] + [NAMES[c] for c in present] + ["best proxy", "ours / best"],
                    rows))
    md.append("")

    if det["idle_max"]:
        md.append("### Most idle sessions held\n")
        rn = max(capm.get("rss_ns") or [0])
        md.append(f"Each contender is asked for {capm.get('cap_max', 0):,} idle TLS 1.3 "
                  "(ECDSA) sessions (derived from the descriptor limit of "
                  f"{meta.get('nofile', 0):,} per process: a proxy needs two per session), "
                  "64 opening at a time (loadgen idle): freshly started and unpinned, "
                  f"it first gets the {rn:,} sessions of the RSS row, then the rest. "
                  f"{capm.get('settle_s', 0)} s after the last one opened, 20 sessions "
                  "spread over each of the two sets send a keep-alive `GET /small` and "
                  "must get HTTP 200 back; then every session the terminator has not "
                  "closed counts as held (scaled by the share of the sample that "
                  "answered).\n")
        rows = []
        for c in ORDER:
            r = det["idle_max"].get(c)
            if not r:
                continue
            res = r["sum"]
            grow = (r.get("rss_kib", 0) - r.get("rss_base_kib", 0)) / 1024
            rows.append([NAMES[c], fmt(r.get("asked")), fmt(res.get("opened")),
                         fmt(res.get("failed")), fmt(res.get("still_open")),
                         f"{res.get('echo_ok', 0)}/{res.get('echo_tried', 0)}",
                         fmt(fig.get("idle_max", {}).get(c)), fmt(grow, 1),
                         (res.get("error") or "")[:80]])
        md.append(table(["contender", "asked", "opened", "failed", "still open",
                         "sample answered", "held", "RSS growth MiB", "last error"], rows))
        if det["ours_log"]:
            md.append(f"\nOur daemon logged at start: \"{det['ours_log']}\".")
        md.append("")

    if det["loaded"]:
        md.append("### Fresh handshakes beside idle and stalled sessions\n")
        md.append(f"Fresh clients: loadgen tls, {capm.get('fresh_conc', 4)} connections "
                  f"in flight for {meta['duration_s']} s, full TLS 1.3 ECDSA handshakes, "
                  "one small request each; latency from connect() to the end of the "
                  "handshake. First alone, then while the terminator holds "
                  f"{li:,} idle TLS sessions and {ls:,} stalled handshakes (TCP "
                  "connections that sent the first half of a real ClientHello, then "
                  "nothing: loadgen stall). Held counts are those still open after the "
                  "fresh run; *holding CPU* is the terminator's CPU use (% of one CPU) "
                  "while it only holds them, before the fresh run.\n")
        rows = []
        for c in ORDER:
            r = det["loaded"].get(c)
            if not r:
                continue
            b, m = metrics(r.get("base")), metrics(r.get("result"))
            raw_r = r.get("result") or {}
            idle, stall = r.get("idle") or {}, r.get("stall") or {}
            lost = (raw_r.get("failed") or 0) + (raw_r.get("aborted") or 0)
            rows.append([NAMES[c],
                         fmt(b["lat_p50_us"] / 1000, 1) if b else "-",
                         fmt(b["lat_p99_us"] / 1000, 1) if b else "-",
                         fmt(m["lat_p50_us"] / 1000, 1) if m else "-",
                         fmt(m["lat_p99_us"] / 1000, 1) if m else "-",
                         fmt(raw_r.get("sessions")) + (f" ({fmt(m['per_s'])}/s)" if m else ""),
                         fmt(lost),
                         fmt(r.get("hold_cpu_pct"), 1),
                         f"{fmt(idle.get('still_open'))} / {fmt(r.get('idle_n'))}",
                         f"{fmt(stall.get('still_open'))} / {fmt(r.get('stall_n'))}"])
        md.append(table(["contender", "alone p50 ms", "alone p99 ms", "loaded p50 ms",
                         "loaded p99 ms", "loaded sessions", "failed or timed out",
                         "holding CPU %", "idle held", "stalled held"], rows))
        bad = [c for c in ORDER if c in det["loaded"]
               and not metrics(det["loaded"][c].get("result"))]
        if bad:
            md.append("\nNo fresh handshake completed beside the held sessions for: "
                      + ", ".join(NAMES[c] for c in bad) + ".")
        md.append("")

    if det["cpu"]:
        md.append("### CPU per full handshake by concurrency\n")
        md.append("loadgen tls -C N: full TLS 1.3 ECDSA handshakes, one small request "
                  "each, N connections in flight all the time; the terminator's CPU time "
                  "(all its processes and threads) over the measured window per completed "
                  "session. At 1,000 connections and more the window is at least 5 s and a "
                  "session may take up to 30 s. The rate is the load side's limit "
                  "(load generator CPU %), the CPU per handshake is the terminator's.\n")
        concs = sorted(det["cpu"])
        rows = []
        for c in ORDER:
            if not any(c in det["cpu"][n] for n in concs):
                continue
            r = [NAMES[c]]
            for n in concs:
                m = metrics(det["cpu"][n].get(c, {}).get("result"))
                if m:
                    r.append(f"{fmt(m.get('cpu_us_per_op'))} µs, {fmt(m['per_s'])}/s, "
                             f"p99 {fmt(m['lat_p99_us'] / 1000, 0)} ms, "
                             f"{fmt(m['errors'])} failed, lg {fmt(m.get('loadgen_cpu_pct'))}%")
                else:
                    e = (det["cpu"][n].get(c, {}).get("result") or {}).get("error", "no result")
                    r.append("- (" + str(e)[:60] + ")")
            vals = [fig.get(f"cpu_{n}", {}).get(c) for n in concs]
            vals = [v for v in vals if v]
            r.append(f"{max(vals) / min(vals):.2f}x" if len(vals) > 1 else "-")
            rows.append(r)
        md.append(table(["contender"] + [f"{n:,} connections" for n in concs]
                        + ["highest / lowest CPU"], rows))
        md.append("")
    return md, fig, det


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meta", required=True)
    ap.add_argument("--bound", required=True, nargs="+")
    ap.add_argument("--raw", required=True)
    ap.add_argument("--rss", required=True)
    ap.add_argument("--capacity", default=None)
    ap.add_argument("--notes", required=True)
    ap.add_argument("--loadavg-end", default="")
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    a = ap.parse_args()

    meta = json.load(open(a.meta))
    meta["loadavg_end"] = a.loadavg_end
    # The bound ran once per round: per case, the median of the runs.
    runs = [json.load(open(f)) for f in a.bound]
    bound = {"openssl": runs[0].get("openssl"), "runs": len(runs)}
    for k in runs[0]:
        if isinstance(runs[0][k], dict):
            bound[k] = {f: med([r[k][f] for r in runs if k in r])
                        for f in ("server_us", "server_us_min", "client_us")}
    raw = load_jsonl(a.raw)
    rss = load_jsonl(a.rss)
    cap = load_jsonl(a.capacity) if a.capacity else []
    notes = [n for n in open(a.notes).read().splitlines() if n.strip()]
    agg = aggregate(raw)
    variants = [v for v in ("pinned", "shared") if v in agg]

    md = []
    md.append("# Benchmark results\n")
    md.append(f"- Date: {meta['date']} ({meta['mode']} mode: {meta['rounds']} round(s), "
              f"{meta['duration_s']} s per measurement, {meta['concurrency']} sessions "
              "in flight for handshake figures)")
    md.append(f"- Machine: {meta['nproc']} CPUs, {meta['cpu']}, kernel {meta['kernel']}, "
              f"{meta['openssl']}")
    md.append(f"- Load average at start / end: {meta['loadavg_start']} / {meta['loadavg_end']}. "
              "**The machine is shared with other work**: absolute numbers are noise; "
              "read the ratios, which come from the same run with the contenders "
              "alternating (order rotated every round) and are medians of the rounds.")
    md.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    md.append("- Settings for every contender: TLS 1.3 (TLS 1.2 where named), X25519, "
              "TLS_AES_128_GCM_SHA256 / ECDHE-*-AES128-GCM-SHA256, an ECDSA P-256 and an "
              "RSA-2048 certificate (one port each), the same plaintext nginx backend "
              "(128 B and 1 MiB objects), one worker process/thread per core where the "
              "program has the knob (our daemon: its default pool of 2 x CPUs + 2 worker "
              f"threads, {2 * meta['nproc'] + 2} here, sized for CPU work: a session "
              "holds a worker only while it has work, idle and slow ones wait in one "
              "epoll set). "
              "Each connection of the handshake figures sends a small HTTP request "
              "and reads the answer to the end (Connection: close).")
    md.append("- *pinned*: terminator on CPU 0, load generator and backend on CPU 1; "
              "*shared*: no pinning.")
    md.append("- Ratios in parentheses are contender / ours. For rates (hs/s, MB/s) above 1 "
              "means the contender is faster; for costs (CPU, RSS, latency) above 1 means "
              "it costs more than ours.")
    if notes:
        md.append("- Notes: " + "; ".join(notes))
    md.append("")

    md.append("## In-process bound (bench/bound.c)\n")
    md.append("OpenSSL's own server-side CPU cost per handshake on this machine "
              "(client and server in one thread over a memory BIO pair; no sockets), "
              f"median of {bound['runs']} runs (one per round, on the terminator's CPU).\n")
    brows = []
    for k in ("ecdsa_full13", "rsa_full13", "ecdsa_full12", "rsa_full12",
              "resumed13", "resumed12_ticket", "resumed12_id"):
        if k in bound:
            brows.append([k, fmt(bound[k]["server_us"], 1), fmt(bound[k]["client_us"], 1)])
    md.append(table(["case", "server µs/handshake", "client µs (reference)"], brows))
    md.append("")

    tcp_tests = [("full_ecdsa", "full ECDSA"), ("full_rsa", "full RSA"),
                 ("full12_ecdsa", "full TLS1.2 ECDSA"), ("res12_ticket", "resumed 1.2 ticket"),
                 ("res12_id", "resumed 1.2 id"), ("res13", "resumed 1.3")]
    for v in variants:
        av = agg[v]
        ours_c = av.get("ours", {})
        tcp = [c for c in ORDER if c in av and c != "postfix" and "full_ecdsa" in av[c]]
        md.append(f"## TCP frontends, {v}\n")
        md.append("Handshakes per second (loadgen, one handshake per connection):\n")
        rows = []
        for c in tcp:
            r = [NAMES[c]]
            for t, _ in tcp_tests:
                r.append(cell(av[c], ours_c, t, "per_s", is_ours=(c == "ours")))
            r.append(cell(av[c], ours_c, "bulk", "mb_per_s", 0, is_ours=(c == "ours")))
            r.append(cell(av[c], ours_c, "wrk_close", "per_s", is_ours=(c == "ours")))
            rows.append(r)
        md.append(table(["contender"] + [n + " hs/s" for _, n in tcp_tests] +
                        ["bulk MB/s (wrk keep-alive, 1 MiB)", "wrk Connection: close req/s"], rows))
        md.append("")
        md.append("Terminator CPU (all its processes and threads, /proc utime+stime) and latency:\n")
        rows = []
        for c in tcp:
            o = c == "ours"
            r = [NAMES[c],
                 cell(av[c], ours_c, "full_ecdsa", "cpu_us_per_op", is_ours=o),
                 cell(av[c], ours_c, "full_rsa", "cpu_us_per_op", is_ours=o),
                 cell(av[c], ours_c, "full12_ecdsa", "cpu_us_per_op", is_ours=o),
                 cell(av[c], ours_c, "res12_ticket", "cpu_us_per_op", is_ours=o),
                 cell(av[c], ours_c, "res12_id", "cpu_us_per_op", is_ours=o),
                 cell(av[c], ours_c, "res13", "cpu_us_per_op", is_ours=o),
                 cell(av[c], ours_c, "bulk", "cpu_us_per_mb", is_ours=o),
                 cell(av[c], ours_c, "full_ecdsa", "lat_p50_us", 1, 0.001, is_ours=o),
                 cell(av[c], ours_c, "full_ecdsa", "lat_p99_us", 1, 0.001, is_ours=o),
                 fmt(av[c].get("full_ecdsa", {}).get("loadgen_cpu_pct"))]
            rows.append(r)
        md.append(table(["contender", "CPU µs/hs full ECDSA", "full RSA", "full 1.2",
                         "res 1.2 ticket", "res 1.2 id", "res 1.3", "CPU µs/MB bulk",
                         "hs p50 ms (ECDSA)", "hs p99 ms (ECDSA)",
                         "load generator CPU % (ECDSA)"], rows))
        md.append("\nA load generator near 100% means the rate above was limited by the "
                  "load side (a TLS client costs more CPU than the server for ECDSA: see "
                  "the bound), not by the terminator; CPU per handshake does not depend "
                  "on that.\n")
        md.append("")
        if "ours" in av:
            md.append("Our CPU per handshake against the in-process bound:\n")
            rows = []
            for t, b in (("full_ecdsa", "ecdsa_full13"), ("full_rsa", "rsa_full13"),
                         ("full12_ecdsa", "ecdsa_full12"), ("res13", "resumed13"),
                         ("res12_ticket", "resumed12_ticket"), ("res12_id", "resumed12_id")):
                ov = av["ours"].get(t, {}).get("cpu_us_per_op")
                bv = bound.get(b, {}).get("server_us")
                rows.append([t, fmt(ov, 0), fmt(bv, 1),
                             f"{ov / bv:.2f}x" if ov and bv else "-"])
            md.append(table(["test", "ours µs", "bound µs", "ours / bound"], rows))
            md.append("")

        hand = [c for c in ("ours", "postfix") if c in av and "h_full_ecdsa" in av[c]]
        if hand:
            md.append(f"## Hand-off socket (postscreen's protocol), {v}\n")
            rows = []
            for c in hand:
                o = c == "ours"
                rows.append([NAMES[c],
                             cell(av[c], ours_c, "h_full_ecdsa", "per_s", is_ours=o),
                             cell(av[c], ours_c, "h_full_ecdsa", "lat_p50_us", 1, 0.001, is_ours=o),
                             cell(av[c], ours_c, "h_full_ecdsa", "lat_p99_us", 1, 0.001, is_ours=o),
                             cell(av[c], ours_c, "h_full_ecdsa", "sess_p50_us", 1, 0.001, is_ours=o),
                             cell(av[c], ours_c, "h_full_ecdsa", "sess_p99_us", 1, 0.001, is_ours=o),
                             cell(av[c], ours_c, "h_full_ecdsa", "cpu_us_per_op", is_ours=o),
                             cell(av[c], ours_c, "h_full_rsa", "per_s", is_ours=o),
                             cell(av[c], ours_c, "h_res13", "per_s", is_ours=o),
                             cell(av[c], ours_c, "h_bulk", "mb_per_s", is_ours=o)])
            md.append(table(["contender", "full ECDSA sessions/s", "hs p50 ms", "hs p99 ms",
                             "session p50 ms", "session p99 ms", "CPU µs/session",
                             "full RSA sessions/s", "resumed 1.3 sessions/s",
                             "bulk MB/s (1 MiB each way)"], rows))
            md.append("\nA hand-off session: connect, announcement, request, status, "
                      "descriptor, TLS handshake, 64 bytes each way, the local side closes. "
                      "Handshake latency runs from connect() to the TLS client's "
                      "handshake end.")
            slow = [c for c in hand if (av[c].get("h_full_ecdsa", {}).get("sess_p50_us") or 0) >= 35000]
            if slow:
                md.append(f"{', '.join(NAMES[c] for c in slow)}: session p50 of 40 ms or "
                          "more. The last small TLS record of a session waits for the "
                          "client's delayed ACK while Nagle's algorithm is on for the passed "
                          "socket (postscreen does not set TCP_NODELAY on it), so the rate is "
                          f"capped near {meta['concurrency']} / p50; CPU per session is then "
                          "the better comparison.")
            md.append("")

        smtp = [c for c in ("ours", "stunnel") if c in av and "smtp" in av[c]]
        if smtp:
            e = av[smtp[0]]["smtp"]
            size = e.get("msg_body_bytes")
            md.append(f"## SMTP STARTTLS frontend, {v}\n")
            md.append("One message per connection (loadgen smtp, one command at a time): "
                      "greeting, EHLO, STARTTLS, TLS 1.3 handshake (ECDSA, X25519), EHLO, "
                      "MAIL, RCPT, DATA, "
                      + (f"{size:,.0f}-byte body" if size is not None else "the body")
                      + " (dot-stuffed) and CRLF.CRLF, QUIT; both frontends in front of the "
                      "same plaintext SMTP sink (bench/smtpsink.c). Ours: a listener with "
                      "`starttls = \"smtp\"` at level may (the sink's EHLO reply gets "
                      "STARTTLS added); stunnel: `protocol = smtp` (it answers EHLO and "
                      "STARTTLS itself). Messages/s = sessions/s; CPU is the terminator's "
                      "only; the TLS-up latency runs from connect() to the end of the "
                      "handshake (greeting, EHLO and STARTTLS included).\n")
            rows = []
            ours_s = av.get("ours", {})
            for c in smtp:
                o = c == "ours"
                rows.append([NAMES[c] + (", starttls = smtp" if o else ", protocol = smtp"),
                             cell(av[c], ours_s, "smtp", "per_s", is_ours=o),
                             cell(av[c], ours_s, "smtp", "cpu_us_per_op", is_ours=o),
                             cell(av[c], ours_s, "smtp", "sess_p50_us", 1, 0.001, is_ours=o),
                             cell(av[c], ours_s, "smtp", "sess_p99_us", 1, 0.001, is_ours=o),
                             cell(av[c], ours_s, "smtp", "lat_p50_us", 1, 0.001, is_ours=o),
                             fmt(av[c]["smtp"].get("errors")),
                             fmt(av[c]["smtp"].get("loadgen_cpu_pct"))])
            md.append(table(["contender", "messages/s", "CPU µs/message", "session p50 ms",
                             "session p99 ms", "TLS up p50 ms", "failed sessions",
                             "load generator CPU %"], rows))
            bulk = [c for c in smtp if "smtp_bulk" in av[c]]
            if bulk:
                size = av[bulk[0]]["smtp_bulk"].get("msg_body_bytes")
                md.append("\nThe same with "
                          + (f"{size / 1048576:,.0f} MiB" if size else "large")
                          + f" messages, {meta.get('bulk_concurrency', 4)} sessions in "
                          "flight, so the message content dominates (ours follows DATA "
                          "content to its end, stunnel relays bytes unparsed):\n")
                rows = []
                for c in bulk:
                    o = c == "ours"
                    rows.append([NAMES[c] + (", starttls = smtp" if o else ", protocol = smtp"),
                                 cell(av[c], ours_s, "smtp_bulk", "mb_per_s", is_ours=o),
                                 cell(av[c], ours_s, "smtp_bulk", "cpu_us_per_mb", is_ours=o),
                                 fmt(av[c]["smtp_bulk"].get("errors"))])
                md.append(table(["contender", "MB/s", "CPU µs/MB", "failed sessions"], rows))
            st = av.get("stunnel", {}).get("smtp", {})
            if (st.get("sess_p50_us") or 0) >= 200000:
                md.append("\nstunnel waits 200 ms at the start of every session before it "
                          "relays the greeting (with protocol = smtp it first checks that "
                          "the client stays silent, to tell STARTTLS from implicit TLS), "
                          f"so with {meta['concurrency']} sessions in flight its rate is "
                          f"capped near {meta['concurrency']} / session p50; CPU per "
                          "message is the better comparison.")
            md.append("")

    if rss:
        md.append("## RSS per idle established session\n")
        md.append("N idle TLS 1.3 (ECDSA) sessions held open; (RSS of the terminator's "
                  "processes with them - RSS before) / N, after a warm-up, 10 s after the last "
                  "session opened.\n")
        ns = sorted({r["n"] for r in rss})
        by = {}
        for r in rss:
            if r.get("opened") == r["n"]:
                by.setdefault(r["contender"], {})[r["n"]] = (r["rss_kib"] - r["rss_base_kib"]) / r["n"]
        rows = []
        for c in ORDER:
            if c not in by:
                continue
            row = [NAMES[c]]
            for n in ns:
                vv = by[c].get(n)
                s = fmt(vv, 1)
                o = by.get("ours", {}).get(n)
                if vv is not None and o and c != "ours":
                    s += f" ({vv / o:.2f}x)"
                row.append(s)
            rows.append(row)
        md.append(table(["contender"] + [f"KiB/session, N={n}" for n in ns], rows))
        md.append("")

    cap_md, cap_fig, cap_det = capacity_section(meta, cap, rss)
    md.extend(cap_md)

    # ------------------------------------------------------------ targets
    targets = []

    def target(name, variant, met, detail):
        targets.append({"target": name, "variant": variant,
                        "status": "not measured" if met is None else ("met" if met else "missed"),
                        "detail": detail})

    for v in variants:
        av = agg[v]
        o = av.get("ours", {})
        for kind in ("ecdsa", "rsa"):
            t = "full_" + kind
            oc = o.get(t, {}).get("cpu_us_per_op")
            peers = [(p, av[p][t]["cpu_us_per_op"]) for p in PEERS
                     if p in av and av[p].get(t, {}).get("cpu_us_per_op")]
            if not oc or not peers:
                target(f"full {kind.upper()} handshakes per CPU-second >= 1.3x best proxy",
                       v, None, "no data")
                continue
            bp, bc = min(peers, key=lambda x: x[1])
            ratio = bc / oc
            target(f"full {kind.upper()} handshakes per CPU-second >= 1.3x best proxy", v,
                   ratio >= 1.3,
                   f"ours {1e6 / oc:,.0f}/CPU-s ({oc:.0f} µs), best {NAMES[bp]} "
                   f"{1e6 / bc:,.0f}/CPU-s ({bc:.0f} µs): {ratio:.2f}x")
        for t in ("h_full_ecdsa", "h_full_rsa"):
            oo, pp = o.get(t, {}), av.get("postfix", {}).get(t, {})
            name = f"hand-off {t[7:].upper()} >= 1.5x Postfix tlsproxy, lower p99"
            if not oo.get("per_s") or not pp.get("per_s"):
                target(name, v, None, "Postfix tlsproxy not measured" if not pp else "no data")
                continue
            r = oo["per_s"] / pp["per_s"]
            target(name, v, r >= 1.5 and oo["lat_p99_us"] < pp["lat_p99_us"],
                   f"ours {oo['per_s']:,.0f}/s vs {pp['per_s']:,.0f}/s: {r:.2f}x; "
                   f"handshake p99 {oo['lat_p99_us'] / 1000:.1f} vs {pp['lat_p99_us'] / 1000:.1f} ms; "
                   f"session p99 {oo['sess_p99_us'] / 1000:.1f} vs {pp['sess_p99_us'] / 1000:.1f} ms")
        full = o.get("full12_ecdsa", {})
        for t in ("res12_ticket", "res12_id"):
            e = o.get(t, {})
            if not full.get("per_s") or not e.get("per_s"):
                target(f"TLS 1.2 resumed ({t[6:]}) >= 2x full", v, None, "no data")
                continue
            r = e["per_s"] / full["per_s"]
            cr = (full.get("cpu_us_per_op") or 0) / (e.get("cpu_us_per_op") or 1)
            target(f"TLS 1.2 resumed ({t[6:]}) >= 2x full", v, r >= 2.0,
                   f"{e['per_s']:,.0f} vs {full['per_s']:,.0f} hs/s: {r:.2f}x "
                   f"(per CPU-second: {cr:.2f}x)")
        e = o.get("res13", {})
        b = bound.get("resumed13", {}).get("server_us")
        if e.get("cpu_us_per_op") and b:
            r = e["cpu_us_per_op"] / b
            target("TLS 1.3 resumption within 10% of the in-process resumed cost", v, r <= 1.10,
                   f"ours {e['cpu_us_per_op']:.0f} µs per resumed connection vs bound "
                   f"{b:.0f} µs: {r:.2f}x")
        else:
            target("TLS 1.3 resumption within 10% of the in-process resumed cost", v, None, "no data")
        ob = o.get("bulk", {}).get("mb_per_s")
        peers = [(p, av[p]["bulk"]["mb_per_s"]) for p in PEERS
                 if p in av and av[p].get("bulk", {}).get("mb_per_s")]
        if ob and peers:
            bp, bv = max(peers, key=lambda x: x[1])
            target("bulk >= 1.2x best proxy", v, ob >= 1.2 * bv,
                   f"ours {ob:,.0f} MB/s, best {NAMES[bp]} {bv:,.0f} MB/s: {ob / bv:.2f}x")
        else:
            target("bulk >= 1.2x best proxy", v, None, "no data")
    for r in rss:
        if r["contender"] != "ours":
            continue
        if r.get("opened") != r["n"]:
            target(f"RSS per idle session <= 16 KiB (N={r['n']})", "-", None,
                   f"only {r.get('opened')} of {r['n']} sessions opened")
            continue
        k = (r["rss_kib"] - r["rss_base_kib"]) / r["n"]
        target(f"RSS per idle session <= 16 KiB (N={r['n']})", "-", k <= 16, f"{k:.1f} KiB")

    # capacity rows
    capm = meta.get("capacity", {})
    if cap:
        name = "fresh handshake p50 and p99 beside held sessions within 2x of HAProxy's"
        o50, h50 = (cap_fig.get("loaded_p50", {}).get(k) for k in ("ours", "haproxy"))
        o99, h99 = (cap_fig.get("loaded_p99", {}).get(k) for k in ("ours", "haproxy"))
        if None in (o50, h50, o99, h99):
            target(name, "capacity", None, "no data (HAProxy or ours not measured)")
        else:
            target(name, "capacity", o50 <= 2 * h50 and o99 <= 2 * h99,
                   f"p50 ours {o50:.1f} ms vs HAProxy {h50:.1f} ms ({o50 / h50:.2f}x), "
                   f"p99 {o99:.1f} vs {h99:.1f} ms ({o99 / h99:.2f}x)")
        concs = capm.get("cpu_concs", [])
        ov = [(n, cap_fig.get(f"cpu_{n}", {}).get("ours")) for n in concs]
        ov = [(n, v) for n, v in ov if v]
        name = ("CPU per full handshake flat within ±10% across "
                + ", ".join(f"{n:,}" for n in concs) + " connections (ours)")
        if len(ov) < 2:
            target(name, "capacity", None, "no data")
        else:
            ref = ov[0][1]
            worst = max(abs(v / ref - 1) for _, v in ov)
            target(name, "capacity", worst <= 0.10,
                   ", ".join(f"{n:,}: {v:.0f} µs" for n, v in ov)
                   + f"; largest deviation from {ov[0][0]:,}: {worst * 100:.0f}%")
        for n in concs:
            vals = cap_fig.get(f"cpu_{n}", {})
            o = vals.get("ours")
            bp, bv = best_peer(vals, False)
            name = f"full ECDSA handshakes per CPU-second at {n:,} connections >= 1.0x best proxy"
            if not o or not bp:
                target(name, "capacity", None, "no data")
                continue
            target(name, "capacity", bv / o >= 1.0,
                   f"ours {1e6 / o:,.0f}/CPU-s ({o:.0f} µs), best {NAMES[bp]} "
                   f"{1e6 / bv:,.0f}/CPU-s ({bv:.0f} µs): {bv / o:.2f}x")

    md.append("## Targets\n")
    md.append(table(["target", "variant", "status", "figures"],
                    [[t["target"], t["variant"], t["status"], t["detail"]] for t in targets]))
    md.append("")
    problems = []
    for v in variants:
        for c, tests in agg[v].items():
            for t, e in tests.items():
                if e.get("good_rounds", 0) < e.get("rounds", 0) or e.get("errors"):
                    problems.append(f"{v}/{c}/{t}: {e.get('good_rounds')}/{e.get('rounds')} rounds "
                                    f"with results, {e.get('errors', 0)} failed sessions"
                                    + (f" ({e['error']})" if e.get("error") else ""))
    if problems:
        md.append("## Measurement problems\n")
        md.extend("- " + p for p in problems)
        md.append("")

    text = "\n".join(md) + "\n"
    with open(a.md, "w") as f:
        f.write(text)
    with open(a.json, "w") as f:
        json.dump({"meta": meta, "notes": notes, "bound": bound, "medians": agg,
                   "rss": rss, "capacity": {"figures": cap_fig, "raw": cap},
                   "targets": targets, "raw": raw}, f, indent=1)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
