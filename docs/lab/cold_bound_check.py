# sanity: DP root value E[(T-anchor)/T_o] equals the DP policy simulated over every grid capacity
import sys, math, numpy as np
import cold_bound as B
def sim(A, c, cls, kc, b, p, t):
    K = len(c); i, j, R, T = 0, K, B.N, 0.0
    while R > 0:
        a = int(A[i, j, R])
        if a == 0: return T + math.ceil(R / c[i]) * b + p * R
        s = int(c[a]) if a > 0 else math.ceil(R / -a); k = cls[s]
        if kc >= k: T += b + p * s; R -= s; i = k
        else: T += B.fail_cost(s, b, p, t); j = k
    return T
for b, p, t in [(300, 0.3, False), (300, 0.3, True), (2000, 1.5, True)]:
    K, M = 40, 16
    c = B.grid(K); cls = np.searchsorted(c, np.arange(B.N + 1), side='left')
    w = np.array([1.0 / K / B.t_oracle(ck, b, p) for ck in c])
    A, root = B.solve(c, w, cls, b, p, t, M)
    r = [sim(A, c, cls, kc, b, p, t) / B.t_oracle(int(c[kc]), b, p) for kc in range(K)]
    print(b, p, t, 'DP root %.5f  simulated mean %.5f  min ratio %.4f' % (root, np.mean(r), min(r)))
