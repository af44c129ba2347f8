#!/usr/bin/env python3
"""Small image tooling for conformance/images/build (no registry, no docker).

  mkimage.py debs --cache DIR --into ROOTFS [--exclude PKG]... PKG...
      Resolves the Depends/Pre-Depends closure of the Debian packages (first installable
      alternative, providers for virtual packages, skipping --exclude'd ones and their deps),
      downloads the .debs with `apt-get download` into DIR (kept as a cache) and unpacks them
      with `dpkg-deb -x` into ROOTFS. Maintainer scripts are not run.

  mkimage.py oci --rootfs DIR --ref REF -o OUT.tar [--entrypoint JSON] [--cmd JSON]
                 [--env K=V]... [--workdir D] [--user U] [--expose PORT/PROTO]...
                 [--stop-signal SIG] [--label K=V]...
      Writes an OCI image layout as a tar (oci-layout, index.json, blobs/sha256/...) holding one
      image: a single gzip layer with ROOTFS (owned by root, fixed mtimes, modes kept incl.
      setuid), its config and manifest. index.json names it REF in the
      org.opencontainers.image.ref.name annotation (and io.containerd.image.name), so
      `ctr -n k8s.io images import OUT.tar` stores it under REF.
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile

EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "1700000000"))


# ---------------------------------------------------------------------------------------------
# Debian packages


def apt_depends(pkg):
    """Dependency groups of pkg: a list of lists of alternatives (each alternative a list of
    concrete package names: the package itself, or the providers of a virtual package)."""
    out = subprocess.run(
        ["apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-conflicts",
         "--no-breaks", "--no-replaces", "--no-enhances", pkg],
        check=True, capture_output=True, text=True).stdout
    groups, current, alt_open = [], None, False
    for line in out.splitlines()[1:]:
        m = re.match(r"^  (\|?)(Depends|PreDepends): (.+)$", line)
        if m:
            name = m.group(3).strip()
            alt = {"name": name.strip("<>"), "virtual": name.startswith("<"), "providers": []}
            if alt_open and current is not None:
                current.append(alt)
            else:
                current = [alt]
                groups.append(current)
            alt_open = m.group(1) == "|"
            continue
        m = re.match(r"^    (\S+)$", line)
        if m and current:
            current[-1]["providers"].append(m.group(1))
            continue
        if line.startswith("  "):
            current, alt_open = None, False
    resolved = []
    for group in groups:
        options = []
        for alt in group:
            if alt["virtual"]:
                options.extend(alt["providers"])
            else:
                options.append(alt["name"])
        resolved.append([o.split(":")[0] for o in options])
    return resolved


def closure(roots, exclude):
    seen, order, todo = set(), [], list(roots)
    while todo:
        pkg = todo.pop(0)
        if pkg in seen or pkg in exclude:
            continue
        seen.add(pkg)
        order.append(pkg)
        for options in apt_depends(pkg):
            if any(o in seen or o in exclude for o in options):
                continue
            if options:
                todo.append(options[0])
    return order


def cached(cache, prefix):
    return sorted(f for f in os.listdir(cache) if f.startswith(prefix) and f.endswith(".deb"))


def cmd_debs(args):
    os.makedirs(args.cache, exist_ok=True)
    os.makedirs(args.into, exist_ok=True)
    pkgs = closure(args.packages, set(args.exclude))
    wanted = []
    for pkg in pkgs:
        version = subprocess.run(
            ["apt-cache", "policy", pkg], check=True, capture_output=True, text=True).stdout
        m = re.search(r"Candidate: (\S+)", version)
        if not m or m.group(1) == "(none)":
            sys.exit(f"mkimage: no installable candidate for Debian package {pkg}")
        ver = m.group(1).replace(":", "%3a")
        wanted.append((pkg, m.group(1), f"{pkg}_{ver}_"))
    missing = [f"{pkg}={v}" for pkg, v, prefix in wanted if not cached(args.cache, prefix)]
    if missing:
        # apt's download sandbox user cannot write into a root-owned cache dir; as root, skip it.
        sandbox = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []
        subprocess.run(["apt-get", "download", "-q"] + sandbox + missing, cwd=args.cache,
                       check=True, stdout=subprocess.DEVNULL)
    debs = []
    for pkg, _, prefix in wanted:
        found = cached(args.cache, prefix)
        if not found:
            sys.exit(f"mkimage: apt-get download {pkg} left no .deb in {args.cache}")
        debs.append(os.path.join(args.cache, found[0]))
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", deb, args.into], check=True)
    print(" ".join(pkgs))


# ---------------------------------------------------------------------------------------------
# OCI layout


def layer_tar(rootfs):
    """Uncompressed tar bytes of rootfs: sorted, root-owned, fixed mtime."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = []
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            rel = os.path.relpath(dirpath, rootfs)
            for name in sorted(dirnames + filenames):
                entries.append(os.path.normpath(os.path.join(rel, name)))
        for rel in sorted(entries):
            path = os.path.join(rootfs, rel)
            info = tar.gettarinfo(path, arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = EPOCH
            if info.isreg():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def cmd_oci(args):
    raw = layer_tar(args.rootfs)
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, compresslevel=6) as g:
        g.write(raw)
    layer = gz.getvalue()

    config = {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + args.env}
    if args.entrypoint is not None:
        config["Entrypoint"] = json.loads(args.entrypoint)
    if args.cmd is not None:
        config["Cmd"] = json.loads(args.cmd)
    if args.workdir:
        config["WorkingDir"] = args.workdir
    if args.user:
        config["User"] = args.user
    if args.expose:
        config["ExposedPorts"] = {p: {} for p in args.expose}
    if args.stop_signal:
        config["StopSignal"] = args.stop_signal
    if args.label:
        config["Labels"] = dict(kv.split("=", 1) for kv in args.label)
    created = datetime.datetime.fromtimestamp(EPOCH, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    image_config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [sha256(raw)]},
        "history": [{"created": created, "created_by": "k3rs conformance/images/build"}],
    }
    config_bytes = json.dumps(image_config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(layer), "size": len(layer)}],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sha256(manifest_bytes),
            "size": len(manifest_bytes),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"org.opencontainers.image.ref.name": args.ref,
                            "io.containerd.image.name": args.ref},
        }],
    }
    index_bytes = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()

    tmp = args.output + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), EPOCH, 0o644
            tar.addfile(info, io.BytesIO(data))

        def add_dir(name):
            info = tarfile.TarInfo(name)
            info.type, info.mtime, info.mode = tarfile.DIRTYPE, EPOCH, 0o755
            tar.addfile(info)

        add("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        add("index.json", index_bytes)
        add_dir("blobs")
        add_dir("blobs/sha256")
        for data in (config_bytes, manifest_bytes, layer):
            add("blobs/sha256/" + sha256(data).split(":", 1)[1], data)
    os.replace(tmp, args.output)
    print(f"{args.ref} {sha256(manifest_bytes)} layer {len(layer)} bytes")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("debs")
    d.add_argument("--cache", required=True)
    d.add_argument("--into", required=True)
    d.add_argument("--exclude", action="append", default=[])
    d.add_argument("packages", nargs="+")
    o = sub.add_parser("oci")
    o.add_argument("--rootfs", required=True)
    o.add_argument("--ref", required=True)
    o.add_argument("-o", "--output", required=True)
    o.add_argument("--entrypoint")
    o.add_argument("--cmd")
    o.add_argument("--env", action="append", default=[])
    o.add_argument("--workdir")
    o.add_argument("--user")
    o.add_argument("--expose", action="append", default=[])
    o.add_argument("--stop-signal")
    o.add_argument("--label", action="append", default=[])
    args = p.parse_args()
    {"debs": cmd_debs, "oci": cmd_oci}[args.command](args)


if __name__ == "__main__":
    main()
