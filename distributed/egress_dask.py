#!/usr/bin/env python3
"""Run egress-advisor over many log files with Dask, then merge the partial results.

One task per input file: each runs `egress-advisor analyze --partial` on its file and returns
the partial result (JSON text); the partials are merged in a tree on the workers with
`egress-advisor merge --partial`, and the one merged partial is written to --out. That file
gives, with `egress-advisor merge`, `recommend --partials`, `check --partials` or
`migrate --partials`, exactly what one run over all the inputs gives.

Inputs are local paths (files or directories, listed by `egress-advisor list-inputs`, so the
names match a local run) or object-store URLs (`s3://bucket/prefix/`, `gs://...`, anything
fsspec opens): every object under the prefix is a task, streamed into the binary's standard
input and named after its URL (`--stdin-name`).

    python3 distributed/egress_dask.py --out merged.json samples/
    egress-advisor merge merged.json -o json

Local mode (the default) uses Dask's process pool on this machine. On a cluster, pass
`--scheduler tcp://host:8786` (dask.distributed); the binary must be on every worker's PATH,
or at the same --binary path.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import dask
import dask.bag as db


def check(cmd, code, stderr):
    """Exit 3 on an unreadable input still wrote the partial (it lists the input): kept."""
    if code not in (0, 3):
        raise Failed("%s: exit %d: %s" % (" ".join(cmd), code, stderr.decode(errors="replace").strip()))


class Failed(RuntimeError):
    """A failure to report in one line, without a traceback."""


def missing(binary):
    return Failed("the egress-advisor binary %r is not on %s (install it on every worker, or pass "
                  "--binary with its path there)" % (binary, socket.gethostname()))


def run(cmd):
    """Runs egress-advisor; raises with its stderr when it fails."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except (FileNotFoundError, PermissionError) as e:
        raise missing(cmd[0]) from e
    check(cmd, p.returncode, p.stderr)
    return p


def run_streaming(cmd, source):
    """Runs egress-advisor with `source` (any readable file object, such as an S3 or GCS file
    that has no file descriptor) copied into its standard input."""
    with tempfile.TemporaryFile() as err:
        try:
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        except (FileNotFoundError, PermissionError) as e:
            raise missing(cmd[0]) from e
        try:
            shutil.copyfileobj(source, p.stdin, 1 << 20)
        except BrokenPipeError:
            pass
        finally:
            p.stdin.close()
        code = p.wait()
        err.seek(0)
        check(cmd, code, err.read())


def analyze_one(binary, settings, name):
    """The partial result of one input (a local path or an object URL)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "partial.json")
        cmd = [binary, "analyze", "--quiet", "--partial", out] + settings
        if "://" in name:
            import fsspec

            with fsspec.open(name, "rb") as f:
                run_streaming(cmd + ["--stdin-name", name, "-"], f)
        else:
            run(cmd + [name])
        with open(out, encoding="utf-8") as f:
            return f.read()


# Options that name the writer of the logs: the partials record it, and `merge` does not take them.
WRITER_OPTIONS = ("--source-namespace", "--source-workload", "--stdin-name")


def reading_settings(settings):
    """The settings without those naming the writer (`--opt=value` or `--opt value`)."""
    kept, skip = [], False
    for s in settings:
        if skip:
            skip = False
        elif s in WRITER_OPTIONS:
            skip = True
        elif not s.startswith(tuple(o + "=" for o in WRITER_OPTIONS)):
            kept.append(s)
    return kept


def merge_texts(binary, settings, texts):
    """Merges partial results (JSON texts) into one."""
    texts = list(texts)
    if len(texts) == 1:
        return texts[0]
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, t in enumerate(texts):
            p = os.path.join(tmp, "%d.json" % i)
            with open(p, "w", encoding="utf-8") as f:
                f.write(t)
            paths.append(p)
        out = os.path.join(tmp, "merged.json")
        run([binary, "merge", "--quiet", "--partial", out] + reading_settings(settings) + paths)
        with open(out, encoding="utf-8") as f:
            return f.read()


def list_inputs(binary, paths):
    names = []
    local = [p for p in paths if "://" not in p]
    if local:
        names += run([binary, "list-inputs"] + local).stdout.decode().splitlines()
    for url in (p for p in paths if "://" in p):
        import fsspec

        fs, root = fsspec.core.url_to_fs(url)
        protocol = url.split("://", 1)[0]
        found = fs.find(root) if fs.isdir(root) else [root]
        prefix = root.rstrip("/")
        for key in sorted(found):
            below = key[len(prefix):].strip("/") if key.startswith(prefix) else key
            parts = [p for p in below.split("/") if p]
            # The binary's own rule for directories, at every level: no hidden entries, no
            # Markdown.
            if any(p.startswith(".") or p.endswith(".md") for p in parts):
                continue
            names.append(key if "://" in key else "%s://%s" % (protocol, key))
    return sorted(set(names))


def main():
    try:
        job()
    except Exception as e:
        # Raised on a worker and re-raised here (as a copy of the class when it crossed the
        # network): the message says it all.
        if isinstance(e, Failed) or type(e).__name__ == "Failed":
            sys.exit("egress_dask: %s" % e)
        raise


def job():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", help="log files, directories or object-store URLs")
    ap.add_argument("--out", required=True, help="where to write the merged partial result")
    ap.add_argument("--binary", default=shutil.which("egress-advisor") or "egress-advisor",
                    help="the egress-advisor binary on the workers (default: from PATH)")
    ap.add_argument("--scheduler", help="a dask.distributed scheduler address; default: local processes")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="local mode: worker processes (default: one per core)")
    ap.add_argument("--fan-in", type=int, default=16, help="partials merged per merge task (default 16)")
    ap.add_argument("--setting", action="append", default=[],
                    help="an option for every egress-advisor run, e.g. --setting=--cluster-domain=corp.local")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary) if os.path.exists(args.binary) else args.binary
    names = list_inputs(binary, args.paths)
    if not names:
        sys.exit("egress_dask: no input files under %s" % " ".join(args.paths))
    settings = args.setting
    # One task per input; merge tasks take at most --fan-in partials each.
    bag = db.from_sequence(names, npartitions=len(names))
    partials = bag.map(lambda n: analyze_one(binary, settings, n))
    merged = partials.reduction(
        lambda part: merge_texts(binary, settings, part),
        lambda parts: merge_texts(binary, settings, parts),
        split_every=args.fan_in,
    )
    if args.scheduler:
        from dask.distributed import Client

        with Client(args.scheduler):
            text = merged.compute()
    else:
        text = merged.compute(scheduler="processes", num_workers=args.workers)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print("egress_dask: %d inputs merged into %s" % (len(names), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
