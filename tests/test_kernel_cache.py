"""The kernel cache runs only code trustfit generated: planted modules never execute.

A module planted under the exact name trustfit would load (the name is the hash of
the source, which an attacker can compute) must not run from any folder the process
may use: $TRUSTFIT_CACHE_DIR, ~/.cache/trustfit/batch, $TMPDIR/trustfit-batch-<uid>.
Folders that are world-writable, symbolic links, owned by someone else, or under a
world-writable ancestor are refused.  The tests use tiny sources (no numba compile).
"""

import hashlib
import os
import stat
import tempfile
from pathlib import Path

import pytest

from trustfit.batch import _cache
from trustfit.batch._cache import PREFIX, cache_dir, load_module, unsafe_reason

SOURCE = "VALUE = 42\n"


def module_name(source=SOURCE):
    return PREFIX + hashlib.sha256(source.encode()).hexdigest()[:32]


def plant(folder, marker, source=SOURCE):
    """Write, under the name trustfit would use for ``source``, a module that leaves
    ``marker`` behind when executed."""
    folder.mkdir(parents=True, exist_ok=True)
    evil = f"open({str(marker)!r}, 'w').write('pwned')\nVALUE = 666\n"
    path = folder / f"{module_name(source)}.py"
    path.write_text(evil)
    return path


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """HOME, TMPDIR and TRUSTFIT_CACHE_DIR all inside tmp_path; nothing cached."""
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir(mode=0o700)
    tmp.mkdir(mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("TRUSTFIT_CACHE_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    for name in [n for n in list(__import__("sys").modules) if n.startswith(PREFIX)]:
        monkeypatch.delitem(__import__("sys").modules, name)
    return tmp_path


def default_folders(root):
    return [root / "home" / ".cache" / "trustfit" / "batch",
            root / "tmp" / f"trustfit-batch-{os.getuid()}"]


def test_a_private_folder_is_created_0700_and_used(isolated):
    folder = cache_dir()
    assert folder == default_folders(isolated)[0]
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder / "__pycache__").st_mode) == 0o700
    mod = load_module(SOURCE)
    assert mod.VALUE == 42
    path = folder / f"{module_name()}.py"
    assert mod.__file__ == str(path)  # numba's cache is keyed on this file
    assert path.read_text() == SOURCE


def test_a_planted_module_in_the_private_folder_is_replaced_not_run(isolated):
    marker = isolated / "marker"
    path = plant(default_folders(isolated)[0], marker)
    os.chmod(path.parent, 0o700)
    mod = load_module(SOURCE)
    assert mod.VALUE == 42 and not marker.exists()
    assert path.read_text() == SOURCE  # rewritten with our bytes


@pytest.mark.parametrize("where", ["env", "home", "tmp"])
def test_planted_modules_in_world_writable_folders_never_run(isolated, monkeypatch, where):
    marker = isolated / "marker"
    env_dir = isolated / "shared"
    folders = {"env": [env_dir], "home": default_folders(isolated),
               "tmp": default_folders(isolated)}[where]
    if where == "env":
        monkeypatch.setenv("TRUSTFIT_CACHE_DIR", str(env_dir))
    if where == "tmp":  # ~/.cache is safe but unusable: a file where the folder should be
        (isolated / "home" / ".cache").write_text("not a folder")
        folders = folders[1:]
    for folder in folders:
        plant(folder, marker)
        os.chmod(folder, 0o777)
    assert cache_dir() is None  # no folder passes: kernels compile in memory
    mod = load_module(SOURCE)
    assert mod.VALUE == 42 and not marker.exists()
    assert mod.__file__.startswith("<trustfit kernel")


def test_a_symlinked_folder_is_refused(isolated, monkeypatch):
    real = isolated / "real"
    real.mkdir(mode=0o700)
    link = isolated / "link"
    link.symlink_to(real)
    monkeypatch.setenv("TRUSTFIT_CACHE_DIR", str(link))
    marker = isolated / "marker"
    plant(real, marker)
    assert unsafe_reason(link) == "it is a symbolic link"
    assert cache_dir() is None
    assert load_module(SOURCE).VALUE == 42 and not marker.exists()


def test_a_symlinked_module_file_is_not_followed(isolated):
    folder = cache_dir()
    marker = isolated / "marker"
    elsewhere = plant(isolated / "elsewhere", marker)
    (folder / elsewhere.name).symlink_to(elsewhere)
    assert load_module(SOURCE).VALUE == 42 and not marker.exists()
    assert not (folder / elsewhere.name).is_symlink()  # replaced by our own file


def test_a_symlinked_pycache_is_refused(isolated, monkeypatch):
    folder = isolated / "cache"
    folder.mkdir(mode=0o700)
    (isolated / "other").mkdir(mode=0o700)
    (folder / "__pycache__").symlink_to(isolated / "other")
    monkeypatch.setenv("TRUSTFIT_CACHE_DIR", str(folder))
    assert cache_dir() is None


def test_a_folder_under_a_world_writable_parent_is_refused(isolated, monkeypatch):
    parent = isolated / "open"
    parent.mkdir()
    os.chmod(parent, 0o777)  # anyone could rename the cache folder away and swap it
    monkeypatch.setenv("TRUSTFIT_CACHE_DIR", str(parent / "cache"))
    assert "without the sticky bit" in _cache._prepare(parent / "cache")
    assert cache_dir() is None
    os.chmod(parent, 0o1777)  # sticky, as /tmp: others cannot rename our entries
    assert cache_dir() == parent / "cache"


def test_group_writable_folder_is_refused_with_its_mode(isolated, monkeypatch):
    folder = isolated / "grp"
    folder.mkdir()
    os.chmod(folder, 0o770)
    monkeypatch.setenv("TRUSTFIT_CACHE_DIR", str(folder))
    assert unsafe_reason(folder) == "it is writable by group or others (mode 0770)"
    assert cache_dir() is None


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder away needs root")
def test_a_folder_owned_by_someone_else_is_refused(isolated, monkeypatch):
    folder = isolated / "theirs"
    marker = isolated / "marker"
    plant(folder, marker)
    os.chmod(folder, 0o755)
    os.chown(folder, 12345, 12345)
    monkeypatch.setenv("TRUSTFIT_CACHE_DIR", str(folder))
    assert "owned by uid 12345" in unsafe_reason(folder)
    assert cache_dir() is None
    assert load_module(SOURCE).VALUE == 42 and not marker.exists()


def test_in_memory_kernels_switch_numba_disk_cache_off(isolated, monkeypatch):
    monkeypatch.setenv("TRUSTFIT_CACHE_DIR", str(isolated / "x" / "y"))
    os.chmod(isolated, 0o777)  # unsafe ancestor
    try:
        source = "import types\nSEEN = 'cache=True'\n"
        mod = load_module(source)
        assert mod.SEEN == "cache=False"  # the textual switch reached the decorators' text
    finally:
        os.chmod(isolated, 0o700)


def test_the_generated_kernel_ignores_a_planted_module(isolated, monkeypatch):
    """End to end through the batch loader (numba decorators are lazy: no compile)."""
    pytest.importorskip("numba")
    pytest.importorskip("sympy")
    from trustfit.batch import _kernel
    from trustfit.batch._model import as_batch_model

    env_dir = isolated / "cache"
    monkeypatch.setenv("TRUSTFIT_CACHE_DIR", str(env_dir))
    monkeypatch.setattr(_kernel, "_MODULES", {})
    bm = as_batch_model("a*exp(-k*t) + c")
    source = _kernel.kernel_source(bm, "lm")
    marker = isolated / "marker"
    plant(env_dir, marker, source)
    os.chmod(env_dir, 0o777)
    mod = _kernel.load_kernel(bm, "lm")
    assert not marker.exists() and hasattr(mod, "fit_serial")
    os.chmod(env_dir, 0o700)  # now private: the planted bytes differ, so replaced
    monkeypatch.setattr(_kernel, "_MODULES", {})
    for name in [n for n in list(__import__("sys").modules) if n.startswith(PREFIX)]:
        monkeypatch.delitem(__import__("sys").modules, name)
    mod = _kernel.load_kernel(bm, "lm")
    assert not marker.exists() and hasattr(mod, "fit_serial")
    assert (env_dir / f"{module_name(source)}.py").read_text() == source


def test_generated_source_names_the_kernel_modules_it_runs(monkeypatch):
    """The generated module holds only the model's code and names the SHA-256 of the
    kernel modules it binds: changed kernel code is a new file (a new numba cache), never
    a stale cached binary."""
    pytest.importorskip("numba")
    pytest.importorskip("sympy")
    from trustfit.batch import _kernel, _kernel_bind
    from trustfit.batch._model import as_batch_model

    bm = as_batch_model("a*exp(-k*t) + c")
    source = _kernel.kernel_source(bm, "lm")
    assert _kernel_bind.sources_digest("lm_model") in source
    assert "def _lm_one" not in source and "def _accum" in source
    solver = _kernel.solver_source()  # 'lm': the solver shared by every model, no model code
    assert _kernel_bind.sources_digest("lm_solver") in solver and "def " not in solver
    monkeypatch.setitem(_kernel_bind._DIGESTS, "lm_model", "0" * 64)
    assert module_name(_kernel.kernel_source(bm, "lm")) != module_name(source)
    monkeypatch.setitem(_kernel_bind._DIGESTS, "lm_solver", "0" * 64)
    assert module_name(_kernel.solver_source()) != module_name(solver)


def test_kernel_functions_run_from_the_generated_file(isolated, monkeypatch):
    """Bound kernel functions carry the generated file's name (numba keys its disk cache
    on it, in the private folder) and compile there; in memory, with the disk cache off."""
    pytest.importorskip("numba")
    pytest.importorskip("sympy")
    from trustfit.batch import _kernel
    from trustfit.batch._model import as_batch_model

    monkeypatch.setenv("TRUSTFIT_CACHE_DIR", str(isolated / "cache"))
    monkeypatch.setattr(_kernel, "_MODULES", {})
    bm = as_batch_model("a*exp(-k*t) + c")
    mod = _kernel.load_kernel(bm, "lm")
    # 'lm': the shared solver's functions in its generated file, the model's in the model's
    for name in ("_lm_one", "fit_parallel", "nielsen_accept"):
        assert getattr(mod.solver, name).py_func.__code__.co_filename == mod.solver.__file__
    assert mod.model_module.tf_exp.py_func.__code__.co_filename == mod.__file__
    assert mod.__file__.startswith(str(isolated / "cache"))
    assert mod.solver.__file__.startswith(str(isolated / "cache"))
    assert mod.fit_parallel._cache.__class__.__name__ == "FunctionCache"
    assert mod.model_module.accum_c._cache.__class__.__name__ == "FunctionCache"
    os.chmod(isolated / "cache", 0o777)  # unsafe: in memory, no disk cache
    monkeypatch.setattr(_kernel, "_MODULES", {})
    for name in [n for n in list(__import__("sys").modules) if n.startswith(PREFIX)]:
        monkeypatch.delitem(__import__("sys").modules, name)
    try:
        mod = _kernel.load_kernel(bm, "lm")
        assert mod.__file__.startswith("<") and mod.solver.__file__.startswith("<")
        assert mod.fit_parallel._cache.__class__.__name__ == "NullCache"
        assert mod.model_module.accum_c._cache.__class__.__name__ == "NullCache"
    finally:
        os.chmod(isolated / "cache", 0o700)


def test_kernel_is_cached_and_loaded(isolated, monkeypatch):
    """The cheap queries a backend chooser asks (nothing generated or compiled by them),
    and the rules that make a cached kernel trusted: a note of ours names an intact module
    of this process's kernel code, with numba's index for the entry point not older than
    the module."""
    pytest.importorskip("numba")
    pytest.importorskip("sympy")
    from trustfit.batch import _kernel, _kernel_bind
    from trustfit.batch._model import as_batch_model

    monkeypatch.setenv("TRUSTFIT_CACHE_DIR", str(isolated / "cache"))
    monkeypatch.setattr(_kernel, "_MODULES", {})
    bm = as_batch_model("a*exp(-k*t) + c")
    assert not _kernel.kernel_is_cached(bm, "lm") and not _kernel.kernel_is_loaded(bm, "lm")
    mod = _kernel.load_kernel(bm, "lm")  # executed: the model's callables compiled, no solver
    assert not _kernel.kernel_is_loaded(bm, "lm") and not _kernel.kernel_is_cached(bm, "lm")
    # numba's index for the shared solver's entry point, as a compile leaves it (the
    # model's callables are in the cache already): now it would load
    index = isolated / "cache" / "__pycache__" / f"{mod.solver.__name__}.fit_parallel-1.py3.nbi"
    index.write_bytes(b"")
    monkeypatch.setattr(_kernel, "_MODULES", {})
    assert _kernel.kernel_is_cached(bm, "lm", parallel=True)
    assert not _kernel.kernel_is_cached(bm, "lm", parallel=False)
    assert not _kernel.kernel_is_loaded(bm, "lm")
    assert not _kernel.kernel_is_cached(bm, "varpro")  # another kernel, another note

    module = Path(mod.__file__)
    note = isolated / "cache" / f"{_kernel._key(bm, 'lm')}.kernel"
    made = os.stat(index).st_mtime
    os.utime(module, (made + 10, made + 10))  # module rewritten after the index: stale
    assert not _kernel.kernel_is_cached(bm, "lm")
    os.utime(module, (made - 10, made - 10))
    assert _kernel.kernel_is_cached(bm, "lm")
    source = module.read_bytes()
    module.write_bytes(source + b"# edited\n")  # not the bytes its name is the hash of
    os.utime(module, (made - 10, made - 10))
    assert not _kernel.kernel_is_cached(bm, "lm")
    module.write_bytes(source)
    os.utime(module, (made - 10, made - 10))
    assert _kernel.kernel_is_cached(bm, "lm")
    os.chmod(note, 0o666)  # a note others could have written is not read
    assert not _kernel.kernel_is_cached(bm, "lm")
    os.chmod(note, 0o600)
    text = note.read_text()
    note.write_text("garbage")
    assert not _kernel.kernel_is_cached(bm, "lm")
    note.write_text(text)
    assert _kernel.kernel_is_cached(bm, "lm")
    # other kernel code in this process (a changed kernel module): the cached one is stale
    monkeypatch.setitem(_kernel_bind._DIGESTS, "lm_solver", "0" * 64)
    assert not _kernel.kernel_is_cached(bm, "lm")
