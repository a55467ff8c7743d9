"""A composition function on function-sdk-python that composes the spoke from
the same Input function-patch-and-transform reads (bases, patch sets,
FromCompositeFieldPath with string formats, CombineFromComposite,
ToCompositeFieldPath), as a Python user templating resources would: the
side-by-side bench sends it byte for byte the request P&T gets and checks it
composes the same resources.

    python python_function.py --address 127.0.0.1:PORT   (always plaintext)
"""

import argparse
import copy
import re

from crossplane.function import resource, response, runtime
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

SEGMENT = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")


def parse(path):
    """`a.b[c.d][0]` → ["a", "b", "c.d", 0]."""
    out = []
    for name, bracket in SEGMENT.findall(path):
        key = name if name else bracket
        out.append(int(key) if key.isdigit() and bracket else key)
    return out


def get(value, path):
    for key in path:
        if isinstance(key, int):
            if not isinstance(value, list) or key >= len(value):
                return None
            value = value[key]
        else:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
    return value


def put(value, path, new):
    for key, next_key in zip(path, path[1:]):
        empty = [] if isinstance(next_key, int) else {}
        if isinstance(key, int):
            while len(value) <= key:
                value.append(copy.copy(empty))
            value = value[key]
        else:
            value = value.setdefault(key, empty)
    last = path[-1]
    if isinstance(last, int):
        while len(value) <= last:
            value.append(None)
    value[last] = new


def transformed(value, transforms):
    for transform in transforms or []:
        if transform.get("type") == "string" and transform["string"].get("type", "Format") == "Format":
            value = transform["string"]["fmt"] % value
    return value


def apply(patch, xr, composed, observed, patch_sets, xr_status):
    kind = patch.get("type", "FromCompositeFieldPath")
    if kind == "PatchSet":
        for inner in patch_sets[patch["patchSetName"]]:
            apply(inner, xr, composed, observed, patch_sets, xr_status)
    elif kind == "FromCompositeFieldPath":
        value = get(xr, parse(patch["fromFieldPath"]))
        if value is not None:
            put(composed, parse(patch["toFieldPath"]), transformed(value, patch.get("transforms")))
    elif kind == "CombineFromComposite":
        combine = patch["combine"]
        values = [get(xr, parse(v["fromFieldPath"])) for v in combine["variables"]]
        if all(v is not None for v in values):
            put(composed, parse(patch["toFieldPath"]), combine["string"]["fmt"] % tuple(values))
    elif kind == "ToCompositeFieldPath" and observed is not None:
        value = get(observed, parse(patch["fromFieldPath"]))
        if value is not None:
            put(xr_status, parse(patch["toFieldPath"]), value)


class Function(grpcv1.FunctionRunnerServiceServicer):
    async def RunFunction(self, req, _context):
        rsp = response.to(req)
        spec = resource.struct_to_dict(req.input)
        patch_sets = {s["name"]: s["patches"] for s in spec.get("patchSets", [])}
        xr = resource.struct_to_dict(req.observed.composite.resource)
        xr_back = {}
        for entry in spec.get("resources", []):
            name = entry["name"]
            composed = copy.deepcopy(entry["base"])
            observed = None
            if name in req.observed.resources:
                observed = resource.struct_to_dict(req.observed.resources[name].resource)
            for patch in entry.get("patches", []):
                apply(patch, xr, composed, observed, patch_sets, xr_back)
            desired = rsp.desired.resources[name]
            resource.update(desired, composed)
            if observed is not None:
                ready = resource.get_condition(req.observed.resources[name].resource, "Ready")
                if ready.status == "True":
                    desired.ready = fnv1.READY_TRUE
        if "status" in xr_back:
            resource.update(rsp.desired.composite, {"status": xr_back["status"]})
        return rsp


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    args = parser.parse_args()
    runtime.serve(Function(), args.address, creds=None, insecure=True)


if __name__ == "__main__":
    main()
