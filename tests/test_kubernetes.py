"""deploy/kubernetes and the Dockerfile, checked offline: rendered by kustomize (when kubectl is
here), every resource validated against the Kubernetes schemas (kubernetes-validate, strict), the
agent's arguments accepted by the real `serve`. Nothing here runs a cluster or builds the image."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy", "kubernetes")
KUBERNETES = "1.34.0"
#: where vineyard 0.24.2's operator puts the socket folder of the sample Vineyardd on the host
#: (k8s/apis/k8s/v1alpha1/vineyardd_types.go default, k8s/pkg/templates/vineyardd/deployment.yaml)
SOCKET_HOST_PATH = "/var/run/vineyard-kubernetes/vineyard-system/vineyardd-sample"


def _raw_documents():
    documents = []
    for path in sorted(glob.glob(os.path.join(DEPLOY, "*.yaml"))):
        if os.path.basename(path) != "kustomization.yaml":
            with open(path) as f:
                documents += [doc for doc in yaml.safe_load_all(f) if doc]
    return documents


def _rendered():
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: kustomize rendering not checked")
    done = subprocess.run(["kubectl", "kustomize", DEPLOY], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _validate(documents):
    for doc in documents:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)  # raises ValidationError


def test_every_file_is_valid_kubernetes():
    documents = _raw_documents()
    assert {doc["kind"] for doc in documents} == {"DaemonSet", "NetworkPolicy"}
    _validate(documents)


def test_rendered_resources_are_valid_and_wired():
    documents = _rendered()
    _validate(documents)
    by_kind = {doc["kind"]: doc for doc in documents}
    assert {doc["metadata"]["namespace"] for doc in documents} == {"vineyard-system"}
    daemonset = by_kind["DaemonSet"]
    pod = daemonset["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["image"] == "vineyard-migrate-agent:1.0.0"
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    assert volumes["vineyard-socket"]["hostPath"]["path"] == SOCKET_HOST_PATH
    assert volumes["token"]["secret"]["secretName"] == "vineyard-migrate-token"
    assert volumes["tls"]["secret"]["secretName"] == "vineyard-migrate-tls"
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    args = dict(arg[2:].split("=", 1) for arg in container["args"])
    assert args["socket"] == mounts["vineyard-socket"] + "/vineyard.sock"
    assert args["token-file"].startswith(mounts["token"] + "/")
    assert all(args[a].startswith(mounts["tls"] + "/") for a in ("tls-cert", "tls-key", "peer-tls-ca"))
    assert not volumes["tls"]["secret"].get("optional", False)  # the agent cannot start without it
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"agent": int(args["port"]), "metrics": int(args["metrics-port"])}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == args["metrics-port"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True and pod["spec"]["securityContext"]["runAsUser"] != 0
    resources = container["resources"]
    assert resources["requests"]["memory"] and resources["limits"]["memory"]
    policy = by_kind["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"] == daemonset["spec"]["selector"]["matchLabels"]
    agent_rule = [rule for rule in policy["ingress"] if rule["ports"][0]["port"] == ports["agent"]]
    assert len(agent_rule) == 1
    peers = agent_rule[0]["from"][0]["podSelector"]["matchLabels"]
    assert peers.items() <= pod["metadata"]["labels"].items()  # the agents themselves are admitted


def test_the_agent_arguments_are_ones_serve_accepts(tmp_path):
    """The DaemonSet's arguments, run through the real `serve` (with the socket and token here): it gets
    as far as connecting to vineyardd, which does not exist here."""
    container = next(doc for doc in _raw_documents() if doc["kind"] == "DaemonSet")["spec"]["template"]["spec"][
        "containers"][0]
    token = tmp_path / "token"
    token.write_text("t" * 32 + "\n")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=agent", "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    args = [arg.replace("$(MY_POD_IP)", "127.0.0.1") for arg in container["args"]]
    args = [re.sub(r"^--socket=.*", "--socket=%s" % (tmp_path / "vineyard.sock"), arg) for arg in args]
    args = [re.sub(r"^--token-file=.*", "--token-file=%s" % token, arg) for arg in args]
    args = [re.sub(r"^--tls-cert=.*", "--tls-cert=%s" % cert, arg) for arg in args]
    args = [re.sub(r"^--tls-key=.*", "--tls-key=%s" % key, arg) for arg in args]
    args = [re.sub(r"^--peer-tls-ca=.*", "--peer-tls-ca=%s" % cert, arg) for arg in args]  # self-signed: its own CA
    args = [re.sub(r"^--(metrics-)?port=.*", r"--\1port=0", arg) for arg in args]
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "vineyard-migrate"), "serve", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "no vineyardd IPC socket" in done.stderr, done.stderr


def test_dockerfile_is_two_stages_non_root_with_the_agent_as_entrypoint():
    """No Docker daemon here: the Dockerfile is read, not built."""
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        lines = [line.strip() for line in f.read().replace("\\\n", " ").splitlines()
                 if line.strip() and not line.strip().startswith("#")]
    stages = [line for line in lines if line.upper().startswith("FROM ")]
    assert len(stages) == 2 and "maven" in stages[0] and "AS build" in stages[0] and "17-jre" in stages[1]
    for line in lines:
        if line.startswith("COPY ") and "--from" not in line:
            assert all(os.path.exists(os.path.join(ROOT, src)) for src in line.split()[1:-1]), line
    final = lines[lines.index(stages[1]):]
    user = [line.split()[1] for line in final if line.startswith("USER ")]
    assert user and not user[-1].startswith(("0", "root"))
    entrypoint = json.loads([line for line in final if line.startswith("ENTRYPOINT ")][-1][len("ENTRYPOINT "):])
    assert entrypoint[0] == "java" and entrypoint[-1] == "serve" and "-jar" in entrypoint
    from vineyard_migrate import _jvm

    # the agent in the image starts java itself: it must get the options the command line would add
    before_jar = entrypoint[:entrypoint.index("-jar")]
    assert all(option in before_jar for option in _jvm.DEFAULT_JVM_OPTIONS), entrypoint
