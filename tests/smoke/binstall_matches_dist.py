#!/usr/bin/env python3
"""`cargo binstall plurum-cli` must find exactly the archives cargo-dist
makes: renders `[package.metadata.binstall]` of plurum-cli/Cargo.toml for
every target `dist plan` lists, and checks the file name, the release tag
in the URL and where the binary sits in the archive. binstall itself cannot
reach GitHub from CI, so its template is held to the plan instead.

    dist plan --output-format=json > plan.json
    tests/smoke/binstall_matches_dist.py plan.json
"""

import json
import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
SUFFIX = {"txz": ".tar.xz", "tgz": ".tar.gz", "tar": ".tar", "tbz2": ".tar.bz2", "tzstd": ".tar.zst", "zip": ".zip"}


def render(template, values):
    def one(match):
        name = match.group(1).strip()
        if name not in values:
            raise SystemExit(f"binstall template uses {{ {name} }}, which this check does not know")
        return values[name]
    return re.sub(r"\{([^{}]+)\}", one, template)


def main(plan_file):
    plan = json.loads(pathlib.Path(plan_file).read_text())
    cli = tomllib.loads((ROOT / "plurum-cli/Cargo.toml").read_text())
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]
    binstall = cli["package"]["metadata"]["binstall"]
    version = workspace["version"]
    repo = workspace["repository"]
    tag = plan["announcement_tag"]
    problems = []
    archives = {
        name: artifact
        for name, artifact in plan["artifacts"].items()
        if artifact.get("kind") == "executable-zip"
    }
    if not archives:
        raise SystemExit("dist plan lists no archives")
    for name, artifact in sorted(archives.items()):
        target = artifact["target_triples"][0]
        settings = dict(binstall)
        settings.update(binstall.get("overrides", {}).get(target, {}))
        values = {
            "repo": repo,
            "version": version,
            "target": target,
            "archive-suffix": SUFFIX[settings["pkg-fmt"]],
            "binary-ext": ".exe" if "windows" in target else "",
            "bin": "plurum",
            "name": "plurum-cli",
        }
        url = render(settings["pkg-url"], values)
        expected = f"{repo}/releases/download/{tag}/{name}"
        if url != expected:
            problems.append(f"{target}: binstall fetches {url}, dist uploads {expected}")
        # Where the binary is inside the archive: tarballs have a folder
        # named like the archive, zips hold the files at their root.
        executable = next(a["path"] for a in artifact["assets"] if a["kind"] == "executable")
        stem = name[: -len(SUFFIX[settings["pkg-fmt"]])]
        inside = executable if name.endswith(".zip") else f"{stem}/{executable}"
        bin_dir = render(settings["bin-dir"], values)
        if bin_dir != inside:
            problems.append(f"{target}: binstall looks for {bin_dir}, the archive has {inside}")
    if problems:
        raise SystemExit("\n".join(problems))
    print(f"binstall finds all {len(archives)} archives of {tag}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
