# GPU probe (not a benchmark): what the fixed costs of a compile corpus are made of, and what a
# bytecode cache for the preloads and pre-importing the compiler's lazy imports would save.
#   python fixed_costs.py CORPUS_DIR OUT_DIR
# Each configuration is a fresh parent process that imports the preloads (as runner's zygote does:
# PYTORCH_NVML_BASED_CUDA_CHECK=1 for that time) and forks 8 children at once; each child runs two
# programs of the corpus one after the other under cProfile, with fresh compiler caches per configuration.
#   src:         preloads compiled from source (the GPU machine has PYTHONDONTWRITEBYTECODE=1, no .pyc)
#   pyc:         the same preloads read from a bytecode cache (sys.pycache_prefix during the import only)
#   pyc+learned: also the modules the children of `src` imported from the installed packages/stdlib
import json, os, subprocess, sys, tempfile, time

P2 = ["torch", "torch._dynamo", "torch._inductor", "torch._inductor.compile_fx"]


def parent(cfg):
    import cProfile, pstats, runpy, sysconfig
    os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"
    if cfg["prefix"]:
        sys.pycache_prefix, sys.dont_write_bytecode = cfg["prefix"], False
    t0 = time.perf_counter()
    failed = []
    for name in cfg["modules"]:
        try:
            __import__(name)
        except Exception as e:  # a learned module that does not import alone
            failed.append(f"{name}: {type(e).__name__}")
    t_import = time.perf_counter() - t0
    sys.pycache_prefix, sys.dont_write_bytecode = None, True
    del os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"]
    import torch
    assert not torch.cuda.is_initialized()
    before = set(sys.modules)
    roots = tuple({sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")})
    pids = []
    for i, (a, b) in enumerate(cfg["pairs"]):
        pid = os.fork()
        if pid == 0:
            res = {"child": i}
            try:
                fd = os.open(os.devnull, os.O_WRONLY)
                os.dup2(fd, 1)
                for k, prog in (("first", a), ("second", b)):
                    prof = cProfile.Profile()
                    t = time.perf_counter()
                    prof.enable()
                    try:
                        runpy.run_path(prog, run_name="__main__")
                    except BaseException as e:
                        res[k + "_error"] = repr(e)[:200]
                    prof.disable()
                    res[k] = round(time.perf_counter() - t, 3)
                    st = pstats.Stats(prof)
                    cum = {}
                    for (file, line, fn), (cc, nc, tt, ct, callers) in st.stats.items():
                        key = f"{os.path.basename(file)}:{fn}"
                        cum[key] = max(cum.get(key, 0), ct)
                    res[k + "_imports"] = round(cum.get("<frozen importlib._bootstrap>:_find_and_load", 0), 3)
                    res[k + "_cuda_init"] = round(cum.get("__init__.py:_lazy_init", 0), 3)
                    if i == 0:
                        top = sorted(st.stats.items(), key=lambda kv: -kv[1][3])[:40]
                        res[k + "_top"] = [f"{v[3]:7.3f} {os.path.basename(f)}:{l}:{fn}" for (f, l, fn), v in top]
                        own = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:30]
                        res[k + "_own_top"] = [f"{v[2]:7.3f} {os.path.basename(f)}:{l}:{fn}" for (f, l, fn), v in own]
                new = set(sys.modules) - before
                res["new_modules"] = len(new)
                learned = []
                for name in sorted(new):
                    f = getattr(sys.modules.get(name), "__file__", None) or ""
                    if f.startswith(roots) and ".kernel" not in name and "compile_tasks." not in name:
                        learned.append(name)
                res["learned"] = learned
            except BaseException as e:
                res["error"] = repr(e)
            with open(os.path.join(cfg["out"], f"child{i}.json"), "w") as fh:
                json.dump(res, fh)
            os._exit(0)
        pids.append(pid)
    t1 = time.perf_counter()
    for pid in pids:
        os.waitpid(pid, 0)
    print(json.dumps({"import": round(t_import, 3), "children_wall": round(time.perf_counter() - t1, 3),
                      "failed": failed}))


def run_parent(cfg, env_extra):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **env_extra)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, __file__, "--parent", json.dumps(cfg)], env=env,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    out = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else {"rc": p.returncode, "stderr": p.stderr[-2000:]}
    out["whole"] = round(wall, 3)
    return out


def populate(modules, prefix):
    t = time.perf_counter()
    code = "import os,sys\nos.environ['PYTORCH_NVML_BASED_CUDA_CHECK']='1'\nfor m in sys.argv[1:]:\n  try: __import__(m)\n  except Exception: pass"
    subprocess.run([sys.executable, "-c", code, *modules], env=dict(os.environ, PYTHONPYCACHEPREFIX=prefix,
                   PYTHONDONTWRITEBYTECODE=""), check=True)
    return round(time.perf_counter() - t, 3)


def main():
    corpus, out = sys.argv[1], sys.argv[2]
    progs = sorted(os.path.join(corpus, f) for f in os.listdir(corpus) if f.endswith(".py"))
    work = tempfile.mkdtemp()
    empty = os.path.join(work, "empty-prefix")
    prefix = os.path.join(work, "pyc")
    report = {}
    learned = set()
    for n, (name, mods) in enumerate([("src", P2), ("pyc", P2), ("pyc+learned", None)]):
        if mods is None:
            mods = P2 + sorted(learned)
            report["learned_count"] = len(learned)
        if name != "src":
            report[name + "_populate"] = populate(mods, prefix)
            report[name + "_populate_again"] = populate(mods, prefix)
        d = os.path.join(out, name.replace("+", "_"))
        os.makedirs(d, exist_ok=True)
        pairs = [(progs[(16 * n + i) % len(progs)], progs[(16 * n + 8 + i) % len(progs)]) for i in range(int(os.environ.get("PROBE_CHILDREN", "8")))]
        caches = {"TORCHINDUCTOR_CACHE_DIR": os.path.join(work, name, "inductor"),
                  "TRITON_CACHE_DIR": os.path.join(work, name, "triton")}
        cfg = {"modules": mods, "prefix": None if name == "src" else prefix, "pairs": pairs, "out": d}
        res = run_parent(cfg, dict(caches, PYTHONPYCACHEPREFIX=empty) if name == "src" else caches)
        kids = [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d)) if f.startswith("child")]
        for k in kids:
            learned.update(k.get("learned", []))
        res["children"] = [{k: v for k, v in c.items() if k not in ("learned",) and not k.endswith("_top")} for c in kids]
        res["top"] = {k: v for c in kids for k, v in c.items() if k.endswith("_top")}
        report[name] = res
        print(name, json.dumps({k: v for k, v in res.items() if k not in ("children", "top")}), flush=True)
        for c in res["children"]:
            print("   ", json.dumps(c), flush=True)
    json.dump(report, open(os.path.join(out, "fixed_costs.json"), "w"), indent=1)


if __name__ == "__main__":
    if sys.argv[1] == "--parent":
        parent(json.loads(sys.argv[2]))
    else:
        main()
