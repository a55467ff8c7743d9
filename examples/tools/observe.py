#!/usr/bin/env python3
"""Drafts the observed-resource sets under examples/<cloud>/observed*/<stage>/.

It renders an example, then writes what the providers would report once the
chosen stages exist: a generated name, the external name the provider sets,
the IDs/ARNs/endpoints in status.atProvider, references resolved into
forProvider, and Ready/Synced conditions. The output is a draft to review
(`git diff examples/`), like the golden files; the tests then check every
observed object against its vendored CRD.

    python3 examples/tools/observe.py            # all four example flavours
"""
import copy
import hashlib
import json
import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
SUBSCRIPTION = "8f2d1c3b-4a5e-4f60-9b7c-1d2e3f4a5b6c"
TIME = "2026-11-20T09:14:07Z"

STAGES = {
    "network": ["vpc", "subnet-", "internet-gateway", "route", "eip-", "nat-gateway-", "resource-group", "virtual-network"],
    "cluster": ["cluster"],
    "nodepools": ["node", "addon-"],
    "access": ["access-"],
}


def stage_of(name):
    if name.startswith("usage-"):
        return stage_of(name[len("usage-"):])
    for stage, prefixes in STAGES.items():
        if any(name == p or name.startswith(p) for p in prefixes):
            return stage
    raise SystemExit(f"no stage for {name}")


def token(name, n, alphabet="0123456789abcdef"):
    digest = hashlib.sha256(name.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:n])


def render(xr):
    out = subprocess.run([str(ROOT / "target/debug/hybrid-spoke"), "render", str(xr)], check=True, capture_output=True, text=True).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    return docs[0], [d for d in docs[1:] if d.get("kind") != "Result"]


def external_id(obj, xr_name):
    """What the provider records as external name and status.atProvider.id."""
    kind, name = obj["kind"], obj["metadata"]["annotations"]["crossplane.io/composition-resource-name"]
    meta_name = obj["metadata"]["name"]
    ext = obj["metadata"]["annotations"].get("crossplane.io/external-name")
    seed = f"{xr_name}/{name}"
    ids = {
        "VPC": "vpc-0" + token(seed, 16),
        "Subnet": "subnet-0" + token(seed, 16),
        "InternetGateway": "igw-0" + token(seed, 16),
        "RouteTable": "rtb-0" + token(seed, 16),
        "RouteTableAssociation": "rtbassoc-0" + token(seed, 16),
        # Terraform's route ID: r-<route table>-<hash of the destination>.
        "Route": "r-rtb-0" + token(seed, 16) + "1080289494",
        "EIP": "eipalloc-0" + token(seed, 16),
        "NATGateway": "nat-0" + token(seed, 16),
        "Role": meta_name,
        "RolePolicyAttachment": meta_name + "-" + token(seed, 20, "0123456789"),
    }
    return ext or ids.get(kind) or meta_name


def observe(xr, composed, ready_stages, present_stages):
    xr_name = xr["metadata"]["name"]
    observed = {}
    for obj in composed:
        name = obj["metadata"]["annotations"]["crossplane.io/composition-resource-name"]
        stage = stage_of(name)
        if stage not in present_stages:
            continue
        o = copy.deepcopy(obj)
        o["metadata"]["name"] = o["metadata"]["generateName"] + token(f"{xr_name}/{name}", 5, "bcdfghjklmnpqrstvwxz2456789")
        observed[name] = (o, stage in ready_stages)
    by_label = {}
    for name, (o, _) in observed.items():
        labels = o["metadata"].get("labels", {})
        by_label[("hybridspoke.io/resource", labels.get("hybridspoke.io/resource"))] = [o]
        if "hybridspoke.io/role" in labels:
            by_label.setdefault(("hybridspoke.io/role", labels["hybridspoke.io/role"]), []).append(o)

    for name, (o, ready) in observed.items():
        ext = external_id(o, xr_name)
        o["metadata"]["annotations"]["crossplane.io/external-name"] = ext
        o["metadata"]["finalizers"] = ["finalizer.managedresource.crossplane.io"]
        if o["apiVersion"].startswith("protection.crossplane.io/"):
            del o["metadata"]["annotations"]["crossplane.io/external-name"]
            del o["metadata"]["finalizers"]
            o["status"] = {"conditions": conditions(ready)[:1]}
            continue
        o["status"] = {"atProvider": at_provider(o, ext, xr, observed), "conditions": conditions(ready)}
    for name, (o, _) in observed.items():
        if "forProvider" in o["spec"]:
            resolve(o["spec"]["forProvider"], by_label, xr_name)
    return [o for o, _ in observed.values()]


def reference_value(target, field, xr_name):
    at = target.get("status", {}).get("atProvider", {})
    ext = target["metadata"]["annotations"].get("crossplane.io/external-name")
    if field.endswith("Arn"):
        return at.get("arn") or target["spec"]["forProvider"].get("principalArn")
    if field in ("clusterName", "role", "resourceGroupName", "virtualNetworkName"):
        return ext
    return at.get("id", ext)


def resolve(node, by_label, xr_name):
    if isinstance(node, list):
        for item in node:
            resolve(item, by_label, xr_name)
        return
    if not isinstance(node, dict):
        return
    for key in list(node):
        value = node[key]
        if key.endswith("Selector") and isinstance(value, dict):
            (label, wanted), = value["matchLabels"].items()
            targets = by_label.get((label, wanted), [])
            if not targets or any("status" not in t for t in targets):
                continue
            field = key[: -len("Selector")]
            if field == "subnetId" and label == "hybridspoke.io/role":
                node["subnetIds"] = sorted(reference_value(t, field, xr_name) for t in targets)
            elif field == "principalArn" and targets[0]["kind"] == "AccessEntry":
                node[field] = targets[0]["spec"]["forProvider"]["principalArn"]
            else:
                node[field] = reference_value(targets[0], field, xr_name)
        else:
            resolve(value, by_label, xr_name)


def conditions(ready):
    return [
        {"type": "Ready", "status": "True" if ready else "False", "reason": "Available" if ready else "Creating", "lastTransitionTime": TIME},
        {"type": "Synced", "status": "True", "reason": "ReconcileSuccess", "lastTransitionTime": TIME},
    ]


def at_provider(o, ext, xr, observed):
    kind, fp = o["kind"], o["spec"]["forProvider"]
    region = fp.get("region") or fp.get("location")
    arn = lambda service, resource: f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"
    tags = fp.get("tags")
    at = {"id": ext}
    if tags is not None:
        at["tags"] = dict(tags)
        if ".aws." in o["apiVersion"]:
            at["tagsAll"] = dict(tags)
    if kind == "VPC":
        at.update(arn=arn("ec2", f"vpc/{ext}"), cidrBlock=fp["cidrBlock"], enableDnsHostnames=True, enableDnsSupport=True,
                  mainRouteTableId="rtb-0" + token(ext, 16), defaultSecurityGroupId="sg-0" + token(ext, 16), ownerId=ACCOUNT)
    elif kind == "Subnet" and "cidrBlock" in fp:
        az = fp["availabilityZone"]
        at.update(arn=arn("ec2", f"subnet/{ext}"), cidrBlock=fp["cidrBlock"], availabilityZone=az,
                  availabilityZoneId="euw1-az" + str("abc".index(az[-1]) + 1), mapPublicIpOnLaunch=fp["mapPublicIpOnLaunch"], ownerId=ACCOUNT)
    elif kind in ("InternetGateway",):
        at.update(arn=arn("ec2", f"internet-gateway/{ext}"), ownerId=ACCOUNT)
    elif kind == "RouteTable":
        at.update(arn=arn("ec2", f"route-table/{ext}"), ownerId=ACCOUNT)
    elif kind == "EIP":
        at.update(allocationId=ext, domain="vpc", publicIp="203.0.113." + str(int(token(ext, 2), 16) % 200 + 20))
    elif kind == "NATGateway":
        at.update(connectivityType="public", publicIp="198.51.100." + str(int(token(ext, 2), 16) % 200 + 20), privateIp="10.0.0.1")
    elif kind == "Role":
        at.update(arn=f"arn:aws:iam::{ACCOUNT}:role/{ext}", uniqueId="AROA" + token(ext, 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
    elif kind == "Cluster":
        host = token(ext, 32, "0123456789ABCDEF")
        at.update(arn=arn("eks", f"cluster/{ext}"), endpoint=f"https://{host}.gr7.{region}.eks.amazonaws.com", status="ACTIVE",
                  version=fp["version"], platformVersion="eks.4",
                  identity=[{"oidc": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{host}"}]}])
    elif kind == "ClusterAuth":
        at = {"lastRefreshTime": TIME}
    elif kind == "NodeGroup":
        cluster = fp_cluster_name(observed)
        at.update(id=f"{cluster}:{ext}", arn=arn("eks", f"nodegroup/{cluster}/{ext}/{token(ext, 8)}"), status="ACTIVE", version=fp["version"],
                  resources=[{"autoscalingGroups": [{"name": f"eks-{ext}-{token(ext, 8)}"}]}])
    elif kind == "Addon":
        cluster = fp_cluster_name(observed)
        versions = {"vpc-cni": "v1.20.4-eksbuild.1", "coredns": "v1.12.4-eksbuild.1", "kube-proxy": "v1.35.0-eksbuild.2", "eks-pod-identity-agent": "v1.3.9-eksbuild.3"}
        at.update(id=f"{cluster}:{fp['addonName']}", arn=arn("eks", f"addon/{cluster}/{fp['addonName']}/{token(ext, 8)}"), addonVersion=versions.get(fp["addonName"], "v1.0.0-eksbuild.1"))
    elif kind == "AccessEntry":
        cluster = fp_cluster_name(observed)
        at.update(id=f"{cluster}:{fp['principalArn']}", accessEntryArn=arn("eks", f"access-entry/{cluster}/role/{ACCOUNT}/platform-admin/{token(ext, 8)}"))
    elif kind == "AccessPolicyAssociation":
        cluster = fp_cluster_name(observed)
        principal = observed["access-entry-admin"][0]["spec"]["forProvider"]["principalArn"]
        at.update(id=f"{cluster}#{principal}#{fp['policyArn']}", associatedAt=TIME)
    elif kind == "ResourceGroup":
        at.update(id=f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{ext}", location=region)
    elif kind == "VirtualNetwork":
        rg = observed["resource-group"][0]["metadata"]["annotations"]["crossplane.io/external-name"]
        at.update(id=f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{ext}",
                  addressSpace=fp["addressSpace"], location=region, guid=uuid_of(ext))
    elif kind == "Subnet":
        rg = observed["resource-group"][0]["metadata"]["annotations"]["crossplane.io/external-name"]
        vnet = observed["virtual-network"][0]["metadata"]["annotations"]["crossplane.io/external-name"]
        at.update(id=f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{ext}",
                  addressPrefixes=fp["addressPrefixes"])
    elif kind == "KubernetesCluster":
        rg = observed["resource-group"][0]["metadata"]["annotations"]["crossplane.io/external-name"]
        host = f"{fp['dnsPrefix']}-{token(ext, 8)}"
        at.update(id=f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{ext}",
                  fqdn=f"{host}.hcp.{region}.azmk8s.io", portalFqdn=f"{host}.portal.hcp.{region}.azmk8s.io",
                  oidcIssuerUrl=f"https://{region}.oic.prod-aks.azure.com/{uuid_of(rg)}/{uuid_of(ext)}/",
                  currentKubernetesVersion=fp["kubernetesVersion"] + ".2", kubernetesVersion=fp["kubernetesVersion"],
                  nodeResourceGroup=f"MC_{rg}_{ext}_{region}", location=region)
    elif kind == "KubernetesClusterNodePool":
        cluster = observed["cluster"][0]["status"]["atProvider"]["id"]
        at.update(id=f"{cluster}/agentPools/{ext}", vmSize=fp["vmSize"], orchestratorVersion=fp["orchestratorVersion"], mode=fp["mode"])
    else:
        at = {"id": ext}
    return at


def fp_cluster_name(observed):
    return observed["cluster"][0]["metadata"]["annotations"]["crossplane.io/external-name"]


def uuid_of(seed):
    h = token(seed, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def main():
    for cloud in ("aws", "azure"):
        for xr_file, out_dir in (("xr.yaml", "observed"), ("legacy-xr.yaml", "observed-legacy")):
            xr, composed = render(ROOT / "examples" / cloud / xr_file)
            for stage_dir, ready, present in (
                ("cluster-ready", {"network", "cluster"}, {"network", "cluster", "nodepools"}),
                ("all-ready", set(STAGES), set(STAGES)),
            ):
                # Two passes: IDs first, then references resolved against them.
                docs = observe(xr, composed, ready, present)
                path = ROOT / "examples" / cloud / out_dir / stage_dir / "resources.yaml"
                path.parent.mkdir(parents=True, exist_ok=True)
                header = (f"# What the providers report for {xr['metadata']['name']} once "
                          + ("the network and the cluster are ready (node pools still creating)" if stage_dir == "cluster-ready" else "every composed resource is ready")
                          + ".\n# Drafted by examples/tools/observe.py, then reviewed.\n")
                path.write_text(header + yaml.safe_dump_all(docs, sort_keys=True, width=200))
                print(f"wrote {path.relative_to(ROOT)} ({len(docs)} resources)")


if __name__ == "__main__":
    sys.exit(main())
