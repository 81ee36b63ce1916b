#!/usr/bin/env python3
"""Network-level reference statistics from the peer simulators Brian2 and NEST.

For each benchmark network (CUBA, COBA, COBAHH and Brunel 2000 model A in four
regimes) this script runs the peers with 5 seeds and writes population firing
rates and ISI irregularity to network_stats.csv. An independent simulator
(nmlc) running the same model should land within the tolerances given in
README.md. Every model follows the nmlc example of the same name in
examples/*.nml; README.md lists the exact model.

Versions used for the checked-in files: Python 3.11, Brian2 2.9.0,
nest-simulator 3.10.0, numpy 2.3.5 (bench/peers/requirements.txt).

How to run (from the repository root; the virtualenv is git-ignored):
    python3 -m venv .venv
    .venv/bin/pip install -r bench/peers/requirements.txt
    .venv/bin/python tests/reference/networks/generate_networks.py            # everything
    .venv/bin/python tests/reference/networks/generate_networks.py cuba brunel_g5_eta2
    .venv/bin/python tests/reference/networks/generate_networks.py --seeds 1 2

Brian2 runs on its cpp_standalone device (C++ build per network, reused
between seeds in $NMLC_PEER_BUILD or /tmp/nmlc-peer-build), single-threaded;
NEST runs single-threaded. Each run is a separate Python process so that the
standalone device starts clean.

The module is also imported by bench/run_peers.py (same models, timed).

Statistics (function `population_stats`), identical for every simulator:
  * spike times use the nmlc/NEST convention: a spike is stamped at the END
    of the step in which the threshold was crossed. Brian2 stamps the start of
    that step, so dt is added to Brian2's times before anything else.
  * the first 100 ms are a transient: only spikes with 100 ms < t <= 1000 ms
    count (T = 0.9 s).
  * rate_hz = spikes in the window / (population size * T).
  * cv_isi: per neuron with at least 2 spikes in the window, std(ISI) /
    mean(ISI) (population std, ddof = 0; a neuron with exactly 2 spikes has
    one ISI and CV 0); cv_isi_mean and cv_isi_median over those neurons;
    n_neurons_with_2plus_spikes is how many neurons that is.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DT_MS = 0.1
DURATION_MS = 1000.0
TRANSIENT_MS = 100.0
SEEDS = [1, 2, 3, 4, 5]

# Brunel (2000) model A regimes documented in examples/brunel2000.nml.
BRUNEL_REGIMES = {
    "brunel_g5_eta2": (5.0, 2.0),     # asynchronous irregular (the example's default)
    "brunel_g3_eta2": (3.0, 2.0),     # synchronous regular
    "brunel_g6_eta4": (6.0, 4.0),     # asynchronous irregular, high rate
    "brunel_g4.5_eta0.9": (4.5, 0.9),  # synchronous irregular, slow oscillation
}
NETWORKS = ["cuba", "coba", "cobahh"] + list(BRUNEL_REGIMES)
# (network) -> simulators that produce reference statistics
SIMULATORS = {n: ["brian2"] + (["nest"] if n.startswith("brunel") else []) for n in NETWORKS}


def n_exc_total(network, n=None):
    if network.startswith("brunel"):
        return 10000, 12500
    n = n or 4000
    return int(0.8 * n), n


# ---------------------------------------------------------------------------
# statistics


def population_stats(senders, times_ms, lo, hi, t0=TRANSIENT_MS, t1=DURATION_MS):
    """Rate and ISI CV of neurons lo..hi-1, spikes stamped at step end."""
    senders = np.asarray(senders, dtype=np.int64)
    times_ms = np.asarray(times_ms, dtype=float)
    eps = 1e-6
    m = (times_ms > t0 + eps) & (times_ms <= t1 + eps) & (senders >= lo) & (senders < hi)
    s, t = senders[m], times_ms[m]
    n_pop = hi - lo
    rate = len(s) / (n_pop * (t1 - t0) / 1000.0)
    order = np.lexsort((t, s))
    s, t = s[order], t[order]
    cvs = []
    if len(s):
        bounds = np.flatnonzero(np.diff(s)) + 1
        for ts in np.split(t, bounds):
            if len(ts) >= 2:
                isi = np.diff(ts)
                cvs.append(isi.std() / isi.mean())
    cvs = np.array(cvs)
    return {
        "rate_hz": rate,
        "cv_isi_mean": float(cvs.mean()) if len(cvs) else float("nan"),
        "cv_isi_median": float(np.median(cvs)) if len(cvs) else float("nan"),
        "n_neurons_with_2plus_spikes": int(len(cvs)),
    }


def all_population_stats(network, senders, times_ms, n=None):
    ne, nt = n_exc_total(network, n)
    return {
        "exc": population_stats(senders, times_ms, 0, ne),
        "inh": population_stats(senders, times_ms, ne, nt),
        "all": population_stats(senders, times_ms, 0, nt),
    }


# ---------------------------------------------------------------------------
# Brian2 models (cpp_standalone)


def brian2_build(network, seed, n=None, p=None):
    """Create the Brian2 objects of `network` in the current (magic) network.

    Returns (Network, spike monitor, synapse objects or their number, number of neurons)."""
    import brian2 as b
    from brian2 import ms, mV, nS, pF, Hz, umetre, cm, siemens, msiemens, ufarad

    b.seed(seed)
    if network == "cuba":
        n = n or 4000
        p = p if p is not None else 0.02
        ne = int(0.8 * n)
        ns = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, Vt=-50 * mV, Vr=-60 * mV,
                  El=-49 * mV, we=(60 * 0.27 / 10) * mV, wi=(-20 * 4.5 / 10) * mV)
        eqs = """
        dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
        dge/dt = -ge/taue : volt
        dgi/dt = -gi/taui : volt
        """
        P = b.NeuronGroup(n, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms,
                          method="exact", namespace=ns, name="P")
        P.v = "Vr + rand() * (Vt - Vr)"
        P.ge = 0 * mV
        P.gi = 0 * mV
        syn = ei_synapses(P, ne, p, ns)
    elif network == "coba":
        n = n or 4000
        p = p if p is not None else 0.02
        ne = int(0.8 * n)
        # examples/coba.nml: CobaLIF in nS with g_L = 10 nS, C = 200 pF.
        ns = dict(C=200 * pF, gl=10 * nS, taue=5 * ms, taui=10 * ms, Vt=-50 * mV,
                  Vr=-60 * mV, El=-60 * mV, Ee=0 * mV, Ei=-80 * mV, we=6 * nS, wi=67 * nS)
        eqs = """
        dv/dt = (gl*(El-v) + ge*(Ee-v) + gi*(Ei-v))/C : volt (unless refractory)
        dge/dt = -ge/taue : siemens
        dgi/dt = -gi/taui : siemens
        """
        P = b.NeuronGroup(n, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms,
                          method="exponential_euler", namespace=ns, name="P")
        P.v = "El + (randn()*5 - 5)*mV"          # normal(-65 mV, 5 mV)
        P.ge = "(randn()*1.5 + 4)*10*nS"         # normal(40 nS, 15 nS)
        P.gi = "(randn()*12 + 20)*10*nS"         # normal(200 nS, 120 nS)
        syn = ei_synapses(P, ne, p, ns)
    elif network == "cobahh":
        n = n or 4000
        p = p if p is not None else 0.02
        ne = int(0.8 * n)
        area = 20000 * umetre ** 2
        ns = dict(Cm=(1 * ufarad * cm ** -2) * area, gl=(5e-5 * siemens * cm ** -2) * area,
                  El=-60 * mV, EK=-90 * mV, ENa=50 * mV,
                  g_na=(100 * msiemens * cm ** -2) * area, g_kd=(30 * msiemens * cm ** -2) * area,
                  VT=-63 * mV, taue=5 * ms, taui=10 * ms, Ee=0 * mV, Ei=-80 * mV,
                  we=6 * nS, wi=67 * nS)
        eqs = """
        dv/dt = (gl*(El-v)+ge*(Ee-v)+gi*(Ei-v)-
                 g_na*(m*m*m)*h*(v-ENa)-
                 g_kd*(n*n*n*n)*(v-EK))/Cm : volt
        dm/dt = alpha_m*(1-m)-beta_m*m : 1
        dn/dt = alpha_n*(1-n)-beta_n*n : 1
        dh/dt = alpha_h*(1-h)-beta_h*h : 1
        dge/dt = -ge*(1./taue) : siemens
        dgi/dt = -gi*(1./taui) : siemens
        alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV-v+VT)/(4*mV))/ms : Hz
        beta_m = 0.28*(mV**-1)*5*mV/exprel((v-VT-40*mV)/(5*mV))/ms : Hz
        alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
        beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
        alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV-v+VT)/(5*mV))/ms : Hz
        beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
        """
        P = b.NeuronGroup(n, eqs, threshold="v>-20*mV", refractory=3 * ms,
                          method="exponential_euler", namespace=ns, name="P")
        P.v = "El + (randn() * 5 - 5)*mV"
        P.ge = "(randn() * 1.5 + 4) * 10.*nS"
        P.gi = "(randn() * 12 + 20) * 10.*nS"
        syn = ei_synapses(P, ne, p, ns)
    elif network.startswith("brunel"):
        g, eta = BRUNEL_REGIMES[network]
        NE, NI = 10000, 2500
        n = NE + NI
        CE, CI = 1000, 250
        J, D, tau, theta = 0.1, 1.5, 20.0, 20.0
        nu_thr = theta / (J * CE * tau)            # spikes per ms = 10 Hz
        nu_ext = eta * nu_thr * 1000.0 * Hz
        ns = dict(tau=tau * ms, theta=theta * mV, Vr=10 * mV, J=J * mV, g=g)
        P = b.NeuronGroup(n, "dv/dt = -v/tau : volt (unless refractory)",
                          threshold="v >= theta", reset="v = Vr", refractory=2 * ms,
                          method="exact", namespace=ns, name="P")
        P.v = 0 * mV
        pre_e, post_e = fixed_indegree(NE, n, CE, 0, np.random.default_rng([seed, 1]))
        pre_i, post_i = fixed_indegree(NI, n, CI, NE, np.random.default_rng([seed, 2]))
        # Input arriving during refractoriness is dropped (NEST iaf_psc_delta, nmlc clamp).
        Se = b.Synapses(P[:NE], P, on_pre="v_post += J*int(not_refractory_post)",
                        delay=D * ms, namespace=ns, name="Se")
        Si = b.Synapses(P[NE:], P, on_pre="v_post += -g*J*int(not_refractory_post)",
                        delay=D * ms, namespace=ns, name="Si")
        Se.connect(i=pre_e, j=post_e)
        Si.connect(i=pre_i, j=post_i)
        ext = b.PoissonInput(P, "v", CE, nu_ext, weight=f"{J!r}*mV*int(not_refractory)")
        nsyn = len(pre_e) + len(pre_i)
        mon = b.SpikeMonitor(P, name="spikes")
        return b.Network(P, Se, Si, ext, mon), mon, nsyn, n
    else:
        raise ValueError(network)
    mon = b.SpikeMonitor(P, name="spikes")
    return b.Network(P, *syn, mon), mon, syn, n


def ei_synapses(P, ne, p, ns):
    """Brian2 `connect(p=p)` from P[:ne] (ge += we) and P[ne:] (gi += wi) to
    all of P, autapses allowed, no delay."""
    import brian2 as b

    syn = []
    for name, src, code in (("Ce", P[:ne], "ge += we"), ("Ci", P[ne:], "gi += wi")):
        S = b.Synapses(src, P, on_pre=code, namespace=ns, name=name)
        S.connect(p=p)
        syn.append(S)
    return syn


def fixed_indegree(n_pre, n_post, k, pre_offset, rng):
    """Each post neuron j gets k distinct presynaptic neurons (no multapses),
    drawn uniformly from the n_pre neurons starting at pre_offset, itself
    excluded (no autapses). Returns (pre index within the source group,
    post index)."""
    pre = np.empty((n_post, k), dtype=np.int32)
    for j in range(n_post):
        own = j - pre_offset
        if 0 <= own < n_pre:
            c = rng.choice(n_pre - 1, size=k, replace=False)
            c = c + (c >= own)
        else:
            c = rng.choice(n_pre, size=k, replace=False)
        pre[j] = np.sort(c)
    post = np.repeat(np.arange(n_post, dtype=np.int32), k)
    return pre.ravel(), post


def run_brian2(network, seed, builddir, threads=0, n=None, p=None):
    """Build and run one network on Brian2's cpp_standalone device.

    threads = 0: no OpenMP (serial code); threads >= 1: OpenMP with that many.
    Returns a dict with spikes and timings."""
    import brian2 as b

    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    b.prefs.logging.console_log_level = "WARNING"
    b.set_device("cpp_standalone", directory=builddir, build_on_run=False)
    b.prefs.devices.cpp_standalone.openmp_threads = threads
    rss_file = os.path.join(builddir, "maxrss_kb.txt")
    b.prefs.devices.cpp_standalone.run_cmd_unix = ["/usr/bin/time", "-f", "%M", "-o", rss_file, "./main"]
    b.defaultclock.dt = DT_MS * b.ms
    t0 = time.perf_counter()
    net, mon, syn, nn = brian2_build(network, seed, n=n, p=p)
    net.run(DURATION_MS * b.ms)
    t1 = time.perf_counter()
    b.device.build(directory=builddir, compile=True, run=False)
    t2 = time.perf_counter()
    b.device.run(directory=builddir, with_output=False)
    t3 = time.perf_counter()
    make = b.device.timers["compile"]["make"] or 0.0
    sim = float(b.device._last_run_time)
    if isinstance(syn, list):
        nsyn = int(sum(len(s) for s in syn))
    else:
        nsyn = int(syn)
    i = np.asarray(mon.i[:], dtype=np.int64)
    t = np.asarray(mon.t[:] / b.ms, dtype=float) + DT_MS   # -> end-of-step stamps
    try:
        with open(rss_file) as f:
            maxrss_kb = int(f.read().strip().splitlines()[-1])
    except Exception:
        maxrss_kb = None
    return {
        "senders": i, "times_ms": t, "n_neurons": nn, "n_synapses": nsyn,
        "codegen_s": (t1 - t0) + (t2 - t1 - make), "compile_s": make,
        "binary_s": b.device.timers["run_binary"], "sim_s": sim,
        "setup_s": b.device.timers["run_binary"] - sim, "maxrss_kb": maxrss_kb,
    }


# ---------------------------------------------------------------------------
# NEST models


def _rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_nest(network, seed, threads=1, n=None, p=None):
    import nest

    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.set(resolution=DT_MS, rng_seed=seed, local_num_threads=threads, print_time=False)
    t0 = time.perf_counter()
    rss0 = _rss_kb()
    if network.startswith("brunel"):
        g, eta = BRUNEL_REGIMES[network]
        NE, NI, CE, CI = 10000, 2500, 1000, 250
        J, D, tau, theta = 0.1, 1.5, 20.0, 20.0
        nu_thr = theta / (J * CE * tau)
        p_rate = 1000.0 * eta * nu_thr * CE      # Hz, summed over the C_E external synapses
        params = {"C_m": 1.0, "tau_m": tau, "t_ref": 2.0, "E_L": 0.0, "V_reset": 10.0,
                  "V_m": 0.0, "V_th": theta, "refractory_input": False}
        pop = nest.Create("iaf_psc_delta", NE + NI, params=params)
        nn = NE + NI
        E, I = pop[:NE], pop[NE:]
        noise = nest.Create("poisson_generator", params={"rate": p_rate})
        nest.Connect(noise, pop, syn_spec={"weight": J, "delay": D})
        rule = {"allow_autapses": False, "allow_multapses": False}
        nest.Connect(E, pop, {"rule": "fixed_indegree", "indegree": CE, **rule},
                     {"weight": J, "delay": D})
        nest.Connect(I, pop, {"rule": "fixed_indegree", "indegree": CI, **rule},
                     {"weight": -g * J, "delay": D})
    elif network == "cuba":
        # Same dynamics as Brian2's CUBA with currents: I = ge * C_m / tau_m.
        n = n or 4000
        p = p if p is not None else 0.02
        ne = int(0.8 * n)
        C = 200.0
        params = {"C_m": C, "tau_m": 20.0, "tau_syn_ex": 5.0, "tau_syn_in": 10.0,
                  "t_ref": 5.0, "E_L": -49.0, "V_th": -50.0, "V_reset": -60.0}
        pop = nest.Create("iaf_psc_exp", n, params=params)
        pop.V_m = nest.random.uniform(-60.0, -50.0)
        nn = n
        conn = {"rule": "pairwise_bernoulli", "p": p, "allow_autapses": True}
        nest.Connect(pop[:ne], pop, conn, {"weight": 1.62 * C / 20.0, "delay": DT_MS})
        nest.Connect(pop[ne:], pop, conn, {"weight": -9.0 * C / 20.0, "delay": DT_MS})
    elif network == "cobahh":
        # NEST's hh_cond_exp_traub is the Brette et al. (2007) COBAHH neuron
        # (defaults: g_Na 20 uS, g_K 6 uS, g_L 10 nS, C_m 200 pF, V_T -63 mV).
        n = n or 4000
        p = p if p is not None else 0.02
        ne = int(0.8 * n)
        pop = nest.Create("hh_cond_exp_traub", n, params={"t_ref": 3.0})
        pop.V_m = nest.random.normal(-65.0, 5.0)
        # NEST does not let the synaptic conductances be set: they start at 0
        # (Brian2: normal(40 nS, 15 nS) and normal(200 nS, 120 nS)). Gates start
        # at 0 as in Brian2. Used only for timing (bench/run_peers.py).
        pop.set(Act_m=0.0, Inact_h=0.0, Act_n=0.0)
        nn = n
        conn = {"rule": "pairwise_bernoulli", "p": p, "allow_autapses": True}
        nest.Connect(pop[:ne], pop, conn, {"weight": 6.0, "delay": DT_MS})
        nest.Connect(pop[ne:], pop, conn, {"weight": -67.0, "delay": DT_MS})
    else:
        raise ValueError(f"no NEST model for {network}")
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    nsyn = nest.num_connections - nn - (nn if network.startswith("brunel") else 0)
    rss1 = _rss_kb()
    t1 = time.perf_counter()
    nest.Simulate(DURATION_MS)
    t2 = time.perf_counter()
    ev = rec.events
    first = pop[0].global_id
    return {
        "senders": np.asarray(ev["senders"], dtype=np.int64) - first,
        "times_ms": np.asarray(ev["times"], dtype=float), "n_neurons": nn, "n_synapses": int(nsyn),
        "build_s": t1 - t0, "sim_s": t2 - t1, "rss_build_kb": rss1 - rss0, "maxrss_kb": _rss_kb(),
    }


# ---------------------------------------------------------------------------
# worker process: one run, results as .npz + .json


def worker(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("simulator")
    ap.add_argument("network")
    ap.add_argument("seed", type=int)
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--builddir", default=None)
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--p", type=float, default=None)
    a = ap.parse_args(argv)
    if a.simulator == "brian2":
        r = run_brian2(a.network, a.seed, a.builddir, threads=a.threads or 0, n=a.n, p=a.p)
    else:
        r = run_nest(a.network, a.seed, threads=a.threads or 1, n=a.n, p=a.p)
    np.savez(a.out + ".npz", senders=r.pop("senders"), times_ms=r.pop("times_ms"))
    with open(a.out + ".json", "w") as f:
        json.dump(r, f)


def run_in_subprocess(simulator, network, seed, threads=None, builddir=None, n=None, p=None,
                      timeout=1800):
    """Run one simulation in a fresh Python process; returns the result dict
    (with senders/times_ms) or raises RuntimeError."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r")
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", simulator, network,
               str(seed), out]
        if threads is not None:
            cmd += ["--threads", str(threads)]
        if builddir:
            cmd += ["--builddir", builddir]
        if n:
            cmd += ["--n", str(n)]
        if p is not None:
            cmd += ["--p", repr(p)]
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{simulator} {network} seed {seed} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        with open(out + ".json") as f:
            r = json.load(f)
        d = np.load(out + ".npz")
        r["senders"], r["times_ms"] = d["senders"], d["times_ms"]
        r["process_wall_s"] = wall
        return r


def default_builddir(name):
    base = os.environ.get("NMLC_PEER_BUILD", os.path.join(tempfile.gettempdir(), "nmlc-peer-build"))
    return os.path.join(base, name)


# ---------------------------------------------------------------------------
# main: all networks x simulators x seeds -> network_stats.csv


FIELDS = ["network", "simulator", "seed", "population", "rate_hz", "cv_isi_mean",
          "cv_isi_median", "n_neurons_with_2plus_spikes"]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("networks", nargs="*", default=NETWORKS, help=f"subset of {NETWORKS}")
    ap.add_argument("--seeds", nargs="*", type=int, default=SEEDS)
    ap.add_argument("--simulators", nargs="*", default=["brian2", "nest"])
    ap.add_argument("--out", default=os.path.join(HERE, "network_stats.csv"))
    ap.add_argument("--skip-done", action="store_true",
                    help="skip network/simulator/seed triples already in --out")
    a = ap.parse_args(argv)
    rows = {}
    if os.path.exists(a.out):   # keep rows of networks not rerun now
        with open(a.out) as f:
            for r in csv.DictReader(l for l in f if not l.startswith("#")):
                rows[(r["network"], r["simulator"], r["seed"], r["population"])] = r
    for net in a.networks:
        for sim in SIMULATORS[net]:
            if sim not in a.simulators:
                continue
            for seed in a.seeds:
                if a.skip_done and (net, sim, str(seed), "all") in rows:
                    continue
                t0 = time.perf_counter()
                r = run_in_subprocess(sim, net, seed,
                                      builddir=default_builddir(net) if sim == "brian2" else None)
                st = all_population_stats(net, r["senders"], r["times_ms"])
                for pop, s in st.items():
                    rows[(net, sim, str(seed), pop)] = {
                        "network": net, "simulator": sim, "seed": seed, "population": pop,
                        "rate_hz": f"{s['rate_hz']:.4f}", "cv_isi_mean": f"{s['cv_isi_mean']:.4f}",
                        "cv_isi_median": f"{s['cv_isi_median']:.4f}",
                        "n_neurons_with_2plus_spikes": s["n_neurons_with_2plus_spikes"]}
                print(f"{net:20s} {sim:6s} seed {seed}: all {st['all']['rate_hz']:.2f} Hz, "
                      f"CV {st['all']['cv_isi_mean']:.3f}, {r['n_synapses']} synapses, "
                      f"{time.perf_counter() - t0:.1f} s", flush=True)
                write_csv(a.out, rows)
    print(summary_table(rows))


def write_csv(path, rows):
    order = {n: k for k, n in enumerate(NETWORKS)}
    pops = {"exc": 0, "inh": 1, "all": 2}
    keys = sorted(rows, key=lambda k: (order.get(k[0], 99), k[1], int(k[2]), pops[k[3]]))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        for k in keys:
            w.writerow({c: rows[k][c] for c in FIELDS})


def summary_table(rows):
    """Markdown table: mean +- sd over seeds per network/simulator/population."""
    groups = {}
    for (net, sim, seed, pop), r in rows.items():
        groups.setdefault((net, sim, pop), []).append(r)
    order = {n: k for k, n in enumerate(NETWORKS)}
    pops = {"exc": 0, "inh": 1, "all": 2}
    out = ["| network | simulator | population | seeds | rate (Hz) | CV ISI mean | CV ISI median | neurons with ≥2 spikes |",
           "|---|---|---|---|---|---|---|---|"]
    for key in sorted(groups, key=lambda k: (order.get(k[0], 99), k[1], pops[k[2]])):
        rs = groups[key]

        def ms(c, fmt):
            v = np.array([float(r[c]) for r in rs])
            return f"{v.mean():{fmt}} ± {v.std(ddof=1) if len(v) > 1 else 0:{fmt}}"
        out.append(f"| {key[0]} | {key[1]} | {key[2]} | {len(rs)} | {ms('rate_hz', '.3f')} | "
                   f"{ms('cv_isi_mean', '.4f')} | {ms('cv_isi_median', '.4f')} | "
                   f"{ms('n_neurons_with_2plus_spikes', '.0f')} |")
    return "\n".join(out)


FLOORS = {"rate_hz": 0.2, "cv_isi_mean": 0.02}


def tolerance_table(rows, rel=0.10, k=3.0):
    """Recommended acceptance band for ONE run of an independent simulator:
    mean over all reference runs of the network (both simulators pooled) +-
    max(k * sd, rel * |mean|, floor), sd = seed-to-seed sd of single runs
    (pooled over simulators), floor = 0.2 Hz for rates, 0.02 for CVs."""
    groups = {}
    for (net, sim, seed, pop), r in rows.items():
        groups.setdefault((net, pop), []).append(r)
    order = {n: c for c, n in enumerate(NETWORKS)}
    pops = {"exc": 0, "inh": 1, "all": 2}
    out = ["| network | population | rate (Hz): mean ± tol [band] | rate: 3 sd / 10 % | CV ISI mean: mean ± tol [band] | CV: 3 sd / 10 % |",
           "|---|---|---|---|---|---|"]
    for key in sorted(groups, key=lambda kk: (order.get(kk[0], 99), pops[kk[1]])):
        cells = []
        for c in ("rate_hz", "cv_isi_mean"):
            v = np.array([float(r[c]) for r in groups[key]])
            m, sd = v.mean(), v.std(ddof=1)
            tol = max(k * sd, rel * abs(m), FLOORS[c])
            cells += [f"{m:.3f} ± {tol:.3f} ([{m - tol:.3f}, {m + tol:.3f}])",
                      f"{k * sd:.3f} / {rel * abs(m):.3f}"]
        out.append(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--summary":
        rows = {}
        with open(sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "network_stats.csv")) as f:
            for r in csv.DictReader(f):
                rows[(r["network"], r["simulator"], r["seed"], r["population"])] = r
        print(summary_table(rows))
        print()
        print(tolerance_table(rows))
    else:
        main(sys.argv[1:])
