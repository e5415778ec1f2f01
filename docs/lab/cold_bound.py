"""Cold-start batch-size bound: Bayes-optimal sender vs oracle, plus two reference policies.

Model (see RESULTS.md): C log-uniform [300,10000] snapped DOWN to a K-point log grid c_0..c_{K-1}
(equal prior mass per cell).  State (i, j, R): C in {c_i..c_{j-1}}, R recipients left; c_i is
always safe.  Actions: cruise (ceil(R/c_i) even calls, terminal) or probe size s in
{c_k : i<k<j} U {ceil(R/m) : m=1..M}; a probe succeeds iff C_snap >= s, i.e. iff idx(C) >= cls(s).
Objective: minimise E[T/T_o(C)] (additive: weight 1/T_o(C) per grid cell).
Usage (pip install numpy numba): python3 docs/lab/cold_bound.py [n_networks] [K] [M] [seed] [breaks]
   or: python3 docs/lab/cold_bound.py --bench FILE.json [K] [M] [breaks]
the second takes its networks from a bench run's JSON (npm run bench -- --random N --json FILE.json):
the plain family's draws (base, cost per recipient, failure mode, capacity), and prints the bound and
the bench's own ratio for every strategy there, profile by profile and over them all.
"""
import sys, os, math, json
import numpy as np
from numba import njit
from multiprocessing import Pool

N = 10_000
CMIN, CMAX = 300, 10_000
# The bench's engine starts calls at most SMART_SEND_MAX_BATCHES_PER_SECOND (2) a second: with --bench,
# every call costs at least this, in the sender's time and the oracle's alike (the first mode leaves it out).
PACE_MS = 500.0


def grid(K, breaks=False):
    """Lower cell edges (last cell ends at 10000); breaks=True adds the oracle breakpoints ceil(N/m)."""
    e = np.round(CMIN * (CMAX / CMIN) ** (np.arange(K) / K))
    if breaks:
        e = np.union1d(e, [math.ceil(N / m) for m in range(2, 34)])
    return e.astype(np.int64)


def prior_mass(c):                                        # log-uniform mass of each cell [c_k, c_{k+1})
    return np.diff(np.log(np.append(c, CMAX))) / math.log(CMAX / CMIN)


def t_oracle(C, b, p, pace=0.0):                          # anchor (b) + even split
    m = math.ceil(N / C)
    return max(b, pace) + m * max(b + p * N / m, pace)


def fail_cost(s, b, p, timeout, pace=0.0):
    return max(1.3 * (b + p * s) + 300.0 if timeout else b, pace)


@njit(cache=True)
def solve(c, w, cls, b, p, timeout, M, pace):
    K = len(c)
    S = np.zeros(K + 1)
    for k in range(K):
        S[k + 1] = S[k] + w[k]
    V = np.zeros((K, K + 1, N + 1))
    A = np.zeros((K, K + 1, N + 1), np.int16)         # 0 cruise, k>0 grid size c_k, -m split ceil(R/m)
    for L in range(1, K + 1):
        for i in range(0, K - L + 1):
            j = i + L
            Wij = S[j] - S[i]
            for R in range(1, N + 1):                      # cruise (terminal)
                n = (R + c[i] - 1) // c[i]
                V[i, j, R] = Wij * n * max(b + p * R / n, pace)
            for k in range(i + 1, j):                      # probe at grid size c_k
                s = c[k]
                f = max(1.3 * (b + p * s) + 300.0 if timeout else b, pace)
                base = (S[j] - S[k]) * max(b + p * s, pace) + (S[k] - S[i]) * f
                for R in range(s, N + 1):
                    v = base + V[k, j, R - s] + V[i, k, R]
                    if v < V[i, j, R]:
                        V[i, j, R] = v; A[i, j, R] = k
            for m in range(1, M + 1):                      # probe at ceil(R/m) (m=1: everything left)
                for R in range(1, N + 1):
                    s = (R + m - 1) // m
                    k = cls[s]
                    if s <= c[i] or k >= j:
                        continue
                    f = max(1.3 * (b + p * s) + 300.0 if timeout else b, pace)
                    v = (S[j] - S[k]) * max(b + p * s, pace) + (S[k] - S[i]) * f + V[k, j, R - s] + V[i, k, R]
                    if v < V[i, j, R]:
                        V[i, j, R] = v; A[i, j, R] = -m
    return A, V[0, K, N]                               # root value = E[(T - anchor)/T_o]


def run_optimal(args):
    b, p, timeout, C, K, M, breaks = args[:7]
    pace = args[7] if len(args) > 7 else 0.0
    c = grid(K, breaks); K = len(c)
    cls = np.searchsorted(c, np.arange(N + 1), side="left")   # smallest k with c_k >= s
    w = np.array([pm / t_oracle(ck, b, p, pace) for pm, ck in zip(prior_mass(c), c)])
    A, _ = solve(c, w, cls, b, p, timeout, M, pace)
    kc = np.searchsorted(c, C, side="right") - 1              # snapped capacity index
    i, j, R, T, calls = 0, K, N, max(b, pace), 1              # anchor counted
    while R > 0:
        a = int(A[i, j, R])
        if a == 0:
            n = math.ceil(R / c[i]); T += n * max(b + p * R / n, pace); calls += n; break
        s = int(c[a]) if a > 0 else math.ceil(R / -a)
        k = cls[s]; calls += 1
        if kc >= k:
            T += max(b + p * s, pace); R -= s; i = k
        else:
            T += fail_cost(s, b, p, timeout, pace); j = k
    return T, int(c[kc]), calls


def run_grow(b, p, timeout, C):
    """(a) start 1000, x3 until failure, geometric bisection to 5%, cruise at good."""
    T, R, good, bad, s = b, N, 1, None, 1000
    while R > 0:
        if bad is not None and bad / good <= 1.05:
            return T + math.ceil(R / good) * b + p * R
        if bad is not None:
            s = max(good + 1, int(math.sqrt(good * bad)))
        s = min(s, R)
        if s <= C:
            T += b + p * s; R -= s; good = max(good, s)
            if bad is None:
                s *= 3
        else:
            T += fail_cost(s, b, p, timeout); bad = s
    return T


def run_div3(b, p, timeout, C):
    """(b) start 5000, divide by 3 on failure, keep the size that worked."""
    T, R, s = b, N, 5000
    while R > 0:
        x = min(s, R)
        if x <= C:
            T += b + p * x; R -= x
        else:
            T += fail_cost(x, b, p, timeout); s = max(1, s // 3)
    return T


def summary(r):
    r = np.asarray(r)
    return f"geomean {np.exp(np.log(r).mean()):.3f}  p95 {np.percentile(r, 95):.3f}  mean {r.mean():.3f}  max {r.max():.3f}"


def from_bench(path, K, M, breaks, pace=PACE_MS):
    """The bound on a bench run's plain family: the same networks the lab's strategies ran on."""
    run = json.load(open(path))["plain"]
    nets = [(c["name"], c["profile"]) for c in run["cases"]]
    args = [(p["baseMs"], p["perRecipientMs"], p["failure"] == "timeout", p["capacity"], K, M, breaks, pace) for _, p in nets]
    with Pool(2) as pool:
        opt = pool.map(run_optimal, args, chunksize=1)
    rows = run["rows"]
    strategies = sorted({r["strategy"] for r in rows} - {"oracle", "fixed", "informed"})
    ratio = {(r["strategy"], r["profile"]): r["ratioToOracle"]["geomean"] for r in rows if r["recipients"] == N}
    oracle = {r["profile"]: r["completionMs"]["mean"] for r in rows if r["recipients"] == N and r["strategy"] == "oracle"}
    bound = {}
    # sim/model: the bench oracle's time over the model's T_o, a check that the two measure the same sends.
    print("profile\tsim/model\tbound\t" + "\t".join(strategies))
    for (name, p), (T, Cs, _) in zip(nets, opt):
        t_o = t_oracle(p["capacity"], p["baseMs"], p["perRecipientMs"], pace)
        bound[name] = T / t_oracle(Cs, p["baseMs"], p["perRecipientMs"], pace)
        cells = [f"{ratio.get((s, name), float('nan')):.3f}" for s in strategies]
        print(f"{name}\t{oracle.get(name, float('nan')) / t_o:.3f}\t{bound[name]:.3f}\t" + "\t".join(cells))
    print(f"\n{len(nets)} networks of {os.path.basename(path)} (K={K} M={M} breaks={breaks} pace={pace} ms)")
    print(f"  {'bound':12s} {summary(list(bound.values()))}")
    for s in strategies:
        print(f"  {s:12s} {summary([ratio[(s, name)] for name, _ in nets])}")


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--bench":
        K = int(sys.argv[3]) if len(sys.argv) > 3 else 40
        M = int(sys.argv[4]) if len(sys.argv) > 4 else 16
        return from_bench(sys.argv[2], K, M, len(sys.argv) > 5 and sys.argv[5] == "breaks")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    K = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    M = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    breaks = len(sys.argv) > 5 and sys.argv[5] == "breaks"
    rng = np.random.default_rng(seed)
    lu = lambda lo, hi: float(np.exp(rng.uniform(math.log(lo), math.log(hi))))
    nets = []
    for _ in range(n):
        b, p = lu(100, 3000), lu(0.05, 2)
        C = min(CMAX, max(CMIN, int(lu(CMIN, CMAX))))
        nets.append((b, p, bool(rng.random() < 0.5), C))
    with Pool(2) as pool:
        opt = pool.map(run_optimal, [(b, p, t, C, K, M, breaks) for b, p, t, C in nets], chunksize=1)
    rows = []
    for (b, p, t, C), (T, Cs, calls) in zip(nets, opt):
        rows.append(dict(b=b, timeout=t,
                         opt=T / t_oracle(Cs, b, p),                 # snapped-C network, snapped oracle
                         opt_true=T / t_oracle(C, b, p),             # same T, oracle with true C (pessimistic)
                         a=run_grow(b, p, t, Cs) / t_oracle(Cs, b, p),
                         bb=run_div3(b, p, t, Cs) / t_oracle(Cs, b, p),
                         a_true=run_grow(b, p, t, C) / t_oracle(C, b, p),
                         b_true=run_div3(b, p, t, C) / t_oracle(C, b, p)))
    subsets = [("all", lambda r: True), ("fast", lambda r: not r["timeout"]),
               ("timeout", lambda r: r["timeout"]), ("b<1000", lambda r: r["b"] < 1000),
               ("b>=1000", lambda r: r["b"] >= 1000)]
    print(f"n={n} K={K} M={M} seed={seed} breaks={breaks} (cells={len(grid(K, breaks))})")
    for key, name in [("opt", "optimal DP (snapped C)"), ("opt_true", "optimal DP, T_o with true C"),
                      ("a", "ref (a) grow x3/bisect (snapped C)"), ("a_true", "ref (a) true C"),
                      ("bb", "ref (b) 5000 /3 (snapped C)"), ("b_true", "ref (b) true C")]:
        print(f"\n## {name}")
        for sname, f in subsets:
            sel = [r[key] for r in rows if f(r)]
            print(f"  {sname:8s} n={len(sel):3d}  {summary(sel)}")


if __name__ == "__main__":
    main()
