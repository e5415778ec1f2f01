# sanity: DP root value E[(T-anchor)/T_o] equals the DP policy simulated over every grid capacity,
# without the engine's pacing floor and with it (pace: every call costs at least that many ms)
import sys, math, numpy as np
import cold_bound as B
def sim(A, c, cls, kc, b, p, t, pace):
    K = len(c); i, j, R, T = 0, K, B.N, 0.0
    while R > 0:
        a = int(A[i, j, R])
        if a == 0:
            n = math.ceil(R / c[i]); return T + n * max(b + p * R / n, pace)
        s = int(c[a]) if a > 0 else math.ceil(R / -a); k = cls[s]
        if kc >= k: T += max(b + p * s, pace); R -= s; i = k
        else: T += B.fail_cost(s, b, p, t, pace); j = k
    return T
for b, p, t, pace in [(300, 0.3, False, 0.0), (300, 0.3, True, 0.0), (2000, 1.5, True, 0.0), (120, 0.06, True, 500.0), (300, 0.1, False, 500.0)]:
    K, M = 40, 16
    c = B.grid(K); cls = np.searchsorted(c, np.arange(B.N + 1), side='left')
    w = np.array([1.0 / K / B.t_oracle(ck, b, p, pace) for ck in c])
    A, root = B.solve(c, w, cls, b, p, t, M, pace)
    r = [sim(A, c, cls, kc, b, p, t, pace) / B.t_oracle(int(c[kc]), b, p, pace) for kc in range(K)]
    print(b, p, t, pace, 'DP root %.5f  simulated mean %.5f  min ratio %.4f' % (root, np.mean(r), min(r)))
