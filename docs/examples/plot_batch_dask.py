"""
A batch larger than memory, with Dask
=====================================

When the curves are a dask array, :func:`trustfit.fit_batch` fits it block by block (each
block the same kernel and the same rescue) and the results equal the in-memory ones bit
for bit, whatever the chunking, on one machine or a ``dask.distributed`` cluster.
``compute=False`` returns a lazy result whose ``.compute()`` runs the fits. The batch
here is small so that the page builds quickly.
"""

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np

import trustfit

N, m = 2000, 24
t = np.linspace(0.0, 4.0, m)
rng = np.random.default_rng(7)
true_k = rng.uniform(0.3, 2.0, N)
Y = 1.5 * np.exp(-true_k[:, None] * t) + 0.2 + 0.01 * rng.standard_normal((N, m))

lazy = trustfit.fit_batch("a*exp(-k*t) + c", t, da.from_array(Y, chunks=(500, m)),
                          p0=[1.0, 1.0, 0.0], compute=False)
result = lazy.compute()
print(result.summary())

in_memory = trustfit.fit_batch("a*exp(-k*t) + c", t, Y, p0=[1.0, 1.0, 0.0],
                               backend=result.backend.replace("+dask", ""))
print("identical to the in-memory fit:", np.array_equal(result.params, in_memory.params))

# %%
fig, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
ax.plot(true_k, result.params[:, 1], ".", ms=2)
ax.plot([0.3, 2], [0.3, 2], "k--", lw=0.8)
ax.set(xlabel="true k", ylabel="fitted k", title=f"{N} curves in 4 dask blocks")
