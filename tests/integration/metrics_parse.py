#!/usr/bin/env python3
"""Parses `airlock metrics` output (stdin) with the Prometheus client's own
parser and prints {family: {"type": ..., "samples": [[name, labels, value]]}}."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

out = {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    out[fam.name] = {"type": fam.type,
                     "samples": [[s.name, s.labels, s.value] for s in fam.samples]}
json.dump(out, sys.stdout)
