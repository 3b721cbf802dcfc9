"""The suite's mutation score: mutmut 3 over the emulator's request handling, its store, the query
model and signing, with the conformance suite against the embedded emulator as the test command.

    python -m pip install -e '.[test]' 'mutmut>=3.8,<4'
    python benchmarks/mutation.py [--sample 400 --seed 1] [--max-children 2]

It works in ``build/mutation/`` (``--workdir``; git ignores ``build/``): a copy of ``conformance/``
(with ``schemas/`` and ``docs/`` where an installed package has them), a ``pyproject.toml`` that
holds the mutmut configuration, and mutmut's own ``mutants/``. The repository is not touched.

The test command is ``pytest conformance/suite/test_conformance.py -p mutation_plugin
--examples-profile dev --seed 0`` (``--examples-profile``), run by mutmut in its ``mutants/``
copy: the suite, in-process, against the embedded emulator (300 jobs, seed 0), 8 examples per
check. ``benchmarks/mutation_plugin.py`` keeps each mutant in the emulator (the suite's client,
checks and oracle run the original code), runs every check for every mutant, and counts any
verdict but conformant as a kill, recording which checks failed.

``--sample N`` tests N mutants drawn at random (``--seed``) from all of them; without it, all.
``--survivors-of RESULTS`` tests only the mutants that survived a finished run (its
``results.json``), e.g. again at the default depth: ``--examples-profile ci --workdir
build/mutation-ci --survivors-of build/mutation/results.json``. ``--skip-chosen-of RUN`` leaves
out the mutants an earlier run (its ``run.json``) tested: ``--sample 250 --seed 1`` draws the
150 of ``--sample 150 --seed 1`` first (``random.sample`` picks one at a time), so it tests
only the 100 more.
It prints the figures as Markdown and writes ``results.json`` and ``survivors.md`` (each
survivor's diff and status) to the work directory; ``--report`` only re-reads a finished run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTATED = (
    "conformance/emulator/app.py",
    "conformance/emulator/store.py",
    "conformance/query.py",
    "conformance/signing.py",
)
SUITE = "conformance/suite/test_conformance.py"
# mutmut's exit codes (mutmut.stats.status_by_exit_code), as we count them
STATUS = {1: "killed", 3: "killed", 0: "survived", 33: "no tests", 5: "no tests", None: "not run"}
TIMEOUTS = {-24, 24, 152, 255, 36}

GENERATE = """
import mutmut.__main__ as m
m.set_mutant_under_test("mutant_generation")
m.copy_src_dir()
m.copy_also_copy_files()
m.create_mutants({children})
"""


def configuration(args: argparse.Namespace) -> str:
    pytest_args = ["-p", "mutation_plugin", "--examples-profile", args.examples_profile,
                   "--seed", str(args.suite_seed)]  # fmt: skip
    return f"""# written by benchmarks/mutation.py
[tool.mutmut]
source_paths = ["conformance"]
only_mutate = {json.dumps(list(MUTATED))}
pytest_add_cli_args = {json.dumps(pytest_args)}
pytest_add_cli_args_test_selection = ["{SUITE}"]
also_copy = ["mutation_plugin.py"]
timeout_multiplier = {args.timeout_multiplier}
use_git_change_detection = false

[tool.pytest.ini_options]
addopts = "-p no:cacheprovider"
"""


def prepare(work: Path, args: argparse.Namespace) -> None:
    """A fresh copy of the package, laid out as installed, with the configuration."""
    if work.exists():
        shutil.rmtree(work)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "conformance", work / "conformance", ignore=ignore)
    shutil.copytree(ROOT / "schemas", work / "conformance" / "schemas", ignore=ignore)
    shutil.copytree(ROOT / "docs", work / "conformance" / "docs", ignore=ignore)
    shutil.copy2(Path(__file__).with_name("mutation_plugin.py"), work / "mutation_plugin.py")
    (work / "pyproject.toml").write_text(configuration(args), "utf-8")


def metas(work: Path) -> dict[str, dict]:
    return {
        path: json.loads((work / "mutants" / f"{path}.meta").read_text("utf-8"))
        for path in MUTATED
        if (work / "mutants" / f"{path}.meta").exists()
    }


def every_mutant(work: Path, children: int) -> list[str]:
    """Every mutant's name (mutmut's generation step, without its test runs)."""
    subprocess.run([sys.executable, "-c", GENERATE.format(children=children)], cwd=work,
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return sorted(k for meta in metas(work).values() for k in meta["exit_code_by_key"])


def status(code: int | None) -> str:
    return "timeout" if code in TIMEOUTS else STATUS.get(code, f"suspicious ({code})")


def diffs(work: Path, names: list[str]) -> dict[str, str]:
    """Each mutant's diff, as ``mutmut show`` prints it (one process for all)."""
    if not names:
        return {}
    code = (
        "import json, sys\n"
        "from mutmut.__main__ import find_mutant, get_diff_for_mutant\n"
        "out = {}\n"
        "for name in json.load(sys.stdin):\n"
        "    out[name] = get_diff_for_mutant(name, path=find_mutant(name).path)\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, input=json.dumps(names),
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(proc.stdout)


def report(work: Path, chosen: list[str], meta_info: dict) -> dict:
    by_name: dict[str, tuple[str, int | None, float | None]] = {}
    for path, meta in metas(work).items():
        for name, code in meta["exit_code_by_key"].items():
            if name in chosen:
                by_name[name] = (path, code, meta.get("durations_by_key", {}).get(name))
    verdicts = {}
    for name in by_name:
        f = work / "verdicts" / f"{name}.json"
        if f.exists():
            verdicts[name] = json.loads(f.read_text("utf-8"))
    counts = Counter(status(code) for _, code, _ in by_name.values())
    per_file = {
        path: dict(Counter(status(c) for p, c, _ in by_name.values() if p == path))
        for path in MUTATED
    }
    kinds = Counter(
        (v["verdict"] or "?") for n, v in verdicts.items() if status(by_name[n][1]) == "killed"
    )
    killers = Counter(f["check"] for v in verdicts.values() for f in v["failed"][:1])
    survivors = sorted(n for n, (_, c, _) in by_name.items() if status(c) != "killed")
    shown = diffs(work, survivors)
    lines = []
    for n in survivors:
        path, code, _ = by_name[n]
        lines += [f"## {n} ({status(code)})", "", "```diff", shown.get(n, "").strip(), "```", ""]
    (work / "survivors.md").write_text("\n".join(lines), "utf-8")
    tested = counts["killed"] + counts["survived"] + counts["timeout"]
    result = {
        **meta_info,
        "mutants": len(by_name),
        "counts": dict(counts),
        "per_file": per_file,
        "tested": tested,
        "score": round(100 * (counts["killed"] + counts["timeout"]) / tested, 1)
        if tested
        else None,
        "kills_by_verdict": dict(kinds),
        "first_failed_check": dict(killers.most_common()),
        "survivors": {
            n: {"file": by_name[n][0], "status": status(by_name[n][1]), "diff": shown.get(n, "")}
            for n in survivors
        },
    }
    (work / "results.json").write_text(json.dumps(result, indent=1), "utf-8")
    return result


def markdown(r: dict) -> str:
    c = r["counts"]
    out = [
        f"mutants: {r['mutants']} of {r['total_mutants']}"
        + (f" (random sample, seed {r['seed']})" if r["sample"] else "")
        + (f" (the survivors of {r['survivors_of']})" if r.get("survivors_of") else "")
        + f"; wall {r['wall_s'] / 60:.1f} min, {r['max_children']} at a time",
        f"score: {r['score']}% = (killed {c.get('killed', 0)} + timeout {c.get('timeout', 0)})"
        f" / tested {r['tested']}; survived {c.get('survived', 0)}; "
        f"not run by the emulator (no tests) {c.get('no tests', 0)}",
        "",
        "| file | killed | timeout | survived | no tests |",
        "|---|---:|---:|---:|---:|",
    ]
    for path, f in r["per_file"].items():
        out.append(f"| `{path}` | {f.get('killed', 0)} | {f.get('timeout', 0)} | "
                   f"{f.get('survived', 0)} | {f.get('no tests', 0)} |")  # fmt: skip
    out += ["", f"kills by verdict: {r['kills_by_verdict']}"]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "mutation")
    parser.add_argument("--sample", type=int, default=0, help="test N mutants drawn at random")
    parser.add_argument("--seed", type=int, default=1, help="the sample's seed")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--examples-profile", default="dev", choices=("dev", "ci", "thorough"))
    parser.add_argument("--suite-seed", type=int, default=0, help="the suite's --seed")
    parser.add_argument("--timeout-multiplier", type=float, default=5.0)
    parser.add_argument("--survivors-of", type=Path, help="test the survivors of this results.json")
    parser.add_argument("--skip-chosen-of", type=Path,
                        help="leave out the mutants an earlier run (its run.json) chose")  # fmt: skip
    parser.add_argument("--report", action="store_true", help="only re-read a finished run")
    args = parser.parse_args()
    work = args.workdir.resolve()
    if args.report:
        info = json.loads((work / "run.json").read_text("utf-8"))
    else:
        prepare(work, args)
        names = every_mutant(work, args.max_children)
        if args.survivors_of:
            earlier = json.loads(args.survivors_of.read_text("utf-8"))["survivors"]
            chosen = [n for n, v in earlier.items() if v["status"] == "survived"]
        elif args.sample:
            chosen = random.Random(args.seed).sample(names, args.sample)
        else:
            chosen = names
        if args.skip_chosen_of:  # a larger sample of the same seed extends a smaller one
            done = set(json.loads(args.skip_chosen_of.read_text("utf-8"))["chosen"])
            chosen = [n for n in chosen if n not in done]
        started = time.monotonic()
        env = {"CI_MUTATION_OUT": str(work / "verdicts")}
        proc = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children",
                               str(args.max_children), *sorted(chosen)], cwd=work,
                              env={**os.environ, **env})  # fmt: skip
        info = {
            "total_mutants": len(names),
            "sample": args.sample,
            "survivors_of": str(args.survivors_of or ""),
            "seed": args.seed,
            "chosen": sorted(chosen),
            "max_children": args.max_children,
            "examples_profile": args.examples_profile,
            "wall_s": round(time.monotonic() - started, 1),
            "mutmut_exit": proc.returncode,
        }
        (work / "run.json").write_text(json.dumps(info, indent=1), "utf-8")
    result = report(work, info["chosen"], {k: v for k, v in info.items() if k != "chosen"})
    print(markdown(result))


if __name__ == "__main__":
    main()
