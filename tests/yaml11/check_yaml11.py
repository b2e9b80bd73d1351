"""Every example plan reads the same to every YAML tool, and validates against the schema there.

callplan reads YAML 1.2, where `on`, `yes` and `09:00` are strings. Tools that read YAML 1.1
(PyYAML, yamllint, many CI linters and editors) read them as the boolean true and the number 540.
A plan that two tools read differently is a plan one of them validates wrongly. This loads every
example plan, every `callplan init` template and every plan under tests/plans/ok/ twice, with
PyYAML (YAML 1.1) and ruamel.yaml (YAML 1.2), requires both readings to be equal, and validates
the YAML 1.1 reading against schemas/callplan.v1.schema.json.

Usage: python tests/yaml11/check_yaml11.py   (CALLPLAN_BIN: the binary, for `init`)
"""

import glob
import json
import os
import subprocess
import sys
import tempfile

import jsonschema
import yaml
from ruamel.yaml import YAML

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plain(value):
    """A parsed document as plain JSON-like data (ruamel's own types made dicts and lists)."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value) if not isinstance(value, str) else value


def init_templates(binary, into):
    paths = []
    for provider in ("genesys", "cxone", "http"):
        path = os.path.join(into, f"init-{provider}.yaml")
        subprocess.run(
            [binary, "init", path, "--provider", provider],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        paths.append(path)
    return paths


def main():
    binary = os.environ.get("CALLPLAN_BIN", os.path.join(ROOT, "target", "debug", "callplan"))
    with open(os.path.join(ROOT, "schemas", "callplan.v1.schema.json")) as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    yaml12 = YAML(typ="safe", pure=True)
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        plans = sorted(glob.glob(os.path.join(ROOT, "plans", "*.yaml")))
        plans += sorted(glob.glob(os.path.join(ROOT, "tests", "plans", "ok", "*.yaml")))
        plans += init_templates(binary, tmp)
        if len(plans) < 10:
            failures.append(f"only {len(plans)} plans found")
        for path in plans:
            shown = os.path.relpath(path, ROOT) if path.startswith(ROOT) else os.path.basename(path)
            with open(path) as f:
                text = f.read()
            as_11 = yaml.safe_load(text)
            as_12 = plain(yaml12.load(text))
            if as_11 != as_12:
                failures.append(f"{shown}: YAML 1.1 and YAML 1.2 read it differently")
                continue
            errors = sorted(validator.iter_errors(as_11), key=lambda e: list(e.path))
            for e in errors:
                where = "/".join(str(p) for p in e.path) or "(top)"
                failures.append(f"{shown}: {where}: {e.message}")
            print(f"ok  {shown}")
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"{len(plans) - len(failures)} of {len(plans)} plans read alike and validate")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
