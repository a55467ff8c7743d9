#!/usr/bin/env python3
"""Writes the function-patch-and-transform Input that composes what
function-hybrid-spoke composes for one example stage, as a P&T user would
write it: each composed resource's static part as its `base`, and every value
that comes from the claim as a patch from the XR (names and the namespace
through string formats, region, CIDRs, sizes, labels, tags), plus status back
to the XR.

It was run once per stage and its output reviewed and committed
(benches/side-by-side/pandt-*.yaml); the side-by-side bench checks that P&T
composes the same resources as this function from it, so a stale file fails
the bench instead of measuring different work.

    python3 benches/side-by-side/generate_pandt.py tests/golden/aws-namespaced-initial.yaml \
        examples/aws/xr.yaml > benches/side-by-side/pandt-initial.yaml
"""

import copy
import re
import sys

import yaml

# What `crossplane render` (and Crossplane) add to a composed resource; the
# function does not compose them, so P&T's bases do not carry them either.
RENDER_LABELS = {"crossplane.io/composite", "crossplane.io/claim-name", "crossplane.io/claim-namespace"}
RENDER_ANNOTATIONS = {"crossplane.io/composition-resource-name"}

# Which composed resources report back to the XR (as the function writes
# status.network / status.cluster): P&T users write ToCompositeFieldPath.
STATUS_BACK = {
    "vpc": [("status.atProvider.id", "status.pandt.vpcId")],
    "cluster": [
        ("status.atProvider.endpoint", "status.pandt.clusterEndpoint"),
        ("status.atProvider.arn", "status.pandt.clusterArn"),
    ],
}


def strip_render_metadata(resource):
    meta = resource.get("metadata", {})
    # A name the renderer generated (generateName + hash) goes; a name the
    # function chose (no generateName) stays, to be patched from the XR.
    if "generateName" in meta:
        meta.pop("name", None)
    for field in ("generateName", "namespace", "ownerReferences"):
        meta.pop(field, None)
    for field, drop in (("labels", RENDER_LABELS), ("annotations", RENDER_ANNOTATIONS)):
        values = meta.get(field)
        if values is not None:
            for key in drop:
                values.pop(key, None)
            if not values:
                meta.pop(field)
    if not meta:
        resource.pop("metadata", None)
    return resource


def path_segment(key):
    if isinstance(key, int):
        return f"[{key}]"
    if re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return "." + key
    return f"[{key}]"


def join(path):
    text = "".join(path_segment(k) for k in path)
    return text[1:] if text.startswith(".") else text


def leaves(value, path=()):
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from leaves(child, path + (index,))
    else:
        yield path, value


def xr_values(xr):
    """Scalar XR fields a patch may read, by value."""
    values = {}
    for path, value in leaves({"metadata": {k: xr["metadata"][k] for k in ("name", "namespace") if k in xr["metadata"]}, "spec": xr["spec"]}):
        if isinstance(value, bool) or value is None:
            continue
        values.setdefault((type(value).__name__, value), []).append(path)
    return values


def pick(paths, target):
    """The XR path whose last key names the same thing as the target's."""
    last = target[-1]
    for path in paths:
        if path[-1] == last:
            return path
    return paths[0]


def patch_for(target, value, values, formats):
    # Exact values: the field, or a map key's value (labels, tags).
    paths = values.get((type(value).__name__, value))
    if paths and not (isinstance(value, int) and value < 2 and target[-1] not in {p[-1] for p in paths}):
        if isinstance(value, str) and len(value) < 3:
            return None
        return {"type": "FromCompositeFieldPath", "fromFieldPath": join(pick(paths, target)), "toFieldPath": join(target)}
    if not isinstance(value, str):
        return None
    # Strings built from the name, namespace or region: string formats.
    found = []
    rest = value
    fmt = ""
    while rest:
        hit = None
        for field, text in formats:
            index = rest.find(text)
            if index >= 0 and (hit is None or index < hit[0] or (index == hit[0] and len(text) > len(hit[2]))):
                hit = (index, field, text)
        if hit is None:
            fmt += rest.replace("%", "%%")
            break
        index, field, text = hit
        fmt += rest[:index].replace("%", "%%") + "%s"
        found.append(field)
        rest = rest[index + len(text):]
    if not found:
        return None
    if len(found) == 1:
        return {
            "type": "FromCompositeFieldPath",
            "fromFieldPath": found[0],
            "toFieldPath": join(target),
            "transforms": [{"type": "string", "string": {"type": "Format", "fmt": fmt}}],
        }
    return {
        "type": "CombineFromComposite",
        "combine": {"variables": [{"fromFieldPath": f} for f in found], "strategy": "string", "string": {"fmt": fmt}},
        "toFieldPath": join(target),
    }


def remove(base, path):
    """Drops a patched map entry from the base (list entries stay: their
    index must exist for the patch to land where the function puts it)."""
    parent = base
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict):
        del parent[path[-1]]


def composition_resource(name, resource, values, formats):
    base = copy.deepcopy(resource)
    patches = []
    for path, value in list(leaves(resource)):
        if path[:1] in (("apiVersion",), ("kind",)):
            continue
        patch = patch_for(path, value, values, formats)
        if patch is not None:
            patches.append(patch)
            remove(base, path)
    for source, target in STATUS_BACK.get(name, []):
        patches.append({"type": "ToCompositeFieldPath", "fromFieldPath": source, "toFieldPath": target})
    entry = {"name": name, "base": base}
    if patches:
        entry["patches"] = patches
    return entry


# Patches most resources share, written once as P&T patch sets: the FinOps
# labels, and the same values as cloud tags.
SHARED_PREFIXES = {"labels": "metadata.labels[", "tags": "spec.forProvider.tags"}


def share_patch_sets(resources):
    sets = []
    for name, prefix in SHARED_PREFIXES.items():
        groups = {}
        for entry in resources:
            group = [p for p in entry.get("patches", []) if p.get("toFieldPath", "").startswith(prefix)]
            if group:
                key = yaml.safe_dump(group)
                groups.setdefault(key, (group, []))[1].append(entry)
        if not groups:
            continue
        # The most common group becomes the set; resources with it refer to it.
        group, users = max(groups.values(), key=lambda g: len(g[1]))
        if len(users) < 2:
            continue
        sets.append({"name": name, "patches": group})
        for entry in users:
            kept = [p for p in entry["patches"] if not p.get("toFieldPath", "").startswith(prefix)]
            entry["patches"] = [{"type": "PatchSet", "patchSetName": name}] + kept
    return sets


def main(golden, xr_path):
    xr = yaml.safe_load(open(xr_path))
    # The golden's first document is the XR as the function returned it.
    composed = [d for d in yaml.safe_load_all(open(golden)) if d][1:]
    values = xr_values(xr)
    formats = [("metadata.namespace", xr["metadata"].get("namespace")), ("metadata.name", xr["metadata"]["name"]), ("spec.region", xr["spec"]["region"])]
    formats = [(f, t) for f, t in formats if t]
    resources = []
    for resource in composed:
        name = resource["metadata"]["annotations"]["crossplane.io/composition-resource-name"]
        resources.append(composition_resource(name, strip_render_metadata(resource), values, formats))
    patch_sets = share_patch_sets(resources)
    print(f"# Generated by benches/side-by-side/generate_pandt.py from {golden} and {xr_path}; reviewed.")
    yaml.safe_dump(
        {"apiVersion": "pt.fn.crossplane.io/v1beta1", "kind": "Resources", "patchSets": patch_sets, "resources": resources},
        sys.stdout,
        sort_keys=False,
        width=120,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
