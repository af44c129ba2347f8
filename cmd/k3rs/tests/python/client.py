"""The official Python client (`pip install kubernetes`) against k3rs.

Usage: client.py KUBECONFIG. Prints one JSON object with what each step saw; the Rust test
(tests/python_client.rs) checks it.
"""
import json
import sys
import threading

from kubernetes import client, config, watch

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
apps = client.AppsV1Api()
ns = "py"
out = {}

core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
for name, team in [("a", "x"), ("b", "y"), ("c", "x")]:
    core.create_namespaced_config_map(
        ns,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, labels={"team": team}),
            data={"k": name},
        ),
    )
listed = core.list_namespaced_config_map(ns, label_selector="team=x")
out["selected"] = sorted(cm.metadata.name for cm in listed.items)
out["list_rv_set"] = bool(listed.metadata.resource_version)

dep = client.V1Deployment(
    metadata=client.V1ObjectMeta(name="web"),
    spec=client.V1DeploymentSpec(
        replicas=1,
        selector=client.V1LabelSelector(match_labels={"app": "web"}),
        template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels={"app": "web"}),
            spec=client.V1PodSpec(
                containers=[
                    client.V1Container(
                        name="main",
                        image="nginx:1.14",
                        env=[client.V1EnvVar(name="A", value="1")],
                    ),
                    client.V1Container(name="side", image="busybox:1.36"),
                ]
            ),
        ),
    ),
)
apps.create_namespaced_deployment(ns, dep)
# A dict body is sent as a strategic merge patch: containers merge by name, env by name.
patched = apps.patch_namespaced_deployment(
    "web",
    ns,
    {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "main", "image": "nginx:1.15", "env": [{"name": "B", "value": "2"}]}
                    ]
                }
            }
        }
    },
)
out["containers"] = [
    [c.name, c.image, [e.name for e in (c.env or [])]]
    for c in patched.spec.template.spec.containers
]

# Watch from the list's resourceVersion while another thread writes.
rv = core.list_namespaced_config_map(ns).metadata.resource_version


def writer():
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="d"), data={"k": "d"})
    )
    core.patch_namespaced_config_map("a", ns, {"data": {"k": "a2"}})
    core.delete_namespaced_config_map("b", ns)


threading.Timer(0.5, writer).start()
events = []
w = watch.Watch()
for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=20):
    events.append([ev["type"], ev["object"].metadata.name])
    if len(events) == 3:
        w.stop()
out["events"] = events

try:
    core.read_namespaced_config_map("b", ns)
    out["deleted_read"] = 200
except client.exceptions.ApiException as e:
    out["deleted_read"] = e.status
    out["deleted_reason"] = json.loads(e.body).get("reason")

print(json.dumps(out))
