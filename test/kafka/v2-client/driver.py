"""An independent Confluent REST Proxy v2 client against Rivulet's proxy: kafka-mcp's (PyPI)
v2 consumer helpers, loaded from its wheel as they are (only its own package __init__, which
pulls an SDK for its MCP server, is left out; its TLS profile lookup is stubbed to "none").

    python driver.py <kafka-mcp dir> <proxy url> <group> <topic> <format> <expected records>

Creates a consumer instance in the format, subscribes, reads until it has the expected number
of records (or 30 s pass), commits what it fetched (the empty-body commit), deletes the
instance, and prints what it read as JSON.
"""

import importlib.util
import json
import sys
import time
import types

kafka_mcp, url, group, topic, fmt, expected = sys.argv[1:7]

# kafka_mcp.api.api_client_base imports agent_connector_sdk.tls.resolve for TLS profiles.
stub = types.ModuleType("agent_connector_sdk.tls.resolve")


class _NoProfile:
    def httpx_kwargs(self):
        return {}


stub.resolve_tls_profile = lambda *_a, **_k: _NoProfile()
for name in ("agent_connector_sdk", "agent_connector_sdk.tls"):
    sys.modules[name] = types.ModuleType(name)
sys.modules["agent_connector_sdk.tls.resolve"] = stub
for name in ("kafka_mcp", "kafka_mcp.api"):
    package = types.ModuleType(name)
    package.__path__ = []
    sys.modules[name] = package


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


load("kafka_mcp.api.api_client_base", f"{kafka_mcp}/kafka_mcp/api/api_client_base.py")
KafkaApi = load("kafka_mcp.api.api_client_kafka", f"{kafka_mcp}/kafka_mcp/api/api_client_kafka.py").KafkaApi

api = KafkaApi(url)
instance = api.create_consumer(group, fmt=fmt)
api.subscribe_consumer(group, instance["instance_id"], [topic])
records = []
deadline = time.time() + 30
while len(records) < int(expected) and time.time() < deadline:
    batch = api.consume_records(group, instance["instance_id"], timeout=500, fmt=fmt)
    if isinstance(batch, list):
        records += batch
commit = api.commit_offsets(group, instance["instance_id"])
deleted = api.delete_consumer(group, instance["instance_id"])
print(json.dumps({"instance": instance, "records": records, "commit": commit, "deleted": deleted}))
