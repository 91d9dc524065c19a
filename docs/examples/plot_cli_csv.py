"""
The command line on a CSV file
==============================

``trustfit fit`` reads a CSV file with a header row, fits an expression (or a library
model by name) and prints the report; ``--json`` writes the parameters, their errors and
intervals, the stop reason, the history and the diagnosis; ``--plot``, ``--convergence``
and ``--animate`` draw. The exit code says whether the fit converged (0), did not (1), or
had bad input (2). Here the command runs as a user would run it, in a shell.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

folder = Path(tempfile.mkdtemp())
t = np.linspace(0.0, 8.0, 40)
rng = np.random.default_rng(10)
signal = 4.0 * np.exp(-0.6 * t) + 0.8 + 0.05 * rng.standard_normal(t.size)
csv = folder / "decay.csv"
csv.write_text("time,signal\n" + "".join(f"{a:.6g},{b:.6g}\n" for a, b in zip(t, signal)))
print(csv.read_text()[:80], "...")

# %%
# ``trustfit fit decay.csv --model "a*exp(-k*time) + c" --x time --y signal --p0 a=1,k=1,c=0
# --json fit.json --plot fit.png``:

command = ["trustfit", "fit", str(csv), "--model", "a*exp(-k*time) + c", "--x", "time",
           "--y", "signal", "--p0", "a=1,k=1,c=0", "--json", str(folder / "fit.json"),
           "--plot", str(folder / "fit.png")]
run = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True)
print(run.stdout)
print("exit code", run.returncode)

# %%
# The JSON, for programs:

out = json.loads((folder / "fit.json").read_text())
print("success:", out["success"], " stop_reason:", out["stop_reason"])
for name, p in out["parameters"].items():
    print(f"{name}: {p['value']:.5g} +- {p['stderr']:.2g}, 95 % interval "
          f"[{p['interval'][0]:.5g}, {p['interval'][1]:.5g}]")

# %%
# The picture it drew (``--plot``):

fig, ax = plt.subplots(figsize=(7, 5.6), layout="constrained")
ax.imshow(plt.imread(folder / "fit.png"))
ax.set_axis_off()

# %%
# Bad input is one line naming the problem, and exit code 2:

bad = subprocess.run([sys.executable, "-m", "trustfit", "fit", str(csv), "--model",
                      "a*exp(-k*time) + c", "--x", "time", "--y", "sgnal", "--p0", "a=1,k=1,c=0"],
                     capture_output=True, text=True)
print(bad.stderr.strip().replace(str(folder) + "/", ""), "\nexit code", bad.returncode)
