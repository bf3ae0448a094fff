#!/usr/bin/env python3
"""Turn OpenSearch's `_msearch` response to `mmlsr export --format opensearch`'s
`msearch.ndjson` into a TREC run (responses come back in request order; `query_ids.txt` names
them), to evaluate with `mmlsr evaluate RUN --data DIR`.

Usage: python3 scripts/msearch_to_trec.py EXPORT_DIR RESPONSE.json OUT.trec
"""
import json
import sys
from pathlib import Path

export, response, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
query_ids = (export / "query_ids.txt").read_text().split()
responses = json.loads(response.read_text())["responses"]
if len(responses) != len(query_ids):
    sys.exit(f"{response}: {len(responses)} responses for {len(query_ids)} queries")
lines = []
for qid, r in zip(query_ids, responses):
    if "error" in r:
        sys.exit(f"{response}: query {qid}: {r['error']}")
    for rank, hit in enumerate(r["hits"]["hits"], 1):
        lines.append(f"{qid} Q0 {hit['_source']['image_id']} {rank} {hit['_score']} opensearch")
out.write_text("\n".join(lines) + "\n")
print(f"{len(query_ids)} queries, {len(lines)} results → {out}")
