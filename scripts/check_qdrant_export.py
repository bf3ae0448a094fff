#!/usr/bin/env python3
"""Load an `mmlsr export --format qdrant` folder into Qdrant's local mode
(`QdrantClient(":memory:")`, exact sparse dot-product search), answer its queries, and compare
each caption's top-k images with a TREC run of mmlsr's exact search (`mmlsr search --exact`).

Usage: python3 scripts/check_qdrant_export.py EXPORT_DIR RUN.trec [--k 10] [--max-queries N]
                                              [--url http://localhost:6333] [--trec OUT.trec]
--url loads a Qdrant server instead of the local mode (collection "mmlsr", replaced);
--trec also writes Qdrant's run (evaluate it with `mmlsr evaluate OUT.trec --data DIR`).
Prints one JSON object: queries, the share whose top-k set is the same, the share whose
ranking is the same, and the largest score difference on shared images. Needs
`pip install qdrant-client`.
"""
import argparse
import json
from pathlib import Path

from qdrant_client import QdrantClient, models

p = argparse.ArgumentParser()
p.add_argument("export", type=Path)
p.add_argument("run", type=Path)
p.add_argument("--k", type=int, default=10)
p.add_argument("--max-queries", type=int, default=0, help="only the first N queries (0: all)")
p.add_argument("--url", default=None, help="a Qdrant server (default: local mode in memory)")
p.add_argument("--trec", type=Path, default=None, help="also write Qdrant's run here")
args = p.parse_args()

collection = json.loads((args.export / "collection.json").read_text())
(field,) = collection["sparse_vectors"].keys()
client = QdrantClient(url=args.url) if args.url else QdrantClient(":memory:")
if client.collection_exists("mmlsr"):
    client.delete_collection("mmlsr")
client.create_collection(
    "mmlsr", vectors_config={}, sparse_vectors_config={field: models.SparseVectorParams()}
)
batch = []
for line in (args.export / "points.jsonl").read_text().splitlines():
    point = json.loads(line)
    vec = point["vector"][field]
    batch.append(models.PointStruct(
        id=point["id"],
        vector={field: models.SparseVector(indices=vec["indices"], values=vec["values"])},
        payload=point["payload"],
    ))
    if len(batch) == 1000:
        client.upsert("mmlsr", points=batch)
        batch = []
if batch:
    client.upsert("mmlsr", points=batch)

mmlsr = {}
for line in args.run.read_text().splitlines():
    q, _, doc, rank, score, _ = line.split()
    mmlsr.setdefault(q, []).append((int(rank), doc, float(score)))

same_set = same_order = n = 0
max_diff = 0.0
trec = []
query_lines = (args.export / "queries.jsonl").read_text().splitlines()
for line in query_lines[: args.max_queries or None]:
    q = json.loads(line)
    hits = client.query_points(
        "mmlsr", query=models.SparseVector(indices=q["indices"], values=q["values"]),
        using=field, limit=args.k, with_payload=True,
    ).points
    theirs = [(h.payload["image_id"], h.score) for h in hits if h.score > 0]
    ours = [(d, s) for _, d, s in sorted(mmlsr.get(q["query_id"], []))[: args.k]]
    trec += [f"{q['query_id']} Q0 {d} {r + 1} {s} qdrant" for r, (d, s) in enumerate(theirs)]
    n += 1
    same_set += {d for d, _ in theirs} == {d for d, _ in ours}
    same_order += [d for d, _ in theirs] == [d for d, _ in ours]
    scores = dict(ours)
    for d, s in theirs:
        if d in scores:
            max_diff = max(max_diff, abs(s - scores[d]))
if args.trec:
    args.trec.write_text("\n".join(trec) + "\n")
print(json.dumps({"queries": n, "same_top_k_set": same_set / max(n, 1),
                  "same_ranking": same_order / max(n, 1), "max_score_difference": max_diff}))
