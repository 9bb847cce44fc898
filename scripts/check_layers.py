#!/usr/bin/env python3
"""Checks the layering of faceid against the graph CMake builds.

Usage: check_layers.py SOURCE_DIR LAYERS_FILE [COMPILE_COMMANDS]

LAYERS_FILE (written by CMakeLists.txt into the build folder) has one line per layer,
`name|TORCH:faceid_dep,...` (TORCH is TRUE for the layers that use LibTorch), and one per app,
`app/name:faceid_layer,...`. The check fails (exit 1, one line per finding) when
  - the graph has a cycle;
  - a file of src/<L>/ or include/faceid/<L>/ includes "faceid/<M>/..." for a layer M that L
    does not depend on (directly or through its dependencies);
  - a file includes another layer's private header ("<M>/x.hpp" from src/, M != L);
  - a torch-free layer includes a LibTorch header (<torch/...>, <ATen/...>, <c10/...>);
  - an app includes a layer it does not link;
  - (with COMPILE_COMMANDS, CMake's compile_commands.json) a torch-free layer's file is compiled
    with LibTorch's include folder on its command line.
"""
import json
import re
import sys
from pathlib import Path

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
TORCH_HEADER = re.compile(r'^(torch|ATen|c10|caffe2)/')


def parse(path):
    layers, torch, apps = {}, set(), {}
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        head, _, deps = line.partition(":")
        deps = {d.removeprefix("faceid_") for d in deps.split(",") if d}
        if head.startswith("app/"):
            apps[head[4:]] = deps
        else:
            name, _, uses_torch = head.partition("|")
            layers[name] = deps
            if uses_torch.upper() in ("TRUE", "ON", "1"):
                torch.add(name)
    return layers, torch, apps


def closure(graph, start):
    seen, todo = set(), list(graph.get(start, ()))
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(graph.get(n, ()))
    return seen


def main():
    src_dir, layers_file = Path(sys.argv[1]), sys.argv[2]
    layers, torch, apps = parse(layers_file)
    problems = []
    for name in layers:
        if name in closure(layers, name):
            problems.append(f"layer graph: {name} depends on itself (a cycle)")
    files = []
    for name in layers:
        for folder in (src_dir / "src" / name, src_dir / "include" / "faceid" / name):
            files += [(name, f) for f in sorted(folder.glob("*.[ch]pp"))]
    for owner, f in files:
        allowed = closure(layers, owner) | {owner}
        text = f.read_text()
        for m in INCLUDE.finditer(text):
            kind, header = m.groups()
            line = text.count("\n", 0, m.start()) + 1
            where = f"{f.relative_to(src_dir)}:{line}"
            first = header.split("/")[0]
            if kind == "<":
                if owner not in torch and TORCH_HEADER.match(header):
                    problems.append(f"{where}: torch-free layer '{owner}' includes <{header}>")
                continue
            if first == "faceid" and header.count("/") >= 2:
                layer = header.split("/")[1]
                if layer not in allowed:
                    problems.append(f"{where}: layer '{owner}' includes {header}, but '{owner}' "
                                    f"does not depend on '{layer}' (allowed: "
                                    f"{', '.join(sorted(allowed))})")
            elif first in layers and first != owner:
                problems.append(f"{where}: layer '{owner}' includes the private header {header} "
                                f"of layer '{first}'")
    for app, libs in apps.items():
        allowed = set(libs)
        for lib in libs:
            allowed |= closure(layers, lib)
        f = src_dir / "apps" / f"{app}.cpp"
        text = f.read_text()
        for m in INCLUDE.finditer(text):
            kind, header = m.groups()
            if kind == '"' and header.startswith("faceid/") and header.count("/") >= 2:
                layer = header.split("/")[1]
                if layer not in allowed:
                    line = text.count("\n", 0, m.start()) + 1
                    problems.append(f"apps/{app}.cpp:{line}: includes {header} but links only "
                                    f"{', '.join(sorted(libs))}")
    if len(sys.argv) > 3:
        torch_free = {n for n in layers if n not in torch}
        for entry in json.loads(Path(sys.argv[3]).read_text()):
            rel = Path(entry["file"]).resolve().relative_to(src_dir.resolve()) \
                if Path(entry["file"]).resolve().is_relative_to(src_dir.resolve()) else None
            if rel is None or rel.parts[0] != "src" or rel.parts[1] not in torch_free:
                continue
            if "torch/csrc/api/include" in entry.get("command", ""):
                problems.append(f"{rel}: torch-free layer '{rel.parts[1]}' is compiled with "
                                "LibTorch's include folder (a PUBLIC torch dependency leaked)")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} layering problem(s); the graph is in CMakeLists.txt "
              "(faceid_layer) and docs/architecture.md")
        return 1
    print(f"layers: {len(layers)} layers, {len(apps)} apps, {len(files)} files: no upward include")
    return 0


if __name__ == "__main__":
    sys.exit(main())
