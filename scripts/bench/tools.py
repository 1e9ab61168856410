#!/usr/bin/env python3
"""Benchmarks of the sv tools against their baselines, run by scripts/bench.sh.

Each benchmark starts its own sv-emulator, runs the real binaries and prints one Markdown
section: the figures, the baseline, the ratio, and the peak RSS (GNU time). Usage:

    tools.py BIN_DIR plan|health|deploy [N]
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ACCOUNT = "5e1f0c0ffee0a11ce5e1f0c0ffee0a11"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Emulator:
    def __init__(self, bin_dir, *args):
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "sv-emulator"), "--listen", "127.0.0.1:0", "--in-memory",
             "--account-id", ACCOUNT, *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise SystemExit(f"sv-emulator did not start: {line!r}")
        self.url = line[len("listening on "):]

    def env(self):
        env = dict(os.environ)
        for k in ("GITHUB_ACTIONS", "SV_ENV", "SV_CONFIG", "SV_FORMAT"):
            env.pop(k, None)
        env.update({
            "CLOUDFLARE_API_BASE_URL": self.url + "/client/v4",
            "CLOUDFLARE_API_TOKEN": "bench-token",
            "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
            "GITHUB_API_URL": self.url + "/github",
            "NO_COLOR": "1",
            "USER": os.environ.get("USER", "bench"),
        })
        return env

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def timed(cmd, cwd, env, check=True):
    """Runs cmd under GNU time; returns (seconds, peak RSS MiB, stdout, stderr)."""
    with tempfile.NamedTemporaryFile("r") as t:
        start = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t.name, *cmd], cwd=cwd, env=env,
                           capture_output=True, text=True)
        secs = time.monotonic() - start
        rss_kb = int((t.read().strip().splitlines() or ["0"])[-1] or 0)
    if check and p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return secs, rss_kb / 1024, p.stdout, p.stderr


def timed_cpu(cmd, cwd, env):
    """Runs cmd under GNU time; returns (seconds, peak RSS MiB, user+system CPU seconds)."""
    with tempfile.NamedTemporaryFile("r") as t:
        start = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", t.name, *cmd], cwd=cwd,
                           env=env, capture_output=True, text=True)
        secs = time.monotonic() - start
        rss_kb, user, system = (t.read().strip().splitlines() or ["0 0 0"])[-1].split()
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return secs, int(rss_kb) / 1024, float(user) + float(system)


def requests_of(stderr):
    m = re.search(r"with (\d+) API request", stderr)
    return int(m.group(1)) if m else None


def plan_bench(bin_dir, n):
    """Request count per resource for plan (baseline: one read per resource, as a
    terraform refresh does), plus plan/apply wall times."""
    kv, r2, dns = n * 6 // 10, n * 2 // 10, n - n * 6 // 10 - n * 2 // 10
    emu = Emulator(bin_dir, "--latency", "50ms", "--zone-name", "bench.example")
    try:
        work = tempfile.mkdtemp()
        lines = [f"project: bench\naccount_id: {ACCOUNT}\nstate:\n  local: .sv/state\n",
                 "environments:\n  prod:\n    prefix: \"\"\n    zone: bench.example\n",
                 "resources:\n  kv:\n"]
        lines += [f"    ns{i}: {{}}\n" for i in range(kv)]
        lines.append("  r2:\n")
        lines += [f"    bucket-{i}: {{}}\n" for i in range(r2)]
        lines.append("  dns:\n")
        lines += [f"    - {{ name: host{i}, type: A, content: 192.0.2.{i % 250 + 1} }}\n"
                  for i in range(dns)]
        with open(os.path.join(work, "sv.yaml"), "w") as f:
            f.write("".join(lines))
        env = emu.env()
        plan = [os.path.join(bin_dir, "sv-plan"), "--env", "prod"]
        s0, m0, _, e0 = timed(plan + ["plan"], work, env)
        s1, m1, _, _ = timed(plan + ["apply", "--auto-approve", "--concurrency", "32"], work, env)
        s2, m2, _, e2 = timed(plan + ["plan", "--detailed-exitcode"], work, env)
        r0, r2_ = requests_of(e0), requests_of(e2)
        shutil.rmtree(work)
    finally:
        emu.stop()
    print(f"### sv-plan: {n} resources ({kv} KV, {r2} R2, {dns} DNS), emulator latency 50 ms\n")
    print("| run | wall s | API requests | baseline (1 read per resource) | fewer requests | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    for what, s, r, m in (("plan, nothing applied", s0, r0, m0),
                          ("plan, all applied, no changes", s2, r2_, m2)):
        ratio = f"{n / r:.0f}x" if r else "?"
        print(f"| {what} | {s:.2f} | {r} | {n} | {ratio} | {m:.0f} MiB |")
    print(f"| apply --concurrency 32 ({n} creations) | {s1:.2f} | | | | {m1:.0f} MiB |\n")
    apply_200_bench(bin_dir)


def apply_200_bench(bin_dir, n=200):
    """The sv-plan issue's target: applying 200 independent creations takes at most 10x the
    latency of one creation (0.5 s at 50 ms). Times `apply PLAN` of a saved plan (state
    load, lock, freshness check, the creations, state writes, unlock)."""
    rows = []
    for concurrency in (8, 64, 200):
        emu = Emulator(bin_dir, "--latency", "50ms")
        try:
            work = tempfile.mkdtemp()
            with open(os.path.join(work, "sv.yaml"), "w") as f:
                f.write(f"project: bench\naccount_id: {ACCOUNT}\nstate:\n  local: .sv/state\n"
                        "environments:\n  prod: { prefix: \"\" }\nresources:\n  kv:\n"
                        + "".join(f"    ns{i}: {{}}\n" for i in range(n)))
            env = emu.env()
            plan = [os.path.join(bin_dir, "sv-plan"), "--env", "prod"]
            timed(plan + ["plan", "--out", "p.plan"], work, env)
            secs, rss, _, _ = timed(plan + ["apply", "p.plan", "--concurrency", str(concurrency)],
                                    work, env)
            rows.append((concurrency, secs, rss))
            shutil.rmtree(work)
        finally:
            emu.stop()
    print(f"#### sv-plan apply of {n} independent creations (KV namespaces), 50 ms latency\n")
    print("Target: at most 10x the latency of one creation (0.5 s).\n")
    print("| `--concurrency` | apply s | target met | peak RSS |")
    print("|---:|---:|---|---:|")
    for concurrency, secs, rss in rows:
        default = " (default)" if concurrency == 8 else ""
        met = "yes" if secs <= 0.5 else "**no**"
        print(f"| {concurrency}{default} | {secs:.2f} | {met} | {rss:.0f} MiB |")
    print()


def health_bench(bin_dir, n):
    """n HTTP checks: sv-health's parallel run against the same checks one at a time."""
    emu = Emulator(bin_dir, "--latency", "50ms")
    try:
        work = tempfile.mkdtemp()
        url = emu.url + "/client/v4/user/tokens/verify"
        lines = [f"project: bench\naccount_id: {ACCOUNT}\n",
                 "environments:\n  prod: { prefix: \"\" }\n", "health:\n  checks:\n"]
        # Without credentials the API answers 400 after the emulated latency: a check
        # that costs one 50 ms round trip, like a health endpoint across a network.
        lines += [f"    - {{ name: c{i}, http: \"{url}?c={i}\", expect: {{ status: 400 }} }}\n"
                  for i in range(n)]
        with open(os.path.join(work, "sv.yaml"), "w") as f:
            f.write("".join(lines))
        env = emu.env()
        base = [os.path.join(bin_dir, "sv-health"), "--env", "prod", "check", "--no-alert",
                "--history", os.path.join(work, "h.jsonl")]
        seq, mseq, _, _ = timed(base + ["--concurrency", "1"], work, env)
        par, mpar, out, _ = timed(base, work, env)
        # watch: the same checks every 10 s for 30 s (three rounds); peak RSS and the CPU
        # the whole run used, as a share of one core.
        with open(os.path.join(work, "sv.yaml")) as f:
            text = f.read().replace(" expect: { status: 400 } }", " interval: 10s, expect: { status: 400 } }")
        with open(os.path.join(work, "sv.yaml"), "w") as f:
            f.write(text)
        watch = [os.path.join(bin_dir, "sv-health"), "--env", "prod", "watch", "--for", "30s"]
        wsecs, wrss, wcpu = timed_cpu(watch, work, env)
        shutil.rmtree(work)
    finally:
        emu.stop()
    print(f"### sv-health: {n} HTTP checks, 50 ms each\n")
    print("| run | wall s | speed-up | peak RSS |")
    print("|---|---:|---:|---:|")
    print(f"| sequential (`--concurrency 1`, baseline) | {seq:.2f} | 1.00x | {mseq:.0f} MiB |")
    print(f"| sv-health check (default concurrency) | {par:.2f} | {seq / par:.1f}x | {mpar:.0f} MiB |\n")
    print(f"`sv-health watch` with the {n} checks every 10 s for {wsecs:.0f} s: peak RSS "
          f"**{wrss:.0f} MiB** (target < 50 MiB), CPU {wcpu:.1f} s = **{100 * wcpu / wsecs:.1f}% of one "
          f"core** averaged over the run, the three rounds of checks included (target < 5% "
          f"between checks).\n")


def deploy_bench(bin_dir):
    """SpaceVision deploy: the builds' sum (what a sequential pipeline spends) against the
    wall time of sv-deploy's ordered, parallel build waves, from its own JSON report."""
    emu = Emulator(bin_dir, "--zone-name", "staging.spacevision.app")
    try:
        work = tempfile.mkdtemp()
        app = os.path.join(work, "app")
        shutil.copytree(os.path.join(ROOT, "examples/spacevision"), app,
                        ignore=shutil.ignore_patterns("node_modules", "dist", ".sv", ".wrangler"))
        env = emu.env()
        subprocess.run(["npm", "install", "--offline", "--no-audit", "--no-fund", "--silent"],
                       cwd=app, env=env, check=True)
        plan = [os.path.join(bin_dir, "sv-plan"), "--env", "staging"]
        timed(plan + ["apply", "--auto-approve", "--target", "kv.sessions", "--target", "kv.cache",
                      "--target", "d1.main", "--target", "r2.uploads", "--target",
                      "pages.spacevision-web"], app, env)
        host = "spacevision-api-staging.sv-emulator.workers.dev"
        secs, rss, out, _ = timed(
            [os.path.join(bin_dir, "sv-deploy"), "--env", "staging", "--format", "json", "deploy",
             "--gate-window", "1s", "--worker-url", f"http://{host}", "--connect-to",
             emu.url[len("http://"):], "--annotate",
             'sv/response={"status":200,"body":"{\\"ok\\":true}"}'], app, env)
        report = json.loads(out)
        shutil.rmtree(work)
    finally:
        emu.stop()
    builds = report.get("builds") or []
    total = sum(b.get("duration_ms", 0) for b in builds)
    waves = {}
    for b in builds:
        waves[b.get("wave", 0)] = max(waves.get(b.get("wave", 0), 0), b.get("duration_ms", 0))
    wall = sum(waves.values())
    print("### sv-deploy: SpaceVision builds (npm workspaces)\n")
    print("| measure | ms |")
    print("|---|---:|")
    for b in builds:
        print(f"| build `{b.get('workspace')}` (wave {b.get('wave')}) | {b.get('duration_ms')} |")
    print(f"| sum of builds (sequential baseline) | {total} |")
    ratio = f"{total / wall:.2f}x" if wall else "?"
    print(f"| sv-deploy build phase (waves in order, each wave in parallel) | {wall} ({ratio}) |")
    print(f"| whole deploy incl. upload, smoke test, 1 s gates | {secs * 1000:.0f} (peak RSS {rss:.0f} MiB) |\n")


def main():
    bin_dir, what = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if what == "plan":
        plan_bench(bin_dir, n or 500)
    elif what == "health":
        health_bench(bin_dir, n or 100)
    elif what == "deploy":
        deploy_bench(bin_dir)
    else:
        raise SystemExit(f"unknown benchmark {what}")


if __name__ == "__main__":
    main()
