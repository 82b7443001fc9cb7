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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meta", required=True)
    ap.add_argument("--bound", required=True, nargs="+")
    ap.add_argument("--raw", required=True)
    ap.add_argument("--rss", required=True)
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
              "program has the knob (our daemon: a pool of 256 session threads). "
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
            target(f"RSS per idle session <= 20 KiB (N={r['n']})", "-", None,
                   f"only {r.get('opened')} of {r['n']} sessions opened")
            continue
        k = (r["rss_kib"] - r["rss_base_kib"]) / r["n"]
        target(f"RSS per idle session <= 20 KiB (N={r['n']})", "-", k <= 20, f"{k:.1f} KiB")

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
                   "rss": rss, "targets": targets, "raw": raw}, f, indent=1)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
