#!/usr/bin/env python3
"""Time nmlc against its peers (Brian2 cpp_standalone, NEST) on network benchmarks.

Cases (the models are those of tests/reference/networks/generate_networks.py,
which follow the nmlc example files):
  cuba     examples/cuba.nml          4000 LIF, p = 0.02 (~320k synapses)
  cobahh   examples/cobahh.nml        4000 Traub-Miles HH, p = 0.02
  brunel   examples/brunel2000.nml    12500 LIF delta, C_E = 1000, C_I = 250, g = 5, eta = 2
  cuba40k  bench/networks/cuba40k.nml 40000 LIF, p = 0.002 (in-degree kept: 64 exc + 16 inh expected)

Simulators: brian2 (cpp_standalone; 1 thread = serial code without OpenMP,
2 threads = OpenMP with 2 threads), nest (local_num_threads), nmlc
(`nmlc run`, `--threads N` when the binary has that option). All runs set
OMP_WAIT_POLICY=PASSIVE. 1 s of simulated time at dt = 0.1 ms, seed 1.

Usage (from the repository root):
    python3 bench/run_peers.py                     # everything
    python3 bench/run_peers.py --cases cuba brunel --simulators nmlc nest --threads 1
    python3 bench/run_peers.py --markdown bench/results/last.md --json bench/results/last.json
    python3 bench/run_peers.py --repeat 3          # each row: the median of 3 runs

The script re-executes itself in a virtualenv with brian2 and nest: ./.venv
if it exists, else bench/.venv, which it creates from bench/peers/requirements.txt
(both are git-ignored). Brian2 builds go to bench/.build/ (git-ignored), cleaned
before each case so that the compile time is a cold compile.

Columns: build = everything before the first time step (Brian2: code
generation, C++ compile, and network setup inside the binary, listed
separately; NEST: Create + Connect; nmlc: compile + build as nmlc prints
them). sim = the time-step loop only (Brian2's own measurement of `run`,
NEST's Simulate, nmlc's "simulate"). ns/event = sim / (spikes * mean
out-degree): recurrent synaptic events only (the external Poisson drive of
brunel is not counted). ns/neuron-step = sim / (neurons * 10000 steps).
Msyn/s built = synapses / the time of the phase that builds them (nmlc:
build; Brian2: setup inside the binary, which also allocates the neurons;
NEST: Create + Connect), in millions per second.
B/syn: NEST = resident memory growth over Create+Connect / synapses; Brian2 =
peak RSS of the binary / synapses (an upper bound: it includes neurons,
monitors and the runtime); nmlc = as nmlc reports it, if it does.
ratio = nmlc sim / peer sim at the same thread count (< 1: nmlc faster).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REQ = os.path.join(HERE, "peers", "requirements.txt")

CASES = {
    # name: (network name in generate_networks, n, p, nmlc file)
    "cuba": ("cuba", None, None, "examples/cuba.nml"),
    "cobahh": ("cobahh", None, None, "examples/cobahh.nml"),
    "brunel": ("brunel_g5_eta2", None, None, "examples/brunel2000.nml"),
    "cuba40k": ("cuba", 40000, 0.002, "bench/networks/cuba40k.nml"),
}
STEPS = 10000


def ensure_venv():
    try:
        import brian2  # noqa: F401
        import nest  # noqa: F401
        return
    except Exception:
        pass
    if os.environ.get("NMLC_BENCH_REEXEC"):
        sys.exit("the virtualenv lacks brian2 or nest; reinstall with "
                 f"pip install -r {REQ}")
    for venv in (os.path.join(ROOT, ".venv"), os.path.join(HERE, ".venv")):
        py = os.path.join(venv, "bin", "python")
        if os.path.exists(py):
            break
    else:
        venv = os.path.join(HERE, ".venv")
        print(f"creating {venv} (brian2, nest-simulator, numpy<2.4)", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        py = os.path.join(venv, "bin", "python")
        subprocess.check_call([py, "-m", "pip", "install", "-q", "-r", REQ])
    env = dict(os.environ, NMLC_BENCH_REEXEC="1")
    os.execve(py, [py, os.path.abspath(__file__)] + sys.argv[1:], env)


def load_models():
    sys.path.insert(0, os.path.join(ROOT, "tests", "reference", "networks"))
    import generate_networks as gn
    return gn


# ---------------------------------------------------------------------------
# nmlc


def nmlc_command():
    exe = os.path.join(ROOT, "target", "release", "nmlc")
    if os.environ.get("NMLC"):
        return [os.environ["NMLC"]]
    if os.path.exists(exe):
        return [exe]
    return ["cargo", "run", "--release", "-q", "--features", "llvm", "--"]


def nmlc_has_threads(cmd):
    try:
        h = subprocess.run(cmd + ["run", "--help"], capture_output=True, text=True, cwd=ROOT,
                           timeout=600).stdout
    except Exception:
        return False
    return "--threads" in h


def run_nmlc(case, threads, seed, has_threads):
    _, n, p, path = CASES[case]
    cmd = nmlc_command()
    if threads > 1 and not has_threads:
        return {"status": "no --threads"}
    with tempfile.TemporaryDirectory() as out:
        args = cmd + ["run", path, "--seed", str(seed), "-o", out, "--overwrite"]
        if has_threads:
            args += ["--threads", str(threads)]
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", RAYON_NUM_THREADS=str(threads))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env,
                                  timeout=1800)
        except subprocess.TimeoutExpired:
            return {"status": "timeout"}
        wall = time.perf_counter() - t0
        text = proc.stdout + proc.stderr
        if proc.returncode != 0:
            low = text.lower()
            if "projection" in low or "connect" in low or "not supported" in low or "unsupported" in low:
                return {"status": "not supported", "detail": text.strip().splitlines()[-1:]}
            return {"status": "failed", "detail": text.strip().splitlines()[-3:]}
        r = {"status": "ok", "wall_s": wall, "log": text.strip().splitlines()}
        num = r"([0-9.eE+-]+)"
        m = re.search(r"compile " + num + r" s", text)
        r["compile_s"] = float(m.group(1)) if m else None
        m = re.search(r"build " + num + r" s", text)
        r["setup_s"] = float(m.group(1)) if m else None
        m = re.search(r"simulate " + num + r" s: .*?(\d+) spike", text)
        if m:
            r["sim_s"], r["spikes"] = float(m.group(1)), int(m.group(2))
        m = re.search(r"(\d+) synapse", text)
        r["n_synapses"] = int(m.group(1)) if m else None
        m = re.search(r"([0-9.]+) (?:bytes|B) per synapse", text)
        r["bytes_per_syn"] = float(m.group(1)) if m else None
        m = re.search(r"(\d+) neuron", text)
        r["n_neurons"] = int(m.group(1)) if m else None
        if r["n_synapses"] is None:
            # nmlc before projections were implemented ran the populations and
            # silently dropped every `connect`: that is not this benchmark.
            r["status"] = "not supported (no synapses built)"
        return r


# ---------------------------------------------------------------------------
# peers


def run_peer(gn, sim, case, threads, seed):
    net, n, p, _ = CASES[case]
    builddir = None
    if sim == "brian2":
        builddir = os.path.join(HERE, ".build", f"{case}-t{threads}")
        shutil.rmtree(builddir, ignore_errors=True)
        os.makedirs(builddir)
        th = 0 if threads == 1 else threads
    else:
        th = threads
    try:
        r = gn.run_in_subprocess(sim, net, seed, threads=th, builddir=builddir, n=n, p=p)
    except Exception as e:  # keep going: one failure must not lose the table
        return {"status": "failed", "detail": str(e)[-500:]}
    r["spikes"] = int(len(r.pop("senders")))
    r.pop("times_ms")
    r["status"] = "ok"
    return r


# ---------------------------------------------------------------------------
# table


def fmt(x, f=".2f"):
    return "—" if x is None else format(x, f)


def derived(r):
    if r.get("status") != "ok" or r.get("sim_s") is None:
        return {}
    nn, ns = r.get("n_neurons"), r.get("n_synapses")
    d = {"ns_neuron_step": r["sim_s"] * 1e9 / (nn * STEPS) if nn else None}
    if ns and nn and r.get("spikes"):
        d["events"] = r["spikes"] * ns / nn
        d["ns_event"] = r["sim_s"] * 1e9 / d["events"]
    # Synapses built per second of the phase that builds them (nmlc: build;
    # Brian2: setup inside the binary; NEST: Create + Connect).
    built_s = r.get("build_s") if "build_s" in r else r.get("setup_s")
    if ns and built_s:
        d["msyn_per_s"] = ns / built_s / 1e6
    if r.get("bytes_per_syn") is not None:
        d["bytes_per_syn"] = r["bytes_per_syn"]
    elif ns:
        if r.get("rss_build_kb") is not None:
            d["bytes_per_syn"] = r["rss_build_kb"] * 1024 / ns
        elif r.get("maxrss_kb"):
            d["bytes_per_syn"] = r["maxrss_kb"] * 1024 / ns
    return d


def table(results):
    lines = ["| case | simulator | threads | build (s) | sim (s) | spikes | synapses | ns/event | ns/neuron-step | B/syn | Msyn/s built | nmlc/peer (sim) | load before→after |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for res in results:
        r = res["result"]
        d = derived(r)
        if r.get("status") != "ok":
            build, sim = r.get("status", "?"), "—"
            r = {k: v for k, v in r.items() if k not in ("spikes", "n_synapses")}
        elif res["simulator"] == "brian2":
            build = (f"{r['codegen_s'] + r['compile_s'] + r['setup_s']:.2f} (codegen {r['codegen_s']:.2f} + "
                     f"compile {r['compile_s']:.2f} + setup {r['setup_s']:.2f})")
            sim = f"{r['sim_s']:.3f}"
        elif res["simulator"] == "nest":
            build, sim = f"{r['build_s']:.2f}", f"{r['sim_s']:.3f}"
        else:
            build = f"{(r.get('compile_s') or 0) + (r.get('setup_s') or 0):.3f}"
            sim = fmt(r.get("sim_s"), ".3f")
        ratio = "—"
        if res["simulator"] != "nmlc":
            nm = next((x["result"] for x in results if x["simulator"] == "nmlc" and x["case"] == res["case"]
                       and x["threads"] == res["threads"]), None)
            if nm is None:
                ratio = "—"
            elif nm.get("status") != "ok":
                ratio = nm.get("status")
            elif r.get("status") == "ok" and nm.get("sim_s"):
                ratio = f"{nm['sim_s'] / r['sim_s']:.2f}"
        lines.append(
            f"| {res['case']} | {res['simulator']} | {res['threads']} | {build} | {sim} | "
            f"{r.get('spikes', '—')} | {r.get('n_synapses') or '—'} | {fmt(d.get('ns_event'), '.1f')} | "
            f"{fmt(d.get('ns_neuron_step'), '.1f')} | {fmt(d.get('bytes_per_syn'), '.0f')} | "
            f"{fmt(d.get('msyn_per_s'), '.1f')} | {ratio} | "
            f"{res['load'][0]:.1f}→{res['load'][1]:.1f} |")
    return "\n".join(lines)


def machine():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


def median_run(runs):
    """The run with the median simulation time (the lower middle one of an
    even count), with every run's simulation time in `sim_all_s`."""
    timed = [r for r in runs if r.get("status") == "ok" and r.get("sim_s") is not None]
    if not timed:
        return runs[0]
    timed.sort(key=lambda r: r["sim_s"])
    r = dict(timed[(len(timed) - 1) // 2])
    r["sim_all_s"] = [x["sim_s"] for x in timed]
    return r


def main():
    ensure_venv()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--simulators", nargs="*", default=["nmlc", "brian2", "nest"],
                    choices=["nmlc", "brian2", "nest"])
    ap.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each configuration N times and report the run with the median "
                         "simulation time (all times are kept in the JSON as sim_all_s)")
    ap.add_argument("--markdown", help="also write the table (with a header) to this file")
    ap.add_argument("--json", help="also write all raw results to this file")
    a = ap.parse_args()
    gn = load_models()
    import brian2
    import nest
    versions = f"Brian2 {brian2.__version__}, NEST {nest.__version__}, Python {platform.python_version()}"
    has_threads = nmlc_has_threads(nmlc_command()) if "nmlc" in a.simulators else False
    results = []
    for case in a.cases:
        for threads in a.threads:
            for sim in a.simulators:
                load0 = os.getloadavg()[0]
                t0 = time.perf_counter()
                runs = []
                for _ in range(max(1, a.repeat)):
                    if sim == "nmlc":
                        runs.append(run_nmlc(case, threads, a.seed, has_threads))
                    else:
                        runs.append(run_peer(gn, sim, case, threads, a.seed))
                r = median_run(runs)
                load1 = os.getloadavg()[0]
                results.append({"case": case, "simulator": sim, "threads": threads,
                                "load": [load0, load1], "result": r})
                print(f"{case:8s} {sim:6s} {threads}t: {r.get('status')} "
                      f"sim {fmt(r.get('sim_s'), '.3f')} s, total {time.perf_counter() - t0:.1f} s, "
                      f"load {load0:.1f}->{load1:.1f}", flush=True)
    header = (f"Measured {datetime.datetime.now().isoformat(timespec='minutes')} on {machine()}; "
              f"{versions}; seed {a.seed}; 1 s at dt 0.1 ms; "
              f"median of {max(1, a.repeat)} run(s) per row.")
    t = table(results)
    print()
    print(header)
    print()
    print(t)
    if a.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(a.markdown)), exist_ok=True)
        with open(a.markdown, "w") as f:
            f.write(header + "\n\n" + t + "\n")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        for res in results:
            res["result"].pop("log", None)
        with open(a.json, "w") as f:
            json.dump({"header": header, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
