"""What each model's generated module provides to the kernel modules (declarations only).

The kernel modules (``_kernel_*.py``) import these names so that readers, linters and type
checkers see where they come from; the kernel never runs these placeholders:
:func:`._kernel_bind.bind_kernel` compiles the kernel functions in the namespace of the
model's generated module, where the generated code (:mod:`._codegen`) and the method's
module (:mod:`._kernel_shared` or :mod:`._kernel_varpro`) define them.
"""

# ruff: noqa: ARG001

#: number of parameters
NP = 0
#: per parameter: its start is not used (variable projection's linear ones)
START_UNUSED: tuple[bool, ...] = ()
#: variable projection: nonlinear and linear parameters, rows of the basis scratch
NTH = NQ = NROWS = 0
#: lanes: accumulators of the Gram pass, of the full pass, and the Gram factors kept
NGACC = NFACC = NGF = 0
#: the method module's: where the workspace holds the final normal matrix and gradient,
#: and whether the loop stops on the Gauss-Newton gain before evaluating; whether the
#: damping is Moré-scaled (``mu D^2``) or ``mu I``
FULL_A = FULL_G = 0
PREDICTED_STOP = False
MORE_SCALING = True


def _missing(*args):
    raise NotImplementedError("a kernel slot: defined by the model's generated module")


# generated for every model (:mod:`._codegen`, :mod:`._codegen_linalg`)
_accum = _damped_step = _curve_stats = _missing
# generated for variable projection
_vp_basis = _vp_gram = _vp_project = _vp_assemble = _vp_split = _vp_join = _missing
# generated for the lanes (:mod:`._codegen_lanes`)
_ln_basis = _ln_gram = _ln_full = _ln_project1 = _lnv_project = _ln_gram_dmax = _missing
_ln_schur1 = _lnv_schur = _ln_take_trial = _ln_step1 = _lnv_step = _missing
# the method module's (:mod:`._kernel_shared`, :mod:`._kernel_varpro`)
_workspace = _eval = _accept = _solve_one = _missing
# the damped step, the curve's statistics and whether a parameter's start is unused, as
# the loop calls them (:mod:`._kernel_model`; :mod:`._kernel_shared`: through the workspace)
_step = _stats = _start_unused = _missing
