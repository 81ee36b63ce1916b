#!/usr/bin/env python3
"""Reference single-neuron simulations from the peer simulators Brian2 and NEST.

These CSV files are test data for nmlc: an independent implementation of the
same model, input and integration scheme should reproduce them within the
tolerances listed in tests/reference/README.md.

Versions used to produce the checked-in files (see bench/peers/requirements.txt):
    Python 3.11.7, Brian2 2.9.0, nest-simulator 3.10.0, numpy 2.3.5

How to run (from the repository root; the virtualenv is git-ignored):
    python3 -m venv .venv
    .venv/bin/pip install -r bench/peers/requirements.txt
    .venv/bin/python tests/reference/generate.py          # all files, ~9 min on 2 cores
    .venv/bin/python tests/reference/generate.py hh lif   # only some models
Models: hh, traub, izh, adex, lif, izh_nest.

Brian2 runs on its "numpy" (runtime) code-generation target, so no C++
compiler is needed. NEST runs single-threaded.

Output (all in tests/reference/; lines starting with '#' are comments that
document the exact model, parameters and method; then one header line; then
comma-separated rows; time_ms is always the first column):

  hh_classic_brian2.csv          classic Hodgkin-Huxley (1952) squid axon,
                                 10 uA/cm^2 step 10-60 ms; time_ms, V_mV (fine
                                 RK4 dt=0.001 ms), V_mV_expeuler (dt=0.01 ms)
  hh_classic_spikes_brian2.csv   upward 0 mV crossings, both runs
  traub_hh_brian2.csv            Traub & Miles HH from Brian2's COBAHH example
                                 without synapses, 0.5 nA step 10-110 ms
  traub_hh_spikes_brian2.csv     upward -20 mV crossings, both runs
  izhikevich_rs_brian2.csv       Izhikevich (2003) RS neuron, I=10;
                                 v, u from RK4 dt=0.001 ms and Euler dt=0.1 ms
  izhikevich_rs_spikes_brian2.csv
  izhikevich_rs_nest.csv         NEST `izhikevich`, same parameters, I_e=10
  izhikevich_rs_spikes_nest.csv
  adex_nest.csv                  NEST `aeif_cond_exp` defaults, 500 pA step
                                 20-220 ms; time_ms, V_m_mV, w_pA
  adex_spikes_nest.csv           NEST spike times plus a Brian2 RK4 (dt=0.001)
                                 cross-check of the same equations (500 pA is
                                 subthreshold for the defaults: no spikes)
  adex_1000pA_nest.csv           the same with a 1000 pA step (9 spikes)
  adex_1000pA_spikes_nest.csv
  lif_nest.csv                   NEST `iaf_psc_delta`, I_e=500 pA; V_m for the
                                 first 100 ms
  lif_spikes_nest.csv            all spike times in 1000 ms, plus analytic ones

Traces are sampled every 0.1 ms on the exact grid t = k * 0.1 ms (a fine run
is subsampled by taking every n-th integration step; nothing is interpolated).
Spike times of continuous crossings are linearly interpolated between the two
integration steps that bracket the crossing (fine or coarse run as stated).
"""

import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------

def versions():
    import brian2
    return (f"Python {sys.version.split()[0]}, Brian2 {brian2.__version__}, "
            f"numpy {np.__version__}")


def write_csv(name, comments, header, columns, fmts):
    """columns: list of 1-d sequences (shorter ones are padded with empty cells)."""
    path = os.path.join(HERE, name)
    n = max(len(c) for c in columns)
    with open(path, "w") as f:
        for line in comments:
            f.write(("# " + line).rstrip() + "\n")
        f.write(",".join(header) + "\n")
        for i in range(n):
            cells = []
            for col, fmt in zip(columns, fmts):
                if i < len(col) and col[i] is not None and not (
                        isinstance(col[i], float) and math.isnan(col[i])):
                    cells.append(fmt % col[i])
                else:
                    cells.append("")
            f.write(",".join(cells) + "\n")
    print(f"wrote {name}: {n} rows, {os.path.getsize(path)} bytes")


def subsample(t_ms, values, dt_ms, every_ms=0.1):
    """Take every n-th integration step, n = every_ms/dt_ms (must be an integer)."""
    n = int(round(every_ms / dt_ms))
    assert abs(n * dt_ms - every_ms) < 1e-12
    return t_ms[::n], [v[::n] for v in values]


def upward_crossings(t_ms, v, thr, rearm=None):
    """Linearly interpolated upward crossings of thr.

    If rearm is given, a new crossing only counts after v has fallen below
    rearm since the previous one (Brian2 `refractory='v > rearm'` semantics).
    """
    idx = np.nonzero((v[:-1] < thr) & (v[1:] >= thr))[0]
    out = []
    armed = True
    last = 0
    for i in idx:
        if rearm is not None and not armed:
            if np.any(v[last:i + 1] < rearm):
                armed = True
        if rearm is None or armed:
            frac = (thr - v[i]) / (v[i + 1] - v[i])
            out.append(t_ms[i] + frac * (t_ms[i + 1] - t_ms[i]))
            armed = False
            last = i + 1
    return np.array(out)


def isi_summary(spikes):
    if len(spikes) < 2:
        return "n/a"
    isi = np.diff(spikes)
    return (f"first ISI {isi[0]:.4f} ms, last ISI {isi[-1]:.4f} ms, "
            f"mean {isi.mean():.4f} ms")


def brian2_setup():
    import brian2
    brian2.prefs.codegen.target = "numpy"
    brian2.prefs.logging.console_log_level = "WARNING"
    return brian2


def run_brian2_trace(build, segments, dt_ms, method, variables, init):
    """Run a single-neuron Brian2 model and record every integration step.

    build(method) -> NeuronGroup; segments: list of (duration_ms, {param: value})
    applied before each segment (the drive is piecewise constant per step).
    Returns t_ms (including the final time) and a dict of recorded arrays plus
    the SpikeMonitor times (ms).
    """
    b2 = brian2_setup()
    b2.start_scope()
    b2.defaultclock.dt = dt_ms * b2.ms
    G = build(method)
    for name_, value_ in init.items():
        setattr(G, name_, value_)
    M = b2.StateMonitor(G, variables, record=0)
    S = b2.SpikeMonitor(G)
    net = b2.Network(G, M, S)
    total = 0.0
    for dur, params in segments:
        for name_, value_ in params.items():
            setattr(G, name_, value_)
        net.run(dur * b2.ms)
        total += dur
    nsteps = int(round(total / dt_ms))
    t_ms = np.arange(nsteps + 1) * dt_ms
    out = {}
    for var in variables:
        rec = np.asarray(getattr(M, var + "_")[0], dtype=float)
        final = float(np.asarray(getattr(G, var + "_"))[0])
        assert len(rec) == nsteps, (len(rec), nsteps)
        out[var] = np.append(rec, final)
    out["_spikes_ms"] = np.asarray(S.t_) * 1e3
    return t_ms, out


# ----------------------------------------------------------------------------
# 1. classic Hodgkin-Huxley
# ----------------------------------------------------------------------------

HH_RATES = {
    # V in mV, rates in 1/ms; the removable singularities are written with
    # exprel(x) = (exp(x)-1)/x, so 0.1(V+40)/(1-exp(-(V+40)/10)) = 1/exprel(-(V+40)/10)
    "alpha_m": lambda V: 0.1 * (V + 40) / (1 - math.exp(-(V + 40) / 10)),
    "beta_m": lambda V: 4.0 * math.exp(-(V + 65) / 18),
    "alpha_h": lambda V: 0.07 * math.exp(-(V + 65) / 20),
    "beta_h": lambda V: 1.0 / (1 + math.exp(-(V + 35) / 10)),
    "alpha_n": lambda V: 0.01 * (V + 55) / (1 - math.exp(-(V + 55) / 10)),
    "beta_n": lambda V: 0.125 * math.exp(-(V + 65) / 80),
}
HH_P = dict(C=1.0, gNa=120.0, gK=36.0, gL=0.3, ENa=50.0, EK=-77.0, EL=-54.387)


def hh_steady(V):
    r = {k: f(V) for k, f in HH_RATES.items()}
    return (r["alpha_m"] / (r["alpha_m"] + r["beta_m"]),
            r["alpha_h"] / (r["alpha_h"] + r["beta_h"]),
            r["alpha_n"] / (r["alpha_n"] + r["beta_n"]))


def hh_brian2(dt_ms, method):
    b2 = brian2_setup()
    from brian2 import NeuronGroup, Equations, ms, mV, uF, mS, uA, cm  # noqa
    eqs = Equations('''
    dv/dt = (I - gNa*m**3*h*(v - ENa) - gK*n**4*(v - EK) - gL*(v - EL))/C : volt
    dm/dt = alpha_m*(1 - m) - beta_m*m : 1
    dh/dt = alpha_h*(1 - h) - beta_h*h : 1
    dn/dt = alpha_n*(1 - n) - beta_n*n : 1
    alpha_m = 1/exprel(-(v/mV + 40)/10)/ms : Hz
    beta_m  = 4*exp(-(v/mV + 65)/18)/ms : Hz
    alpha_h = 0.07*exp(-(v/mV + 65)/20)/ms : Hz
    beta_h  = 1/(1 + exp(-(v/mV + 35)/10))/ms : Hz
    alpha_n = 0.1/exprel(-(v/mV + 55)/10)/ms : Hz
    beta_n  = 0.125*exp(-(v/mV + 65)/80)/ms : Hz
    I : amp/meter**2
    ''')
    ns = dict(C=HH_P["C"] * uF / cm**2, gNa=HH_P["gNa"] * mS / cm**2,
              gK=HH_P["gK"] * mS / cm**2, gL=HH_P["gL"] * mS / cm**2,
              ENa=HH_P["ENa"] * mV, EK=HH_P["EK"] * mV, EL=HH_P["EL"] * mV)
    m0, h0, n0 = hh_steady(-65.0)
    I_on = 10 * uA / cm**2
    return run_brian2_trace(
        lambda meth: NeuronGroup(1, eqs, method=meth, namespace=ns,
                                 threshold="v > 0*mV", refractory="v > 0*mV"),
        [(10.0, {"I": 0 * I_on}), (50.0, {"I": I_on}), (40.0, {"I": 0 * I_on})],
        dt_ms, method, ["v", "m", "h", "n"],
        {"v": -65 * mV, "m": m0, "h": h0, "n": n0})


def hh_numpy_rk4(dt_ms, T=100.0):
    """Independent plain-Python RK4 of the same classic HH model (cross-check)."""
    p = HH_P
    a = HH_RATES

    def f(t_step_I, y):
        V, m, h, n = y
        I = t_step_I
        dV = (I - p["gNa"] * m**3 * h * (V - p["ENa"]) - p["gK"] * n**4 * (V - p["EK"])
              - p["gL"] * (V - p["EL"])) / p["C"]
        return (dV,
                a["alpha_m"](V) * (1 - m) - a["beta_m"](V) * m,
                a["alpha_h"](V) * (1 - h) - a["beta_h"](V) * h,
                a["alpha_n"](V) * (1 - n) - a["beta_n"](V) * n)

    m0, h0, n0 = hh_steady(-65.0)
    y = (-65.0, m0, h0, n0)
    nsteps = int(round(T / dt_ms))
    on, off = int(round(10 / dt_ms)), int(round(60 / dt_ms))
    V = np.empty(nsteps + 1)
    V[0] = y[0]
    for k in range(nsteps):
        I = 10.0 if on <= k < off else 0.0
        k1 = f(I, y)
        k2 = f(I, tuple(yi + 0.5 * dt_ms * ki for yi, ki in zip(y, k1)))
        k3 = f(I, tuple(yi + 0.5 * dt_ms * ki for yi, ki in zip(y, k2)))
        k4 = f(I, tuple(yi + dt_ms * ki for yi, ki in zip(y, k3)))
        y = tuple(yi + dt_ms / 6 * (a1 + 2 * a2 + 2 * a3 + a4)
                  for yi, a1, a2, a3, a4 in zip(y, k1, k2, k3, k4))
        V[k + 1] = y[0]
    return np.arange(nsteps + 1) * dt_ms, V


def gen_hh():
    print("== classic HH (Brian2)")
    tf, fine = hh_brian2(0.001, "rk4")
    tc, coarse = hh_brian2(0.01, "exponential_euler")
    ts, (Vf,) = subsample(tf, [fine["v"] * 1e3], 0.001)
    ts2, (Vc,) = subsample(tc, [coarse["v"] * 1e3], 0.01)
    assert np.allclose(ts, ts2)
    sf = upward_crossings(tf, fine["v"] * 1e3, 0.0)
    sc = upward_crossings(tc, coarse["v"] * 1e3, 0.0)
    # convergence / independence checks of the fine reference
    t2, half = hh_brian2(0.002, "rk4")
    s2 = upward_crossings(t2, half["v"] * 1e3, 0.0)
    tn, Vn = hh_numpy_rk4(0.001)
    sn = upward_crossings(tn, Vn, 0.0)
    m0, h0, n0 = hh_steady(-65.0)
    peak = Vf.max()
    print(f"  fine spikes {len(sf)}: {np.round(sf, 4)}")
    print(f"  expeuler spikes {len(sc)}: {np.round(sc, 4)}")
    print(f"  {isi_summary(sf)}; peak V {peak:.3f} mV; min V {Vf.min():.3f} mV")
    print(f"  max |spike diff| rk4 dt=0.002 vs 0.001: {np.max(np.abs(s2 - sf)):.2e} ms")
    print(f"  max |spike diff| plain-Python rk4 vs Brian2 rk4: {np.max(np.abs(sn - sf)):.2e} ms;"
          f" max |V diff| {np.max(np.abs(Vn - fine['v'] * 1e3)):.2e} mV")
    n = min(len(sf), len(sc))
    print(f"  max |spike diff| expeuler dt=0.01 vs fine (first {n}): "
          f"{np.max(np.abs(sc[:n] - sf[:n])):.4f} ms")
    comments = [
        "Classic Hodgkin-Huxley (1952) squid axon, modern convention (V in mV, rest ~ -65 mV).",
        f"Produced by tests/reference/generate.py with {versions()}.",
        "Equations (t in ms, V in mV, currents in uA/cm^2, conductances in mS/cm^2):",
        "  C dV/dt = I - gNa m^3 h (V-ENa) - gK n^4 (V-EK) - gL (V-EL)",
        "  dx/dt = alpha_x(V) (1-x) - beta_x(V) x   for x in m,h,n",
        "  alpha_m = 0.1 (V+40)/(1-exp(-(V+40)/10))   beta_m = 4 exp(-(V+65)/18)",
        "  alpha_h = 0.07 exp(-(V+65)/20)              beta_h = 1/(1+exp(-(V+35)/10))",
        "  alpha_n = 0.01 (V+55)/(1-exp(-(V+55)/10))  beta_n = 0.125 exp(-(V+65)/80)",
        "  (alpha_m, alpha_n evaluated as 1/exprel(-(V+40)/10) and 0.1/exprel(-(V+55)/10))",
        "Parameters: C=1 uF/cm^2, gNa=120, gK=36, gL=0.3 mS/cm^2, ENa=50, EK=-77, EL=-54.387 mV",
        f"Initial: V=-65 mV, m=m_inf(-65)={m0:.10f}, h=h_inf(-65)={h0:.10f}, n=n_inf(-65)={n0:.10f}",
        "Input: I = 10 uA/cm^2 for every integration step starting in [10, 60) ms, else 0; 100 ms total.",
        "Columns: V_mV = Brian2 rk4, dt=0.001 ms (reference; every 100th step);",
        "         V_mV_expeuler = Brian2 exponential_euler, dt=0.01 ms (every 10th step).",
        "Values at time_ms are the state at that time (the row at t=0 is the initial state).",
        f"Fine run: {len(sf)} spikes (upward 0 mV crossings), peak V {peak:.3f} mV.",
    ]
    write_csv("hh_classic_brian2.csv", comments, ["time_ms", "V_mV", "V_mV_expeuler"],
              [ts, Vf, Vc], ["%.1f", "%.6f", "%.6f"])
    write_csv("hh_classic_spikes_brian2.csv", comments[:12] + [
        "Spike = upward crossing of 0 mV, linearly interpolated between integration steps.",
        "t_ms = Brian2 rk4 dt=0.001 ms (reference); t_ms_expeuler = exponential_euler dt=0.01 ms.",
        f"Check: rk4 at dt=0.002 ms differs from t_ms by <= {np.max(np.abs(s2 - sf)):.1e} ms; an",
        f"independent plain-Python rk4 at dt=0.001 ms by <= {np.max(np.abs(sn - sf)):.1e} ms.",
    ], ["index", "t_ms", "t_ms_expeuler"],
        [list(range(len(sf))), sf, sc], ["%d", "%.6f", "%.6f"])
    return sf


# ----------------------------------------------------------------------------
# 2. Traub & Miles HH (Brian2 examples/COBAHH.py) without synapses
# ----------------------------------------------------------------------------

def traub_brian2(dt_ms, method):
    brian2_setup()
    from brian2 import (NeuronGroup, Equations, ms, mV, ufarad, siemens, msiemens,
                        cm, umetre, nA)
    area = 20000 * umetre**2
    ns = dict(Cm=(1 * ufarad * cm**-2) * area, gl=(5e-5 * siemens * cm**-2) * area,
              El=-60 * mV, EK=-90 * mV, ENa=50 * mV,
              g_na=(100 * msiemens * cm**-2) * area, g_kd=(30 * msiemens * cm**-2) * area,
              VT=-63 * mV)
    eqs = Equations('''
    dv/dt = (gl*(El-v) - g_na*(m*m*m)*h*(v-ENa) - g_kd*(n*n*n*n)*(v-EK) + I)/Cm : volt
    dm/dt = alpha_m*(1-m)-beta_m*m : 1
    dn/dt = alpha_n*(1-n)-beta_n*n : 1
    dh/dt = alpha_h*(1-h)-beta_h*h : 1
    alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV-v+VT)/(4*mV))/ms : Hz
    beta_m = 0.28*(mV**-1)*5*mV/exprel((v-VT-40*mV)/(5*mV))/ms : Hz
    alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
    beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
    alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV-v+VT)/(5*mV))/ms : Hz
    beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
    I : amp
    ''')
    return run_brian2_trace(
        lambda meth: NeuronGroup(1, eqs, method=meth, namespace=ns,
                                 threshold="v > -20*mV", refractory="v > -40*mV"),
        [(10.0, {"I": 0 * nA}), (100.0, {"I": 0.5 * nA}), (40.0, {"I": 0 * nA})],
        dt_ms, method, ["v", "m", "h", "n"],
        {"v": -60 * mV, "m": 0.0, "h": 0.0, "n": 0.0})


def gen_traub():
    print("== Traub & Miles HH (Brian2 COBAHH neuron)")
    tf, fine = traub_brian2(0.001, "rk4")
    tc, coarse = traub_brian2(0.01, "exponential_euler")
    t2, half = traub_brian2(0.002, "rk4")
    ts, (Vf,) = subsample(tf, [fine["v"] * 1e3], 0.001)
    _, (Vc,) = subsample(tc, [coarse["v"] * 1e3], 0.01)
    sf = upward_crossings(tf, fine["v"] * 1e3, -20.0, rearm=-40.0)
    sc = upward_crossings(tc, coarse["v"] * 1e3, -20.0, rearm=-40.0)
    s2 = upward_crossings(t2, half["v"] * 1e3, -20.0, rearm=-40.0)
    # Brian2's own SpikeMonitor (stamped at the start of the step after which v > -20 mV)
    mon = fine["_spikes_ms"]
    print(f"  fine spikes {len(sf)}: first {np.round(sf[:5], 4)} ... last {sf[-1]:.4f}")
    print(f"  expeuler spikes {len(sc)}; {isi_summary(sf)}; peak {Vf.max():.3f} mV")
    print(f"  rk4 dt 0.002 vs 0.001 max diff {np.max(np.abs(s2 - sf)):.2e} ms;"
          f" SpikeMonitor vs interpolated max diff {np.max(np.abs(mon - sf)):.2e} ms")
    n = min(len(sf), len(sc))
    print(f"  expeuler vs fine max diff (first {n}): {np.max(np.abs(sc[:n] - sf[:n])):.4f} ms")
    comments = [
        "Traub & Miles HH point neuron of Brian2's examples/COBAHH.py, synapses removed (ge = gi = 0).",
        f"Produced by tests/reference/generate.py with {versions()}.",
        "  area = 20000 um^2; Cm = 1 uF/cm^2*area (=200 pF); gl = 5e-5 S/cm^2*area (=10 nS)",
        "  El = -60 mV, EK = -90 mV, ENa = 50 mV, VT = -63 mV",
        "  g_na = 100 mS/cm^2*area (=20 uS), g_kd = 30 mS/cm^2*area (=6 uS)",
        "  Cm dv/dt = gl(El-v) - g_na m^3 h (v-ENa) - g_kd n^4 (v-EK) + I",
        "  dx/dt = alpha_x (1-x) - beta_x x   for x in m,h,n   (rates in 1/ms, v in mV)",
        "  alpha_m = 0.32 (13-v+VT)/(exp((13-v+VT)/4)-1)    beta_m = 0.28 (v-VT-40)/(exp((v-VT-40)/5)-1)",
        "  alpha_h = 0.128 exp((17-v+VT)/18)                beta_h = 4/(1+exp((40-v+VT)/5))",
        "  alpha_n = 0.032 (15-v+VT)/(exp((15-v+VT)/5)-1)   beta_n = 0.5 exp((10-v+VT)/40)",
        "  (the removable singularities evaluated with exprel, as in current Brian2 examples)",
        "Initial: v = El = -60 mV, m = h = n = 0 (the example does not initialise them).",
        "Input: I = 0.5 nA for every integration step starting in [10, 110) ms, else 0; 150 ms total.",
    ]
    write_csv("traub_hh_brian2.csv", comments + [
        "Columns: V_mV = Brian2 rk4, dt=0.001 ms (reference); V_mV_expeuler = exponential_euler,",
        "dt=0.01 ms (the example's method). Sampled every 0.1 ms (every n-th step, no interpolation).",
        f"Fine run: {len(sf)} spikes, peak v {Vf.max():.3f} mV.",
    ], ["time_ms", "V_mV", "V_mV_expeuler"], [ts, Vf, Vc], ["%.1f", "%.6f", "%.6f"])
    write_csv("traub_hh_spikes_brian2.csv", comments + [
        "Spike = upward crossing of -20 mV (the example's threshold), re-armed only after v < -40 mV",
        "(Brian2 refractory='v > -40*mV'; the example itself uses refractory=3*ms, which gives the",
        "same spikes here). Linearly interpolated between integration steps.",
        "t_ms = rk4 dt=0.001 ms (reference); t_ms_expeuler = exponential_euler dt=0.01 ms.",
        f"Check: rk4 at dt=0.002 ms differs from t_ms by <= {np.max(np.abs(s2 - sf)):.1e} ms.",
    ], ["index", "t_ms", "t_ms_expeuler"],
        [list(range(len(sf))), sf, sc], ["%d", "%.6f", "%.6f"])
    return sf


# ----------------------------------------------------------------------------
# 3. Izhikevich regular spiking
# ----------------------------------------------------------------------------

IZH = dict(a=0.02, b=0.2, c=-65.0, d=8.0, I=10.0)


def izh_brian2(dt_ms, method, T=200.0):
    brian2_setup()
    from brian2 import NeuronGroup, Equations, ms
    eqs = Equations('''
    dv/dt = (0.04*v**2 + 5*v + 140 - u + I)/ms : 1
    du/dt = a*(b*v - u)/ms : 1
    ''')
    ns = {k: IZH[k] for k in ("a", "b", "c", "d", "I")}
    return run_brian2_trace(
        lambda meth: NeuronGroup(1, eqs, method=meth, namespace=ns,
                                 threshold="v >= 30", reset="v = c; u += d"),
        [(T, {})], dt_ms, method, ["v", "u"],
        {"v": -65.0, "u": IZH["b"] * -65.0})


def gen_izh():
    print("== Izhikevich RS (Brian2)")
    tf, fine = izh_brian2(0.001, "rk4")
    tc, coarse = izh_brian2(0.1, "euler")
    t2, half = izh_brian2(0.002, "rk4")
    ts, (vf, uf) = subsample(tf, [fine["v"], fine["u"]], 0.001)
    _, (vc, uc) = subsample(tc, [coarse["v"], coarse["u"]], 0.1)
    # Brian2 stamps a spike with the start time of the step after which v >= 30;
    # we report the end of that step (the grid time at which v >= 30 is detected
    # and the reset applied), which is also NEST's convention.
    sf = fine["_spikes_ms"] + 0.001
    sc = coarse["_spikes_ms"] + 0.1
    s2 = half["_spikes_ms"] + 0.002
    print(f"  fine spikes {len(sf)}: {np.round(sf, 3)}")
    print(f"  euler dt=0.1 spikes {len(sc)}: {np.round(sc, 1)}")
    print(f"  {isi_summary(sf)}; rk4 0.002 vs 0.001 max diff {np.max(np.abs(s2 - sf)):.4f} ms")
    comments = [
        "Izhikevich (2003) simple model, regular spiking (RS): a=0.02 b=0.2 c=-65 d=8.",
        f"Produced by tests/reference/generate.py with {versions()}.",
        "  dv/dt = 0.04 v^2 + 5 v + 140 - u + I ;  du/dt = a (b v - u)   (t in ms, v in mV, I dimensionless)",
        "  if v >= 30: v <- c, u <- u + d   (checked after each integration step)",
        "Input: I = 10 from t = 0 (constant); initial v = -65, u = b*v = -13; 200 ms.",
        "Runs: fine = Brian2 rk4 dt=0.001 ms (reference); euler = Brian2 forward Euler dt=0.1 ms",
        "  (v and u both advanced from the old values: v' = v + dt f(v,u), u' = u + dt g(v,u) --",
        "  NOT Izhikevich's published 0.5+0.5 ms half-step scheme; this is the same scheme as NEST",
        "  izhikevich with consistent_integration=true).",
    ]
    write_csv("izhikevich_rs_brian2.csv", comments + [
        "Values at a grid time are the state after that step's threshold test and reset, so v never",
        "shows >= 30; the spike peak is not in the trace. Sampled every 0.1 ms.",
    ], ["time_ms", "v_mV", "u", "v_mV_euler", "u_euler"],
        [ts, vf, uf, vc, uc], ["%.1f", "%.6f", "%.6f", "%.6f", "%.6f"])
    write_csv("izhikevich_rs_spikes_brian2.csv", comments + [
        "Spike time = end of the integration step after which v >= 30 (the grid time of the reset),",
        "i.e. Brian2 SpikeMonitor time + dt. Resolution = dt of the run (0.001 resp. 0.1 ms).",
        "t_ms = rk4 dt=0.001 (reference), t_ms_euler = Euler dt=0.1 ms.",
        f"Check: rk4 at dt=0.002 ms differs from t_ms by <= {np.max(np.abs(s2 - sf)):.4f} ms.",
    ], ["index", "t_ms", "t_ms_euler"], [list(range(len(sf))), sf, sc],
        ["%d", "%.3f", "%.1f"])
    return sf, sc, (ts, vc, uc)


# ----------------------------------------------------------------------------
# NEST models
# ----------------------------------------------------------------------------

def nest_setup():
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest
    nest.verbosity = nest.VerbosityLevel.WARNING
    nest.ResetKernel()
    nest.resolution = 0.1
    nest.local_num_threads = 1
    return nest


def nest_versions():
    import nest
    return (f"Python {sys.version.split()[0]}, nest-simulator {nest.__version__}, "
            f"numpy {np.__version__}")


def gen_adex(amp_pA=500.0, stem="adex"):
    print(f"== AdEx (NEST aeif_cond_exp), {amp_pA:g} pA")

    def run(mode):
        nest = nest_setup()
        n = nest.Create("aeif_cond_exp")
        mm = nest.Create("multimeter", params={"record_from": ["V_m", "w"], "interval": 0.1})
        sr = nest.Create("spike_recorder")
        nest.Connect(mm, n)
        nest.Connect(n, sr)
        if mode == "I_e":
            nest.Simulate(20.0)
            n.I_e = amp_pA
            nest.Simulate(200.0)
            n.I_e = 0.0
            # +1 ms: NEST delivers the multimeter data of the last min_delay slice
            # only after the next slice; the extra time is cut off below
            nest.Simulate(81.0)
        else:
            g = nest.Create("step_current_generator", params={
                "amplitude_times": [20.0, 220.0], "amplitude_values": [amp_pA, 0.0]})
            nest.Connect(g, n, syn_spec={"delay": 0.1})
            nest.Simulate(301.0)
        ev = mm.events
        t = np.asarray(ev["times"], float)
        keep = t <= 300.0 + 1e-9
        sp = np.sort(np.asarray(sr.events["times"], dtype=float))
        sp = sp[sp <= 300.0 + 1e-9]
        return (t[keep], np.asarray(ev["V_m"], float)[keep],
                np.asarray(ev["w"], float)[keep], sp)

    nest = nest_setup()
    defaults = nest.GetDefaults("aeif_cond_exp")
    t, V, w, sp = run("I_e")
    tg, Vg, wg, spg = run("generator")
    assert len(t) == 3000 and abs(t[-1] - 300.0) < 1e-9
    # prepend the initial state (NEST records from t = 0.1 ms)
    t = np.concatenate([[0.0], t])
    V = np.concatenate([[defaults["V_m"]], V])
    w = np.concatenate([[defaults["w"]], w])
    Vg = np.concatenate([[defaults["V_m"]], Vg])
    # the generator run should equal the I_e run shifted by one step (0.1 ms)
    gen_shift = np.max(np.abs(Vg[1:] - V[:-1]))
    print(f"  I_e run: {len(sp)} spikes: {sp}; V range [{V.min():.3f}, {V.max():.3f}] mV")
    print(f"  generator run: {len(spg)} spikes {spg}; max |V_gen(t+0.1) - V_Ie(t)| = {gen_shift:.2e}")
    # Brian2 cross-check of the same equations (rk4, dt = 0.001 ms)
    bsp, bV, bw = adex_brian2(defaults, amp_pA)
    n = min(len(sp), len(bsp))
    dV = np.abs(bV - V)
    print(f"  Brian2 rk4 spikes {len(bsp)}: {np.round(bsp, 3)}")
    print(f"  NEST - Brian2 spikes (first {n}): {np.round(sp[:n] - bsp[:n], 3)}")
    sub = np.ones_like(dV, bool)
    for s in np.concatenate([sp, bsp]):   # exclude +-1 ms around spikes (upstroke)
        sub &= np.abs(t - s) > 1.0
    print(f"  max |V_NEST - V_Brian2| away from spikes {dV[sub].max():.2e} mV, "
          f"max |w diff| {np.max(np.abs(bw - w)):.2e} pA")
    keys = ["C_m", "g_L", "E_L", "V_th", "Delta_T", "tau_w", "a", "b", "V_reset", "t_ref",
            "V_peak", "E_ex", "E_in", "tau_syn_ex", "tau_syn_in", "V_m", "w", "gsl_error_tol"]
    units = dict(C_m="pF", g_L="nS", E_L="mV", V_th="mV", Delta_T="mV", tau_w="ms", a="nS",
                 b="pA", V_reset="mV", t_ref="ms", V_peak="mV", E_ex="mV", E_in="mV",
                 tau_syn_ex="ms", tau_syn_in="ms", V_m="mV", w="pA", gsl_error_tol="")
    items = [f"{k}={defaults[k]:g} {units[k]}".rstrip() for k in keys]
    plines = [", ".join(items[i:i + 6]) for i in range(0, len(items), 6)]
    comments = [
        "NEST aeif_cond_exp (adaptive exponential integrate-and-fire, Brette & Gerstner 2005)",
        "with all NEST defaults and no synaptic input (g_ex = g_in = 0).",
        f"Produced by tests/reference/generate.py with {nest_versions()}.",
        "NEST defaults (V_m, w = initial state):",
    ] + ["  " + p for p in plines] + [
        "  C_m dV/dt = -g_L (V-E_L) + g_L Delta_T exp((V-V_th)/Delta_T) - w + I_e",
        "  tau_w dw/dt = a (V-E_L) - w ;  if V >= V_peak: V <- V_reset, w <- w + b",
        "  (NEST evaluates the right-hand side with min(V, V_peak) in place of V.)",
        "Integration: nest.resolution = 0.1 ms; inside each step GSL rkf45 with adaptive substeps",
        "(gsl_error_tol 1e-6); the threshold is tested after every substep and the reset applied",
        "there, but the spike is stamped at the end of the 0.1 ms step (on the grid).",
        f"Input: I_e = {amp_pA:g} pA set by SetStatus between Simulate calls: Simulate(20);",
        f"I_e={amp_pA:g}; Simulate(200); I_e=0; Simulate(80) -> current on exactly for t in [20, 220) ms.",
        "(A step_current_generator with amplitude_times [20, 220] connected with delay 0.1 ms acts",
        "one step later, on [20.1, 220.1): its trace is this one shifted by exactly 0.1 ms",
        f"(max deviation {gen_shift:.1e} mV), so it is not used.)",
        f"Result: {len(sp)} spikes; V_m range [{V.min():.4f}, {V.max():.4f}] mV.",
        f"Cross-check: Brian2 rk4 dt=0.001 ms of the same equations: max |V diff| {dV[sub].max():.1e} mV",
        f"(excluding 1 ms around spikes), max |w diff| {np.max(np.abs(bw - w)):.1e} pA"
        + (f", spike time diffs {np.round(sp[:n] - bsp[:n], 3).tolist()} ms." if n else "."),
    ]
    write_csv(f"{stem}_nest.csv", comments + [
        "Multimeter, interval 0.1 ms: value at time t = state at the end of the step ending at t",
        "(after any reset). NEST records from 0.1 ms; the t = 0 row is the initial state.",
    ], ["time_ms", "V_m_mV", "w_pA"], [t, V, w], ["%.1f", "%.6f", "%.6f"])
    write_csv(f"{stem}_spikes_nest.csv", comments + [
        "t_ms = NEST spike times (grid, 0.1 ms). t_ms_brian2_rk4 = the same equations (RHS with",
        "min(V, V_peak)) in Brian2, rk4, dt = 0.001 ms, spike = end of the step with V >= V_peak,",
        "current on for steps in [20, 220) ms: an independent cross-check.",
    ], ["index", "t_ms", "t_ms_brian2_rk4"], [list(range(len(sp))), sp, bsp],
        ["%d", "%.1f", "%.3f"])
    return sp, bsp


def adex_brian2(d, amp_pA, dt_ms=0.001):
    brian2_setup()
    from brian2 import NeuronGroup, Equations, mV, pF, nS, pA, ms
    ns = dict(C_m=d["C_m"] * pF, g_L=d["g_L"] * nS, E_L=d["E_L"] * mV, V_th=d["V_th"] * mV,
              Delta_T=d["Delta_T"] * mV, tau_w=d["tau_w"] * ms, a=d["a"] * nS, b=d["b"] * pA,
              V_reset=d["V_reset"] * mV, V_peak=d["V_peak"] * mV)
    eqs = Equations('''
    dV/dt = (-g_L*(Vc - E_L) + g_L*Delta_T*exp((Vc - V_th)/Delta_T) - w + I)/C_m : volt
    dw/dt = (a*(Vc - E_L) - w)/tau_w : amp
    Vc = clip(V, -1000*mV, V_peak) : volt
    I : amp
    ''')
    _, out = run_brian2_trace(
        lambda meth: NeuronGroup(1, eqs, method=meth, namespace=ns,
                                 threshold="V >= V_peak", reset="V = V_reset; w += b"),
        [(20.0, {"I": 0 * pA}), (200.0, {"I": amp_pA * pA}), (80.0, {"I": 0 * pA})],
        dt_ms, "rk4", ["V", "w"], {"V": d["V_m"] * mV, "w": d["w"] * pA})
    n = int(round(0.1 / dt_ms))
    return out["_spikes_ms"] + dt_ms, out["V"][::n] * 1e3, out["w"][::n] * 1e12


def gen_lif():
    print("== LIF (NEST iaf_psc_delta)")
    nest = nest_setup()
    P = dict(tau_m=10.0, C_m=250.0, E_L=-65.0, V_th=-50.0, V_reset=-65.0, t_ref=2.0,
             I_e=500.0, V_m=-65.0)
    n = nest.Create("iaf_psc_delta", params=P)
    mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": 0.1,
                                           "stop": 100.0})
    sr = nest.Create("spike_recorder")
    nest.Connect(mm, n)
    nest.Connect(n, sr)
    nest.Simulate(1001.0)  # +1 ms so that all data up to 1000 ms is delivered; cut below
    ev = mm.events
    t = np.concatenate([[0.0], np.asarray(ev["times"], float)])
    V = np.concatenate([[P["V_m"]], np.asarray(ev["V_m"], float)])
    assert len(t) == 1001 and abs(t[-1] - 100.0) < 1e-9
    sp = np.sort(np.asarray(sr.events["times"], float))
    sp = sp[sp <= 1000.0 + 1e-9]
    R = P["tau_m"] / P["C_m"]  # GOhm
    RI = R * P["I_e"]          # mV
    T_free = P["tau_m"] * math.log(RI / (RI - (P["V_th"] - P["E_L"])))
    isi = P["t_ref"] + T_free
    ana = T_free + isi * np.arange(len(sp))
    grid_isi = P["t_ref"] + math.ceil(T_free / 0.1 - 1e-9) * 0.1
    print(f"  {len(sp)} spikes, first {sp[:4]}, {isi_summary(sp)}")
    print(f"  analytic ISI {isi:.6f} ms, on-grid ISI {grid_isi:.1f} ms, first analytic {T_free:.6f}")
    comments = [
        "NEST iaf_psc_delta (leaky integrate-and-fire, delta synapses; no synaptic input here).",
        f"Produced by tests/reference/generate.py with {nest_versions()}.",
        "Parameters: tau_m=10 ms, C_m=250 pF, E_L=-65 mV, V_th=-50 mV, V_reset=-65 mV, t_ref=2 ms,",
        "I_e=500 pA (constant from t=0), V_m(0)=-65 mV, 1000 ms, resolution 0.1 ms.",
        "  tau_m dV/dt = -(V-E_L) + R I_e, R = tau_m/C_m = 0.04 GOhm (R I_e = 20 mV);",
        "  if V >= V_th: spike, V <- V_reset, clamped there for t_ref.",
        "Integration: exact (exponential propagator) on the 0.1 ms grid; threshold tested at the end",
        "of each step, so spike times are the first grid time with V >= V_th (rounded up).",
        f"Analytic (continuous time): first spike at tau_m ln(RI/(RI-(V_th-E_L))) = {T_free:.6f} ms,",
        f"ISI = t_ref + tau_m ln(RI/(RI-(V_th-E_L))) = 2 + 10 ln(4) = {isi:.6f} ms.",
        f"On the 0.1 ms grid: ISI = t_ref + ceil((ISI - t_ref)/0.1)*0.1 = {grid_isi:.1f} ms.",
    ]
    write_csv("lif_nest.csv", comments + [
        "V_m every 0.1 ms for the first 100 ms (t = 0 row = initial state; NEST records from 0.1).",
        "At a spike time the recorded V_m is already V_reset.",
    ], ["time_ms", "V_m_mV"], [t, V], ["%.1f", "%.6f"])
    write_csv("lif_spikes_nest.csv", comments + [
        "t_ms = NEST spike times; t_ms_analytic = continuous-time spike times (no grid).",
    ], ["index", "t_ms", "t_ms_analytic"], [list(range(len(sp))), sp, ana],
        ["%d", "%.1f", "%.6f"])
    return sp


def gen_izh_nest(brian2_euler=None):
    print("== Izhikevich RS (NEST izhikevich)")
    nest = nest_setup()
    n = nest.Create("izhikevich", params=dict(a=0.02, b=0.2, c=-65.0, d=8.0, I_e=10.0,
                                              V_m=-65.0, U_m=-13.0, V_th=30.0,
                                              consistent_integration=True))
    mm = nest.Create("multimeter", params={"record_from": ["V_m", "U_m"], "interval": 0.1})
    sr = nest.Create("spike_recorder")
    nest.Connect(mm, n)
    nest.Connect(n, sr)
    nest.Simulate(201.0)  # +1 ms so that all data up to 200 ms is delivered; cut below
    ev = mm.events
    keep = np.asarray(ev["times"], float) <= 200.0 + 1e-9
    t = np.concatenate([[0.0], np.asarray(ev["times"], float)[keep]])
    V = np.concatenate([[-65.0], np.asarray(ev["V_m"], float)[keep]])
    U = np.concatenate([[-13.0], np.asarray(ev["U_m"], float)[keep]])
    assert len(t) == 2001
    sp = np.sort(np.asarray(sr.events["times"], float))
    sp = sp[sp <= 200.0 + 1e-9]
    print(f"  {len(sp)} spikes: {sp}")
    note = []
    if brian2_euler is not None:
        bs, (bt, bv, bu) = brian2_euler
        same = len(bs) == len(sp) and np.allclose(bs, sp, atol=1e-9)
        dv = np.max(np.abs(bv - V)) if len(bv) == len(V) else float("nan")
        print(f"  vs Brian2 euler dt=0.1: spikes identical={same}, max|dv|={dv:.3e}")
        note = [f"Cross-check: Brian2 forward Euler dt=0.1 ms gives identical spike times "
                f"({same}) and max |v diff| {dv:.1e} mV."]
    comments = [
        "NEST izhikevich, Izhikevich (2003) RS: a=0.02 b=0.2 c=-65 d=8, V_th=30, I_e=10 (from t=0),",
        "V_m(0)=-65, U_m(0)=-13, 200 ms, resolution 0.1 ms.",
        f"Produced by tests/reference/generate.py with {nest_versions()}.",
        "  dv/dt = 0.04 v^2 + 5 v + 140 - u + I_e ;  du/dt = a (b v - u) ; if v >= V_th: v <- c, u <- u + d",
        "Integration: consistent_integration=true (NEST default) = forward Euler with h = 0.1 ms,",
        "both v and u advanced from the old values; threshold tested after the step; the spike is",
        "stamped at the end of the step. (consistent_integration=false would be Izhikevich's",
        "published scheme: two v half-steps of h/2, then u from the new v.)",
        "Trace: value at t = state after the step ending at t (after any reset); t=0 row = initial.",
    ] + note
    write_csv("izhikevich_rs_nest.csv", comments, ["time_ms", "V_m_mV", "U_m"], [t, V, U],
              ["%.1f", "%.6f", "%.6f"])
    write_csv("izhikevich_rs_spikes_nest.csv", comments, ["index", "t_ms"],
              [list(range(len(sp))), sp], ["%d", "%.1f"])
    return sp


def main(argv):
    which = argv or ["hh", "traub", "izh", "adex", "lif", "izh_nest"]
    izh_euler = None
    if "hh" in which:
        gen_hh()
    if "traub" in which:
        gen_traub()
    if "izh" in which:
        _, sc, trace = gen_izh()
        izh_euler = (sc, trace)
    if "adex" in which:
        gen_adex(500.0, "adex")
        gen_adex(1000.0, "adex_1000pA")
    if "lif" in which:
        gen_lif()
    if "izh_nest" in which:
        gen_izh_nest(izh_euler)


if __name__ == "__main__":
    main(sys.argv[1:])
